// What the system holds once a chaos run has healed and settled: the sale's rows in the database, the event stream as
// a surviving node serves it, and the database audit. Plain data, so the checker is a pure function of it.
import type { NatsConnection } from "nats";
import { verify, type Violation } from "../../src/cli/verify";
import type { Database } from "../../src/shared/db";
import { storedEvents, type StoredEvent } from "../support/event-stream";

export interface FinalState {
  concertId: number;
  eventIds: number[];
  opensAt: number;
  /** When the queue actor stored the drawn order (null: never opened). */
  queueOpenedAt: number | null;
  drawSeedStored: boolean;
  /** The database's clock when the state was read. */
  readAt: number;
  ledger: { userId: number; amount: number; kind: string; paymentId: number | null }[];
  wallets: { userId: number; balance: number }[];
  payments: { id: number; reservationId: number; userId: number; amount: number; status: string }[];
  reservations: { id: number; userId: number; eventId: number; status: string; totalAmount: number; seatIds: number[] }[];
  seats: { id: number; eventId: number; status: string; userId: number | null; holdExpiresAt: number | null }[];
  tokens: { token: string; userId: number; status: string; issuedAt: number; activatedAt: number | null }[];
  events: StoredEvent[];
  outboxLeft: number;
  audit: Violation[];
}

const ms = (value: unknown) => (value === null || value === undefined ? null : new Date(value as string).getTime());

export async function readFinalState(db: Database, nc: NatsConnection, concertId: number): Promise<FinalState> {
  const [concert] = await db.query(`SELECT sale_opens_at, queue_opened_at, queue_draw_seed IS NOT NULL AS seeded, now() AS now FROM concerts WHERE id = $1`, [concertId]);
  const eventIds = (await db.query(`SELECT id FROM concert_events WHERE concert_id = $1 ORDER BY id`, [concertId])).map((r) => Number(r.id));
  const reservations = await db.query(
    `SELECT r.id, r.user_id, r.concert_event_id, r.status, r.total_amount, array_agg(rs.seat_id ORDER BY rs.seat_id) AS seat_ids
       FROM reservations r JOIN reservation_seats rs ON rs.reservation_id = r.id GROUP BY r.id ORDER BY r.id`,
  );
  return {
    concertId,
    eventIds,
    opensAt: ms(concert!.sale_opens_at)!,
    queueOpenedAt: ms(concert!.queue_opened_at),
    drawSeedStored: Boolean(concert!.seeded),
    readAt: ms(concert!.now)!,
    ledger: (await db.query(`SELECT user_id, amount, kind, payment_id FROM wallet_ledger ORDER BY id`)).map((r) => ({
      userId: Number(r.user_id),
      amount: Number(r.amount),
      kind: String(r.kind),
      paymentId: r.payment_id === null ? null : Number(r.payment_id),
    })),
    wallets: (await db.query(`SELECT user_id, balance FROM wallets`)).map((r) => ({ userId: Number(r.user_id), balance: Number(r.balance) })),
    payments: (await db.query(`SELECT id, reservation_id, user_id, amount, status FROM payments ORDER BY id`)).map((r) => ({
      id: Number(r.id),
      reservationId: Number(r.reservation_id),
      userId: Number(r.user_id),
      amount: Number(r.amount),
      status: String(r.status),
    })),
    reservations: reservations.map((r) => ({
      id: Number(r.id),
      userId: Number(r.user_id),
      eventId: Number(r.concert_event_id),
      status: String(r.status),
      totalAmount: Number(r.total_amount),
      seatIds: (r.seat_ids as unknown[]).map(Number),
    })),
    seats: (await db.query(`SELECT id, concert_event_id, status, user_id, hold_expires_at FROM seats ORDER BY id`)).map((r) => ({
      id: Number(r.id),
      eventId: Number(r.concert_event_id),
      status: String(r.status),
      userId: r.user_id === null ? null : Number(r.user_id),
      holdExpiresAt: ms(r.hold_expires_at),
    })),
    tokens: (await db.query(`SELECT token, user_id, status, issued_at, activated_at FROM queue_tokens WHERE queue_id = $1`, [concertId])).map((r) => ({
      token: String(r.token),
      userId: Number(r.user_id),
      status: String(r.status),
      issuedAt: ms(r.issued_at)!,
      activatedAt: ms(r.activated_at),
    })),
    events: await storedEvents(nc),
    outboxLeft: Number((await db.query(`SELECT count(*) AS n FROM event_outbox`))[0]!.n),
    audit: await verify(db),
  };
}
