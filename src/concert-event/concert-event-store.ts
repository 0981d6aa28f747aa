// Persistence for the concert-event actor: rebuilds an event's inventory from the database, and commits a batch of
// the actor's ops in one transaction. Every UPDATE names the state it expects; if the database disagrees the whole
// batch fails, and the actor reloads instead of drifting from what is stored. The batch's domain events are recorded
// by the same transaction (or statement), in the outbox.
import type { EventOp, InventorySnapshot, OpResult, Reservation, Seat, SeatStatus } from "../../actors/seat-inventory";
import type { Database, Queryable } from "../shared/db";
import { fromEpochMs, StoreDriftError, type Row } from "../shared/db/port";
import { eventEntity, fenceAndRecord, fenceCte, FencedError } from "../cluster/ownership-store";
import { outboxEntry, recordEvents, recordEventsParams, recordEventsSql, type OutboxEntry } from "../shared/outbox";
import { GLOBAL_QUEUE } from "../shared/queue-tokens";

const iso = (ms: number) => new Date(ms).toISOString();
const ms = (value: unknown) => (value instanceof Date ? value.getTime() : new Date(String(value)).getTime());
const optionalMs = (value: unknown) => (value === null || value === undefined ? undefined : ms(value));

/** A seat as the load's JSON carries it: id, number, price, status, holder, hold expiry (epoch ms), reservation, section. */
type SeatRow = [number, string, number, SeatStatus, number | null, number | null, number | null, number];

export async function loadConcertEvent(db: Database, eventId: number): Promise<InventorySnapshot | null> {
  const [event] = await db.query(
    `SELECT e.concert_id, e.starts_at, c.sale_opens_at, c.sale_closes_at
       FROM concert_events e JOIN concerts c ON c.id = e.concert_id WHERE e.id = $1`,
    [eventId],
  );
  if (!event) return null;
  // One JSON value rather than a row per seat: a 100,000-seat hall loads in a fifth of the time on PGlite, whose
  // per-row decoding dominated (measured 0.7 s against 3–4.7 s under load).
  const [seatList] = await db.query(
    `SELECT coalesce(json_agg(json_build_array(id, seat_number, price, status, user_id,
                                               (extract(epoch FROM hold_expires_at) * 1000)::bigint, reservation_id, section)
                              ORDER BY id), '[]')::text AS seats
       FROM seats WHERE concert_event_id = $1`,
    [eventId],
  );
  const sections = await db.query(`SELECT name, price FROM event_sections WHERE concert_event_id = $1 ORDER BY ord`, [eventId]);
  const reservationRows = await db.query(
    `SELECT r.id, r.user_id, r.total_amount, r.status, r.created_at, r.expires_at,
            p.id AS payment_id, p.amount AS payment_amount, p.paid_at,
            ARRAY(SELECT seat_id FROM reservation_seats s WHERE s.reservation_id = r.id ORDER BY seat_id) AS seat_ids
       FROM reservations r LEFT JOIN payments p ON p.reservation_id = r.id
      WHERE r.concert_event_id = $1`,
    [eventId],
  );
  const seats = (JSON.parse(String(seatList!.seats)) as SeatRow[]).map(
    ([id, seatNumber, price, status, userId, holdExpiresAt, reservationId, section]): Seat => ({
      id,
      seatNumber,
      price,
      section,
      status,
      userId: userId ?? undefined,
      holdExpiresAt: holdExpiresAt ?? undefined,
      reservationKey: reservationId === null ? undefined : `db${reservationId}`,
    }),
  );
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
  const sale = {
    concertId: Number(event.concert_id),
    startsAt: ms(event.starts_at),
    opensAt: ms(event.sale_opens_at),
    closesAt: optionalMs(event.sale_closes_at),
  };
  return { sale, sections: sections.map((row) => ({ name: String(row.name), price: Number(row.price) })), seats, reservations };
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
async function commitSeatRun(db: Database, eventId: number, epoch: number, run: SeatOp[], events: OutboxEntry): Promise<void> {
  const { source, params, expected, change } = seatRunParts(run);
  const n = params.length;
  const [event, entity, owner, count] = [n + 1, n + 2, n + 3, n + 4].map((i) => `$${i}`);
  const matching = `s.id = u.id AND s.concert_event_id = ${event} AND ${expected}`;
  const applies = `EXISTS (SELECT 1 FROM owner) AND (SELECT n FROM ready) = ${count}`;
  const [row] = await db.query(
    `WITH ${fenceCte(entity!, owner!)},
          ready AS (SELECT count(*) AS n FROM seats s, ${source} WHERE ${matching}),
          change AS (UPDATE seats s SET ${change} FROM ${source} WHERE ${matching} AND ${applies} RETURNING s.id),
          recorded AS (${recordEventsSql(n + 5, applies)})
     SELECT (SELECT count(*) FROM owner)::int AS owned, (SELECT count(*) FROM change)::int AS changed`,
    [...params, eventId, eventEntity(eventId), epoch, run.length, ...recordEventsParams(events)],
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

type Of<T extends EventOp["type"]> = Extract<EventOp, { type: T }>;
/** An op with its place in the batch, so results go back in the actor's order whatever order the statements take. */
type Placed<Op extends EventOp = EventOp> = { op: Op; at: number };

/** Seats are found by their ids: reservation_id has no index, and a lookup by it scanned every seat of every event. */
async function endReservation(tx: Queryable, op: Of<"reservationEnded">): Promise<void> {
  const [row] = await tx.query(
    `WITH ended AS (UPDATE reservations SET status = $2 WHERE id = $1 AND status = 'PENDING' RETURNING id),
          freed AS (UPDATE seats SET status = 'AVAILABLE', user_id = NULL, reservation_id = NULL
                     WHERE id = ANY($3::bigint[]) AND reservation_id = $1 AND status = 'RESERVED' RETURNING id)
     SELECT (SELECT count(*) FROM ended)::int AS ended, (SELECT count(*) FROM freed)::int AS freed`,
    [op.reservationId, op.status, op.seatIds],
  );
  expectCounts(row, { ended: 1, freed: op.seatIds.length });
}

/**
 * A run of reservations as one statement, whatever its length. Ids are drawn from the sequence up front (`r`, a CTE
 * that is evaluated once), so each op learns its own id: the order of an INSERT's RETURNING rows is not defined.
 */
async function reserveRun(tx: Queryable, eventId: number, run: Placed<Of<"reserved">>[]): Promise<number[]> {
  const ops = run.map(({ op }) => op);
  const seats = ops.flatMap((op, i) => op.seatIds.map((seatId, k) => ({ ord: i + 1, seatId, price: op.prices[k]! })));
  const [row] = await tx.query(
    `WITH r AS (SELECT u.ord, nextval('reservations_id_seq') AS id, u.user_id, u.total, u.created_at, u.expires_at
                  FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])
                       WITH ORDINALITY AS u(user_id, total, created_at, expires_at, ord)),
          rs AS (SELECT r.id, r.user_id, v.seat_id, v.price
                   FROM unnest($5::bigint[], $6::bigint[], $7::bigint[]) AS v(ord, seat_id, price) JOIN r ON r.ord = v.ord),
          inserted AS (
            INSERT INTO reservations (id, user_id, concert_event_id, total_amount, status, created_at, expires_at)
            SELECT id, user_id, $8, total, 'PENDING', ${fromEpochMs("created_at")}, ${fromEpochMs("expires_at")} FROM r RETURNING id),
          listed AS (INSERT INTO reservation_seats (reservation_id, seat_id, price) SELECT id, seat_id, price FROM rs RETURNING seat_id),
          reserved AS (
            UPDATE seats s SET status = 'RESERVED', hold_expires_at = NULL, reservation_id = rs.id FROM rs
             WHERE s.id = rs.seat_id AND s.concert_event_id = $8 AND s.status = 'HELD' AND s.user_id = rs.user_id RETURNING s.id)
     SELECT (SELECT array_agg(id ORDER BY ord) FROM r) AS ids, (SELECT count(*) FROM inserted)::int AS inserted,
            (SELECT count(*) FROM listed)::int AS listed, (SELECT count(*) FROM reserved)::int AS reserved`,
    [
      ops.map((op) => op.userId),
      ops.map((op) => op.totalAmount),
      ops.map((op) => op.createdAt),
      ops.map((op) => op.expiresAt),
      seats.map((s) => s.ord),
      seats.map((s) => s.seatId),
      seats.map((s) => s.price),
      eventId,
    ],
  );
  expectCounts(row, { inserted: ops.length, listed: seats.length, reserved: seats.length });
  return (row!.ids as unknown[]).map(Number);
}

/**
 * Splits a run of payments into rounds in which each user pays at most once: round k holds every user's k-th payment.
 * Run one after the other, the rounds give each payment the balance its user's earlier payments left, as if the
 * payments ran one by one; and within a round one wallet row meets one payment, which a set-based UPDATE needs.
 */
function paymentRounds(run: Placed<Of<"paid">>[]): Placed<Of<"paid">>[][] {
  const rounds: Placed<Of<"paid">>[][] = [];
  const seen = new Map<number, number>();
  for (const placed of run) {
    const k = seen.get(placed.op.userId) ?? 0;
    seen.set(placed.op.userId, k + 1);
    (rounds[k] ??= []).push(placed);
  }
  return rounds;
}

/**
 * A round of payments (distinct users) as one statement: debit with a balance check, confirm, sell, record, enter in
 * the ledger and end the user's turn in the global queue and the concert's. Every part after the debit keeps only the payments whose debit went through, so
 * a short balance refuses that payment alone and the others of the round go through. Returns the payment id for each reservation paid.
 */
async function payRound(tx: Queryable, round: Placed<Of<"paid">>[]): Promise<Map<number, number>> {
  const ops = round.map(({ op }) => op);
  const seats = ops.flatMap((op) => op.seatIds.map((seatId) => ({ reservationId: op.reservationId, seatId })));
  const turns = ops.flatMap((op) => [GLOBAL_QUEUE, op.concertId].map((queueId) => ({ queueId, userId: op.userId, paidAt: op.paidAt })));
  // Each part joins the parameters themselves, not the CTE's output, so the planner sees how few rows there are and
  // goes through the primary keys instead of scanning seats or reservations.
  const rows = await tx.query(
    `WITH debit AS (UPDATE wallets w SET balance = w.balance - u.amount FROM unnest($1::bigint[], $2::bigint[]) AS u(user_id, amount)
                     WHERE w.user_id = u.user_id AND w.balance >= u.amount RETURNING w.user_id),
          p AS (SELECT u.* FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $7::bigint[])
                           AS u(user_id, amount, reservation_id, paid_at, concert_id)
                 WHERE u.user_id IN (SELECT user_id FROM debit)),
          confirmed AS (UPDATE reservations r SET status = 'PAID' FROM unnest($3::bigint[]) AS u(id)
                         WHERE r.id = u.id AND r.status = 'PENDING' AND u.id IN (SELECT reservation_id FROM p) RETURNING r.id),
          sold AS (UPDATE seats s SET status = 'SOLD' FROM unnest($5::bigint[], $6::bigint[]) AS u(reservation_id, seat_id)
                    WHERE s.id = u.seat_id AND s.reservation_id = u.reservation_id AND s.status = 'RESERVED'
                      AND u.reservation_id IN (SELECT reservation_id FROM p) RETURNING s.id),
          payment AS (INSERT INTO payments (reservation_id, user_id, amount, status, paid_at)
                      SELECT reservation_id, user_id, amount, 'success', ${fromEpochMs("paid_at")} FROM p
                      RETURNING id, reservation_id, user_id, amount, paid_at),
          ledger AS (INSERT INTO wallet_ledger (user_id, amount, kind, payment_id, created_at)
                     SELECT user_id, -amount, 'payment', id, paid_at FROM payment),
          turn AS (UPDATE queue_tokens q SET status = 'EXPIRED', expires_at = ${fromEpochMs("t.paid_at")}
                     FROM unnest($8::bigint[], $9::bigint[], $10::bigint[]) AS t(queue_id, user_id, paid_at)
                    WHERE q.queue_id = t.queue_id AND q.user_id = t.user_id AND q.status = 'ACTIVE' AND t.user_id IN (SELECT user_id FROM p))
     SELECT reservation_id, id, (SELECT count(*) FROM confirmed)::int AS confirmed, (SELECT count(*) FROM sold)::int AS sold
       FROM payment`,
    [
      ops.map((op) => op.userId),
      ops.map((op) => op.amount),
      ops.map((op) => op.reservationId),
      ops.map((op) => op.paidAt),
      seats.map((s) => s.reservationId),
      seats.map((s) => s.seatId),
      ops.map((op) => op.concertId),
      // Each payment's turns, in the global queue and the concert's: given as pairs, so each is found by its key (given
      // through the CTE, the planner once read every live token of a stadium's queue for each payment).
      turns.map((t) => t.queueId),
      turns.map((t) => t.userId),
      turns.map((t) => t.paidAt),
    ],
  );
  const paid = new Map(rows.map((row) => [Number(row.reservation_id), Number(row.id)]));
  if (rows.length > 0) {
    const sold = ops.filter((op) => paid.has(op.reservationId)).reduce((n, op) => n + op.seatIds.length, 0);
    expectCounts(rows[0], { confirmed: rows.length, sold });
  }
  return paid;
}

async function payRun(tx: Queryable, run: Placed<Of<"paid">>[], results: OpResult[]): Promise<void> {
  for (const round of paymentRounds(run)) {
    const paid = await payRound(tx, round);
    for (const { op, at } of round) {
      const paymentId = paid.get(op.reservationId);
      results[at] = paymentId === undefined ? { rejected: "insufficient_balance" } : { paymentId };
    }
  }
}

const seatsOf = (op: EventOp): number[] => ("seatId" in op ? [op.seatId] : op.seatIds);

/**
 * Cuts a batch where an op touches a seat an earlier op of the current segment touched (a hold of a seat whose
 * reservation just ended, a reservation of a seat held in the same batch). Within a segment every op has seats of its
 * own, and payments of one user are kept in order by their rounds, so the ops commute and may run grouped by type.
 */
function segmentsOf(ops: EventOp[]): Placed[][] {
  const segments: Placed[][] = [[]];
  let touched = new Set<number>();
  const cut = () => {
    segments.push([]);
    touched = new Set();
  };
  ops.forEach((op, at) => {
    const seats = seatsOf(op);
    // A refund credits a wallet that a payment of the same batch may debit: it keeps its place by standing alone.
    if (op.type === "refunded" || seats.some((id) => touched.has(id))) cut();
    for (const id of seats) touched.add(id);
    segments.at(-1)!.push({ op, at });
    if (op.type === "refunded") cut();
  });
  return segments;
}

/** The order of a segment's statements: seats are freed before they are held, and held before they are reserved. */
const PHASES = ["reservationEnded", "released", "held", "reserved", "paid", "refunded"] as const;

async function applyPhase(tx: Queryable, eventId: number, run: Placed[], results: OpResult[]): Promise<void> {
  const type = run[0]!.op.type;
  if (type === "held" || type === "released") return applySeatRun(tx, eventId, run.map(({ op }) => op as SeatOp));
  if (type === "paid") return payRun(tx, run as Placed<Of<"paid">>[], results);
  if (type === "reserved") {
    const ids = await reserveRun(tx, eventId, run as Placed<Of<"reserved">>[]);
    run.forEach(({ at }, i) => (results[at] = { reservationId: ids[i]! }));
    return;
  }
  if (type === "refunded") {
    for (const { op } of run) await refund(tx, op as Of<"refunded">);
    return;
  }
  for (const { op } of run) await endReservation(tx, op as Of<"reservationEnded">);
}

/**
 * Credit, mark the reservation and its payment refunded, and put the seats back on sale. A refund is never refused:
 * the balance cap applies to charges, not to money coming back.
 */
async function refund(tx: Queryable, op: Extract<EventOp, { type: "refunded" }>): Promise<OpResult> {
  const [row] = await tx.query(
    `WITH refunded AS (UPDATE reservations SET status = 'REFUNDED' WHERE id = $1 AND status = 'PAID' RETURNING id),
          payment AS (UPDATE payments SET status = 'refunded', refunded_at = ${fromEpochMs("$5::bigint")}
                       WHERE id = $2 AND reservation_id = $1 AND status = 'success' RETURNING id),
          credit AS (UPDATE wallets SET balance = balance + $4::bigint WHERE user_id = $3 RETURNING user_id),
          ledger AS (INSERT INTO wallet_ledger (user_id, amount, kind, payment_id, created_at)
                     SELECT $3, $4::bigint, 'refund', $2, ${fromEpochMs("$5::bigint")} FROM credit),
          freed AS (UPDATE seats SET status = 'AVAILABLE', user_id = NULL, reservation_id = NULL
                     WHERE reservation_id = $1 AND status = 'SOLD' RETURNING id)
     SELECT (SELECT count(*) FROM refunded)::int AS refunded, (SELECT count(*) FROM payment)::int AS payment,
            (SELECT count(*) FROM credit)::int AS credited, (SELECT count(*) FROM freed)::int AS freed`,
    [op.reservationId, op.paymentId, op.userId, op.amount, op.at],
  );
  expectCounts(row, { refunded: 1, payment: 1, credited: 1, freed: op.seatIds.length });
  return null;
}

const isSeatOp = (op: EventOp): op is SeatOp => op.type === "held" || op.type === "released";

/** What a batch's commit made: each op's result, and the domain events recorded with it. */
export interface Committed {
  results: OpResult[];
  events: OutboxEntry;
}

/**
 * One transaction for the whole batch, fenced by the owner's epoch. A checkout rush puts dozens of reservations and
 * payments in one batch, and every statement is a round trip that waits its turn on the busy event loop (on the
 * server) or a call into the engine (on PGlite): so each segment is a statement per kind of op, not per op, and a
 * batch that is one run of holds (or releases) is that statement alone.
 */
export async function commitConcertEvent(
  db: Database,
  eventId: number,
  epoch: number,
  ops: EventOp[],
  eventsOf: (results: OpResult[]) => OutboxEntry = () => outboxEntry([]),
): Promise<Committed> {
  if (ops.length > 0 && ops.every(isSeatOp) && ops.every((op) => op.type === ops[0]!.type)) {
    const results = ops.map(() => null);
    const events = eventsOf(results);
    await commitSeatRun(db, eventId, epoch, ops, events);
    return { results, events };
  }
  return db.transaction(async (tx) => {
    const results: OpResult[] = ops.map(() => null);
    for (const segment of segmentsOf(ops)) {
      for (const phase of PHASES) {
        const run = segment.filter(({ op }) => op.type === phase);
        if (run.length > 0) await applyPhase(tx, eventId, run, results);
      }
    }
    // The events name what the database assigned (reservation and payment ids), so they are made last.
    const events = eventsOf(results);
    await fenceAndRecord(tx, eventEntity(eventId), epoch, events);
    return { results, events };
  });
}

/**
 * Releases the event's holds and unpaid reservations whose time passed while no actor owned it (after a crash, say).
 * Runs inside the transaction that hands the event to its new owner, before that owner loads it, and records the
 * events of what it released there too. Returns those releases as the ops the actor would have made.
 */
export async function releaseLapsed(
  tx: Queryable,
  eventId: number,
  now: number,
  eventsOf: (ops: EventOp[]) => OutboxEntry = () => outboxEntry([]),
): Promise<{ released: EventOp[]; events: OutboxEntry }> {
  // The CTE reads each row before its update, so the holder is still known.
  const holds = await tx.query(
    `WITH lapsed AS (SELECT id, user_id FROM seats
                      WHERE concert_event_id = $1 AND status = 'HELD' AND hold_expires_at <= $2 FOR UPDATE),
          freed AS (UPDATE seats s SET status = 'AVAILABLE', user_id = NULL, hold_expires_at = NULL FROM lapsed WHERE s.id = lapsed.id)
     SELECT id, user_id FROM lapsed`,
    [eventId, iso(now)],
  );
  const reservations = await tx.query(
    `UPDATE reservations SET status = 'EXPIRED'
      WHERE concert_event_id = $1 AND status = 'PENDING' AND expires_at <= $2 RETURNING id, user_id`,
    [eventId, iso(now)],
  );
  // Seats have no index on reservation_id: they are looked for among the event's own, and only when any lapsed.
  const seats =
    reservations.length === 0
      ? []
      : await tx.query(
          `WITH lapsed AS (SELECT id, reservation_id FROM seats
                            WHERE concert_event_id = $2 AND status = 'RESERVED' AND reservation_id = ANY($1::bigint[]) FOR UPDATE),
                freed AS (UPDATE seats s SET status = 'AVAILABLE', user_id = NULL, reservation_id = NULL FROM lapsed WHERE s.id = lapsed.id)
           SELECT id, reservation_id FROM lapsed ORDER BY id`,
          [reservations.map((r) => Number(r.id)), eventId],
        );
  const released: EventOp[] = [
    ...holds.map((h): EventOp => ({ type: "released", seatId: Number(h.id), userId: Number(h.user_id), reason: "expired" })),
    ...reservations.map((r): EventOp => ({
      type: "reservationEnded",
      reservationId: Number(r.id),
      userId: Number(r.user_id),
      seatIds: seats.filter((seat) => Number(seat.reservation_id) === Number(r.id)).map((seat) => Number(seat.id)),
      status: "EXPIRED",
    })),
  ];
  const events = eventsOf(released);
  await recordEvents(tx, events);
  return { released, events };
}
