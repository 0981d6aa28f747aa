// `npm run bench -- --sale`: a sale opening, end to end. An operator puts one 2,000-seat event on sale; 20,000 users
// enter the concert's pre-queue in the seconds before the opening and wait; QUEUE_MAX_ACTIVE is 500; each admitted
// user lists the seats, occupies 1–4 random available ones (another on 409), reserves them and pays. Three runs, each
// on a fresh database and service: the checkout alone (1,000 buyers, no crowd), the crowd polling every second, and
// the crowd on pushed status streams. Then GET /queue/status is measured against a bare Elysia route answering from
// memory, with 20,000 waiting, in alternating rounds. Prints the tables docs/benchmarks.md shows.
// Options: --only pglite|postgres (default: PGlite on disk), --quick (a tenth of the crowd), --status-only (just the
// status measurement), --runs polling,streams (the checkout alone and only the runs named).
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
  options: { sale: { type: "boolean" }, only: { type: "string" }, quick: { type: "boolean", default: false }, "status-only": { type: "boolean", default: false }, runs: { type: "string" } },
});
const SECRET = "sale-benchmark-secret";
const CROWD = values.quick ? 2_000 : 20_000;
/** Enough buyers to sell the hall out (each wants 2.5 seats on average), and no crowd. */
const ALONE = values.quick ? 400 : 1_000;
const SEATS = values.quick ? 500 : 2_000;
const MAX_ACTIVE = values.quick ? 100 : 500;
/**
 * File descriptors are capped at 20,000 per process here (the hard limit, which cannot be raised): the service also
 * needs the crowd's and the operator's keep-alive connections, NATS and its database files. At 19,600 streams a run
 * had connections closed under it; 19,000 leaves room.
 */
const STREAMS = values.quick ? 1_900 : 19_000;
const STATUS_ROUNDS = 3;
const ACTIVE_TTL_SECONDS = 600;

type Env = Record<string, string>;

interface CrowdReport {
  latencies: Record<string, Histogram>;
  admissionDelays: Record<"stream" | "poll", Histogram>;
  counts: Record<string, number>;
  pollSeconds: number;
}

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
        const dir = mkdtempSync(join(tmpdir(), "bench-sale-"));
        return { env: { DATA_DIR: dir, DATABASE_URL: "" }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    });
  }
  if (values.only === "postgres" && (await postgresAvailable())) {
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

/** Wallets for users 1..n, with their ledger entries, written before the service starts (PGlite has one process). */
async function fund(env: Env, users: number): Promise<void> {
  const target = env.DATABASE_URL ? { kind: "postgres" as const, url: env.DATABASE_URL } : { kind: "pglite-disk" as const, dir: env.DATA_DIR! };
  const db = await openDatabase(target);
  await db.query(`INSERT INTO wallets (user_id, balance) SELECT u, 2000000 FROM generate_series(1, $1::int) AS u`, [users]);
  await db.query(`INSERT INTO wallet_ledger (user_id, amount, kind) SELECT u, 2000000, 'charge' FROM generate_series(1, $1::int) AS u`, [users]);
  await db.close();
}

async function startService(env: Env, port: number) {
  const child = Bun.spawn(["bun", ...(process.env.BENCH_PROFILE_DIR ? ["--cpu-prof-md", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []), "src/main.ts"], { env: { ...process.env, ...env, PORT: String(port) }, stdout: "ignore", stderr: "inherit" });
  await waitFor(() => portOpen(port), "the service to listen", 60_000);
  return child;
}

function serviceEnv(db: Env, natsUrl: string): Env {
  return {
    ...db,
    NATS_URL: natsUrl,
    AUTH_SECRET: SECRET,
    SEED_DEMO: "false",
    LOG_LEVEL: "warn",
    QUEUE_MAX_ACTIVE: String(MAX_ACTIVE),
    QUEUE_ACTIVE_TTL_SECONDS: String(ACTIVE_TTL_SECONDS),
    RATE_LIMIT_QUEUE_PER_SECOND: "0",
    RATE_LIMIT_OCCUPY_PER_SECOND: "0",
  };
}

async function admin(base: string) {
  const token = await signUserToken(1, SECRET, 3600, { admin: true });
  return async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await response.json()) as any;
  };
}

const metricsOf = async (base: string) => (await fetch(`${base}/metrics`)).text();

/** p50 and p99 of one route as the service's own histogram has them: the upper bound of the bucket each falls in, ms. */
async function serverLatency(base: string, method: string, route: string): Promise<(number | null)[]> {
  const text = await metricsOf(base);
  const buckets = [...text.matchAll(/^http_request_duration_seconds_bucket\{le="([^"]+)",route="([^"]+)",method="([^"]+)"\} (\d+)/gm)]
    .filter((m) => m[2] === route && m[3] === method)
    .map((m) => ({ le: m[1] === "+Inf" ? Infinity : Number(m[1]) * 1000, count: Number(m[4]) }));
  const total = buckets.find((b) => b.le === Infinity)?.count ?? 0;
  const at = (q: number) => (total === 0 ? null : buckets.find((b) => b.count >= q * total)!.le);
  return [at(0.5), at(0.99)];
}

async function streamsOpen(base: string): Promise<number> {
  return Number(/^queue_streams_open (\d+)/m.exec(await metricsOf(base))?.[1] ?? 0);
}

interface SaleRun {
  name: string;
  waiting: number;
  streams: number;
  crowdProcesses: { first: number; users: number; wait: string; streams: number }[];
}

async function sale(kind: DatabaseKind, run: SaleRun) {
  const db = await kind.fresh();
  const nats = await startNatsServer();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // Whatever this run started dies with it, also when it fails: a service or crowd left running skews every later run.
  const children: { kill(signal?: number | NodeJS.Signals): void }[] = [];
  try {
    await fund(db.env, run.waiting);
    const service = await startService(serviceEnv(db.env, nats.url), port);
    children.push(service);
    const ask = await admin(base);
    // Entries are spread over the 25 s before the opening; signing tokens and connecting take the first seconds.
    const opensAt = Date.now() + (values.quick ? 12_000 : 30_000);
    const concert = (await ask("POST", "/api/v1/admin/concerts", { title: "벤치마크 공연", venue: "KSPO DOME", saleOpensAt: new Date(opensAt).toISOString() })).data;
    const sections = [{ name: "VIP", price: 198_000, seats: SEATS / 5 }, { name: "R", price: 154_000, seats: SEATS - SEATS / 5 }];
    const event = (await ask("POST", `/api/v1/admin/concerts/${concert.id}/events`, { startsAt: "2027-06-01T10:00:00.000Z", sections })).data;
    const rssBefore = rssMb(service.pid);
    let peak = rssBefore;
    const crowds = run.crowdProcesses.map((c) =>
      Bun.spawn(
        ["bun", "bench/sale-crowd.ts", "--base", base, "--secret", SECRET, "--concert", String(concert.id), "--event", String(event.id),
          "--first-user", String(c.first), "--users", String(c.users), "--wait", c.wait, "--streams", String(c.streams), "--opens-at", String(opensAt)],
        { env: { ...process.env, QUEUE_ACTIVE_TTL_SECONDS: String(ACTIVE_TTL_SECONDS) }, stdout: "pipe", stderr: "inherit" },
      ),
    );
    children.push(...crowds);
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(service.pid));
      for (const crowd of crowds) cpuSeconds(crowd.pid);
    }, 200);
    await Bun.sleep(Math.max(0, opensAt - 1000 - Date.now()));
    const rssWaiting = rssMb(service.pid);
    const open = await streamsOpen(base);
    const queue = (await ask("GET", `/api/v1/admin/concerts/${concert.id}/queue`)).data;
    await Bun.sleep(Math.max(0, opensAt - Date.now()));
    const cpuAtOpening = {
      service: cpuSeconds(service.pid),
      serviceMain: mainThreadSeconds(service.pid),
      crowd: crowds.reduce((sum, c) => sum + cpuSeconds(c.pid), 0),
    };
    // The opening; the sale runs until the hall is sold out.
    let soldOutAt = 0;
    const summariesRefused: string[] = [];
    const limit = Date.now() + 300_000;
    while (!soldOutAt && Date.now() < limit) {
      await Bun.sleep(250);
      const answer = await ask("GET", `/api/v1/admin/concert-events/${event.id}/summary`).catch((error) => ({ code: String(error) }));
      // The operator's poll competes with the crowd like any request: one refused (503 under load) is asked again.
      if (!answer.data) summariesRefused.push(answer.code);
      else if (answer.data.sold === answer.data.totalSeats) soldOutAt = Date.now();
    }
    clearInterval(sampler);
    const cpu = {
      service: cpuSeconds(service.pid) - cpuAtOpening.service,
      serviceMain: mainThreadSeconds(service.pid) - cpuAtOpening.serviceMain,
      crowd: crowds.reduce((sum, c) => sum + cpuSeconds(c.pid), 0) - cpuAtOpening.crowd,
    };
    const serverList = await serverLatency(base, "GET", "/api/v1/concert-events/:id/available-seats");
    if (summariesRefused.length > 0) console.error(`operator's summary polls refused: ${summariesRefused.length} (${[...new Set(summariesRefused)].join(", ")})`);
    for (const crowd of crowds) crowd.kill("SIGTERM");
    const reports = await Promise.all(crowds.map(async (c) => JSON.parse((await new Response(c.stdout).text()).trim().split("\n").at(-1)!) as CrowdReport));
    service.kill("SIGTERM");
    await service.exited;
    const audit = await auditOf(db.env, concert.id);
    const sold = soldOutAt ? SEATS : audit.sold;
    const seconds = ((soldOutAt || Date.now()) - opensAt) / 1000;
    const latency = (step: string) => merge(reports.map((r) => r.latencies[step] ?? {}));
    const counts = (name: string) => reports.reduce((sum, r) => sum + (r.counts[name] ?? 0), 0);
    const pollSeconds = Math.max(...reports.map((r) => r.pollSeconds));
    return {
      name: run.name,
      waiting: queue.waiting + queue.active,
      streams: open,
      soldOut: Boolean(soldOutAt),
      seconds,
      ticketsPerSecond: sold / seconds,
      steps: Object.fromEntries(["enter", "status", "list", "occupy", "reserve", "pay"].map((s) => [s, [percentile(latency(s), 0.5), percentile(latency(s), 0.99)]])),
      admission: admissionPercentiles(reports, "stream"),
      admissionPolling: admissionPercentiles(reports, "poll"),
      mostStreams: counts("maxStreamsOpen"),
      /** The seat list's p50 / p99 as the service timed it (upper bounds of its histogram's buckets, ms). */
      serverList,
      buyers: { paid: counts("paid"), soldOutLeaves: counts("soldOutLeaves"), occupy409: counts("occupy409") },
      streamsCut: counts("streamsCut"),
      streamsRefused: counts("streamsRefused"),
      pollsPerSecond: pollSeconds > 0 ? Math.round(counts("polls") / pollSeconds) : 0,
      polls503: counts("polls503"),
      errors: counts("errors"),
      rss: { before: rssBefore, waiting: rssWaiting, peak },
      /** Cores used from the opening to sold out, of the 2 here: the service, its JavaScript thread alone, the crowd. */
      cores: { service: cpu.service / seconds, serviceMain: cpu.serviceMain / seconds, crowd: cpu.crowd / seconds },
      audit,
    };
  } finally {
    for (const child of children) child.kill("SIGKILL");
    await nats.stop();
    await db.cleanup();
  }
}

function admissionPercentiles(reports: CrowdReport[], wait: "stream" | "poll"): (number | null)[] {
  const delays = merge(reports.map((r) => r.admissionDelays[wait]));
  return [percentile(delays, 0.5), percentile(delays, 0.99)];
}

/** After the run, on the stopped service's database: the audit, and admissions out of the drawn order. */
async function auditOf(env: Env, concertId: number) {
  const target = env.DATABASE_URL ? { kind: "postgres" as const, url: env.DATABASE_URL } : { kind: "pglite-disk" as const, dir: env.DATA_DIR! };
  const db = await openDatabase(target);
  const violations = await verify(db);
  const [order] = await db.query(
    `SELECT count(*) FILTER (WHERE activated_at < latest_ahead)::int AS out_of_order, count(*)::int AS admitted FROM (
       SELECT q.activated_at, max(q.activated_at) OVER (ORDER BY ${ADMISSION_ORDER_SQL} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_ahead
         FROM queue_tokens q JOIN concerts c ON c.id = q.queue_id WHERE q.queue_id = $1 AND q.activated_at IS NOT NULL) admitted`,
    [concertId],
  );
  const [seats] = await db.query(`SELECT count(*) FILTER (WHERE status = 'SOLD')::int AS sold FROM seats`);
  await db.close();
  return {
    clean: violations.length === 0,
    violations: violations.map((v) => v.check),
    outOfOrder: Number(order!.out_of_order),
    admitted: Number(order!.admitted),
    sold: Number(seats!.sold),
  };
}

/** GET /queue/status against the bare route, 20,000 waiting in line, alternating rounds. */
async function statusBenchmark(kind: DatabaseKind) {
  const db = await kind.fresh();
  const nats = await startNatsServer();
  const [port, barePort] = [await freePort(), await freePort()];
  const tokens = join(tmpdir(), `status-tokens-${process.pid}.json`);
  try {
    const service = await startService(serviceEnv(db.env, nats.url), port);
    const base = `http://127.0.0.1:${port}`;
    const ask = await admin(base);
    const concert = (await ask("POST", "/api/v1/admin/concerts", { title: "상태 벤치마크", venue: "잠실", saleOpensAt: new Date(Date.now() - 1000).toISOString() })).data;
    await Bun.sleep(1500);
    const load = async (args: string[]) => {
      const child = Bun.spawn(["bun", "bench/status-load.ts", "--secret", SECRET, "--concert", String(concert.id), "--tokens", tokens, ...args], { stdout: "pipe", stderr: "inherit" });
      return JSON.parse((await new Response(child.stdout).text()).trim().split("\n").at(-1)!);
    };
    const entered = await load(["--base", base, "--mode", "enter", "--users", String(CROWD)]);
    const bare = Bun.spawn(["bun", "bench/bare-status-server.ts"], { env: { ...process.env, PORT: String(barePort), TOKENS: tokens }, stdout: "ignore", stderr: "ignore" });
    await waitFor(() => portOpen(barePort), "the bare status server", 20_000);
    // What the service spends with the crowd waiting and nobody asking: timers, heartbeats, sweeps.
    const idleBefore = cpuSeconds(service.pid);
    await Bun.sleep(5000);
    const idleCores = (cpuSeconds(service.pid) - idleBefore) / 5;
    const requests = String(values.quick ? 10_000 : 60_000);
    // Warm-up, then the rounds.
    await load(["--base", base, "--mode", "status", "--requests", "5000"]);
    await load(["--base", `http://127.0.0.1:${barePort}`, "--mode", "status", "--requests", "5000"]);
    const ours = [];
    const bares = [];
    // Each round also notes the server's CPU per request (µs), from /proc: what a poll costs, whatever the client does.
    const measured = async (pid: number, url: string) => {
      const before = cpuSeconds(pid);
      const figures = await load(["--base", url, "--mode", "status", "--requests", requests]);
      return { ...figures, cpuUs: Math.round(((cpuSeconds(pid) - before) * 1e6) / figures.requests) };
    };
    for (let round = 0; round < STATUS_ROUNDS; round++) {
      ours.push(await measured(service.pid, base));
      bares.push(await measured(bare.pid, `http://127.0.0.1:${barePort}`));
    }
    bare.kill("SIGTERM");
    service.kill("SIGTERM");
    await service.exited;
    return { entered, ours, bares, idleCores };
  } finally {
    rmSync(tokens, { force: true });
    await nats.stop();
    await db.cleanup();
  }
}

const median = <T extends { rps: number }>(runs: T[]) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor((runs.length - 1) / 2)]!;
const ms = (pair: (number | null)[]) => pair.map((v) => (v === null ? "–" : v)).join(" / ");

for (const kind of await databases()) {
  if (!values["status-only"]) await saleRuns(kind);
  await statusRuns(kind);
}

async function saleRuns(kind: DatabaseKind) {
  console.log(`\n#### Sale opening: ${kind.name}, ${CROWD.toLocaleString("en")} waiting, QUEUE_MAX_ACTIVE ${MAX_ACTIVE}, ${SEATS.toLocaleString("en")} seats\n`);
  const half = CROWD / 2;
  const runs: SaleRun[] = [
    { name: "checkout alone (no crowd)", waiting: ALONE, streams: 0, crowdProcesses: [{ first: 1, users: ALONE, wait: "poll", streams: 0 }] },
    { name: "crowd polling every second", waiting: CROWD, streams: 0, crowdProcesses: [{ first: 1, users: CROWD, wait: "poll", streams: 0 }] },
    {
      name: "crowd on pushed streams",
      waiting: CROWD,
      streams: STREAMS,
      crowdProcesses: [
        { first: 1, users: half, wait: "mixed", streams: STREAMS / 2 },
        { first: 1 + half, users: half, wait: "mixed", streams: STREAMS / 2 },
      ],
    },
  ];
  const results = [];
  const wanted = values.runs?.split(",");
  for (const run of runs.filter((r, i) => i === 0 || !wanted || wanted.some((w) => r.name.includes(w)))) {
    const result = await sale(kind, run);
    results.push(result);
    console.error(`${run.name}: ${JSON.stringify(result)}`);
  }
  const alone = results[0]!.ticketsPerSecond;
  console.log("| run | waiting at the opening | streams open at the opening (most) | opening → sold out, s | tickets/s | ÷ checkout alone | status polls/s | list p50 / p99 ms (service's own) | occupy | reserve | pay | status | admission → user: stream / polling p50 / p99 ms | cores used: service (its JS thread) / crowd | peak RSS MB | MB at the opening | out of drawn order | audit |");
  console.log(`| --- |${" ---: |".repeat(16)} --- |`);
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.waiting} | ${r.streams} (${r.mostStreams}) | ${r.soldOut ? r.seconds.toFixed(1) : `not sold out in ${r.seconds.toFixed(0)}`} | ${Math.round(r.ticketsPerSecond)} | ${(r.ticketsPerSecond / alone).toFixed(2)} | ${r.pollsPerSecond} | ${ms(r.steps.list!)} (≤ ${ms(r.serverList)}) | ${ms(r.steps.occupy!)} | ${ms(r.steps.reserve!)} | ${ms(r.steps.pay!)} | ${ms(r.steps.status!)} | ${ms(r.admission)} ‖ ${ms(r.admissionPolling)} | ${r.cores.service.toFixed(2)} (${r.cores.serviceMain.toFixed(2)}) / ${r.cores.crowd.toFixed(2)} | ${r.rss.peak} | ${r.rss.waiting} | ${r.audit.outOfOrder} of ${r.audit.admitted} | ${r.audit.clean ? "clean" : r.audit.violations.join("; ")} |`,
    );
  }
  const polling = results.find((r) => r.name.includes("polling"));
  const streaming = results.find((r) => r.name.includes("streams"));
  if (!polling || !streaming) return;
  console.log(
    `\nmemory: ${((polling.rss.waiting - polling.rss.before) * 1024 / CROWD).toFixed(1)} KB per waiting user (RSS at the opening minus before the crowd, polling run); ` +
      `${((streaming.rss.waiting - polling.rss.waiting) * 1024 / Math.max(1, streaming.streams)).toFixed(1)} KB per open stream (streams run minus polling run, at the opening); ` +
      `503 answers to polls: ${polling.polls503}; streams cut off / refused: ${streaming.streamsCut} / ${streaming.streamsRefused}; errors: ${results.map((r) => r.errors).join(", ")}`,
  );
}

async function statusRuns(kind: DatabaseKind) {
  const status = await statusBenchmark(kind);
  const ours = median(status.ours);
  const bare = median(status.bares);
  console.log(`\n#### GET /api/v1/queue/status, ${CROWD.toLocaleString("en")} waiting in line, 128 connections (${kind.name})\n`);
  console.log("| server | req/s | p50 ms | p99 ms | server CPU µs per request | statuses |");
  console.log("| --- | ---: | ---: | ---: | ---: | --- |");
  console.log(`| ours (median of ${STATUS_ROUNDS}) | ${ours.rps} | ${ours.p50} | ${ours.p99} | ${ours.cpuUs} | ${JSON.stringify(ours.statuses)} |`);
  console.log(`| bare Elysia route from memory (median of ${STATUS_ROUNDS}) | ${bare.rps} | ${bare.p50} | ${bare.p99} | ${bare.cpuUs} | ${JSON.stringify(bare.statuses)} |`);
  const ratios = status.ours.map((o: { rps: number }, i: number) => (o.rps / status.bares[i]!.rps).toFixed(2));
  console.log(
    `\nours ÷ bare: ${(ours.rps / bare.rps).toFixed(2)} (rounds: ${ratios.join(", ")}); entering ${CROWD}: ${status.entered.rps} req/s; ` +
      `the service idle with ${CROWD.toLocaleString("en")} waiting: ${status.idleCores.toFixed(3)} cores`,
  );
}
