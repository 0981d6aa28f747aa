// Makes sure a NATS server answers on NATS_URL before the service or the tests start: if nothing listens on a local
// address, start nats-server (installing Debian's package first when it is missing and we are root).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync } from "node:fs";
import { connect } from "node:net";

const url = new URL((process.env.NATS_URL ?? "nats://127.0.0.1:4222").split(",")[0]!.trim());
const host = url.hostname || "127.0.0.1";
const port = Number(url.port || 4222);

function listening(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
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

async function main() {
  if (await listening()) return;
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) {
    console.error(`No NATS server answers at ${url.href}; start one there or set NATS_URL.`);
    process.exit(1);
  }
  const binary = which("nats-server") ?? install();
  if (!binary) {
    console.error("nats-server is not installed: install it (Debian/Ubuntu: sudo apt-get install nats-server) or set NATS_URL to a running server.");
    process.exit(1);
  }
  // Not under ./data: that directory belongs to PGlite.
  const dir = process.env.NATS_DATA_DIR ?? "./.nats";
  mkdirSync(dir, { recursive: true });
  const logFile = openSync(`${dir}/nats-server.log`, "a");
  const child = spawn(binary, ["-a", host.replace(/^\[|\]$/g, ""), "-p", String(port), "-js", "-sd", dir, "-m", String(port + 4000)], {
    detached: true,
    stdio: ["ignore", logFile, logFile],
  });
  child.unref();
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await listening()) {
      console.error(`started nats-server on ${host}:${port} (pid ${child.pid}, monitoring on :${port + 4000}, log ${dir}/nats-server.log)`);
      return;
    }
    await Bun.sleep(100);
  }
  console.error(`nats-server did not start on ${host}:${port}; see ${dir}/nats-server.log`);
  process.exit(1);
}

await main();
