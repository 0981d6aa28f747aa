// A private PostgreSQL server on a free port, for tests that stop and start their database. Uses the installed
// server binaries (Debian's postgresql package); runs as the `postgres` user when the tests run as root.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, portOpen, waitFor } from "./nats-server";

function binaries(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort().at(-1);
  const bin = version && join(root, version, "bin");
  return bin && existsSync(join(bin, "initdb")) ? bin : undefined;
}

const BIN = binaries();
const asRoot = process.getuid?.() === 0;

/** Whether this machine can run a private server (binaries present, and a `postgres` user when running as root). */
export const canRunPostgres = Boolean(BIN) && (!asRoot || spawnSync("id", ["-u", "postgres"]).status === 0);

function command(program: string, args: string[]): [string, string[]] {
  return asRoot ? ["runuser", ["-u", "postgres", "--", join(BIN!, program), ...args]] : [join(BIN!, program), args];
}

export interface PostgresServer {
  url: string;
  /** The data directory's parent: what to keep for inspection, or remove. */
  dir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), "pg-test-"));
  if (asRoot) {
    const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const [initdb, initArgs] = command("initdb", ["-D", join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync"]);
  const init = spawnSync(initdb, initArgs, { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  let child: ChildProcess | undefined;
  const server: PostgresServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    async start() {
      const [postgres, args] = command("postgres", ["-D", join(dir, "data"), "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1"]);
      child = spawn(postgres, args, { stdio: "ignore" });
      await waitFor(() => portOpen(port), `postgres on ${port}`, 20_000);
    },
    async stop() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      // Signal the postmaster itself (runuser does not pass signals on). SIGQUIT is an immediate shutdown, as a
      // crash would be: connections are cut without a clean goodbye.
      const pid = Number(readFileSync(join(dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
      process.kill(pid, "SIGQUIT");
      await exited;
    },
  };
  await server.start();
  return server;
}
