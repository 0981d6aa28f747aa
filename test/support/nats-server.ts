// Starts a private nats-server on a free loopback port, for tests that must not share (or that kill) their NATS.
import { spawn, type ChildProcess } from "node:child_process";
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
  stop(): Promise<void>;
  restart(): Promise<void>;
}

const BINARY = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].find((p) => Bun.file(p).size > 0) ?? "nats-server";

export interface NatsServerOptions {
  /** How often the server pings its clients (it drops one that misses two), instead of two minutes. */
  pingSeconds?: number;
  /** False: no JetStream, as on a server started without it. */
  jetstream?: boolean;
  /** More configuration (users, TLS), for a server configured otherwise than deploy/nats-server.conf. */
  config?: string;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "nats-test-"));
  const args = ["-a", "127.0.0.1", "-p", String(port), "-sd", dir];
  if (options.jetstream !== false) args.push("-js");
  const extra = [options.pingSeconds ? `ping_interval: "${options.pingSeconds}s"\nping_max: 2` : "", options.config ?? ""].join("\n").trim();
  if (extra) {
    const config = join(dir, "server.conf");
    writeFileSync(config, `${extra}\n`);
    args.push("-c", config);
  }
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(BINARY, args, { stdio: "ignore" });
    await waitFor(() => portOpen(port), `nats-server on ${port}`);
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  };
  await launch();
  return { url: `nats://127.0.0.1:${port}`, port, stop: kill, restart: async () => (await kill(), await launch()) };
}
