// `npm run chaos`: a whole sale under faults, checked like Jepsen. Three service instances on a PostgreSQL server and
// a three-node NATS cluster (deploy/nats-cluster, RSV_EVENTS replicated three ways); a crowd in the pre-queue at the
// opening and fans checking out after it; a nemesis whose schedule is drawn from the seed; then every process healed,
// the system left to settle, and the client history checked against the database and the event stream.
// Options: --seed N (default: drawn, and printed), --duration S (the sale, default 240 s), --quick (a small sale of
// 80 s, what `npm test` runs), --out DIR (default test-output/chaos). The history, the faults, the services' logs
// and the report are written there; on any violation it exits 1 and keeps the database's and NATS nodes' directories
// for inspection too.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "nats";
import { signUserToken } from "../../src/http/auth";
import { availability } from "./availability";
import { check } from "./checker";
import { Fan, type SaleUnderTest } from "./fans";
import { readFinalState, type FinalState } from "./final-state";
import { Balancer, FanClient, History } from "./history";
import { planFaults, runNemesis } from "./nemesis";
import { report } from "./report";
import { Seeded } from "../support/seeded";
import { System } from "./system";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    duration: { type: "string" },
    quick: { type: "boolean", default: false },
    out: { type: "string" },
  },
});

const SECRET = "chaos-run-secret";
const quick = values.quick;
const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
const SALE_MS = Number(values.duration ?? (quick ? 80 : 240)) * 1000;
const FANS = quick ? 240 : 1000;
const EVENTS = quick ? 2 : 3;
const SECTIONS = quick
  ? [{ name: "VIP", price: 150_000, seats: 24 }, { name: "R", price: 99_000, seats: 48 }]
  : [{ name: "VIP", price: 150_000, seats: 50 }, { name: "R", price: 99_000, seats: 100 }];
const PREQUEUE_MS = quick ? 10_000 : 20_000;
const SERVICE_ENV = {
  LOG_LEVEL: "warn",
  QUEUE_MAX_ACTIVE: String(quick ? 30 : 80),
  QUEUE_ACTIVE_TTL_SECONDS: "40",
  SEAT_HOLD_TTL_SECONDS: "12",
};

const startedAt = Date.now();
const dir = resolve(values.out ?? "test-output/chaos", `seed-${seed}-${new Date(startedAt).toISOString().replace(/[:.]/g, "-")}`);
mkdirSync(dir, { recursive: true });
const random = new Seeded(seed);
const plan = planFaults(random.fork(1), SALE_MS);
console.log(`chaos: seed ${seed}, ${SALE_MS / 1000} s sale, ${plan.length} faults planned; output in ${dir}`);

const system = await System.start({ dir, secret: SECRET, env: SERVICE_ENV });
process.on("SIGINT", () => void system.stop().finally(() => process.exit(130)));

/** The operator's calls, sent again until one instance answers them. */
async function operator(method: string, path: string, body: unknown): Promise<any> {
  const bearer = await signUserToken(1, SECRET, 3600, { admin: true });
  for (let tries = 0; ; tries++) {
    const instance = system.instances[tries % system.instances.length]!;
    const response = await fetch(`${instance.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }).catch(() => undefined);
    if (response?.status === 201 || response?.status === 200) return ((await response.json()) as { data: unknown }).data;
    if (tries > 20) throw new Error(`${method} ${path}: ${response?.status} ${await response?.text()}`);
    await Bun.sleep(500);
  }
}

async function setUpSale(): Promise<SaleUnderTest> {
  const opensAt = Date.now() + PREQUEUE_MS + 3_000;
  const concert = await operator("POST", "/api/v1/admin/concerts", {
    title: `chaos ${seed}`,
    venue: "잠실종합운동장",
    saleOpensAt: new Date(opensAt).toISOString(),
  });
  const events = [];
  for (let i = 0; i < EVENTS; i++) {
    const startsAt = new Date(Date.UTC(2030, 5, 1 + i, 10)).toISOString();
    const event = await operator("POST", `/api/v1/admin/concerts/${concert.id}/events`, { startsAt, sections: SECTIONS });
    events.push({ id: event.id as number, sections: SECTIONS.map((s) => s.name) });
  }
  return { concertId: concert.id, opensAt, events };
}

const sale = await setUpSale();
const history = new History();
const endpoints = system.instances.map((i) => ({ id: i.id, base: i.base }));
const balancer = new Balancer(endpoints);
balancer.watch();
const stopAt = sale.opensAt + SALE_MS;
const fans = Array.from({ length: FANS }, (_, i) => {
  const client = new FanClient(1000 + i, history, balancer, SECRET, 5_000);
  return new Fan(client, random.fork(1000 + i), sale, { stopAt, arrivalSpreadMs: PREQUEUE_MS, turns: 2 });
});
const crowd = Promise.all(fans.map((fan) => fan.run()));
await Bun.sleep(Math.max(0, sale.opensAt - Date.now()));
const faults = await runNemesis(system, plan, { concertId: sale.concertId, eventIds: sale.events.map((e) => e.id) }, sale.opensAt, () => Date.now() > stopAt);
await crowd;
balancer.stop();
console.log(`chaos: sale over, ${history.ops.length} requests; letting the system settle`);

/** Healed: every instance up, the outbox drained, and every lapsed hold released (a lease and a timer later). */
async function settle(): Promise<void> {
  for (const instance of system.instances) {
    instance.resume();
    if (!instance.running) await instance.start();
  }
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    const [row] = await system.query(
      `SELECT (SELECT count(*) FROM event_outbox) AS outbox,
              (SELECT count(*) FROM seats WHERE status = 'HELD' AND hold_expires_at < now() - interval '5 seconds') AS lapsed`,
    );
    if (Number(row!.outbox) === 0 && Number(row!.lapsed) === 0) return;
    await Bun.sleep(1000);
  }
}

/** The promise's value, or a rejection once `ms` have passed without one. */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)));
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function finalState(): Promise<FinalState> {
  await settle();
  const nc = await connect({ servers: system.nats.nodes.map((n) => n.url) });
  try {
    for (let tries = 0; ; tries++) {
      try {
        // While the stream elects a leader its API does not answer, and a read can wait for good: bounded, and again.
        return await within(30_000, readFinalState(await system.db(), nc, sale.concertId));
      } catch (error) {
        if (tries >= 10) throw error;
        await Bun.sleep(2000);
      }
    }
  } finally {
    await nc.close();
  }
}

const state = await finalState();
const results = check(history.ops, state);
for (const r of results) if (r.checked === 0) r.violations.push("nothing was checked: the run exercised none of it");
const served = availability(history.ops, faults);
const facts = {
  seed,
  quick,
  saleSeconds: SALE_MS / 1000,
  fans: FANS,
  seats: EVENTS * SECTIONS.reduce((n, s) => n + s.seats, 0),
  wallSeconds: Math.round((Date.now() - startedAt) / 1000),
};
const text = report(facts, history.ops, faults, served, results, sale.opensAt);
writeFileSync(join(dir, "report.md"), text);
const passed = results.every((r) => r.violations.length === 0);
writeFileSync(join(dir, "history.jsonl"), history.toJsonLines());
writeFileSync(join(dir, "faults.json"), JSON.stringify(faults, null, 2));
await system.stop();
if (passed) for (const keep of [system.postgres.dir, system.nats.dir]) rmSync(keep, { recursive: true, force: true });
else console.log(`chaos: kept the database in ${system.postgres.dir} and the NATS nodes in ${system.nats.dir}`);
console.log(text);
console.log(passed ? "chaos: PASS" : "chaos: FAIL");
process.exit(passed ? 0 : 1);
