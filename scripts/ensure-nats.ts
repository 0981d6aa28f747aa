// nats-server for development. Run directly (`npm test` does), it makes sure nats-server is installed, installing
// Debian's package when it is missing and we are root: the tests start their own servers. `npm start`
// (scripts/start.ts) also needs one answering on NATS_URL: when nothing listens on a local address, ensureNats starts
// nats-server with deploy/nats-server.conf and JetStream, and the service connects as its `service` user with
// development passwords kept under ./.nats (so a later `npm start` finds them for the server still running).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

type Env = Record<string, string | undefined>;
type ServerInfo = { auth_required?: boolean };

const CONFIG = join(import.meta.dir, "../deploy/nats-server.conf");

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

function which(command: string): string | undefined {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  return ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].find((p) => existsSync(p));
}

function install(): string | undefined {
  const root = process.getuid?.() === 0;
  if (!root || !existsSync("/usr/bin/apt-get")) return undefined;
  console.error("nats-server is missing: installing Debian's nats-server package…");
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
  spawnSync("apt-get", ["install", "-y", "-qq", "nats-server"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return which("nats-server");
}

export function natsServerBinary(): string {
  return which("nats-server") ?? install() ?? fail("nats-server is not installed: install it (Debian/Ubuntu: sudo apt-get install nats-server) or set NATS_URL to a running server.");
}

/** The INFO a NATS server greets with; undefined when nothing listens. */
function serverInfo(host: string, port: number): Promise<ServerInfo | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let greeting = "";
    socket.setTimeout(1000);
    socket.on("data", (chunk) => {
      greeting += chunk;
      const end = greeting.indexOf("\r\n");
      if (end < 0) return;
      socket.destroy();
      if (!greeting.startsWith("INFO ")) fail(`${host}:${port} is not a NATS server; set NATS_URL to one.`);
      resolve(JSON.parse(greeting.slice(5, end)) as ServerInfo);
    });
    socket.once("error", () => resolve(undefined));
    socket.once("timeout", () => (socket.destroy(), fail(`${host}:${port} answers, but not as a NATS server; set NATS_URL to one.`)));
  });
}

const passwordFile = (dir: string, user: string) => join(dir, `${user}.password`);

function readPassword(dir: string, user: string): string | undefined {
  const file = passwordFile(dir, user);
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
}

/**
 * A development password, made once: a letter and then hex digits, because nats-server reads an environment variable
 * as a configuration value, and one starting with a digit can come out as a number.
 */
function devPassword(dir: string, user: string): string {
  const kept = readPassword(dir, user);
  if (kept) return kept;
  const password = `p${randomBytes(16).toString("hex")}`;
  writeFileSync(passwordFile(dir, user), `${password}\n`, { mode: 0o600 });
  return password;
}

async function launch(binary: string, host: string, port: number, dir: string, passwords: { service: string; monitor: string }) {
  const logFile = openSync(`${dir}/nats-server.log`, "a");
  const args = ["-c", CONFIG, "-a", host, "-p", String(port), "-js", "-sd", dir, "-m", String(port + 4000)];
  const env = { ...process.env, NATS_SERVICE_PASSWORD: passwords.service, NATS_MONITOR_PASSWORD: passwords.monitor };
  const child = spawn(binary, args, { detached: true, stdio: ["ignore", logFile, logFile], env });
  child.unref();
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await serverInfo(host, port)) {
      console.error(`started nats-server on ${host}:${port} with ${CONFIG} (pid ${child.pid}, monitoring on :${port + 4000}, log ${dir}/nats-server.log)`);
      console.error(`NATS users: service / ${passwords.service}, monitor / ${passwords.monitor} (development passwords, kept in ${dir}/*.password)`);
      return;
    }
    await Bun.sleep(100);
  }
  fail(`nats-server did not start on ${host}:${port}; see ${dir}/nats-server.log`);
}

/**
 * Makes sure a NATS server answers on NATS_URL's first server, and returns what the service's environment needs to
 * connect to it: the development `service` user when the server is (or now runs) ours, nothing when the caller chose
 * credentials or the server is someone else's.
 */
export async function ensureNats(env: Env): Promise<Env> {
  const first = (env.NATS_URL ?? "nats://127.0.0.1:4222").split(",")[0]!.trim();
  const url = new URL(first.includes("://") ? first : `nats://${first}`);
  const host = url.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  const port = Number(url.port || 4222);
  // Not under ./data: that directory belongs to PGlite.
  const dir = env.NATS_DATA_DIR ?? "./.nats";
  const chosen = Boolean(env.NATS_USER || env.NATS_CREDS);
  const info = await serverInfo(host, port);
  if (info) {
    if (!info.auth_required || chosen) return {};
    const password = readPassword(dir, "service");
    if (!password) fail(`The NATS server at ${host}:${port} wants credentials: set NATS_USER and NATS_PASSWORD (or NATS_CREDS).`);
    console.error(`using the nats-server on ${host}:${port} as user service (development passwords in ${dir}/*.password)`);
    return { NATS_USER: "service", NATS_PASSWORD: password };
  }
  if (!["127.0.0.1", "localhost", "::1"].includes(host)) fail(`No NATS server answers at ${url.href}; start one there or set NATS_URL.`);
  mkdirSync(dir, { recursive: true });
  const passwords = { service: devPassword(dir, "service"), monitor: devPassword(dir, "monitor") };
  await launch(natsServerBinary(), host, port, dir, passwords);
  return chosen ? {} : { NATS_USER: "service", NATS_PASSWORD: passwords.service };
}

if (import.meta.main) natsServerBinary();
