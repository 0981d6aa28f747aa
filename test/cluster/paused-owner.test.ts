// An owner that is paused, not dead (SIGSTOP: a long GC pause, a frozen VM): its lease runs out, the other instance
// takes the event over, and when the paused one wakes up with commands and a commit of its own still in flight, none
// of it counts: its open transaction was ended by the server, later commits would fail the fence, and it answers
// nothing from its stale memory. Nothing is double-booked, everything acknowledged is stored, `bun run verify`
// passes, and the woken instance gets the event back by an ordinary hand-over.
import { afterAll, describe, expect, test } from "bun:test";
import { openDatabase } from "../../src/shared/db";
import { createEvent } from "../../src/catalog/demo-data";
import { preferredOwner } from "../../src/cluster/ownership";
import { eventEntity, QUEUE_ENTITY } from "../../src/cluster/ownership-store";
import { postgresAvailable } from "../support/databases";
import { entitiesUpTo, instanceNames, instances, owners, placedAsPreferred, Rush, sharedBackends, verifyPasses } from "../support/instances";
import { waitFor } from "../support/nats-server";

// A big event of its own after the 9 demo events, so the rush is still on when the owner wakes up.
const EVENT = 10;
const SEATS = 2000;
const ENTITIES = entitiesUpTo(EVENT);

describe.skipIf(!(await postgresAvailable()))("a paused owner on the PostgreSQL server", () => {
  const cleanup: (() => unknown)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  test("is fenced off: the event moves, and comes back, without a double booking or a stale answer", async () => {
    // The server drops a client that misses two pings a second apart, as docs/operations.md's deployment advises.
    const { natsUrl, target, url } = await sharedBackends(cleanup, { pingSeconds: 1 });
    // The first instance owns the rush event, the second the queue, so admissions go on while the first is frozen.
    const ids = instanceNames(2, (ids) => preferredOwner(eventEntity(EVENT), ids) === ids[0] && preferredOwner(QUEUE_ENTITY, ids) === ids[1]);
    const env = { DATABASE_URL: url, NATS_URL: natsUrl, OWNERSHIP_LEASE_SECONDS: "2", REQUEST_TIMEOUT_MS: "1000", QUEUE_MAX_ACTIVE: "10000", RATE_LIMIT_QUEUE_PER_SECOND: "0", RATE_LIMIT_OCCUPY_PER_SECOND: "0" };
    const [paused, other] = await instances(ids, env, cleanup);
    await paused!.launch();
    await other!.launch();
    const db = await openDatabase(target);
    cleanup.push(() => db.close());
    expect(await db.transaction((tx) => createEvent(tx, 1, new Date("2026-12-24T19:00:00Z"), SEATS))).toBe(EVENT);
    await waitFor(() => placedAsPreferred(db, ENTITIES, [paused!, other!]), "the preferred placement", 15_000);
    const epochBefore = Number((await db.query(`SELECT epoch FROM ownerships WHERE entity = $1`, [eventEntity(EVENT)]))[0]!.epoch);

    const [lowest] = await db.query(`SELECT min(id) AS id FROM seats WHERE concert_event_id = $1`, [EVENT]);
    const users = await Rush.users(30, 200, other!.base);
    const rush = new Rush(users, EVENT, { first: Number(lowest!.id), count: SEATS }, () => other!.base);
    rush.start();
    await Bun.sleep(800);
    paused!.child!.kill("SIGSTOP");
    const stoppedAt = Date.now();
    await waitFor(async () => (await owners(db)).get(eventEntity(EVENT)) === other!.id, "the other instance to take the event", 15_000);
    const takeoverMs = Date.now() - stoppedAt;
    await Bun.sleep(1000);
    paused!.child!.kill("SIGCONT");
    // Awake again, it finds its lease gone and its commits refused, and the event comes back to it by hand-over.
    await waitFor(() => placedAsPreferred(db, ENTITIES, [paused!, other!]), "the event to come back to its preferred owner", 15_000);
    await Bun.sleep(1000);
    await rush.stop();

    const metrics = await (await fetch(`${paused!.base}/metrics`)).text();
    const fenced = /actor_commits_fenced_total\{actor="concert-event"\} (\d+)/.exec(metrics)?.[1] ?? "0";
    console.log(`paused owner: taken over ${takeoverMs} ms after SIGSTOP (lease 2 s); ${fenced} of its commits refused after waking; ${rush.summary()}`);
    const epochAfter = Number((await db.query(`SELECT epoch FROM ownerships WHERE entity = $1`, [eventEntity(EVENT)]))[0]!.epoch);
    // Taken over while frozen, then handed back: at least two new epochs.
    expect(epochAfter).toBeGreaterThanOrEqual(epochBefore + 2);
    expect(rush.holds.size).toBeGreaterThan(0);
    await rush.expectConsistentWith(db);
    verifyPasses(url);
    for (const instance of [paused!, other!]) instance.child!.kill("SIGTERM");
    expect(await Promise.all([paused!.exited, other!.exited])).toEqual([0, 0]);
  }, 90_000);
});
