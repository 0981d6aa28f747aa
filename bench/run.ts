// `bun run bench`: the ticket-rush benchmark. For each database (PGlite on disk, and the PostgreSQL server when one
// answers) it measures, with the same load generator and settings in the same run:
//   ours    — the service: queue rush (token issuance), occupy rush at high contention, then checkout;
//   naive   — occupy as one row-locking transaction per request, no actors;
//   ceiling — the same HTTP + NATS path with a responder that does no work.
// The three run side by side and are measured in alternation over several rounds; the tables show each run's median.
// Then it audits the database, and measures resident memory with 100 events × 1,000 seats loaded and after idle
// actors have stopped. On the PostgreSQL server it also runs the service as 1, 2 and 3 instances behind a round-robin
// load generator. Options: --quick (smaller run), --only pglite|postgres, --scale-only (just the instances table).
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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
const ROUNDS = values.quick ? 2 : 3;
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

/** One kind of database; `fresh()` gives a new empty one (ours and the naive baseline each get their own). */
interface DatabaseKind {
  name: string;
  fresh(): Promise<{ env: Env; cleanup(): Promise<void> }>;
}

async function databases(): Promise<DatabaseKind[]> {
  const kinds: DatabaseKind[] = [];
  if (values.only !== "postgres") {
    kinds.push({
      name: "PGlite (disk)",
      fresh: async () => {
        const dir = mkdtempSync(join(tmpdir(), "bench-pglite-"));
        return { env: { DATA_DIR: dir, DATABASE_URL: "" }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    });
  }
  if (values.only !== "pglite" && (await postgresAvailable())) {
    kinds.push({
      name: "PostgreSQL server",
      fresh: async () => {
        const db = await freshPostgres();
        return { env: { DATABASE_URL: (db.target as { url: string }).url }, cleanup: db.drop };
      },
    });
  }
  return kinds;
}

const median = (runs: Load[]) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor((runs.length - 1) / 2)]!;

/**
 * Ours and the baselines run side by side (each on its own database and its own nats-server, so none takes the
 * others' requests) and are measured in alternation, round after round: this machine's speed drifts by a quarter
 * within minutes, and a ratio of two runs taken minutes apart measured the drift as much as the service.
 */
async function rush(kind: DatabaseKind) {
  const [oursDb, naiveDb] = [await kind.fresh(), await kind.fresh()];
  const nats = await Promise.all([startNatsServer(), startNatsServer(), startNatsServer()]);
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  const common: Env = { AUTH_SECRET: SECRET, SEED_DEMO: "false", LOG_LEVEL: "warn", QUEUE_MAX_ACTIVE: String(ROUNDS * SIZE.queueUsers + 10) };
  const envs = [oursDb.env, naiveDb.env, oursDb.env].map((db, i) => ({ ...common, ...db, NATS_URL: nats[i]!.url, PORT: String(ports[i]) }));
  // Identical events in both databases: one per round, so no run sees another's holds, and one that every server
  // warms up on (JIT, connections) before the measured runs. Only round 1's users pay, so only they get wallets.
  const seed = (env: Env) =>
    runToEnd(["bench/seed.ts", "--events", String(ROUNDS + 1), "--seats", String(SIZE.seats), "--users", String(SIZE.rushUsers), "--balance", "10000000"], env);
  const seeded = JSON.parse(await seed(envs[0]!)) as { eventIds: number[]; seats: { first: number } };
  await seed(envs[1]!);
  const warmup = seeded.eventIds[ROUNDS]!;
  /** Round r's users: a block of its own, so no round meets the turns that round 1's payments ended. */
  const firstUser = (round: number) => String(1 + round * SIZE.queueUsers);
  const occupy = (round: number, event: number, state: string, requests = SIZE.occupyRequests) => {
    const first = seeded.seats.first + (event - seeded.eventIds[0]!) * SIZE.seats;
    return {
      users: String(SIZE.rushUsers),
      "first-user": firstUser(round),
      requests: String(requests),
      state,
      event: String(event),
      "first-seat": String(first),
      "last-seat": String(first + SIZE.seats - 1),
    };
  };
  const [ours, naive, ceiling] = [
    await serve(["src/main.ts"], envs[0]!, ports[0]!),
    await serve(["bench/baseline-server.ts", "--mode", "naive"], envs[1]!, ports[1]!),
    await serve(["bench/baseline-server.ts", "--mode", "ceiling"], envs[2]!, ports[2]!),
  ];
  const stateFile = (name: string) => join(tmpdir(), `bench-${name}-${ports[0]}.json`);
  /** A copy of ours' queue tokens of one round for one occupy run, which writes its winners there. */
  const tokensFor = (round: number, name: string) => {
    copyFileSync(stateFile(`tokens-${round}`), stateFile(name));
    return stateFile(name);
  };
  const runs: Record<"queue" | "ceilingQueue" | "occupy" | "naive" | "ceiling", Load[]> = { queue: [], ceilingQueue: [], occupy: [], naive: [], ceiling: [] };
  let checkout: Load | undefined;
  const files = ["scratch", "warmup", "naive", "ceiling"];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      console.error(`  round ${round + 1} of ${ROUNDS}`);
      const event = seeded.eventIds[round]!;
      const block = { users: String(SIZE.queueUsers), "first-user": firstUser(round) };
      files.push(`tokens-${round}`, `ours-${round}`);
      runs.queue.push(await load(ports[0]!, "enter", { ...block, state: stateFile(`tokens-${round}`) }));
      runs.ceilingQueue.push(await load(ports[2]!, "enter", { ...block, state: stateFile("scratch") }));
      if (round === 0) for (const port of ports) await load(port, "occupy", occupy(0, warmup, tokensFor(0, "warmup"), WARMUP_REQUESTS));
      const oursState = tokensFor(round, `ours-${round}`);
      runs.occupy.push(await load(ports[0]!, "occupy", occupy(round, event, oursState)));
      runs.naive.push(await load(ports[1]!, "occupy", occupy(round, event, tokensFor(round, "naive"))));
      runs.ceiling.push(await load(ports[2]!, "occupy", occupy(round, event, tokensFor(round, "ceiling"))));
      if (round === 0) checkout = await load(ports[0]!, "checkout", { users: String(SIZE.rushUsers), state: oursState, event: String(event) });
    }
  } finally {
    await Promise.all([ours, naive, ceiling].map((server) => server.stop()));
    await Promise.all(nats.map((server) => server.stop()));
    for (const name of files) rmSync(stateFile(name), { force: true });
  }
  const audit = await runToEnd(["src/cli/verify.ts"], envs[0]!).then(
    (out) => ({ ok: true, out }),
    (error: Error) => ({ ok: false, out: error.message }),
  );
  await oursDb.cleanup();
  await naiveDb.cleanup();
  return { runs, checkout: checkout!, audit };
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
    const audit = await runToEnd(["src/cli/verify.ts"], common).then(() => true, () => false);
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
  const { signUserToken } = await import("../src/http/auth");
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
  for (const kind of values["scale-only"] ? [] : await databases()) {
    console.error(`— ${kind.name}`);
    const { runs, checkout, audit } = await rush(kind);
    const ratios = (ours: Load[], base: Load[], format: (a: number, b: number) => string) =>
      ours.map((run, i) => format(run.rps, base[i]!.rps)).join(", ");
    const times = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
    lines.push(`\n### ${kind.name}\n`);
    lines.push(`The median of ${ROUNDS} rounds for each run; each round measures ours and the baselines back to back.\n`);
    lines.push(row(["run", "req/s", "p50 ms", "p99 ms", "200", "409", "other"]));
    lines.push(row(["---", "---:", "---:", "---:", "---:", "---:", "---:"]));
    for (const [name, l] of [
      ["queue tokens — ours", median(runs.queue)],
      ["queue tokens — ceiling", median(runs.ceilingQueue)],
      ["occupy — ours", median(runs.occupy)],
      ["occupy — naive", median(runs.naive)],
      ["occupy — ceiling", median(runs.ceiling)],
      ["reserve + pay — ours (round 1)", checkout],
    ] as const) {
      const other = l.requests - (l.statuses["200"] ?? 0) - (l.statuses["409"] ?? 0);
      lines.push(row([name, l.rps, l.p50, l.p99, l.statuses["200"] ?? 0, l.statuses["409"] ?? 0, other]));
    }
    lines.push("");
    lines.push(`occupy ours/ceiling ${pct(median(runs.occupy).rps, median(runs.ceiling).rps)} (rounds: ${ratios(runs.occupy, runs.ceiling, pct)}), ` +
      `ours/naive ${times(median(runs.occupy).rps, median(runs.naive).rps)} (rounds: ${ratios(runs.occupy, runs.naive, times)}); ` +
      `queue tokens ours/ceiling ${pct(median(runs.queue).rps, median(runs.ceilingQueue).rps)} (rounds: ${ratios(runs.queue, runs.ceilingQueue, pct)}); ` +
      `seats sold ${checkout.seatsSold}, payments ${checkout.paid}`);
    const unexpected = Object.values(runs).flat().reduce((n, l) => n + l.requests - (l.statuses["200"] ?? 0) - (l.statuses["409"] ?? 0), 0);
    lines.push(`answers other than 200/409 in any round: ${unexpected}`);
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
