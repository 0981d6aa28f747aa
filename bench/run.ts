// `bun run bench`: the ticket-rush benchmark. For each database (PGlite on disk, and the PostgreSQL server when one
// answers) it measures, with the same load generator and settings in the same run:
//   ours    — the service: queue rush (token issuance), occupy rush at high contention, then holds of two seats per
//             user (every one a success) and the checkout of those holds (reserve both, pay), back to back;
//   naive   — occupy as one row-locking transaction per request, no actors;
//   ceiling — the same HTTP + NATS path with a responder that does no work.
// The three run side by side and are measured in alternation over several rounds; the tables show each run's median.
// Then it audits the database, and measures resident memory with 100 events × 1,000 seats loaded and after idle
// actors have stopped. On the PostgreSQL server it also runs the service as 1, 2 and 3 instances behind a round-robin
// load generator. Options: --quick (smaller run), --only pglite|postgres, --scale-only (just the instances table),
// --compare DIR (also run the service of another checkout, e.g. the commit before a change, as "before": queue, occupy
// and checkout measured against ours in the same rounds, in alternating order),
// --trace (ours exports every span over OTLP to a sink in this process: the cost of tracing on),
// --rush-only (no instances table, no memory), --sale (the sale opening instead: bench/sale.ts), --stadium (a stadium's
// opening instead: bench/stadium.ts).
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SQL } from "bun";
import { freshPostgres, postgresAvailable } from "../test/support/databases";
import { freePort, portOpen, startNatsServer, waitFor, type NatsServer } from "../test/support/nats-server";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    "scale-only": { type: "boolean", default: false },
    "rush-only": { type: "boolean", default: false },
    compare: { type: "string" },
    sale: { type: "boolean", default: false },
    stadium: { type: "boolean", default: false },
    waiting: { type: "string" },
    reference: { type: "string" },
    until: { type: "string" },
    "status-only": { type: "boolean", default: false },
    runs: { type: "string" },
    trace: { type: "boolean", default: false },
  },
});

// `--sale`: the sale opening end to end, in bench/sale.ts (which takes --only, --quick, --status-only and --runs too);
// `--stadium`: a stadium's opening, in bench/stadium.ts (--only, --quick, --waiting, --reference, --until).
if (values.sale || values.stadium) {
  const script = values.sale ? "bench/sale.ts" : "bench/stadium.ts";
  const child = Bun.spawn(["bun", script, ...process.argv.slice(2)], { stdout: "inherit", stderr: "inherit" });
  process.exit(await child.exited);
}
const SECRET = "benchmark-secret";
const SIZE = values.quick
  ? { queueUsers: 4000, rushUsers: 2000, seats: 1000, occupyRequests: 8000, checkoutUsers: 1000 }
  : { queueUsers: 20000, rushUsers: 5000, seats: 2000, occupyRequests: 30000, checkoutUsers: 2500 };
const CONNECTIONS = 64;
const ROUNDS = values.quick ? 2 : 3;
const WARMUP_REQUESTS = 3000;
const WARMUP_CHECKOUTS = 300;

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

const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
const median = (runs: Load[]) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor((runs.length - 1) / 2)]!;

interface Checkout {
  /** Every user holds two seats of their own: the hold path alone, each request a success. */
  holds: Load;
  /** The same users reserve both seats and pay: users/s. */
  checkout: Load;
}

/**
 * Ours and the baselines run side by side (each on its own database and its own nats-server, so none takes the
 * others' requests) and are measured in alternation, round after round: this machine's speed drifts by a quarter
 * within minutes, and a ratio of two runs taken minutes apart measured the drift as much as the service. With
 * --compare, the service of another checkout ("before") runs alongside as a fourth server, measured on the queue, occupy
 * and the checkout in the same rounds, in the opposite order to ours every other round.
 */
async function rush(kind: DatabaseKind) {
  const servers = values.compare ? 4 : 3;
  const dbs = await Promise.all(Array.from({ length: servers === 4 ? 3 : 2 }, () => kind.fresh()));
  const [oursDb, naiveDb, beforeDb] = dbs;
  const nats = await Promise.all(Array.from({ length: servers }, () => startNatsServer()));
  const ports = await Promise.all(Array.from({ length: servers }, () => freePort()));
  const common: Env = { AUTH_SECRET: SECRET, SEED_DEMO: "false", LOG_LEVEL: "warn", QUEUE_MAX_ACTIVE: String(ROUNDS * SIZE.queueUsers + 10) };
  const envs = [oursDb!.env, naiveDb!.env, oursDb!.env, beforeDb?.env ?? {}]
    .slice(0, servers)
    .map((db, i) => ({ ...common, ...db, NATS_URL: nats[i]!.url, PORT: String(ports[i]) }));
  if (sink) Object.assign(envs[0]!, { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" });
  // Identical events in every database: one per round, so no run sees another's holds, and one that every server
  // warms up on (JIT, connections) before the measured runs; the same again, larger, for the checkout runs. Every
  // queue user has a funded wallet.
  const seedOne = (env: Env, events: number, seats: number) =>
    runToEnd(["bench/seed.ts", "--events", String(events), "--seats", String(seats), "--users", String(ROUNDS * SIZE.queueUsers), "--balance", "10000000"], env);
  const seed = async (env: Env) => {
    const rushEvents = JSON.parse(await seedOne(env, ROUNDS + 1, SIZE.seats)) as Seeded;
    return { rushEvents, checkoutEvents: JSON.parse(await seedOne(env, ROUNDS + 1, 2 * SIZE.checkoutUsers)) as Seeded };
  };
  const seeded = await seed(envs[0]!);
  await seed(envs[1]!);
  if (servers === 4) await seed(envs[3]!);
  const warmup = ROUNDS;
  /** Round r's users: a block of its own, so no round meets the turns that an earlier round's payments ended. */
  const firstUser = (round: number) => 1 + round * SIZE.queueUsers;
  const occupy = (round: number, index: number, state: string, requests = SIZE.occupyRequests) => ({
    users: String(SIZE.rushUsers),
    "first-user": String(firstUser(round)),
    requests: String(requests),
    state,
    ...eventSeats(seeded.rushEvents, index, SIZE.seats),
  });
  /**
   * The checkout's users follow the occupy rush's in the round's block (the warm-up's come from the block's end); each
   * holds two seats of the event at `index`, then reserves both and pays.
   */
  const checkoutUsers = (round: number, index: number, state: string) => {
    const warm = index === warmup;
    return {
      users: String(warm ? WARMUP_CHECKOUTS : SIZE.checkoutUsers),
      "first-user": String(firstUser(round) + (warm ? SIZE.queueUsers - WARMUP_CHECKOUTS : SIZE.rushUsers)),
      "tokens-from": String(firstUser(round)),
      state,
      ...eventSeats(seeded.checkoutEvents, index, 2 * SIZE.checkoutUsers),
    };
  };
  const started = [
    await serve(["src/main.ts"], envs[0]!, ports[0]!),
    await serve(["bench/baseline-server.ts", "--mode", "naive"], envs[1]!, ports[1]!),
    await serve(["bench/baseline-server.ts", "--mode", "ceiling"], envs[2]!, ports[2]!),
    ...(servers === 4 ? [await serve([join(values.compare!, "src/main.ts")], envs[3]!, ports[3]!)] : []),
  ];
  const stateFile = (name: string) => join(tmpdir(), `bench-${name}-${ports[0]}.json`);
  /** A copy of one round's queue tokens (ours', or before's) for one run, which writes its winners there. */
  const tokensFor = (round: number, name: string, tokens = "tokens") => {
    copyFileSync(stateFile(`${tokens}-${round}`), stateFile(name));
    return stateFile(name);
  };
  /** Holds then checkout on one server, with a copy of the round's tokens it issued (`tokens`: ours' or before's). */
  const holdThenPay = async (port: number, tokens: string, round: number, index: number): Promise<Checkout> => {
    const state = stateFile(`${tokens}-${round}-checkout`);
    files.push(`${tokens}-${round}-checkout`);
    copyFileSync(stateFile(`${tokens}-${round}`), state);
    const options = checkoutUsers(round, index, state);
    return { holds: await load(port, "hold", options), checkout: await load(port, "checkout", options) };
  };
  const runs: Record<"queue" | "ceilingQueue" | "beforeQueue" | "occupy" | "beforeOccupy" | "naive" | "ceiling", Load[]> = {
    queue: [],
    ceilingQueue: [],
    beforeQueue: [],
    occupy: [],
    beforeOccupy: [],
    naive: [],
    ceiling: [],
  };
  const checkouts: { ours: Checkout[]; before: Checkout[] } = { ours: [], before: [] };
  const files = ["scratch", "warmup", "before-warmup", "naive", "ceiling"];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      console.error(`  round ${round + 1} of ${ROUNDS}`);
      const block = { users: String(SIZE.queueUsers), "first-user": String(firstUser(round)) };
      files.push(`tokens-${round}`, `ours-${round}`);
      // The before server gets tokens of its own (same users); ours' tokens file serves every other server.
      const queueRuns = [
        async () => runs.queue.push(await load(ports[0]!, "enter", { ...block, state: stateFile(`tokens-${round}`) })),
        ...(servers === 4 ? [async () => runs.beforeQueue.push(await load(ports[3]!, "enter", { ...block, state: stateFile(`before-tokens-${round}`) }))] : []),
      ];
      files.push(`before-tokens-${round}`);
      for (const run of round % 2 === 0 ? queueRuns : queueRuns.reverse()) await run();
      runs.ceilingQueue.push(await load(ports[2]!, "enter", { ...block, state: stateFile("scratch") }));
      if (round === 0) {
        for (const port of ports.slice(0, 3)) await load(port, "occupy", occupy(0, warmup, tokensFor(0, "warmup"), WARMUP_REQUESTS));
        if (servers === 4) await load(ports[3]!, "occupy", occupy(0, warmup, tokensFor(0, "before-warmup", "before-tokens"), WARMUP_REQUESTS));
        await holdThenPay(ports[0]!, "tokens", 0, warmup);
        if (servers === 4) await holdThenPay(ports[3]!, "before-tokens", 0, warmup);
      }
      files.push(`before-${round}`);
      const occupyRuns = [
        async () => runs.occupy.push(await load(ports[0]!, "occupy", occupy(round, round, tokensFor(round, `ours-${round}`)))),
        ...(servers === 4
          ? [async () => runs.beforeOccupy.push(await load(ports[3]!, "occupy", occupy(round, round, tokensFor(round, `before-${round}`, "before-tokens"))))]
          : []),
      ];
      for (const run of round % 2 === 0 ? occupyRuns : occupyRuns.reverse()) await run();
      runs.naive.push(await load(ports[1]!, "occupy", occupy(round, round, tokensFor(round, "naive"))));
      runs.ceiling.push(await load(ports[2]!, "occupy", occupy(round, round, tokensFor(round, "ceiling"))));
      const checkoutRuns = [
        async () => checkouts.ours.push(await holdThenPay(ports[0]!, "tokens", round, round)),
        ...(servers === 4 ? [async () => checkouts.before.push(await holdThenPay(ports[3]!, "before-tokens", round, round))] : []),
      ];
      for (const run of round % 2 === 0 ? checkoutRuns : checkoutRuns.reverse()) await run();
    }
  } finally {
    await Promise.all(started.map((server) => server.stop()));
    await Promise.all(nats.map((server) => server.stop()));
    for (const name of files) rmSync(stateFile(name), { force: true });
  }
  const audit = async (env: Env) =>
    runToEnd(["src/cli/verify.ts"], env).then(
      (out) => ({ ok: true, out }),
      (error: Error) => ({ ok: false, out: error.message }),
    );
  const audits = { ours: await audit(envs[0]!), before: servers === 4 ? await audit(envs[3]!) : undefined };
  for (const db of dbs) await db.cleanup();
  return { runs, checkouts, audits };
}

interface Seeded {
  eventIds: number[];
  seats: { first: number };
}

/** The event and seat range of the seeded event at `index` (the seed numbers seats consecutively, event by event). */
function eventSeats(seeded: Seeded, index: number, seats: number) {
  const first = seeded.seats.first + index * seats;
  return { event: String(seeded.eventIds[index]), "first-seat": String(first), "last-seat": String(first + seats - 1) };
}


/** Waits until every entity (the global queue, each concert's queue, each event) has a live lease and every instance has joined. */
async function placed(url: string, instances: number): Promise<void> {
  const sql = new SQL(url);
  try {
    await waitFor(async () => {
      const [row] = await sql.unsafe(
        `SELECT (SELECT count(*) FROM service_instances WHERE alive_until > now())::int AS live,
                (SELECT count(*) FROM concert_events)::int + (SELECT count(*) FROM concerts)::int + 1 AS entities,
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

/**
 * An operator's 100,000-seat hall: seconds from the request to the 201 (one INSERT of the seat map, then the owner
 * loads the event), then an occupy rush on it.
 */
async function bigEvent(kind: DatabaseKind, natsServer: NatsServer) {
  const db = await kind.fresh();
  const port = await freePort();
  const env: Env = { ...db.env, PORT: String(port), NATS_URL: natsServer.url, AUTH_SECRET: SECRET, SEED_DEMO: "false", LOG_LEVEL: "warn", QUEUE_MAX_ACTIVE: "100000" };
  const service = await serve(["src/main.ts"], env, port);
  try {
    const { signUserToken } = await import("../src/http/auth");
    const headers = { authorization: `Bearer ${await signUserToken(1, SECRET, 3600, { admin: true })}`, "content-type": "application/json" };
    const post = async (path: string, body: unknown) =>
      ((await (await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", headers, body: JSON.stringify(body) })).json()) as any).data;
    const concert = await post("/api/v1/admin/concerts", { title: "대형 공연장", venue: "고척스카이돔", saleOpensAt: new Date(Date.now() - 60_000).toISOString() });
    const started = performance.now();
    const event = await post(`/api/v1/admin/concerts/${concert.id}/events`, {
      startsAt: "2027-06-01T10:00:00.000Z",
      sections: [{ name: "VIP", price: 198_000, seats: 20_000 }, { name: "R", price: 154_000, seats: 80_000 }],
    });
    const seconds = (performance.now() - started) / 1000;
    const state = join(tmpdir(), `bench-big-${port}.json`);
    await load(port, "enter", { users: String(SIZE.rushUsers), "first-user": "1", state });
    const [range] = await seatRange(env, event.id);
    const occupied = await load(port, "occupy", {
      users: String(SIZE.rushUsers),
      "first-user": "1",
      requests: String(SIZE.occupyRequests),
      state,
      event: String(event.id),
      "first-seat": String(range!.first),
      "last-seat": String(range!.last),
    });
    rmSync(state, { force: true });
    return { seconds, seats: event.totalSeats as number, occupy: occupied };
  } finally {
    await service.stop();
    await db.cleanup();
  }
}

/** The event's seat ids, read after the service stopped writing them (PGlite serves one process: read over SQL on the server only). */
async function seatRange(env: Env, eventId: number): Promise<{ first: number; last: number }[]> {
  if (!env.DATABASE_URL) {
    // Ids are assigned in one statement per event, consecutively; on a fresh database the first event starts at 1.
    return [{ first: 1, last: 100_000 }];
  }
  const sql = new SQL(env.DATABASE_URL);
  const rows = await sql.unsafe(`SELECT min(id)::int AS first, max(id)::int AS last FROM seats WHERE concert_event_id = $1`, [eventId]);
  await sql.close();
  return rows as { first: number; last: number }[];
}

const pct = (a: number, b: number) => `${Math.round((100 * a) / b)} %`;
const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;

/** Where ours sends its spans with --trace: an OTLP/HTTP endpoint that counts what it is sent and keeps nothing. */
function otlpSink() {
  const sent = { batches: 0, bytes: 0 };
  const server = Bun.serve({
    port: 0,
    async fetch(request) {
      sent.batches++;
      sent.bytes += (await request.arrayBuffer()).byteLength;
      return new Response(new Uint8Array(), { headers: { "content-type": "application/x-protobuf" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, sent, stop: () => server.stop(true) };
}

const sink = values.trace ? otlpSink() : undefined;
const nats = await startNatsServer();
const lines: string[] = [];
try {
  console.error(`benchmark: ${SIZE.queueUsers} queue users, ${SIZE.rushUsers} rush users, ${SIZE.seats} seats, ${SIZE.occupyRequests} occupy requests, ${CONNECTIONS} connections`);
  for (const kind of values["scale-only"] ? [] : await databases()) {
    console.error(`— ${kind.name}`);
    const { runs, checkouts, audits } = await rush(kind);
    const ratios = (ours: Load[], base: Load[], format: (a: number, b: number) => string) =>
      ours.map((run, i) => format(run.rps, base[i]!.rps)).join(", ");
    const times = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
    const compared = checkouts.before.length > 0;
    lines.push(`\n### ${kind.name}\n`);
    lines.push(`The median of ${ROUNDS} rounds for each run; each round measures ours and the baselines back to back.\n`);
    lines.push(row(["run", "req/s", "p50 ms", "p99 ms", "200", "409", "other"]));
    lines.push(row(["---", "---:", "---:", "---:", "---:", "---:", "---:"]));
    const table: [string, Load][] = [
      ["queue tokens — ours", median(runs.queue)],
      ...(compared ? [["queue tokens — before", median(runs.beforeQueue)] as [string, Load]] : []),
      ["queue tokens — ceiling", median(runs.ceilingQueue)],
      ["occupy — ours", median(runs.occupy)],
      ...(compared ? [["occupy — before", median(runs.beforeOccupy)] as [string, Load]] : []),
      ["occupy — naive", median(runs.naive)],
      ["occupy — ceiling", median(runs.ceiling)],
    ];
    for (const [who, list] of [["ours", checkouts.ours], ...(compared ? [["before", checkouts.before] as const] : [])] as const) {
      table.push([`holds, two seats per user — ${who}`, median(list.map((c) => c.holds))]);
      table.push([`checkout (reserve 2 + pay), users/s — ${who}`, median(list.map((c) => c.checkout))]);
    }
    for (const [name, l] of table) {
      const other = l.requests - (l.statuses["200"] ?? 0) - (l.statuses["409"] ?? 0);
      lines.push(row([name, l.rps, l.p50, l.p99, l.statuses["200"] ?? 0, l.statuses["409"] ?? 0, other]));
    }
    lines.push("");
    lines.push(`occupy ours/ceiling ${pct(median(runs.occupy).rps, median(runs.ceiling).rps)} (rounds: ${ratios(runs.occupy, runs.ceiling, pct)}), ` +
      `ours/naive ${times(median(runs.occupy).rps, median(runs.naive).rps)} (rounds: ${ratios(runs.occupy, runs.naive, times)}); ` +
      `queue tokens ours/ceiling ${pct(median(runs.queue).rps, median(runs.ceilingQueue).rps)} (rounds: ${ratios(runs.queue, runs.ceilingQueue, pct)})` +
      (compared ? `, before/ceiling ${pct(median(runs.beforeQueue).rps, median(runs.ceilingQueue).rps)} (rounds: ${ratios(runs.beforeQueue, runs.ceilingQueue, pct)})` : ""));
    if (compared) {
      lines.push(`occupy ours/before ${pct(median(runs.occupy).rps, median(runs.beforeOccupy).rps)} (rounds: ${ratios(runs.occupy, runs.beforeOccupy, pct)}), ` +
        `before/ceiling ${pct(median(runs.beforeOccupy).rps, median(runs.ceiling).rps)} (rounds: ${ratios(runs.beforeOccupy, runs.ceiling, pct)})`);
    }
    for (const [who, list] of [["ours", checkouts.ours], ...(compared ? [["before", checkouts.before] as const] : [])] as const) {
      const each = list.map((c) => c.checkout.rps / c.holds.rps);
      const sold = list.reduce((n, c) => n + (c.checkout.seatsSold ?? 0), 0);
      lines.push(`checkout users/s ÷ hold req/s — ${who}: median ${medianOf(each).toFixed(2)} (rounds: ${each.map((r) => r.toFixed(2)).join(", ")}); ` +
        `seats sold ${sold}, payments ${list.reduce((n, c) => n + (c.checkout.paid ?? 0), 0)}`);
    }
    const everyLoad = [...Object.values(runs).flat(), ...[...checkouts.ours, ...checkouts.before].flatMap((c) => [c.holds, c.checkout])];
    const unexpected = everyLoad.reduce((n, l) => n + l.requests - (l.statuses["200"] ?? 0) - (l.statuses["409"] ?? 0), 0);
    const refusedHolds = [...checkouts.ours, ...checkouts.before].reduce((n, c) => n + c.holds.requests - (c.holds.statuses["200"] ?? 0), 0);
    lines.push(`answers other than 200/409 in any round: ${unexpected}; holds of the checkout runs not answered 200: ${refusedHolds}`);
    for (const [who, audit] of Object.entries(audits)) {
      if (!audit) continue;
      lines.push(`audit of ${who} (bun run verify): ${audit.ok ? "all invariants hold" : "VIOLATIONS"}`);
      if (!audit.ok) lines.push(audit.out);
    }
  }
  if (!values["scale-only"] && !values["rush-only"]) {
    lines.push(`\n### A 100,000-seat hall\n`);
    lines.push(row(["database", "event created and loaded, s", "occupy req/s on it", "occupy p50 ms", "p99 ms", "200", "409", "other"]));
    lines.push(row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]));
    for (const kind of await databases()) {
      console.error(`— a 100,000-seat hall: ${kind.name}`);
      const big = await bigEvent(kind, nats);
      const o = big.occupy;
      const other = o.requests - (o.statuses["200"] ?? 0) - (o.statuses["409"] ?? 0);
      lines.push(row([kind.name, big.seconds.toFixed(2), o.rps, o.p50, o.p99, o.statuses["200"] ?? 0, o.statuses["409"] ?? 0, other]));
    }
  }
  if (values.only !== "pglite" && !values["rush-only"] && (await postgresAvailable())) {
    const runs = await scaleOut(nats);
    lines.push(`\n### Instances (PostgreSQL server, round-robin over the instances)\n`);
    lines.push(row(["instances", "queue tokens req/s", "tokens p99 ms", "occupy req/s", "occupy p99 ms", "occupy 200", "other than 200/409", "audit"]));
    lines.push(row(["---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]));
    for (const { instances, queue, occupy, audit } of runs) {
      const other = occupy.requests - (occupy.statuses["200"] ?? 0) - (occupy.statuses["409"] ?? 0);
      lines.push(row([instances, queue.rps, queue.p99, occupy.rps, occupy.p99, occupy.statuses["200"] ?? 0, other, audit ? "clean" : "VIOLATIONS"]));
    }
  }
  if (values.only !== "postgres" && !values["scale-only"] && !values["rush-only"]) {
    console.error("— memory");
    const m = await memory(nats);
    lines.push(`\n### Memory (PGlite, 100 events × 1,000 seats)\n`);
    lines.push(`resident: ${m.idle} MB at start, ${m.loaded} MB with all 100 event actors loaded, ${m.passivated} MB after they passivated`);
  }
} finally {
  await nats.stop();
  sink?.stop();
}
if (sink) lines.push(`\ntracing on (ours only): ${sink.sent.batches} OTLP batches, ${(sink.sent.bytes / 1e6).toFixed(1)} MB of spans exported`);
console.log(lines.join("\n"));
