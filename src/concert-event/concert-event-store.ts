// Persistence for the concert-event actor: rebuilds an event's inventory from the database, and commits a batch of
// the actor's ops in one transaction. Every UPDATE names the state it expects; if the database disagrees the whole
// batch fails, and the actor reloads instead of drifting from what is stored.
import type { EventOp, InventorySnapshot, OpResult, Reservation, Seat, SeatStatus } from "../../actors/seat-inventory";
import type { Database, Queryable } from "../shared/db";
import { fromEpochMs, StoreDriftError, type Row } from "../shared/db/port";
import { eventEntity, fence, fenceCte, FencedError } from "../cluster/ownership-store";

const iso = (ms: number) => new Date(ms).toISOString();
const ms = (value: unknown) => (value instanceof Date ? value.getTime() : new Date(String(value)).getTime());
const optionalMs = (value: unknown) => (value === null || value === undefined ? undefined : ms(value));
const optionalNumber = (value: unknown) => (value === null || value === undefined ? undefined : Number(value));

export async function loadConcertEvent(db: Database, eventId: number): Promise<InventorySnapshot | null> {
  const exists = await db.query(`SELECT 1 FROM concert_events WHERE id = $1`, [eventId]);
  if (exists.length === 0) return null;
  const seatRows = await db.query(
    `SELECT id, seat_number, price, status, user_id, hold_expires_at, reservation_id
       FROM seats WHERE concert_event_id = $1 ORDER BY id`,
    [eventId],
  );
  const reservationRows = await db.query(
    `SELECT r.id, r.user_id, r.total_amount, r.status, r.created_at, r.expires_at,
            p.id AS payment_id, p.amount AS payment_amount, p.paid_at,
            ARRAY(SELECT seat_id FROM reservation_seats s WHERE s.reservation_id = r.id ORDER BY seat_id) AS seat_ids
       FROM reservations r LEFT JOIN payments p ON p.reservation_id = r.id
      WHERE r.concert_event_id = $1`,
    [eventId],
  );
  const seats: Seat[] = seatRows.map((row) => ({
    id: Number(row.id),
    seatNumber: String(row.seat_number),
    price: Number(row.price),
    status: row.status as SeatStatus,
    userId: optionalNumber(row.user_id),
    holdExpiresAt: optionalMs(row.hold_expires_at),
    reservationKey: row.reservation_id === null ? undefined : `db${row.reservation_id}`,
  }));
  const reservations: Reservation[] = reservationRows.map((row) => ({
    key: `db${row.id}`,
    id: Number(row.id),
    userId: Number(row.user_id),
    seatIds: (row.seat_ids as unknown[]).map(Number),
    totalAmount: Number(row.total_amount),
    createdAt: ms(row.created_at),
    expiresAt: ms(row.expires_at),
    status: row.status as Reservation["status"],
    payment:
      row.payment_id === null
        ? undefined
        : { id: Number(row.payment_id), amount: Number(row.payment_amount), paidAt: ms(row.paid_at) },
  }));
  return { seats, reservations };
}

async function expectRows(tx: Queryable, expected: number, sql: string, params: unknown[]) {
  const rows = await tx.query(sql, params);
  if (rows.length !== expected) throw new StoreDriftError(`expected ${expected} rows, got ${rows.length}`);
  return rows;
}

type SeatOp = Extract<EventOp, { type: "held" | "released" }>;

/** A run of holds (or releases) as one UPDATE: the seats `u` from `source`, the state each must be in, and its new state. */
function seatRunParts(run: SeatOp[]) {
  const seatIds = run.map((op) => op.seatId);
  const userIds = run.map((op) => op.userId);
  if (run[0]!.type === "held") {
    const expiries = run.map((op) => (op as Extract<SeatOp, { type: "held" }>).expiresAt);
    return {
      source: `unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(id, user_id, expires_at)`,
      params: [seatIds, userIds, expiries] as unknown[],
      expected: `s.status = 'AVAILABLE'`,
      change: `status = 'HELD', user_id = u.user_id, hold_expires_at = ${fromEpochMs("u.expires_at")}`,
    };
  }
  return {
    source: `unnest($1::bigint[], $2::bigint[]) AS u(id, user_id)`,
    params: [seatIds, userIds] as unknown[],
    expected: `s.status = 'HELD' AND s.user_id = u.user_id`,
    change: `status = 'AVAILABLE', user_id = NULL, hold_expires_at = NULL`,
  };
}

/** Holds and releases come in long runs during a rush; each run is one statement, whatever its length. */
async function applySeatRun(tx: Queryable, eventId: number, run: SeatOp[]): Promise<void> {
  const { source, params, expected, change } = seatRunParts(run);
  const event = `$${params.length + 1}`;
  await expectRows(
    tx,
    run.length,
    `UPDATE seats s SET ${change} FROM ${source} WHERE s.id = u.id AND s.concert_event_id = ${event} AND ${expected} RETURNING s.id`,
    [...params, eventId],
  );
}

/**
 * A batch that is one run of holds (or releases) as a single statement, atomic on its own: during an occupy rush that
 * saves the BEGIN, fence and COMMIT round trips. Fence and change go together (fenceCte), and the run changes all its
 * seats or none: the UPDATE applies only when every seat is in the state the actor expects.
 */
async function commitSeatRun(db: Database, eventId: number, epoch: number, run: SeatOp[]): Promise<void> {
  const { source, params, expected, change } = seatRunParts(run);
  const n = params.length;
  const [event, entity, owner, count] = [n + 1, n + 2, n + 3, n + 4].map((i) => `$${i}`);
  const matching = `s.id = u.id AND s.concert_event_id = ${event} AND ${expected}`;
  const [row] = await db.query(
    `WITH ${fenceCte(entity!, owner!)},
          ready AS (SELECT count(*) AS n FROM seats s, ${source} WHERE ${matching}),
          change AS (UPDATE seats s SET ${change} FROM ${source}
                      WHERE ${matching} AND EXISTS (SELECT 1 FROM owner) AND (SELECT n FROM ready) = ${count} RETURNING s.id)
     SELECT (SELECT count(*) FROM owner)::int AS owned, (SELECT count(*) FROM change)::int AS changed`,
    [...params, eventId, eventEntity(eventId), epoch, run.length],
  );
  if (Number(row!.owned) === 0) throw new FencedError(eventEntity(eventId));
  if (Number(row!.changed) !== run.length) throw new StoreDriftError(`expected ${run.length} seats, changed ${row!.changed}`);
}

/** Counts a statement reported for its parts, checked against what the actor expects of each. */
function expectCounts(row: Row | undefined, expected: Record<string, number>): void {
  for (const [part, n] of Object.entries(expected)) {
    if (Number(row?.[part]) !== n) throw new StoreDriftError(`${part}: expected ${n} rows, got ${row?.[part]}`);
  }
}

// Reservations, their ends and payments are one statement each (data-modifying CTEs, all or nothing): a checkout rush
// puts dozens of them in one transaction, and on the server every statement is a round trip that waits its turn on
// the busy event loop.
async function applyOp(tx: Queryable, eventId: number, op: Exclude<EventOp, SeatOp>): Promise<OpResult> {
  switch (op.type) {
    case "reserved":
      return reserve(tx, eventId, op);
    case "reservationEnded": {
      const [row] = await tx.query(
        `WITH ended AS (UPDATE reservations SET status = $2 WHERE id = $1 AND status = 'PENDING' RETURNING id),
              freed AS (UPDATE seats SET status = 'AVAILABLE', user_id = NULL, reservation_id = NULL
                         WHERE reservation_id = $1 AND status = 'RESERVED' RETURNING id)
         SELECT (SELECT count(*) FROM ended)::int AS ended, (SELECT count(*) FROM freed)::int AS freed`,
        [op.reservationId, op.status],
      );
      expectCounts(row, { ended: 1, freed: op.seatIds.length });
      return null;
    }
    case "paid":
      return pay(tx, op);
  }
}

async function reserve(tx: Queryable, eventId: number, op: Extract<EventOp, { type: "reserved" }>): Promise<OpResult> {
  const [row] = await tx.query(
    `WITH reservation AS (
            INSERT INTO reservations (user_id, concert_event_id, total_amount, status, created_at, expires_at)
            VALUES ($1, $2, $3, 'PENDING', ${fromEpochMs("$4::bigint")}, ${fromEpochMs("$5::bigint")}) RETURNING id),
          listed AS (
            INSERT INTO reservation_seats (reservation_id, seat_id, price)
            SELECT r.id, u.seat_id, u.price FROM reservation r, unnest($6::bigint[], $7::bigint[]) AS u(seat_id, price)
            RETURNING seat_id),
          reserved AS (
            UPDATE seats SET status = 'RESERVED', hold_expires_at = NULL, reservation_id = (SELECT id FROM reservation)
             WHERE id = ANY($6::bigint[]) AND concert_event_id = $2 AND status = 'HELD' AND user_id = $1 RETURNING id)
     SELECT (SELECT id FROM reservation) AS id, (SELECT count(*) FROM listed)::int AS listed, (SELECT count(*) FROM reserved)::int AS reserved`,
    [op.userId, eventId, op.totalAmount, op.createdAt, op.expiresAt, op.seatIds, op.prices],
  );
  expectCounts(row, { listed: op.seatIds.length, reserved: op.seatIds.length });
  return { reservationId: Number(row!.id) };
}

/** Debit, confirm, sell, record and expire the queue token, or refuse the payment alone if the balance is short. */
async function pay(tx: Queryable, op: Extract<EventOp, { type: "paid" }>): Promise<OpResult> {
  // Every part after the debit applies only if the debit did: a short balance changes nothing.
  const [row] = await tx.query(
    `WITH debit AS (UPDATE wallets SET balance = balance - $2::bigint WHERE user_id = $1 AND balance >= $2::bigint RETURNING user_id),
          confirmed AS (UPDATE reservations SET status = 'PAID'
                         WHERE id = $3 AND status = 'PENDING' AND EXISTS (SELECT 1 FROM debit) RETURNING id),
          sold AS (UPDATE seats SET status = 'SOLD'
                    WHERE reservation_id = $3 AND status = 'RESERVED' AND EXISTS (SELECT 1 FROM debit) RETURNING id),
          payment AS (INSERT INTO payments (reservation_id, user_id, amount, status, paid_at)
                      SELECT $3, $1, $2::bigint, 'success', ${fromEpochMs("$4::bigint")} FROM debit RETURNING id),
          ledger AS (INSERT INTO wallet_ledger (user_id, amount, kind, payment_id, created_at)
                     SELECT $1, -$2::bigint, 'payment', id, ${fromEpochMs("$4::bigint")} FROM payment),
          turn AS (UPDATE queue_tokens SET status = 'EXPIRED', expires_at = ${fromEpochMs("$4::bigint")}
                    WHERE user_id = $1 AND status = 'ACTIVE' AND EXISTS (SELECT 1 FROM debit))
     SELECT (SELECT count(*) FROM debit)::int AS debited, (SELECT count(*) FROM confirmed)::int AS confirmed,
            (SELECT count(*) FROM sold)::int AS sold, (SELECT id FROM payment) AS payment_id`,
    [op.userId, op.amount, op.reservationId, op.paidAt],
  );
  if (Number(row?.debited) === 0) return { rejected: "insufficient_balance" };
  expectCounts(row, { confirmed: 1, sold: op.seatIds.length });
  return { paymentId: Number(row!.payment_id) };
}

const isSeatOp = (op: EventOp): op is SeatOp => op.type === "held" || op.type === "released";

/**
 * One transaction for the whole batch, fenced by the owner's epoch, in the actor's order; consecutive holds (or
 * releases) share one statement, and a batch that is only such a run is that statement alone.
 */
export async function commitConcertEvent(db: Database, eventId: number, epoch: number, ops: EventOp[]): Promise<OpResult[]> {
  if (ops.length > 0 && ops.every(isSeatOp) && ops.every((op) => op.type === ops[0]!.type)) {
    await commitSeatRun(db, eventId, epoch, ops);
    return ops.map(() => null);
  }
  return db.transaction(async (tx) => {
    await fence(tx, eventEntity(eventId), epoch);
    const results: OpResult[] = [];
    for (let i = 0; i < ops.length; ) {
      const op = ops[i]!;
      if (!isSeatOp(op)) {
        results.push(await applyOp(tx, eventId, op));
        i++;
        continue;
      }
      let end = i + 1;
      while (end < ops.length && ops[end]!.type === op.type) end++;
      await applySeatRun(tx, eventId, ops.slice(i, end) as SeatOp[]);
      for (; i < end; i++) results.push(null);
    }
    return results;
  });
}

/**
 * Releases the event's holds and unpaid reservations whose time passed while no actor owned it (after a crash, say).
 * Runs inside the transaction that hands the event to its new owner, before that owner loads it.
 */
export async function releaseLapsed(tx: Queryable, eventId: number, now: number): Promise<number> {
  const holds = await tx.query(
    `UPDATE seats SET status = 'AVAILABLE', user_id = NULL, hold_expires_at = NULL
      WHERE concert_event_id = $1 AND status = 'HELD' AND hold_expires_at <= $2 RETURNING id`,
    [eventId, iso(now)],
  );
  const reservations = await tx.query(
    `UPDATE reservations SET status = 'EXPIRED'
      WHERE concert_event_id = $1 AND status = 'PENDING' AND expires_at <= $2 RETURNING id`,
    [eventId, iso(now)],
  );
  await tx.query(
    `UPDATE seats SET status = 'AVAILABLE', user_id = NULL, reservation_id = NULL
      WHERE status = 'RESERVED' AND reservation_id = ANY($1::bigint[])`,
    [reservations.map((r) => Number(r.id))],
  );
  return holds.length + reservations.length;
}
