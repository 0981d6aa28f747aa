// Starts a private nats-server on a free loopback port, for tests that must not share (or that kill) their NATS.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface NatsServer {
  url: string;
  port: number;
  /** With `secured`: the passwords of deploy/nats-server.conf's users. */
  passwords?: { service: string; monitor: string };
  /** The server's log, where it reports every permission it refused. */
  logFile: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

const DEPLOY_CONFIG = join(import.meta.dir, "../../deploy/nats-server.conf");

/** Like the passwords `npm start` generates: a letter first, so nats-server reads the variable as a string. */
const password = () => `t${randomBytes(18).toString("hex")}`;

export interface NatsServerOptions {
  /** How often the server pings its clients (it drops one that misses two), instead of two minutes. */
  pingSeconds?: number;
  /** Run deploy/nats-server.conf itself (its users, permissions and ping), with fresh passwords. */
  secured?: boolean;
  /** False: no JetStream, as on a server started without it. */
  jetstream?: boolean;
  /** More configuration (users, TLS), for a server configured otherwise than deploy/nats-server.conf. */
  config?: string;
}

const BINARY = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].find((p) => Bun.file(p).size > 0) ?? "nats-server";

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "nats-test-"));
  const logFile = join(dir, "nats-server.log");
  const args = ["-a", "127.0.0.1", "-p", String(port), "-sd", dir, "-l", logFile];
  if (options.jetstream !== false) args.push("-js");
  const passwords = options.secured ? { service: password(), monitor: password() } : undefined;
  const env = passwords ? { ...process.env, NATS_SERVICE_PASSWORD: passwords.service, NATS_MONITOR_PASSWORD: passwords.monitor } : process.env;
  const extra = [options.pingSeconds ? `ping_interval: "${options.pingSeconds}s"\nping_max: 2` : "", options.config ?? ""].join("\n").trim();
  // nats-server takes one configuration file, and an absolute `include` does not work in the version tested (2.9).
  if (passwords && extra) throw new Error("a secured nats-server runs deploy/nats-server.conf as it is");
  if (passwords) args.push("-c", DEPLOY_CONFIG);
  if (extra) {
    const config = join(dir, "server.conf");
    writeFileSync(config, `${extra}\n`);
    args.push("-c", config);
  }
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(BINARY, args, { stdio: "ignore", env });
    await waitFor(() => portOpen(port), `nats-server on ${port}`);
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  };
  await launch();
  return { url: `nats://127.0.0.1:${port}`, port, passwords, logFile, stop: kill, restart: async () => (await kill(), await launch()) };
}
