// `bun bench/status-cpu.ts`: what one status poll costs the service in CPU, against a bare Elysia route answering the
// same requests from a Map (bench/bare-status-server.ts), in the same run. wrk polls one waiting user's status over 128
// keep-alive connections; the CPU is the whole process's user + system time from /proc, divided by the polls served.
// Run it on a quiet machine (no tests or other benchmarks). Options: --seconds N (default 15), --rounds N (default 2).
// Needs wrk (apt-get install wrk). BENCH_PROFILE_DIR=dir writes a CPU profile of the service there (bun --cpu-prof-md).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { signUserToken } from "../src/http/auth";
import { freePort, portOpen, startNatsServer, waitFor } from "../test/support/nats-server";
import { cpuSeconds } from "./measure";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "15" }, rounds: { type: "string", default: "2" } } });
const SECONDS = Number(values.seconds);
const SECRET = "status-cpu-benchmark-secret";
const ROOT = join(import.meta.dir, "..");

if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is not installed: apt-get install wrk");
  process.exit(1);
}

interface Server {
  pid: number;
  port: number;
  stop(): Promise<unknown>;
}

async function launch(script: string, env: Record<string, string>, flags: string[] = []): Promise<Server> {
  const port = await freePort();
  const child = Bun.spawn([process.execPath, ...flags, script], { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdout: "ignore", stderr: "ignore" });
  await waitFor(() => portOpen(port), `${script} to listen`, 30_000);
  // SIGTERM: the service shuts down gracefully, and a profiled one writes its profile as it exits.
  return { pid: child.pid, port, stop: () => (child.kill("SIGTERM"), child.exited) };
}

async function call(port: number, bearer: string, method: string, path: string): Promise<any> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: `Bearer ${bearer}` } });
  return response.json();
}

/** The CPU seconds a server spends per second with no request at all (the service's heartbeats, leases, sweeps). */
async function idleCpu(server: Server, seconds: number): Promise<number> {
  const before = cpuSeconds(server.pid);
  await Bun.sleep(seconds * 1000);
  return (cpuSeconds(server.pid) - before) / seconds;
}

interface Polled {
  polls: number;
  perSecond: number;
  /** The whole process's CPU per poll. */
  cpuMicros: number;
  /** The same, less what the process spends idle in as long. */
  netMicros: number;
}

/** wrk against the server's status route; the polls it served and the CPU microseconds each cost. */
function poll(server: Server, bearer: string, token: string, seconds: number, idle: number): Polled {
  const args = ["-t1", "-c128", `-d${seconds}s`, "-H", `authorization: Bearer ${bearer}`, "-H", `user-token: ${token}`];
  const before = cpuSeconds(server.pid);
  const run = spawnSync("wrk", [...args, `http://127.0.0.1:${server.port}/api/v1/queue/status`], { encoding: "utf8" });
  const cpu = cpuSeconds(server.pid) - before;
  const polls = Number(/(\d+) requests in/.exec(run.stdout)?.[1]);
  if (!polls || /Non-2xx/.test(run.stdout)) throw new Error(`wrk: ${run.stdout}${run.stderr}`);
  return { polls, perSecond: polls / seconds, cpuMicros: (cpu / polls) * 1e6, netMicros: ((cpu - idle * seconds) / polls) * 1e6 };
}

const nats = await startNatsServer();
const profile = process.env.BENCH_PROFILE_DIR;
const service = await launch(
  "src/main.ts",
  { NATS_URL: nats.url, DATABASE_URL: "memory://", AUTH_SECRET: SECRET, QUEUE_MAX_ACTIVE: "1", LOG_LEVEL: "warn" },
  profile ? ["--cpu-prof-md", `--cpu-prof-dir=${profile}`] : [],
);
// User 2 takes the one active place, so user 1 waits: the poll is a waiting user's, the waiting room's common case.
const [first, waiting] = await Promise.all([signUserToken(2, SECRET, 3600), signUserToken(1, SECRET, 3600)]);
await call(service.port, first, "POST", "/api/v1/queue/tokens");
const { data } = await call(service.port, waiting, "POST", "/api/v1/queue/tokens");
if (data?.status !== "WAITING") throw new Error(`user 1 should wait: ${JSON.stringify(data)}`);
const tokens = join(tmpdir(), `status-cpu-${process.pid}.json`);
writeFileSync(tokens, JSON.stringify([[waiting, data.token]]));
const bare = await launch("bench/bare-status-server.ts", { TOKENS: tokens });

try {
  for (const server of [service, bare]) poll(server, waiting, data.token, 3, 0);
  const idle = { service: await idleCpu(service, 10), bare: await idleCpu(bare, 10) };
  console.log(`idle CPU: service ${(idle.service * 1000).toFixed(1)} ms/s, bare ${(idle.bare * 1000).toFixed(1)} ms/s`);
  console.log("round | service: polls/s, CPU µs per poll (net of idle) | bare Elysia: the same | CPU ratio (net)");
  for (let round = 1; round <= Number(values.rounds); round++) {
    const ours = poll(service, waiting, data.token, SECONDS, idle.service);
    const theirs = poll(bare, waiting, data.token, SECONDS, idle.bare);
    const cells = [ours, theirs].map((r) => `${Math.round(r.perSecond)}, ${r.cpuMicros.toFixed(1)} (${r.netMicros.toFixed(1)})`);
    console.log(`${round} | ${cells.join(" | ")} | ${(ours.cpuMicros / theirs.cpuMicros).toFixed(2)} (${(ours.netMicros / theirs.netMicros).toFixed(2)})`);
  }
} finally {
  await Promise.all([service.stop(), bare.stop()]);
  await nats.stop();
}
