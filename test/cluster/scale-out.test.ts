// Three instances on one NATS and one PostgreSQL server, as behind a load balancer: every instance routes every event,
// ownership is spread, the owner of the rush event (and of the queue) is SIGKILLed mid-rush and a survivor takes over
// within seconds, nothing acknowledged is lost and `bun run verify` passes; a SIGTERM hands over without a single
// error; a restarted instance gets its share back.
import { afterAll, describe, expect, test } from "bun:test";
import { openDatabase, type Database } from "../../src/shared/db";
import { preferredOwner } from "../../src/cluster/ownership";
import { eventEntity, QUEUE_ENTITY } from "../../src/cluster/ownership-store";
import { postgresAvailable } from "../support/databases";
import { entitiesUpTo, instanceNames, instances, owners, placedAsPreferred, Rush, sharedBackends, verifyPasses, type Instance } from "../support/instances";
import { waitFor } from "../support/nats-server";
import { UserClient } from "../support/service";

const LEASE_SECONDS = 2;
const RUSH_SEATS = 400;
// The demo data has 3 concerts with 9 events; the rush event, created once the instances run, is the 10th.
const RUSH_EVENT = 10;
const RUSH_ENTITY = eventEntity(RUSH_EVENT);
const ENTITIES = entitiesUpTo(RUSH_EVENT);

describe.skipIf(!(await postgresAvailable()))("three instances on one NATS and one PostgreSQL server", () => {
  const cleanup: (() => unknown)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  test("routing, spread, failover after SIGKILL, hand-over on SIGTERM, rebalancing on rejoin", async () => {
    const { natsUrl, target, url } = await sharedBackends(cleanup);

    // The rush event and the queue share a preferred owner, which the test kills; the rest spreads over all three.
    const ids = instanceNames(3, (ids) => {
      const spread = new Set(ENTITIES.map((e) => preferredOwner(e, ids)));
      return spread.size === 3 && preferredOwner(RUSH_ENTITY, ids) === preferredOwner(QUEUE_ENTITY, ids);
    });
    const env = { DATABASE_URL: url, NATS_URL: natsUrl, SEED_DEMO: "true", OWNERSHIP_LEASE_SECONDS: String(LEASE_SECONDS), QUEUE_MAX_ACTIVE: "10000", RATE_LIMIT_QUEUE_PER_SECOND: "0", RATE_LIMIT_OCCUPY_PER_SECOND: "0" };
    const all = await instances(ids, env, cleanup);
    // All three start at once on the empty database: migrations and demo data must not collide.
    await Promise.all(all.map((i) => i.launch()));
    const db: Database = await openDatabase(target);
    cleanup.push(() => db.close());
    expect(Number((await db.query(`SELECT count(*) AS n FROM concert_events`))[0]!.n)).toBe(9);
    // An operator creates the rush event through one instance; it gets an owner without a restart.
    const operator = new UserClient(all[1]!.base, 1, true);
    const sections = [{ name: "S", price: 50_000, seats: RUSH_SEATS }];
    const created = await operator.call("POST", "/api/v1/admin/concerts/1/events", { startsAt: "2027-12-24T19:00:00Z", sections });
    expect(created.body.data).toMatchObject({ id: RUSH_EVENT, totalSeats: RUSH_SEATS });
    await waitFor(() => placedAsPreferred(db, ENTITIES, all), "every entity owned by its preferred instance", 15_000);
    expect(new Set((await owners(db)).values()).size).toBe(3);

    // Routing: every instance answers for every event, and they all see one owner's state.
    const probe = new UserClient(all[0]!.base, 1);
    expect((await probe.enterQueue()).status).toBe(200);
    for (const instance of all) {
      probe.base = instance.base;
      for (let eventId = 1; eventId <= RUSH_EVENT; eventId++) {
        const seats = await probe.call("GET", `/api/v1/concert-events/${eventId}/available-seats`);
        expect([instance.id, eventId, seats.status]).toEqual([instance.id, eventId, 200]);
      }
      expect((await probe.call("GET", `/api/v1/concert-events/999999/available-seats`)).body.error.code).toBe("not_found_concert_event");
    }
    const rival = new UserClient(all[2]!.base, 2);
    await rival.enterQueue();
    const [firstSeat] = await db.query(`SELECT min(id) AS id FROM seats WHERE concert_event_id = 1`);
    probe.base = all[1]!.base;
    expect((await probe.call("POST", "/api/v1/concert-events/1/occupy", { seatId: Number(firstSeat!.id) })).status).toBe(200);
    expect((await rival.call("POST", "/api/v1/concert-events/1/occupy", { seatId: Number(firstSeat!.id) })).status).toBe(409);

    // The rush: users buy seats of the rush event through whichever instance the "load balancer" picks.
    const victim = all.find((i) => i.id === preferredOwner(RUSH_ENTITY, ids))!;
    const survivors = all.filter((i) => i !== victim) as [Instance, Instance];
    let killedAt = 0;
    let firstHoldAfterKill = 0;
    const [lowest] = await db.query(`SELECT min(id) AS id FROM seats WHERE concert_event_id = $1`, [RUSH_EVENT]);
    const users = await Rush.users(60, 100, all[0]!.base);
    const rush = new Rush(users, RUSH_EVENT, { first: Number(lowest!.id), count: RUSH_SEATS }, (n) => (killedAt ? survivors[n % 2]! : all[n % 3]!).base);
    rush.onHold = (sentAt, at) => {
      if (killedAt && sentAt >= killedAt && !firstHoldAfterKill) firstHoldAfterKill = at;
    };
    rush.start();
    // Killed with a quarter of the seats sold, however fast this machine is: the rush must still be running after it.
    await waitFor(async () => rush.paid.size >= RUSH_SEATS / 4, "a quarter of the rush event sold", 15_000);
    const paidBeforeKill = rush.paid.size;
    killedAt = Date.now();
    victim.child!.kill("SIGKILL");
    await victim.exited;
    const survivorsOwn = async (...wanted: string[]) => {
      const now = await owners(db);
      return wanted.every((entity) => survivors.some((s) => s.id === now.get(entity)));
    };
    await waitFor(() => survivorsOwn(RUSH_ENTITY, QUEUE_ENTITY), "a survivor to own the rush event and the queue", 15_000);
    const failoverMs = Date.now() - killedAt;
    await Bun.sleep(3000);
    await rush.stop();

    console.log(
      `scale-out: failover of the rush event and the queue took ${failoverMs} ms (lease ${LEASE_SECONDS} s); ` +
        `first hold asked for after the kill granted ${firstHoldAfterKill - killedAt} ms after it; ${rush.summary()} (${paidBeforeKill} payments before the kill)`,
    );
    // The lease is the bound; a holder gone from NATS is taken over on the first request that finds nobody serving.
    expect(failoverMs).toBeLessThan((LEASE_SECONDS + 3) * 1000);
    expect(firstHoldAfterKill).toBeGreaterThan(killedAt);
    expect(rush.paid.size).toBeGreaterThan(paidBeforeKill);
    // Nothing acknowledged is lost, nothing is double-booked, and the audit passes.
    await rush.expectConsistentWith(db);
    verifyPasses(url);

    // SIGTERM: the leaving instance hands its events over; clients of the remaining one see no error at all, reading
    // and holding seats of every demo event (each client one seat per event, occupied again and again: 200 each time).
    const [leaving, staying] = survivors;
    const clients = Array.from({ length: 8 }, (_, i) => new UserClient(staying.base, 10 + i));
    for (const c of clients) await c.enterQueue();
    const answers = new Map<number, number>();
    const count = (status: number) => answers.set(status, (answers.get(status) ?? 0) + 1);
    let going = true;
    const traffic = clients.map(async (c, i) => {
      for (let n = i; going; n++) {
        const eventId = 1 + (n % 9);
        count((await c.call("GET", `/api/v1/concert-events/${eventId}/available-seats`)).status);
        count((await c.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId: (eventId - 1) * 50 + 20 + i })).status);
        if (n % 5 === 0) count((await c.call("GET", "/api/v1/queue/status")).status);
      }
    });
    await Bun.sleep(300);
    leaving.child!.kill("SIGTERM");
    expect(await leaving.exited).toBe(0);
    await waitFor(() => placedAsPreferred(db, ENTITIES, [staying]), "the remaining instance to own everything", 10_000);
    await Bun.sleep(300);
    going = false;
    await Promise.all(traffic);
    expect(Object.fromEntries(answers)).toEqual({ 200: expect.any(Number) });

    // The killed instance comes back: it gets its preferred share again, and routes every event.
    await victim.launch();
    await waitFor(() => placedAsPreferred(db, ENTITIES, [staying, victim]), "rebalancing onto the rejoined instance", 15_000);
    expect(new Set((await owners(db)).values())).toEqual(new Set([staying.id, victim.id]));
    probe.base = victim.base;
    await probe.enterQueue();
    for (let eventId = 1; eventId <= RUSH_EVENT; eventId++) {
      expect((await probe.call("GET", `/api/v1/concert-events/${eventId}/available-seats`)).status).toBe(200);
    }
    for (const instance of [staying, victim]) instance.child!.kill("SIGTERM");
    expect(await Promise.all([staying.exited, victim.exited])).toEqual([0, 0]);
  }, 120_000);
});
