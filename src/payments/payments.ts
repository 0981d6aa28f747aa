// Payments and reservations seen from the user's side. Paying and cancelling change an event's seats, so those
// requests are forwarded over NATS to the actor that owns the reservation's event; listings are plain reads.
import type { NatsConnection, Service } from "nats";
import { ok } from "../shared/codec";
import type { Bus } from "../shared/bus";
import type { Database } from "../shared/db";
import { AppError } from "../shared/errors";
import { addService, endpoint } from "../shared/nats-service";
import { eventSubject, Requests } from "../shared/subjects";
import { Api, type PaymentView, type ReservationRequest, type ReservationView } from "../shared/messages";

const iso = (value: unknown) => (value instanceof Date ? value : new Date(String(value))).toISOString();

/** Which event a reservation belongs to; a reservation never moves, so this needs no actor. */
async function eventOfReservation(db: Database, userId: number, reservationId: number): Promise<number> {
  const [row] = await db.query(`SELECT concert_event_id FROM reservations WHERE id = $1 AND user_id = $2`, [
    reservationId,
    userId,
  ]);
  if (!row) throw new AppError("not_found_reservation");
  return Number(row.concert_event_id);
}

export async function paymentsOf(db: Database, userId: number): Promise<PaymentView[]> {
  const rows = await db.query(
    `SELECT id, reservation_id, amount, status, paid_at FROM payments WHERE user_id = $1 ORDER BY paid_at DESC, id DESC`,
    [userId],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    reservationId: Number(row.reservation_id),
    amount: Number(row.amount),
    status: row.status === "refunded" ? "refunded" : "success",
    paidAt: iso(row.paid_at),
  }));
}

export async function reservationsOf(db: Database, userId: number): Promise<ReservationView[]> {
  const rows = await db.query(
    `SELECT r.id, r.concert_event_id, r.total_amount, r.status, r.created_at, r.expires_at,
            ARRAY(SELECT seat_id FROM reservation_seats s WHERE s.reservation_id = r.id ORDER BY seat_id) AS seat_ids
       FROM reservations r WHERE r.user_id = $1 ORDER BY r.id DESC`,
    [userId],
  );
  return rows.map((row) => {
    const seatIds = (row.seat_ids as unknown[]).map(Number);
    return {
      id: Number(row.id),
      concertEventId: Number(row.concert_event_id),
      totalSeats: seatIds.length,
      totalAmount: Number(row.total_amount),
      createdAt: iso(row.created_at),
      status: row.status as ReservationView["status"],
      expiresAt: iso(row.expires_at),
      seatIds,
    };
  });
}

export function startPaymentService(nc: NatsConnection, db: Database, bus: Bus): Promise<Service> {
  const forward =
    <T>(command: "pay" | "cancel") =>
    async ({ userId, reservationId }: ReservationRequest) => {
      const eventId = await eventOfReservation(db, userId, reservationId);
      return ok(await bus.request<T>(eventSubject(eventId, command), { userId, reservationId }));
    };
  const api = Api.payments;
  return addService(nc, "payments", "결제와 예약 내역", [
    endpoint({ name: "pay", subject: Requests.pay, messages: api.pay, handle: forward<PaymentView>("pay") }),
    endpoint({ name: "cancel", subject: Requests.cancelReservation, messages: api.cancel, handle: forward<ReservationView>("cancel") }),
    endpoint({ name: "payments", subject: Requests.payments, messages: api.payments, handle: async ({ userId }) => ok(await paymentsOf(db, userId)) }),
    endpoint({
      name: "reservations",
      subject: Requests.reservations,
      messages: api.reservations,
      handle: async ({ userId }) => ok(await reservationsOf(db, userId)),
    }),
  ]);
}
