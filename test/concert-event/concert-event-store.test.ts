// The concert-event store's set-based commit, on PGlite and the PostgreSQL server: a batch of reservations and
// payments of several users is a few statements, yet each payment is decided as if the batch ran one op at a time
// (a short balance refuses that payment alone; a user's later payment sees the earlier one's debit), and the
// database's invariants hold afterwards (`bun run verify`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { EventOp, OpResult } from "../../actors/seat-inventory";
import { verify } from "../../src/cli/verify";
import { claim, eventEntity } from "../../src/cluster/ownership-store";
import { createEvent } from "../../src/catalog/demo-data";
import { commitConcertEvent, loadConcertEvent } from "../../src/concert-event/concert-event-store";
import { openDatabase, type Database, type Queryable } from "../../src/shared/db";
import { StoreDriftError } from "../../src/shared/db/port";
import { databaseCases } from "../support/databases";

const PRICE = 50_000;
const NOW = Date.now();
const HOLD_UNTIL = NOW + 300_000;

const held = (seatId: number, userId: number): EventOp => ({ type: "held", seatId, userId, expiresAt: HOLD_UNTIL });
const reserved = (key: string, userId: number, seatIds: number[]): EventOp => ({
  type: "reserved",
  key,
  userId,
  seatIds,
  prices: seatIds.map(() => PRICE),
  totalAmount: PRICE * seatIds.length,
  createdAt: NOW,
  expiresAt: HOLD_UNTIL,
});
/** The tests' queue turns are in the global queue, which a payment ends whatever its concert. */
const paid = ({ id, seats }: { id: number; seats: number[] }, userId: number, concertId = 1): EventOp => ({
  type: "paid",
  reservationId: id,
  userId,
  concertId,
  amount: PRICE * seats.length,
  seatIds: seats,
  paidAt: NOW,
});
const reservationIdOf = (result: OpResult) => (result && "reservationId" in result ? result.reservationId : -1);

for (const dbCase of await databaseCases()) {
  describe(`concert-event store on ${dbCase.name}: checkout in sets`, () => {
    let db: Database;
    let drop: () => Promise<void>;
    let eventId: number;
    let epoch: number;
    /** The event's seats at 50,000 (the first ten are VIP), handed out in order. */
    let free: number[];
    const take = (n: number) => free.splice(0, n);
    const commit = async (ops: EventOp[]) => (await commitConcertEvent(db, eventId, epoch, ops)).results;
    const fund = async (userId: number, amount: number) => {
      await db.query(`INSERT INTO wallets (user_id, balance) VALUES ($1, $2)`, [userId, amount]);
      await db.query(`INSERT INTO wallet_ledger (user_id, amount, kind) VALUES ($1, $2, 'charge')`, [userId, amount]);
    };
    const balance = async (userId: number) => Number((await db.query(`SELECT balance FROM wallets WHERE user_id = $1`, [userId]))[0]!.balance);
    const statuses = async (seatIds: number[]) =>
      (await db.query(`SELECT status FROM seats WHERE id = ANY($1::bigint[]) ORDER BY id`, [seatIds])).map((row) => row.status);
    /** Holds and reserves seats for each user (one commit each), returning each reservation's id and seats. */
    const reserveFor = async (plan: [userId: number, seats: number][]) => {
      const seats = plan.map(([, n]) => take(n));
      await commit(plan.flatMap(([userId], i) => seats[i]!.map((seatId) => held(seatId, userId))));
      const results = await commit(plan.map(([userId], i) => reserved(`k${i}`, userId, seats[i]!)));
      return results.map((result, i) => ({ id: reservationIdOf(result), seats: seats[i]! }));
    };

    beforeAll(async () => {
      const opened = await dbCase.open();
      drop = opened.drop;
      db = await openDatabase(opened.target);
      const [concert] = await db.query(`INSERT INTO concerts (title, venue, sale_opens_at) VALUES ('store test', 'hall', now()) RETURNING id`);
      eventId = await db.transaction((tx) => createEvent(tx, Number(concert!.id), new Date(NOW), 200));
      free = (await db.query(`SELECT id FROM seats WHERE concert_event_id = $1 ORDER BY id OFFSET 10`, [eventId])).map((r) => Number(r.id));
      epoch = (await claim(db, "test", eventEntity(eventId), 60_000))!;
    }, 30_000);
    afterAll(async () => {
      await db?.close();
      await drop?.();
    });

    test("reservations of several users in one batch each get their own id, and their seats point to it", async () => {
      const seats = [take(2), take(1), take(2)];
      await commit(seats.flatMap((ids, i) => ids.map((id) => held(id, 11 + i))));
      const results = await commit(seats.map((ids, i) => reserved(`r${i}`, 11 + i, ids)));
      const ids = results.map(reservationIdOf);
      expect(new Set(ids).size).toBe(3);
      for (const [i, id] of ids.entries()) {
        const rows = await db.query(`SELECT id FROM seats WHERE reservation_id = $1 AND status = 'RESERVED' ORDER BY id`, [id]);
        expect(rows.map((row) => Number(row.id))).toEqual(seats[i]!);
        const [r] = await db.query(`SELECT user_id, total_amount FROM reservations WHERE id = $1`, [id]);
        expect([Number(r!.user_id), Number(r!.total_amount)]).toEqual([11 + i, PRICE * seats[i]!.length]);
      }
    });

    test("reservations and payments of several users in one batch; a short balance refuses that payment alone", async () => {
      await fund(21, 100_000);
      await fund(22, 40_000);
      await fund(23, 50_000);
      await db.query(
        `INSERT INTO queue_tokens (token, user_id, seq, status, issued_at, activated_at, expires_at)
         SELECT 'turn-' || u, u, u, 'ACTIVE', now(), now(), now() + interval '1 hour' FROM unnest(ARRAY[21, 22, 23]) AS u`,
      );
      const [a, b, c] = await reserveFor([[21, 2], [22, 1], [23, 1]]);
      const more = take(1);
      await commit([held(more[0]!, 24)]);
      const results = await commit([
        paid(a!, 21),
        reserved("late", 24, more),
        paid(b!, 22),
        paid(c!, 23),
      ]);
      expect(results[0]).toMatchObject({ paymentId: expect.any(Number) });
      expect(reservationIdOf(results[1]!)).toBeGreaterThan(0);
      expect(results[2]).toEqual({ rejected: "insufficient_balance" });
      expect(results[3]).toMatchObject({ paymentId: expect.any(Number) });
      expect([await balance(21), await balance(22), await balance(23)]).toEqual([0, 40_000, 0]);
      expect(await statuses([...a!.seats, ...b!.seats, ...c!.seats])).toEqual(["SOLD", "SOLD", "RESERVED", "SOLD"]);
      const reservations = await db.query(`SELECT id, status FROM reservations WHERE id = ANY($1::bigint[]) ORDER BY id`, [[a!.id, b!.id, c!.id]]);
      expect(reservations.map((row) => row.status)).toEqual(["PAID", "PENDING", "PAID"]);
      // The refused user keeps their turn in the queue; the others' turns ended with their payments.
      const turns = await db.query(`SELECT user_id, status FROM queue_tokens WHERE user_id IN (21, 22, 23) ORDER BY user_id`);
      expect(turns.map((row) => row.status)).toEqual(["EXPIRED", "ACTIVE", "EXPIRED"]);
      expect(await verify(db)).toEqual([]);
    });

    test("a user's payments in one batch are decided in order, each after the debits of the earlier ones", async () => {
      await fund(31, 100_000);
      const [first, second, third] = await reserveFor([[31, 1], [31, 2], [31, 1]]);
      // 50,000 leaves 50,000: the 100,000 one is refused, and the last 50,000 one still fits.
      const results = await commit([paid(first!, 31), paid(second!, 31), paid(third!, 31)]);
      expect(results[0]).toMatchObject({ paymentId: expect.any(Number) });
      expect(results[1]).toEqual({ rejected: "insufficient_balance" });
      expect(results[2]).toMatchObject({ paymentId: expect.any(Number) });
      expect(await balance(31)).toBe(0);
      const ledger = await db.query(`SELECT amount FROM wallet_ledger WHERE user_id = 31 ORDER BY id`);
      expect(ledger.map((row) => Number(row.amount))).toEqual([100_000, -50_000, -50_000]);
      expect(await verify(db)).toEqual([]);
    });

    test("a batch that frees a seat and holds it again, then reserves it, keeps the actor's order", async () => {
      const [r] = await reserveFor([[41, 1]]);
      const seat = r!.seats[0]!;
      const results = await commit([
        { type: "reservationEnded", reservationId: r!.id, userId: 41, seatIds: [seat], status: "CANCELLED" },
        held(seat, 42),
        reserved("again", 42, [seat]),
      ]);
      const id = reservationIdOf(results[2]!);
      const [row] = await db.query(`SELECT status, user_id, reservation_id FROM seats WHERE id = $1`, [seat]);
      expect([row!.status, Number(row!.user_id), Number(row!.reservation_id)]).toEqual(["RESERVED", 42, id]);
      expect(await verify(db)).toEqual([]);
    });

    test("a reservation of a seat the database does not hold for that user fails the whole batch and changes nothing", async () => {
      await fund(51, 50_000);
      const [mine] = await reserveFor([[51, 1]]);
      const notHeld = take(1);
      const error = await commit([paid(mine!, 51), reserved("bad", 52, notHeld)]).catch((e) => e);
      expect(error).toBeInstanceOf(StoreDriftError);
      expect(await balance(51)).toBe(50_000);
      expect(await statuses([...mine!.seats, ...notHeld])).toEqual(["RESERVED", "AVAILABLE"]);
    });

    test("a payment the schema refuses (its reservation was paid already) fails the whole batch, as the last line of defence", async () => {
      await fund(61, 200_000);
      const [once] = await reserveFor([[61, 1]]);
      expect((await commit([paid(once!, 61)]))[0]).toMatchObject({ paymentId: expect.any(Number) });
      const seat = take(1);
      await commit([held(seat[0]!, 62)]);
      // Sent at once with a reservation ahead of it: the refused payment rolls that back too.
      const error = await commit([reserved("alongside", 62, seat), paid(once!, 61)]).catch((e) => e);
      expect(error).toBeInstanceOf(Error);
      expect(await balance(61)).toBe(150_000);
      expect(await statuses(seat)).toEqual(["HELD"]);
      expect(await verify(db)).toEqual([]);
    });

    test("the event loads back as committed", async () => {
      const snapshot = (await loadConcertEvent(db, eventId))!;
      const sold = snapshot.seats.filter((s) => s.status === "SOLD").length;
      const paidReservations = snapshot.reservations.filter((r) => r.status === "PAID");
      expect(sold).toBe(paidReservations.reduce((n, r) => n + r.seatIds.length, 0));
      expect(paidReservations.every((r) => r.payment !== undefined)).toBe(true);
    });
  });
}

describe("concert-event store on PGlite, with no statistics, beside a stadium's line", () => {
  test("a payment ends its buyer's turns by key, not by reading every live token of the concert's queue", async () => {
    const db = await openDatabase({ kind: "pglite-memory" });
    const [concert] = await db.query(`INSERT INTO concerts (title, venue, sale_opens_at) VALUES ('line', 'hall', now()) RETURNING id`);
    const concertId = Number(concert!.id);
    const eventId = await db.transaction((tx) => createEvent(tx, concertId, new Date(NOW), 20));
    const epoch = (await claim(db, "test", eventEntity(eventId), 60_000))!;
    // 20,000 waiting in the concert's queue, never analyzed; the buyer has a turn there and in the global queue.
    await db.query(
      `INSERT INTO queue_tokens (queue_id, token, user_id, seq, status, issued_at)
       SELECT $1, 'line-' || u, 1000 + u, u, 'WAITING', now() FROM generate_series(1, 20000) AS u`,
      [concertId],
    );
    await db.query(
      `INSERT INTO queue_tokens (queue_id, token, user_id, seq, status, issued_at, activated_at, expires_at)
       VALUES ($1, 'mine', 7, 20001, 'ACTIVE', now(), now(), now() + interval '1 hour'), (0, 'mine-global', 7, 1, 'ACTIVE', now(), now(), now() + interval '1 hour')`,
      [concertId],
    );
    await db.query(`INSERT INTO wallets (user_id, balance) VALUES (7, 100000)`);
    await db.query(`INSERT INTO wallet_ledger (user_id, amount, kind) VALUES (7, 100000, 'charge')`);
    const [seat] = await db.query(`SELECT id FROM seats WHERE concert_event_id = $1 ORDER BY id LIMIT 1`, [eventId]);
    const seatId = Number(seat!.id);
    await commitConcertEvent(db, eventId, epoch, [held(seatId, 7)]);
    const reservation = reservationIdOf((await commitConcertEvent(db, eventId, epoch, [reserved("k", 7, [seatId])])).results[0]!);
    const sent: { sql: string; params: unknown[] }[] = [];
    const recording = {
      ...db,
      query: (sql: string, params: unknown[] = []) => (sent.push({ sql, params }), db.query(sql, params)),
      transaction: <T>(work: (tx: Queryable) => Promise<T>) =>
        db.transaction((tx) => work({ query: (sql, params = []) => (sent.push({ sql, params }), tx.query(sql, params)) })),
    } as Database;
    await commitConcertEvent(recording, eventId, epoch, [paid({ id: reservation, seats: [seatId] }, 7, concertId)]);
    const payment = sent.find(({ sql }) => sql.includes("UPDATE queue_tokens"))!;
    const plan = (await db.query(`EXPLAIN ${payment.sql}`, payment.params)).map((row) => String(row["QUERY PLAN"])).join("\n");
    expect(plan).toMatch(/Index Scan using queue_tokens_live_user on queue_tokens[^\n]*\n\s*Index Cond: \(\(queue_id = [^\n]*AND \(user_id = /);
    expect(plan).not.toMatch(/Index Cond: \(queue_id = [^\n]*\)\s*$/m);
    const turns = await db.query(`SELECT queue_id, status FROM queue_tokens WHERE user_id = 7 ORDER BY queue_id`);
    expect(turns.map((row) => row.status)).toEqual(["EXPIRED", "EXPIRED"]);
    await db.close();
  });
});
