// Ownership leases and fencing, against the PostgreSQL server (several connections, like several instances) and
// PGlite: who may take an entity, that a superseded owner's commit is refused by the database, and that a takeover
// waits for the commit in flight. Plus the placement rule: spread, and minimal moves when an instance leaves.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { commitConcertEvent } from "../../src/concert-event/concert-event-store";
import { openDatabase, type Database, type Queryable } from "../../src/shared/db";
import { StoreDriftError } from "../../src/shared/db/port";
import { seedDemo } from "../../src/catalog/demo-data";
import { Lease, preferredOwner } from "../../src/cluster/ownership";
import { claim, eventEntity, fenceAndRecord, FencedError, QUEUE_ENTITY, readPlacement, release, renew } from "../../src/cluster/ownership-store";
import { outboxEntry } from "../../src/shared/outbox";
import { commitQueue } from "../../src/queue/queue-store";
import { databaseCases } from "../support/databases";

const LEASE_MS = 300;

/**
 * Holds the entity's fence as a commit of `old` does, for `holdMs`, in a transaction of its own; resolves `fenced`
 * once the fence is taken, and `done` when that commit ends (after `write`, if given).
 */
function commitInFlight(db: Database, entity: string, old: number, holdMs: number, write?: (tx: Queryable) => Promise<unknown>) {
  let taken!: () => void;
  const fenced = new Promise<void>((resolve) => (taken = resolve));
  const done = db.transaction(async (tx) => {
    await fenceAndRecord(tx, entity, old, outboxEntry([]));
    taken();
    await Bun.sleep(holdMs);
    await write?.(tx);
  });
  return { fenced, done };
}

for (const dbCase of await databaseCases()) {
  describe(`ownership leases on ${dbCase.name}`, () => {
    let db: Database;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      const opened = await dbCase.open();
      drop = opened.drop;
      db = await openDatabase(opened.target);
      await seedDemo(db);
    }, 30_000);
    afterAll(async () => {
      await db?.close();
      await drop?.();
    });

    test("a live lease keeps others out; once it runs out the next owner gets a higher epoch", async () => {
      const entity = eventEntity(1);
      const first = await claim(db, "a", entity, LEASE_MS);
      expect(first).toBeGreaterThan(0);
      expect(await claim(db, "b", entity, LEASE_MS)).toBeUndefined();
      expect((await renew(db, "a", LEASE_MS, new Map([[entity, first!]]))).get(entity)).toBe(first!);
      await Bun.sleep(LEASE_MS + 50);
      const second = await claim(db, "b", entity, LEASE_MS);
      expect(second).toBe(first! + 1);
      // The former owner's renewal finds nothing: it has lost the event.
      expect((await renew(db, "a", LEASE_MS, new Map([[entity, first!]]))).size).toBe(0);
      expect((await readPlacement(db)).leased.get(entity)).toBe("b");
    });

    test("a superseded owner's commit is refused and changes nothing; the current owner's lands", async () => {
      const entity = eventEntity(2);
      const stale = (await claim(db, "a", entity, LEASE_MS))!;
      const current = (await claim(db, "b", entity, LEASE_MS, { force: true }))!;
      const [seat] = await db.query(`SELECT id FROM seats WHERE concert_event_id = 2 ORDER BY id LIMIT 1`);
      const hold = { type: "held" as const, seatId: Number(seat!.id), userId: 7, expiresAt: Date.now() + 60_000 };
      const refused = await commitConcertEvent(db, 2, stale, [hold]).catch((error) => error);
      expect(refused).toBeInstanceOf(FencedError);
      expect((await db.query(`SELECT status FROM seats WHERE id = $1`, [hold.seatId]))[0]!.status).toBe("AVAILABLE");
      await commitConcertEvent(db, 2, current, [hold]);
      expect((await db.query(`SELECT status FROM seats WHERE id = $1`, [hold.seatId]))[0]!.status).toBe("HELD");

      // A batch of mixed ops takes a transaction instead of one statement, fenced the same way.
      const [other] = await db.query(`SELECT id FROM seats WHERE concert_event_id = 2 AND status = 'AVAILABLE' ORDER BY id LIMIT 1`);
      const mixed = [
        { type: "released" as const, seatId: hold.seatId, userId: 7, reason: "expired" as const },
        { type: "held" as const, seatId: Number(other!.id), userId: 7, expiresAt: Date.now() + 60_000 },
      ];
      expect(await commitConcertEvent(db, 2, stale, mixed).catch((error) => error)).toBeInstanceOf(FencedError);
      const statuses = async () =>
        (await db.query(`SELECT status FROM seats WHERE id IN ($1, $2) ORDER BY id`, [hold.seatId, mixed[1]!.seatId])).map((row) => row.status);
      expect(await statuses()).toEqual(["HELD", "AVAILABLE"]);
      await commitConcertEvent(db, 2, current, mixed);
      expect(await statuses()).toEqual(["AVAILABLE", "HELD"]);
    });

    test("a run of holds that finds one seat taken changes none of its seats", async () => {
      const current = (await claim(db, "b", eventEntity(2), LEASE_MS, { force: true }))!;
      const seats = await db.query(`SELECT id FROM seats WHERE concert_event_id = 2 AND status = 'AVAILABLE' ORDER BY id LIMIT 2`);
      const held = (seatId: unknown, userId: number) => ({ type: "held" as const, seatId: Number(seatId), userId, expiresAt: Date.now() + 60_000 });
      await commitConcertEvent(db, 2, current, [held(seats[1]!.id, 8)]);
      const drift = await commitConcertEvent(db, 2, current, [held(seats[0]!.id, 9), held(seats[1]!.id, 9)]).catch((error) => error);
      expect(drift).toBeInstanceOf(StoreDriftError);
      const rows = await db.query(`SELECT status, user_id FROM seats WHERE id IN ($1, $2) ORDER BY id`, [seats[0]!.id, seats[1]!.id]);
      expect(rows.map((row) => [row.status, row.user_id === null ? null : Number(row.user_id)])).toEqual([
        ["AVAILABLE", null],
        ["HELD", 8],
      ]);
    });

    test("the queue's single-statement commit is fenced too", async () => {
      const stale = (await claim(db, "a", QUEUE_ENTITY, LEASE_MS, { force: true }))!;
      const current = (await claim(db, "b", QUEUE_ENTITY, LEASE_MS, { force: true }))!;
      const issued = (token: string, seq: number) => ({
        type: "issued" as const,
        token,
        userId: 500 + seq,
        seq,
        status: "WAITING" as const,
        issuedAt: Date.now(),
      });
      expect(await commitQueue(db, 0, stale, [issued("stale-token-000001", 1)]).catch((e) => e)).toBeInstanceOf(FencedError);
      await commitQueue(db, 0, current, [issued("fresh-token-000002", 2)]);
      const tokens = await db.query(`SELECT token FROM queue_tokens ORDER BY seq`);
      expect(tokens.map((row) => row.token)).toEqual(["fresh-token-000002"]);
    });

    test("a released entity can be taken at once", async () => {
      const entity = eventEntity(3);
      const epoch = (await claim(db, "a", entity, 60_000))!;
      expect(await claim(db, "b", entity, LEASE_MS)).toBeUndefined();
      await release(db, "a", entity, epoch);
      expect(await claim(db, "b", entity, LEASE_MS)).toBe(epoch + 1);
    });

    // Several connections, like several instances: PGlite has one.
    if (dbCase.name === "postgres") {
      test("a takeover waits for the former owner's commit in flight, which then lands first", async () => {
        const entity = eventEntity(4);
        const old = (await claim(db, "a", entity, LEASE_MS))!;
        const order: string[] = [];
        const seatSql = `(SELECT min(id) FROM seats WHERE concert_event_id = 4)`;
        const slowCommit = commitInFlight(db, entity, old, 300, async (tx) => {
          await tx.query(`UPDATE seats SET status = 'HELD', user_id = 9, hold_expires_at = now() + interval '1 minute' WHERE id = ${seatSql}`);
          order.push("old owner committed");
        });
        await slowCommit.fenced;
        const takeover = claim(db, "b", entity, LEASE_MS, { force: true }).then((epoch) => {
          order.push("takeover");
          return epoch;
        });
        await Promise.all([slowCommit.done, takeover]);
        expect(order).toEqual(["old owner committed", "takeover"]);
        expect(await takeover).toBe(old + 1);
        // The new owner loads after the takeover, so it sees the old owner's last write.
        const [row] = await db.query(`SELECT status FROM seats WHERE id = ${seatSql}`);
        expect(row!.status).toBe("HELD");
      });

      test("a takeover gives up after a second instead of hanging its coordinator", async () => {
        const entity = eventEntity(5);
        const old = (await claim(db, "a", entity, LEASE_MS))!;
        // Like an owner paused in the middle of a commit.
        const stuck = commitInFlight(db, entity, old, 1800);
        await stuck.fenced;
        const started = Date.now();
        expect(await claim(db, "b", entity, LEASE_MS, { force: true })).toBeUndefined();
        expect(Date.now() - started).toBeLessThan(1700);
        await stuck.done;
        expect(await claim(db, "b", entity, LEASE_MS, { force: true })).toBe(old + 1);
      });
    }
  });
}


describe("a lease on this instance's clock", () => {
  test("is trusted until the lease minus a margin has passed since the renewal was asked, and not once suspended", async () => {
    const lease = new Lease(3, 0);
    expect(lease.valid()).toBe(false);
    lease.extend(performance.now(), 300);
    expect(lease.valid()).toBe(true);
    await Bun.sleep(250);
    expect(lease.valid()).toBe(false);
    lease.extend(performance.now(), 1000);
    lease.suspend();
    expect(lease.valid()).toBe(false);
  });
});

describe("placement", () => {
  const entities = Array.from({ length: 300 }, (_, i) => eventEntity(i + 1));

  test("spreads entities over the live instances", () => {
    const counts = new Map<string, number>();
    for (const entity of entities) {
      const owner = preferredOwner(entity, ["a", "b", "c"])!;
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(["a", "b", "c"]);
    for (const count of counts.values()) expect(count).toBeGreaterThan(60);
  });

  test("an instance leaving moves only its own entities; one joining takes only entities it wins", () => {
    for (const entity of entities) {
      const before = preferredOwner(entity, ["a", "b", "c"]);
      const after = preferredOwner(entity, ["a", "b"]);
      if (before !== "c") expect(after).toBe(before!);
      const joined = preferredOwner(entity, ["a", "b", "c", "d"]);
      if (joined !== "d") expect(joined).toBe(before!);
    }
    expect(preferredOwner(eventEntity(1), [])).toBeUndefined();
  });
});
