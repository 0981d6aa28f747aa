// `npm run bench -- --stadium`: a stadium opening on one box. An operator creates one concert with 6 events of 15,000
// seats in three sections; a crowd enters the concert's pre-queue before the opening (as many on pushed status streams
// as the descriptor limit allows, 1,000 polling every second, the rest waiting without a connection and checking back
// now and then, every second once near the front); at the opening, admitted buyers take a section, watch the event's
// live seat map, hold 1–4 seats, reserve and pay until the hall is sold out (or, in the reference run, until everyone
// waiting has had a turn).
//
// Two runs on fresh databases and services: the reference, with 5,000 waiting, and the stadium, with 200,000; between
// the stadium's entering and its opening the service is killed with SIGKILL and restarted, and the time until a status
// is answered again is measured. Then the entry path alone against the HTTP + NATS echo ceiling (bench/baseline-server
// --mode ceiling), the same crowd entering each. Prints the table docs/benchmarks.md shows.
// Options: --only postgres (default: PGlite on disk), --waiting N (default 200,000), --quick (a tenth of everything),
// --until opening (stop after the opening: entering, memory, restart, first admission).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { signUserToken } from "../src/http/auth";
import { openDatabase } from "../src/shared/db";
import { verify } from "../src/cli/verify";
import { ADMISSION_ORDER_SQL } from "../src/shared/draw-order";
import { freshPostgres, postgresAvailable } from "../test/support/databases";
import { freePort, portOpen, startNatsServer, waitFor } from "../test/support/nats-server";
import { cpuSeconds, mainThreadSeconds, merge, percentile, rssMb, type Histogram } from "./measure";

const { values } = parseArgs({
  options: {
    stadium: { type: "boolean" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    waiting: { type: "string" },
    reference: { type: "string" },
    until: { type: "string" },
  },
});
const SECRET = "stadium-benchmark-secret";
const scale = values.quick ? 0.1 : 1;
const WAITING = Number(values.waiting ?? 200_000 * scale);
const REFERENCE = Number(values.reference ?? 5_000 * scale);
const EVENTS = 6;
const SECTIONS = [
  { name: "VIP", price: 198_000, seats: 1_500 * scale },
  { name: "R", price: 154_000, seats: 6_000 * scale },
  { name: "S", price: 110_000, seats: 7_500 * scale },
];
const SEATS = EVENTS * SECTIONS.reduce((n, s) => n + s.seats, 0);
const MAX_ACTIVE = 2_000 * scale;
/**
 * A process may hold 20,000 descriptors here (the hard limit). The service also holds the pollers' and buyers'
 * connections (up to QUEUE_MAX_ACTIVE buyers, each with a seat map stream) and its own files and NATS.
 */
const STREAMS = Math.round(15_000 * scale);
const POLLERS = Math.round(1_000 * scale);
/** Crowd processes: each may hold 20,000 descriptors too, and a process's event loop is one core's worth of clients. */
const CROWDS = 4;
const ENTRY_CONNECTIONS = 128;
const ACTIVE_TTL_SECONDS = 600;

type Env = Record<string, string>;

// Whatever a run starts dies with the benchmark, also when it fails: a service or crowd left behind skews every later run.
const started = new Set<ReturnType<typeof Bun.spawn>>();
process.on("exit", () => started.forEach((child) => child.kill("SIGKILL")));
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));
function spawn(...args: Parameters<typeof Bun.spawn>): ReturnType<typeof Bun.spawn> {
  const child = Bun.spawn(...args);
  started.add(child);
  void child.exited.then(() => started.delete(child));
  return child;
}

interface CrowdReport {
  latencies: Record<string, Histogram>;
  counts: Record<string, number>;
  ticketsAt: Record<string, number>;
  admittedAt: Record<string, number>;
}

interface DatabaseKind {
  name: string;
  fresh(): Promise<{ env: Env; target: Parameters<typeof openDatabase>[0]; cleanup(): Promise<void> }>;
}

async function databaseKind(): Promise<DatabaseKind> {
  if (values.only === "postgres") {
    if (!(await postgresAvailable())) throw new Error("no PostgreSQL server answers on 127.0.0.1:5432");
    return {
      name: "PostgreSQL server",
      fresh: async () => {
        const db = await freshPostgres();
        return { env: { DATABASE_URL: (db.target as { url: string }).url }, target: db.target, cleanup: db.drop };
      },
    };
  }
  return {
    name: "PGlite (disk)",
    fresh: async () => {
      const dir = mkdtempSync(join(tmpdir(), "bench-stadium-"));
      return { env: { DATA_DIR: dir, DATABASE_URL: "" }, target: { kind: "pglite-disk", dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  };
}

function serviceEnv(db: Env, natsUrl: string): Env {
  return {
    ...db,
    NATS_URL: natsUrl,
    AUTH_SECRET: SECRET,
    SEED_DEMO: "false",
    LOG_LEVEL: "warn",
    QUEUE_MAX_ACTIVE: String(MAX_ACTIVE),
    // Room for every admitted buyer's request and as many again for the crowd, as an operator sizes it for a sale.
    IN_FLIGHT_LIMIT: String(4 * MAX_ACTIVE),
    QUEUE_ACTIVE_TTL_SECONDS: String(ACTIVE_TTL_SECONDS),
    RATE_LIMIT_QUEUE_PER_SECOND: "0",
    RATE_LIMIT_OCCUPY_PER_SECOND: "0",
  };
}

/** The service's command line: with BENCH_PROFILE_DIR, each service writes its CPU profile there when it stops. */
const SERVICE = ["bun", ...(process.env.BENCH_PROFILE_DIR ? ["--cpu-prof-md", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []), "src/main.ts"];

async function startService(env: Env, port: number) {
  const child = spawn(SERVICE, { env: { ...process.env, ...env, PORT: String(port) }, stdout: "ignore", stderr: "inherit" });
  await waitFor(() => portOpen(port), "the service to listen", 120_000);
  return child;
}

/** Wallets for users 1..n with their ledger entries, written before the service starts (PGlite has one process). */
async function fund(target: Parameters<typeof openDatabase>[0], users: number): Promise<void> {
  const db = await openDatabase(target);
  await db.query(`INSERT INTO wallets (user_id, balance) SELECT u, 2000000 FROM generate_series(1, $1::int) AS u`, [users]);
  await db.query(`INSERT INTO wallet_ledger (user_id, amount, kind) SELECT u, 2000000, 'charge' FROM generate_series(1, $1::int) AS u`, [users]);
  await db.close();
}

async function operator(base: string) {
  const token = await signUserToken(1, SECRET, 7200, { admin: true });
  return async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await response.json()) as any;
  };
}

interface Crowd {
  process: ReturnType<typeof Bun.spawn>;
  send(command: object): void;
  /** Resolves with the (first) line that has `key`. */
  line(key: string): Promise<any>;
}

function crowd(base: string, concertId: number, eventIds: number[], first: number, users: number, streams: number, pollers: number, enterOnly = false): Crowd {
  const child = spawn(
    ["bun", "bench/stadium-crowd.ts", "--base", base, "--secret", SECRET, "--concert", String(concertId), "--events", eventIds.join(","),
      "--first-user", String(first), "--users", String(users), "--streams", String(streams), "--pollers", String(pollers),
      "--connections", String(ENTRY_CONNECTIONS / CROWDS), ...(enterOnly ? ["--enter-only"] : [])],
    { env: { ...process.env, QUEUE_ACTIVE_TTL_SECONDS: String(ACTIVE_TTL_SECONDS) }, stdin: "pipe", stdout: "pipe", stderr: "inherit" },
  );
  const waiting = new Map<string, (value: any) => void>();
  const seen = new Map<string, any>();
  void (async () => {
    let text = "";
    for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
      text += new TextDecoder().decode(chunk);
      for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n")) {
        const message = JSON.parse(text.slice(0, end));
        text = text.slice(end + 1);
        for (const key of Object.keys(message)) {
          seen.set(key, message);
          waiting.get(key)?.(message);
        }
      }
    }
  })();
  return {
    process: child,
    send: (command) => {
      (child.stdin as import("bun").FileSink).write(JSON.stringify(command) + "\n");
      (child.stdin as import("bun").FileSink).flush();
    },
    line: (key) => (seen.has(key) ? Promise.resolve(seen.get(key)) : new Promise((resolve) => waiting.set(key, resolve))),
  };
}

/** The crowd's share for each process: streams and pollers spread evenly, users in contiguous blocks. */
function crowds(base: string, concertId: number, eventIds: number[], waiting: number, enterOnly = false): Crowd[] {
  const streams = Math.min(STREAMS, Math.max(0, waiting - POLLERS));
  const pollers = Math.min(POLLERS, waiting);
  const per = Math.ceil(waiting / CROWDS);
  return Array.from({ length: CROWDS }, (_, i) => {
    const users = Math.min(per, waiting - i * per);
    return crowd(base, concertId, eventIds, 1 + i * per, users, Math.floor(streams / CROWDS), Math.floor(pollers / CROWDS), enterOnly);
  });
}

/** Polls `GET /queue/status` for one user until it answers 200; the time it took from `since`. */
async function statusAnsweredAfter(base: string, token: string, userId: number, since: number): Promise<number> {
  const bearer = `Bearer ${await signUserToken(userId, SECRET, 600)}`;
  for (;;) {
    const reply = await fetch(`${base}/api/v1/queue/status`, { headers: { authorization: bearer, "user-token": token } }).catch(() => undefined);
    if (reply?.status === 200) return Date.now() - since;
    await Bun.sleep(25);
  }
}

interface Stadium {
  waiting: number;
  entriesPerSecond: number;
  rssPerWaitingKb: number;
  rss: { before: number; waiting: number; peak: number };
  restartToStatusMs?: number;
  firstAdmissionMs: number | null;
  soldOutSeconds: number | null;
  tickets: number;
  ticketsPerSecond: number;
  slowest10sTicketsPerSecond: number;
  outOfOrder: number;
  admitted: number;
  soldTwice: number;
  audit: string;
  steps: Record<string, (number | null)[]>;
  counts: Record<string, number>;
  cores: { service: number; main: number; crowd: number };
}

async function run(kind: DatabaseKind, waiting: number, restart: boolean): Promise<Stadium> {
  const db = await kind.fresh();
  const nats = await startNatsServer();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const children: { kill(signal?: number | NodeJS.Signals): void }[] = [];
  try {
    await fund(db.target, waiting);
    const env = serviceEnv(db.env, nats.url);
    let service = await startService(env, port);
    children.push(service);
    const ask = await operator(base);
    const concert = (await ask("POST", "/api/v1/admin/concerts", { title: "임영웅 IM HERO 서울", venue: "KSPO DOME", saleOpensAt: new Date(Date.now() + 3_600_000).toISOString() })).data;
    const eventIds: number[] = [];
    for (let day = 0; day < EVENTS; day++) {
      const event = await ask("POST", `/api/v1/admin/concerts/${concert.id}/events`, { startsAt: new Date(Date.UTC(2027, 9, 1 + day, 10)).toISOString(), sections: SECTIONS });
      eventIds.push(event.data.id);
    }
    const rssBefore = rssMb(service.pid);
    let peak = rssBefore;
    const crowdsOf = crowds(base, concert.id, eventIds, waiting);
    children.push(...crowdsOf.map((c) => c.process));
    // Crowd processes exit when their users are done: their CPU is read now and then, so the last reading stands.
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(service.pid));
      for (const c of crowdsOf) cpuSeconds(c.process.pid);
    }, 500);
    const enteredAll = await Promise.all(crowdsOf.map((c) => c.line("entered")));
    const entered = enteredAll.reduce((n, e) => n + e.entered, 0);
    const entriesPerSecond = entered / Math.max(...enteredAll.map((e) => e.seconds));
    console.error(`  ${entered} entered at ${Math.round(entriesPerSecond)}/s`);
    // The streams are open by now (each right after its entry). What the line costs is what stays: the least RSS over
    // the next 10 s, once the garbage of 200,000 requests has been collected and given back.
    let rssWaiting = Infinity;
    for (let i = 0; i < 10; i++) {
      await Bun.sleep(1000);
      rssWaiting = Math.min(rssWaiting, rssMb(service.pid));
    }
    let restartToStatusMs: number | undefined;
    if (restart) {
      // A known waiting user, to ask for its status after the restart.
      const probe = await fetch(`${base}/api/v1/queue/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${await signUserToken(waiting + 1, SECRET, 600)}`, "content-type": "application/json" },
        body: JSON.stringify({ concertId: concert.id }),
      }).then((r) => r.json() as Promise<any>);
      service.kill("SIGKILL");
      await service.exited;
      const killedAt = Date.now();
      service = spawn(SERVICE, { env: { ...process.env, ...env, PORT: String(port) }, stdout: "ignore", stderr: "inherit" });
      children.push(service);
      restartToStatusMs = await statusAnsweredAfter(base, probe.data.token, waiting + 1, killedAt);
      console.error(`  restart → status ${restartToStatusMs} ms`);
      await Bun.sleep(3000);
    }
    const opensAt = Date.now() + 5000;
    await ask("PATCH", `/api/v1/admin/concerts/${concert.id}`, { saleOpensAt: new Date(opensAt).toISOString() });
    for (const c of crowdsOf) c.send({ opensAt, buy: values.until !== "opening" });
    const crowdCpu = () => crowdsOf.reduce((sum, c) => sum + cpuSeconds(c.process.pid), 0);
    await Bun.sleep(Math.max(0, opensAt - Date.now()));
    const cpuAtOpening = { service: cpuSeconds(service.pid), main: mainThreadSeconds(service.pid), crowd: crowdCpu() };
    let soldOutAt = 0;
    const limit = opensAt + (values.until === "opening" ? 15_000 : 600_000);
    let lastProgress = Date.now();
    while (!soldOutAt && Date.now() < limit) {
      await Bun.sleep(1000);
      if (values.until === "opening") continue;
      const sold = await Promise.all(eventIds.map((id) => ask("GET", `/api/v1/admin/concert-events/${id}/summary`).catch(() => undefined)));
      const total = sold.reduce((n, s) => n + (s?.data?.sold ?? 0), 0);
      if (total === SEATS) soldOutAt = Date.now();
      if (Date.now() - lastProgress > 10_000) {
        console.error(`  ${Math.round((Date.now() - opensAt) / 1000)} s: ${total} sold`);
        lastProgress = Date.now();
      }
      // The reference run has fewer buyers than seats: it ends when every one of them is done.
      if (waiting < SEATS && crowdsOf.every((c) => c.process.exitCode !== null)) break;
    }
    clearInterval(sampler);
    const cpuSale = { service: cpuSeconds(service.pid) - cpuAtOpening.service, main: mainThreadSeconds(service.pid) - cpuAtOpening.main, crowd: crowdCpu() - cpuAtOpening.crowd };
    const saleWall = (Date.now() - opensAt) / 1000;
    for (const c of crowdsOf) c.process.kill("SIGTERM");
    const reports = (await Promise.all(crowdsOf.map((c) => c.line("report")))).map((line) => line.report as CrowdReport);
    service.kill("SIGTERM");
    await service.exited;
    const audit = await auditOf(db.target, concert.id, opensAt);
    const ticketsAt = merge(reports.map((r) => r.ticketsAt));
    const tickets = Object.values(ticketsAt).reduce((n, t) => n + t, 0);
    const lastTicket = Math.max(0, ...Object.keys(ticketsAt).map(Number)) * 1000 + 1000;
    const saleSeconds = ((soldOutAt || lastTicket) - opensAt) / 1000;
    const latency = (step: string) => merge(reports.map((r) => r.latencies[step] ?? {}));
    const steps = Object.fromEntries(
      ["enter", "status", "sections", "list", "mapSnapshot", "occupy", "reserve", "pay", "admission_stream", "admission_poll", "admission_idle"].map((s) => [
        s,
        [percentile(latency(s), 0.5), percentile(latency(s), 0.99)],
      ]),
    );
    return {
      waiting: entered,
      entriesPerSecond,
      rssPerWaitingKb: ((rssWaiting - rssBefore) * 1024) / entered,
      rss: { before: rssBefore, waiting: rssWaiting, peak },
      restartToStatusMs,
      firstAdmissionMs: audit.firstAdmission === null ? null : audit.firstAdmission - opensAt,
      soldOutSeconds: soldOutAt ? (soldOutAt - opensAt) / 1000 : null,
      tickets,
      ticketsPerSecond: tickets / saleSeconds,
      slowest10sTicketsPerSecond: slowestWindow(ticketsAt, opensAt, soldOutAt || lastTicket),
      outOfOrder: audit.outOfOrder,
      admitted: audit.admitted,
      soldTwice: audit.soldTwice,
      audit: audit.violations.length === 0 ? "clean" : audit.violations.join("; "),
      steps,
      counts: merge(reports.map((r) => r.counts)),
      /** Cores used from the opening to the end of the sale, of this machine's two: the service (its JS thread), the crowd. */
      cores: { service: cpuSale.service / saleWall, main: cpuSale.main / saleWall, crowd: cpuSale.crowd / saleWall },
    };
  } finally {
    for (const child of children) child.kill("SIGKILL");
    await nats.stop();
    await db.cleanup();
  }
}

/** Tickets per second over the slowest whole 10 s of the sale. */
function slowestWindow(ticketsAt: Record<string, number>, from: number, to: number): number {
  const first = Math.ceil(from / 1000);
  const last = Math.floor(to / 1000);
  let slowest = Infinity;
  for (let start = first; start + 10 <= last; start++) {
    let n = 0;
    for (let s = start; s < start + 10; s++) n += ticketsAt[String(s)] ?? 0;
    slowest = Math.min(slowest, n / 10);
  }
  return slowest === Infinity ? 0 : slowest;
}

/** After the run, on the stopped service's database: verify, admissions out of the drawn order, seats sold twice. */
async function auditOf(target: Parameters<typeof openDatabase>[0], concertId: number, opensAt: number) {
  const db = await openDatabase(target);
  const violations = await verify(db);
  const [order] = await db.query(
    `SELECT count(*) FILTER (WHERE activated_at < latest_ahead)::int AS out_of_order, count(*)::int AS admitted,
            (extract(epoch FROM min(activated_at)) * 1000)::bigint AS first FROM (
       SELECT q.activated_at, max(q.activated_at) OVER (ORDER BY ${ADMISSION_ORDER_SQL} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_ahead
         FROM queue_tokens q JOIN concerts c ON c.id = q.queue_id WHERE q.queue_id = $1 AND q.activated_at IS NOT NULL) admitted`,
    [concertId],
  );
  const [twice] = await db.query(
    `SELECT count(*)::int AS n FROM (SELECT rs.seat_id FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
      WHERE r.status = 'PAID' GROUP BY rs.seat_id HAVING count(*) > 1) sold`,
  );
  await db.close();
  void opensAt;
  return {
    violations: violations.map((v) => v.check),
    outOfOrder: Number(order!.out_of_order),
    admitted: Number(order!.admitted),
    firstAdmission: order!.first === null ? null : Number(order!.first),
    soldTwice: Number(twice!.n),
  };
}

/** Entering alone, ours against the echo ceiling, the same crowd (without waiting) against each, fresh each time. */
async function entryCeiling(kind: DatabaseKind, users: number) {
  const results: Record<string, number> = {};
  for (const [name, script] of [["ours", "src/main.ts"], ["ceiling", "bench/baseline-server.ts"]] as const) {
    const db = await kind.fresh();
    const nats = await startNatsServer();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = serviceEnv(db.env, nats.url);
    const server = name === "ours" ? await startService(env, port) : await startCeiling(env, port);
    try {
      let concertId = 1;
      if (name === "ours") {
        const ask = await operator(base);
        concertId = (await ask("POST", "/api/v1/admin/concerts", { title: "입장 측정", venue: "잠실", saleOpensAt: new Date(Date.now() + 3_600_000).toISOString() })).data.id;
      }
      const entering = crowds(base, concertId, [], users, true);
      const done = await Promise.all(entering.map((c) => c.line("entered")));
      results[name] = done.reduce((n, e) => n + e.entered, 0) / Math.max(...done.map((e) => e.seconds));
      for (const c of entering) c.process.kill("SIGKILL");
    } finally {
      server.kill("SIGKILL");
      await nats.stop();
      await db.cleanup();
    }
  }
  return results;
}

async function startCeiling(env: Env, port: number) {
  const child = spawn(["bun", "bench/baseline-server.ts", "--mode", "ceiling"], { env: { ...process.env, ...env, PORT: String(port) }, stdout: "ignore", stderr: "inherit" });
  await waitFor(() => portOpen(port), "the ceiling server", 30_000);
  return child;
}

const kind = await databaseKind();
const fmt = (pair: (number | null)[] | undefined) => (pair ?? []).map((v) => (v === null ? "–" : v)).join(" / ");
console.log(`\n#### Stadium opening: ${kind.name}, ${EVENTS} events × ${SEATS / EVENTS} seats, QUEUE_MAX_ACTIVE ${MAX_ACTIVE}\n`);
const reference = values.until === "opening" ? undefined : await run(kind, REFERENCE, false);
if (reference) console.error(`reference: ${JSON.stringify(reference)}`);
const stadium = await run(kind, WAITING, true);
console.error(`stadium: ${JSON.stringify(stadium)}`);
const ceiling = await entryCeiling(kind, Math.min(WAITING, 40_000 * scale));
console.error(`entry: ${JSON.stringify(ceiling)}`);

console.log("| run | waiting | entries/s | RSS per waiting user | restart → status | opening → first admission | opening → sold out | tickets | tickets/s (slowest 10 s) | cores: service (JS thread) / crowd | out of drawn order | sold twice | verify |");
console.log(`| --- |${" ---: |".repeat(11)} --- |`);
for (const [name, r] of [["reference", reference], ["stadium", stadium]] as const) {
  if (!r) continue;
  console.log(
    `| ${name} | ${r.waiting} | ${Math.round(r.entriesPerSecond)} | ${r.rssPerWaitingKb.toFixed(2)} KB | ${r.restartToStatusMs === undefined ? "–" : `${(r.restartToStatusMs / 1000).toFixed(1)} s`} | ${r.firstAdmissionMs === null ? "–" : `${(r.firstAdmissionMs / 1000).toFixed(2)} s`} | ${r.soldOutSeconds === null ? "not sold out" : `${r.soldOutSeconds.toFixed(0)} s`} | ${r.tickets} | ${Math.round(r.ticketsPerSecond)} (${Math.round(r.slowest10sTicketsPerSecond)}) | ${r.cores.service.toFixed(2)} (${r.cores.main.toFixed(2)}) / ${r.cores.crowd.toFixed(2)} | ${r.outOfOrder} of ${r.admitted} | ${r.soldTwice} | ${r.audit} |`,
  );
}
console.log("\n| step p50 / p99 ms | " + Object.keys(stadium.steps).join(" | ") + " |");
console.log(`| --- |${" ---: |".repeat(Object.keys(stadium.steps).length)}`);
for (const [name, r] of [["reference", reference], ["stadium", stadium]] as const) {
  if (r) console.log(`| ${name} | ${Object.values(r.steps).map(fmt).join(" | ")} |`);
}
if (reference) console.log(`\ntickets/s with ${WAITING.toLocaleString("en")} waiting ÷ with ${REFERENCE.toLocaleString("en")}: ${(stadium.ticketsPerSecond / reference.ticketsPerSecond).toFixed(2)}`);
console.log(`entering the pre-queue: ours ${Math.round(ceiling.ours!)} /s, the HTTP + NATS echo ceiling ${Math.round(ceiling.ceiling!)} /s: ${(ceiling.ours! / ceiling.ceiling!).toFixed(2)}`);
console.log(`RSS: ${JSON.stringify(stadium.rss)} MB; counts: ${JSON.stringify(stadium.counts)}`);
