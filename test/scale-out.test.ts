// Three instances on one NATS and one PostgreSQL server, as behind a load balancer: every instance routes every event,
// ownership is spread, the owner of the rush event (and of the queue) is SIGKILLed mid-rush and a survivor takes over
// within seconds, nothing acknowledged is lost and `bun run verify` passes; a SIGTERM hands over without a single
// error; a restarted instance gets its share back.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { openDatabase, type Database } from "../src/db";
import { createEvent } from "../src/demo-data";
import { preferredOwner } from "../src/ownership";
import { eventEntity, QUEUE_ENTITY } from "../src/ownership-store";
import { freshPostgres, postgresAvailable } from "./support/databases";
import { freePort, portOpen, startNatsServer, waitFor } from "./support/nats-server";
import { TEST_SECRET, UserClient, type Response } from "./support/service";

const LEASE_SECONDS = 2;
const RUSH_SEATS = 400;
const USERS = 60;

interface Instance {
  id: string;
  port: number;
  base: string;
  child?: ChildProcess;
  exited?: Promise<number | null>;
}

/** Instance names whose preferred placement puts the rush event and the queue on one instance and spreads the rest. */
function instanceNames(rushEntity: string, entities: string[]): string[] {
  for (let n = 0; ; n++) {
    const ids = [`node-a${n}`, `node-b${n}`, `node-c${n}`];
    const owners = new Set(entities.map((e) => preferredOwner(e, ids)));
    if (owners.size === 3 && preferredOwner(rushEntity, ids) === preferredOwner(QUEUE_ENTITY, ids)) return ids;
  }
}

describe.skipIf(!(await postgresAvailable()))("three instances on one NATS and one PostgreSQL server", () => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  test("routing, spread, failover after SIGKILL, hand-over on SIGTERM, rebalancing on rejoin", async () => {
    const nats = await startNatsServer();
    cleanup.push(() => nats.stop());
    const database = await freshPostgres();
    cleanup.push(() => database.drop());
    const url = (database.target as { url: string }).url;
    // The demo data has 9 events; the rush event, created once the instances run, is the 10th.
    const rushEvent = 10;
    const rushEntity = eventEntity(rushEvent);
    const entities = [QUEUE_ENTITY, ...Array.from({ length: rushEvent }, (_, i) => eventEntity(i + 1))];

    const instances: Instance[] = [];
    for (const id of instanceNames(rushEntity, entities)) {
      const port = await freePort();
      instances.push({ id, port, base: `http://127.0.0.1:${port}` });
    }
    const env = (instance: Instance) => ({
      ...process.env,
      PORT: String(instance.port),
      INSTANCE_ID: instance.id,
      DATABASE_URL: url,
      NATS_URL: nats.url,
      AUTH_SECRET: TEST_SECRET,
      SEED_DEMO: "true",
      OWNERSHIP_LEASE_SECONDS: String(LEASE_SECONDS),
      QUEUE_MAX_ACTIVE: "10000",
      RATE_LIMIT_QUEUE_PER_SECOND: "0",
      RATE_LIMIT_OCCUPY_PER_SECOND: "0",
      LOG_LEVEL: "error",
    });
    const launch = async (instance: Instance) => {
      const child = spawn(process.execPath, ["src/main.ts"], { env: env(instance), stdio: ["ignore", "ignore", "inherit"] });
      instance.child = child;
      instance.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
      cleanup.push(() => void child.kill("SIGKILL"));
      await waitFor(() => portOpen(instance.port), `${instance.id} to listen`, 30_000);
    };
    // All three start at once on the empty database: migrations and demo data must not collide.
    await Promise.all(instances.map(launch));
    const db: Database = await openDatabase(database.target);
    cleanup.push(() => db.close());
    expect(Number((await db.query(`SELECT count(*) AS n FROM concert_events`))[0]!.n)).toBe(9);
    // A new event gets an owner without a restart.
    expect(await db.transaction((tx) => createEvent(tx, 1, new Date("2026-12-24T19:00:00Z"), RUSH_SEATS))).toBe(rushEvent);

    /** Which instance holds each entity's lease now. */
    const owners = async () => {
      const rows = await db.query(`SELECT entity, instance FROM ownerships WHERE lease_until > now() AND instance IS NOT NULL`);
      return new Map(rows.map((row) => [String(row.entity), String(row.instance)]));
    };
    const placedAsPreferred = async (live: Instance[]) => {
      const now = await owners();
      return entities.every((e) => now.get(e) === preferredOwner(e, live.map((i) => i.id)));
    };
    await waitFor(() => placedAsPreferred(instances), "every entity owned by its preferred instance", 15_000);
    const spread = new Set((await owners()).values());
    expect(spread.size).toBe(3);

    // Routing: every instance answers for every event, and they all see one owner's state.
    const probe = new UserClient(instances[0]!.base, 1);
    expect((await probe.enterQueue()).status).toBe(200);
    for (const instance of instances) {
      probe.base = instance.base;
      for (let eventId = 1; eventId <= rushEvent; eventId++) {
        const seats = await probe.call("GET", `/api/v1/concert-events/${eventId}/available-seats`);
        expect([instance.id, eventId, seats.status]).toEqual([instance.id, eventId, 200]);
      }
      expect((await probe.call("GET", `/api/v1/concert-events/999999/available-seats`)).body.error.code).toBe("not_found_concert_event");
    }
    const rival = new UserClient(instances[2]!.base, 2);
    await rival.enterQueue();
    const [firstSeat] = await db.query(`SELECT min(id) AS id FROM seats WHERE concert_event_id = 1`);
    probe.base = instances[1]!.base;
    expect((await probe.call("POST", "/api/v1/concert-events/1/occupy", { seatId: Number(firstSeat!.id) })).status).toBe(200);
    expect((await rival.call("POST", "/api/v1/concert-events/1/occupy", { seatId: Number(firstSeat!.id) })).status).toBe(409);

    // The rush: users buy seats of the rush event through whichever instance the "load balancer" picks.
    const victim = instances.find((i) => i.id === preferredOwner(rushEntity, instances.map((x) => x.id)))!;
    const survivors = instances.filter((i) => i !== victim);
    let killedAt = 0;
    const pick = (n: number) => (killedAt ? survivors[n % 2]! : instances[n % 3]!).base;
    const [lowest] = await db.query(`SELECT min(id) AS id FROM seats WHERE concert_event_id = $1`, [rushEvent]);
    const firstRushSeat = Number(lowest!.id);
    const users = Array.from({ length: USERS }, (_, i) => new UserClient(pick(i), 100 + i));
    for (const u of users) {
      expect((await u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount: 10_000_000 })).status).toBe(200);
      expect((await u.enterQueue()).status).toBe(200);
    }
    const statuses = new Map<number, number>();
    const unavailable: Response[] = [];
    const holds = new Map<number, number>();
    const doubleBooked: number[] = [];
    const paid = new Map<number, { userId: number; amount: number }>();
    const tokenUsedUp = new Set<number>();
    let firstHoldAfterKill = 0;
    let stop = false;
    const tally = (r: Response | undefined) => {
      if (!r || (r.status === 400 && r.body.error.code === "invalid_token")) return r;
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 503) unavailable.push(r);
      return r;
    };
    const reenter = async (u: UserClient) => {
      while (!stop && tally(await u.enterQueue().catch(() => undefined))?.status !== 200) await Bun.sleep(50);
    };
    /** A queue token refused as used up: a payment the kill kept this user from hearing about went through. */
    const usedUp = (u: UserClient, r: Response | undefined) => {
      if (r?.status !== 400 || r.body.error.code !== "invalid_token") return false;
      tokenUsedUp.add(u.userId);
      return true;
    };
    const rush = users.map(async (u, i) => {
      for (let n = i; !stop; n++) {
        u.base = pick(n);
        const seatId = firstRushSeat + ((i * 37 + n * 11) % RUSH_SEATS);
        const held = await u.call("POST", `/api/v1/concert-events/${rushEvent}/occupy`, { seatId }).catch(() => undefined);
        if (usedUp(u, held)) await reenter(u);
        if (tally(held)?.status !== 200) continue;
        if (killedAt && !firstHoldAfterKill) firstHoldAfterKill = Date.now();
        const holder = holds.get(seatId);
        if (holder !== undefined && holder !== u.userId) doubleBooked.push(seatId);
        holds.set(seatId, u.userId);
        const reserved = await u.call("POST", `/api/v1/concert-events/${rushEvent}/reserve`, { seatId }).catch(() => undefined);
        if (usedUp(u, reserved)) await reenter(u);
        if (tally(reserved)?.status !== 200) continue;
        const payment = await u.call("POST", "/api/v1/payments", { reservationId: reserved!.body.data.id }).catch(() => undefined);
        if (usedUp(u, payment)) await reenter(u);
        if (tally(payment)?.status !== 200) continue;
        paid.set(payment!.body.data.id, { userId: u.userId, amount: payment!.body.data.amount });
        // Paying ends the user's turn; back into the queue for the next seat.
        await reenter(u);
      }
    });
    await Bun.sleep(1500);
    const beforeKill = paid.size;
    killedAt = Date.now();
    victim.child!.kill("SIGKILL");
    await victim.exited;
    const survivorsOwn = async (...wanted: string[]) => {
      const now = await owners();
      return wanted.every((entity) => survivors.some((s) => s.id === now.get(entity)));
    };
    await waitFor(() => survivorsOwn(rushEntity, QUEUE_ENTITY), "a survivor to own the rush event and the queue", 15_000);
    const failoverMs = Date.now() - killedAt;
    await Bun.sleep(3000);
    stop = true;
    await Promise.all(rush);

    console.log(
      `scale-out: failover of the rush event and the queue took ${failoverMs} ms (lease ${LEASE_SECONDS} s); ` +
        `first hold after the kill ${firstHoldAfterKill - killedAt} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `${paid.size} payments (${beforeKill} before the kill); ${tokenUsedUp.size} users paid without hearing so`,
    );
    // The lease is the bound; a holder gone from NATS is taken over on the first request that finds nobody serving.
    expect(failoverMs).toBeLessThan((LEASE_SECONDS + 3) * 1000);
    expect(firstHoldAfterKill).toBeGreaterThan(killedAt);
    expect(paid.size).toBeGreaterThan(beforeKill);
    expect(doubleBooked).toEqual([]);
    expect([...statuses.keys()].filter((s) => ![200, 409, 503].includes(s))).toEqual([]);
    for (const r of unavailable) expect(r.headers.get("retry-after")).toBe("1");
    const now = await owners();
    expect(survivors.map((s) => s.id)).toContain(now.get(rushEntity)!);
    expect(survivors.map((s) => s.id)).toContain(now.get(QUEUE_ENTITY)!);

    // Nothing acknowledged is lost: every hold is still that user's, every payment is there, and the audit passes.
    for (const [seatId, userId] of holds) {
      const [row] = await db.query(`SELECT status, user_id FROM seats WHERE id = $1`, [seatId]);
      expect([seatId, Number(row!.user_id)]).toEqual([seatId, userId]);
      expect(["HELD", "RESERVED", "SOLD"]).toContain(String(row!.status));
    }
    for (const [paymentId, { userId, amount }] of paid) {
      const [row] = await db.query(`SELECT user_id, amount FROM payments WHERE id = $1`, [paymentId]);
      expect([paymentId, Number(row!.user_id), Number(row!.amount)]).toEqual([paymentId, userId, amount]);
    }
    for (const userId of tokenUsedUp) {
      const payments = await db.query(`SELECT id FROM payments WHERE user_id = $1`, [userId]);
      expect(payments.some((row) => !paid.has(Number(row.id)))).toBe(true);
    }
    const audit = spawnSync(process.execPath, ["run", "verify"], { env: { ...process.env, DATABASE_URL: url }, encoding: "utf8" });
    expect(audit.stdout + audit.stderr).not.toContain("FAIL");
    expect(audit.status).toBe(0);

    // SIGTERM: the leaving instance hands its events over; clients of the remaining one see no error at all.
    const [leaving, staying] = survivors as [Instance, Instance];
    const reader = new UserClient(staying.base, 3);
    await reader.enterQueue();
    const answers = new Map<number, number>();
    let reading = true;
    const reads = (async () => {
      for (let n = 0; reading; n++) {
        const r = await reader.call("GET", `/api/v1/concert-events/${1 + (n % rushEvent)}/available-seats`);
        answers.set(r.status, (answers.get(r.status) ?? 0) + 1);
        if (n % 5 === 0) {
          const s = await reader.call("GET", "/api/v1/queue/status");
          answers.set(s.status, (answers.get(s.status) ?? 0) + 1);
        }
      }
    })();
    await Bun.sleep(300);
    leaving.child!.kill("SIGTERM");
    expect(await leaving.exited).toBe(0);
    await waitFor(() => placedAsPreferred([staying]), "the remaining instance to own everything", 10_000);
    await Bun.sleep(300);
    reading = false;
    await reads;
    expect(Object.fromEntries(answers)).toEqual({ 200: expect.any(Number) });

    // The killed instance comes back: it gets its preferred share again, and routes every event.
    await launch(victim);
    await waitFor(() => placedAsPreferred([staying, victim]), "rebalancing onto the rejoined instance", 15_000);
    expect(new Set((await owners()).values())).toEqual(new Set([staying.id, victim.id]));
    probe.base = victim.base;
    await probe.enterQueue();
    for (let eventId = 1; eventId <= rushEvent; eventId++) {
      expect((await probe.call("GET", `/api/v1/concert-events/${eventId}/available-seats`)).status).toBe(200);
    }
    for (const instance of [staying, victim]) instance.child!.kill("SIGTERM");
    expect(await Promise.all([staying.exited, victim.exited])).toEqual([0, 0]);
  }, 120_000);
});
