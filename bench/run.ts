// `bun run bench`: the ticket-rush benchmark. For each database (PGlite on disk, and the PostgreSQL server when one
// answers) it measures, with the same load generator and settings in the same run:
//   ours    — the service: queue rush (token issuance), occupy rush at high contention, then checkout;
//   naive   — occupy as one row-locking transaction per request, no actors;
//   ceiling — the same HTTP + NATS path with a responder that does no work.
// Then it audits the database, and measures resident memory with 100 events × 1,000 seats loaded and after idle
// actors have stopped. On the PostgreSQL server it also runs the service as 1, 2 and 3 instances behind a round-robin
// load generator. Options: --quick (smaller run), --only pglite|postgres, --scale-only (just the instances table).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SQL } from "bun";
import { freshPostgres, postgresAvailable } from "../test/support/databases";
import { freePort, portOpen, startNatsServer, waitFor, type NatsServer } from "../test/support/nats-server";

const { values } = parseArgs({
  options: { quick: { type: "boolean", default: false }, only: { type: "string" }, "scale-only": { type: "boolean", default: false } },
});
const SECRET = "benchmark-secret";
const SIZE = values.quick
  ? { queueUsers: 4000, rushUsers: 2000, seats: 1000, occupyRequests: 8000 }
  : { queueUsers: 20000, rushUsers: 5000, seats: 2000, occupyRequests: 30000 };
const CONNECTIONS = 64;
const WARMUP_REQUESTS = 3000;

type Env = Record<string, string>;
interface Load {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  paid?: number;
  seatsSold?: number;
}

async function runToEnd(args: string[], env: Env): Promise<string> {
  const child = Bun.spawn(["bun", ...args], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "inherit" });
  const out = await new Response(child.stdout).text();
  if ((await child.exited) !== 0) throw new Error(`bun ${args.join(" ")} failed:\n${out}`);
  return out.trim();
}

async function serve(args: string[], env: Env, port: number) {
  const child = Bun.spawn(["bun", ...args], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "inherit" });
  await waitFor(() => portOpen(port), `${args.join(" ")} on ${port}`, 30_000);
  return {
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}

async function load(ports: number | number[], mode: string, extra: Env): Promise<Load> {
  const flags = Object.entries(extra).flatMap(([k, v]) => [`--${k}`, v]);
  const base = [ports].flat().map((port) => `http://127.0.0.1:${port}`).join(",");
  const out = await runToEnd(["bench/load.ts", "--base", base, "--mode", mode, "--secret", SECRET, "--connections", String(CONNECTIONS), ...flags], {});
  return JSON.parse(out.split("\n").at(-1)!);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

interface DatabaseRun {
  name: string;
  env: Env;
  cleanup(): Promise<void>;
}

async function databases(): Promise<DatabaseRun[]> {
  const runs: DatabaseRun[] = [];
  if (values.only !== "postgres") {
    const dir = mkdtempSync(join(tmpdir(), "bench-pglite-"));
    runs.push({ name: "PGlite (disk)", env: { DATA_DIR: dir, DATABASE_URL: "" }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) });
  }
  if (values.only !== "pglite" && (await postgresAvailable())) {
    const db = await freshPostgres();
    runs.push({ name: "PostgreSQL server", env: { DATABASE_URL: (db.target as { url: string }).url }, cleanup: db.drop });
  }
  return runs;
}

async function rush(db: DatabaseRun, nats: NatsServer) {
  const port = await freePort();
  const env: Env = {
    ...db.env,
    PORT: String(port),
    NATS_URL: nats.url,
    AUTH_SECRET: SECRET,
    SEED_DEMO: "false",
    LOG_LEVEL: "warn",
    QUEUE_MAX_ACTIVE: String(SIZE.queueUsers + 10),
  };
  // Identical events: one for the service, one for the naive baseline, so neither sees the other's holds, and one
  // that every server warms up on (JIT, connections) before its measured run.
  const seeded = JSON.parse(
    await runToEnd(["bench/seed.ts", "--events", "3", "--seats", String(SIZE.seats), "--users", String(SIZE.queueUsers), "--balance", "10000000"], env),
  ) as { eventIds: [number, number, number]; seats: { first: number } };
  const [ours, naive, warmup] = seeded.eventIds;
  const seatRange = (event: number) => {
    const first = seeded.seats.first + (event - ours) * SIZE.seats;
    return { event: String(event), "first-seat": String(first), "last-seat": String(first + SIZE.seats - 1) };
  };
  const state = join(tmpdir(), `bench-state-${port}.json`);
  const occupy = (event: number, requests = SIZE.occupyRequests) => ({ users: String(SIZE.rushUsers), requests: String(requests), state, ...seatRange(event) });
  const warm = (port: number) => load(port, "occupy", occupy(warmup, WARMUP_REQUESTS));

  const result: Record<string, Load> = {};
  let service = await serve(["src/main.ts"], env, port);
  result.queue = await load(port, "enter", { users: String(SIZE.queueUsers), state });
  await warm(port);
  result.occupy = await load(port, "occupy", occupy(ours));
  result.checkout = await load(port, "checkout", { users: String(SIZE.rushUsers), state, event: String(ours) });
  await service.stop();
  const audit = await runToEnd(["src/verify.ts"], env).then(
    (out) => ({ ok: true, out }),
    (error: Error) => ({ ok: false, out: error.message }),
  );

  for (const mode of ["naive", "ceiling"] as const) {
    const baseline = await serve(["bench/baseline-server.ts", "--mode", mode], env, port);
    result[`${mode}Queue`] = await load(port, "enter", { users: String(SIZE.queueUsers), state });
    await warm(port);
    result[mode] = await load(port, "occupy", occupy(naive));
    await baseline.stop();
  }
  rmSync(state, { force: true });
  return { result, audit };
}

/** Waits until every entity has a live lease and every instance has joined. */
async function placed(url: string, instances: number): Promise<void> {
  const sql = new SQL(url);
  try {
    await waitFor(async () => {
      const [row] = await sql.unsafe(
        `SELECT (SELECT count(*) FROM service_instances WHERE alive_until > now())::int AS live,
                (SELECT count(*) FROM concert_events)::int + 1 AS entities,
                (SELECT count(*) FROM ownerships WHERE lease_until > now() AND instance IS NOT NULL)::int AS leased`,
      );
      return row.live === instances && row.leased === row.entities;
    }, "ownership to settle", 30_000);
  } finally {
    await sql.close();
  }
}

/** The same queue and occupy rush against 1, 2 and 3 instances sharing one NATS and one PostgreSQL server. */
async function scaleOut(nats: NatsServer) {
  const results: { instances: number; queue: Load; occupy: Load; audit: boolean }[] = [];
  for (const count of [1, 2, 3]) {
    console.error(`— ${count} instance(s) on the PostgreSQL server`);
    const db = await freshPostgres();
    const url = (db.target as { url: string }).url;
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    const common: Env = { DATABASE_URL: url, NATS_URL: nats.url, AUTH_SECRET: SECRET, SEED_DEMO: "false", LOG_LEVEL: "warn", QUEUE_MAX_ACTIVE: String(SIZE.queueUsers + 10) };
    const seeded = JSON.parse(
      await runToEnd(["bench/seed.ts", "--events", "2", "--seats", String(SIZE.seats), "--users", String(SIZE.queueUsers), "--balance", "10000000"], common),
    ) as { eventIds: [number, number]; seats: { first: number } };
    const servers = await Promise.all(ports.map((port, i) => serve(["src/main.ts"], { ...common, PORT: String(port), INSTANCE_ID: `bench-${i + 1}` }, port)));
    await placed(url, count);
    const state = join(tmpdir(), `bench-scale-${ports[0]}.json`);
    const occupy = (index: number, requests: number) => {
      const first = seeded.seats.first + index * SIZE.seats;
      return { users: String(SIZE.rushUsers), requests: String(requests), state, event: String(seeded.eventIds[index]), "first-seat": String(first), "last-seat": String(first + SIZE.seats - 1) };
    };
    const queue = await load(ports, "enter", { users: String(SIZE.queueUsers), state });
    await load(ports, "occupy", occupy(1, WARMUP_REQUESTS));
    const rushLoad = await load(ports, "occupy", occupy(0, SIZE.occupyRequests));
    await Promise.all(servers.map((s) => s.stop()));
    const audit = await runToEnd(["src/verify.ts"], common).then(() => true, () => false);
    rmSync(state, { force: true });
    await db.drop();
    results.push({ instances: count, queue, occupy: rushLoad, audit });
  }
  return results;
}

async function memory(nats: NatsServer) {
  const dir = mkdtempSync(join(tmpdir(), "bench-memory-"));
  const port = await freePort();
  const env: Env = { DATA_DIR: dir, DATABASE_URL: "", PORT: String(port), NATS_URL: nats.url, AUTH_SECRET: SECRET, SEED_DEMO: "false", LOG_LEVEL: "warn", ACTOR_IDLE_SECONDS: "3" };
  const seeded = JSON.parse(await runToEnd(["bench/seed.ts", "--events", "100", "--seats", "1000"], env)) as { eventIds: number[] };
  const service = await serve(["src/main.ts"], env, port);
  const idle = rssMb(service.pid);
  const { signUserToken } = await import("../src/auth");
  const auth = { authorization: `Bearer ${await signUserToken(1, SECRET)}` };
  const ticket = (await (await fetch(`http://127.0.0.1:${port}/api/v1/queue/tokens`, { method: "POST", headers: auth }).then((r) => r.json())) as any).data;
  for (const id of seeded.eventIds) {
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/concert-events/${id}/available-seats`, { headers: { ...auth, "user-token": ticket.token } });
    if (response.status !== 200) throw new Error(`event ${id}: ${response.status}`);
  }
  const loaded = rssMb(service.pid);
  await Bun.sleep(6_000);
  const passivated = rssMb(service.pid);
  await service.stop();
  rmSync(dir, { recursive: true, force: true });
  return { idle, loaded, passivated };
}

const pct = (a: number, b: number) => `${Math.round((100 * a) / b)} %`;
const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;

const nats = await startNatsServer();
const lines: string[] = [];
try {
  console.error(`benchmark: ${SIZE.queueUsers} queue users, ${SIZE.rushUsers} rush users, ${SIZE.seats} seats, ${SIZE.occupyRequests} occupy requests, ${CONNECTIONS} connections`);
  for (const db of values["scale-only"] ? [] : await databases()) {
    console.error(`— ${db.name}`);
    const { result: r, audit } = await rush(db, nats);
    await db.cleanup();
    lines.push(`\n### ${db.name}\n`);
    lines.push(row(["run", "req/s", "p50 ms", "p99 ms", "200", "409", "other"]));
    lines.push(row(["---", "---:", "---:", "---:", "---:", "---:", "---:"]));
    for (const [name, key] of [
      ["queue tokens — ours", "queue"],
      ["queue tokens — ceiling", "ceilingQueue"],
      ["occupy — ours", "occupy"],
      ["occupy — naive", "naive"],
      ["occupy — ceiling", "ceiling"],
      ["reserve + pay — ours", "checkout"],
    ] as const) {
      const l = r[key]!;
      const other = l.requests - (l.statuses["200"] ?? 0) - (l.statuses["409"] ?? 0);
      lines.push(row([name, l.rps, l.p50, l.p99, l.statuses["200"] ?? 0, l.statuses["409"] ?? 0, other]));
    }
    lines.push("");
    lines.push(`occupy ours/ceiling ${pct(r.occupy!.rps, r.ceiling!.rps)}, ours/naive ${(r.occupy!.rps / r.naive!.rps).toFixed(1)}×; ` +
      `queue tokens ours/ceiling ${pct(r.queue!.rps, r.ceilingQueue!.rps)}; seats sold ${r.checkout!.seatsSold}, payments ${r.checkout!.paid}`);
    lines.push(`audit (bun run verify): ${audit.ok ? "all invariants hold" : "VIOLATIONS"}`);
    if (!audit.ok) lines.push(audit.out);
  }
  if (values.only !== "pglite" && (await postgresAvailable())) {
    const runs = await scaleOut(nats);
    lines.push(`\n### Instances (PostgreSQL server, round-robin over the instances)\n`);
    lines.push(row(["instances", "queue tokens req/s", "tokens p99 ms", "occupy req/s", "occupy p99 ms", "occupy 200", "other than 200/409", "audit"]));
    lines.push(row(["---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]));
    for (const { instances, queue, occupy, audit } of runs) {
      const other = occupy.requests - (occupy.statuses["200"] ?? 0) - (occupy.statuses["409"] ?? 0);
      lines.push(row([instances, queue.rps, queue.p99, occupy.rps, occupy.p99, occupy.statuses["200"] ?? 0, other, audit ? "clean" : "VIOLATIONS"]));
    }
  }
  if (values.only !== "postgres" && !values["scale-only"]) {
    console.error("— memory");
    const m = await memory(nats);
    lines.push(`\n### Memory (PGlite, 100 events × 1,000 seats)\n`);
    lines.push(`resident: ${m.idle} MB at start, ${m.loaded} MB with all 100 event actors loaded, ${m.passivated} MB after they passivated`);
  }
} finally {
  await nats.stop();
}
console.log(lines.join("\n"));
