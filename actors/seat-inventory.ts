// The rules of one concert event's seats: who may hold, reserve and buy which seat, and when holds lapse.
// Pure domain logic over plain data: every change returns the ops the database must record, and nothing here
// does I/O or reads a clock (the caller passes `now`).
import { fail, ok, type Reply } from "../src/shared/codec";
import type { ErrorCode } from "../src/shared/errors";
import { saleRefusal, type SaleWindow } from "./sale-window";
import type { HoldView, PaymentView, ReleasedSeatView, ReservationView, SeatView } from "../src/shared/messages";
import { DeadlineQueue, type Deadline } from "./deadline-queue";
import type { Decision, EntityModel, ReplyTo } from "./durable-entity";

export type SeatStatus = "AVAILABLE" | "HELD" | "RESERVED" | "SOLD";

export interface Seat {
  id: number;
  seatNumber: string;
  price: number;
  /** Its section's index in the event's sections. */
  section: number;
  status: SeatStatus;
  userId?: number;
  holdExpiresAt?: number;
  /** Key of the reservation holding a RESERVED or SOLD seat. */
  reservationKey?: string;
}

export type ReservationStatus = "PENDING" | "PAYING" | "PAID" | "EXPIRED" | "CANCELLED" | "REFUNDED";

export interface Payment {
  id: number;
  amount: number;
  paidAt: number;
}

/** What the event knows of its concert: whose queue admits to it, the sale window, and when the event starts. */
export interface SaleFacts extends SaleWindow {
  startsAt: number;
}

export interface Reservation {
  /** Stable in memory before the database has assigned `id`. */
  key: string;
  id?: number;
  userId: number;
  seatIds: number[];
  totalAmount: number;
  createdAt: number;
  expiresAt: number;
  status: ReservationStatus;
  payment?: Payment;
}

/** What the database must record; the commit adapter turns each into SQL and, once committed, a domain event. */
export type EventOp =
  | { type: "held"; seatId: number; userId: number; expiresAt: number }
  | { type: "released"; seatId: number; userId: number; reason: "expired" | "released" }
  | {
      type: "reserved";
      key: string;
      userId: number;
      seatIds: number[];
      prices: number[];
      totalAmount: number;
      createdAt: number;
      expiresAt: number;
    }
  | {
      type: "reservationEnded";
      reservationId: number;
      userId: number;
      seatIds: number[];
      status: "EXPIRED" | "CANCELLED";
    }
  | {
      type: "paid";
      reservationId: number;
      userId: number;
      /** The payment ends the user's turn in the global queue and in this concert's. */
      concertId: number;
      amount: number;
      seatIds: number[];
      paidAt: number;
    }
  | { type: "refunded"; reservationId: number; paymentId: number; userId: number; amount: number; seatIds: number[]; at: number };

/** The database's answer to one op: the id it assigned, or a payment it refused. */
export type OpResult =
  | { reservationId: number }
  | { paymentId: number }
  | { rejected: "insufficient_balance" }
  | null;

export interface InventorySnapshot {
  sale: SaleFacts;
  /** In the order the operator gave them. */
  sections: { name: string; price: number }[];
  seats: Seat[];
  reservations: Reservation[];
}

/**
 * The commands one concert event accepts; `replyTo` carries the answer back to the sender. Seat commands carry
 * `admittedTo`, the queue that let the caller in: the global one (0) or a concert's, which admits to its own events.
 */
export type EventCommand =
  | { type: "occupy"; userId: number; admittedTo: number; seatId: number; replyTo?: ReplyTo }
  | { type: "reserve"; userId: number; admittedTo: number; seatIds: number[]; replyTo?: ReplyTo }
  | { type: "release"; userId: number; admittedTo: number; seatId: number; replyTo?: ReplyTo }
  | { type: "pay"; userId: number; reservationId: number; replyTo?: ReplyTo }
  | { type: "cancel"; userId: number; reservationId: number; replyTo?: ReplyTo }
  /** A concert's sale window changed (an operator's edit, committed by its queue actor); other concerts' are ignored. */
  | { type: "window"; concertId: number; opensAt: number; closesAt?: number; replyTo?: ReplyTo }
  /** Answered once the event is loaded: a new event is made bookable before its operator hears it was created. */
  | { type: "warm"; replyTo?: ReplyTo };

export interface InventoryRules {
  holdTtlMs: number;
  maxSeatsPerUser: number;
  /** Refunds are allowed until this long before the event starts. */
  refundCutoffMs: number;
}

type Outcome<T> = { ok: true; value: T; ops: EventOp[] } | { ok: false; code: ErrorCode };

const refuse = (code: ErrorCode) => ({ ok: false, code }) as const;

export class SeatInventory implements EntityModel<EventCommand, EventOp, OpResult> {
  private readonly seats = new Map<number, Seat>();
  private readonly reservationsByKey = new Map<string, Reservation>();
  private readonly reservationsById = new Map<number, Reservation>();
  /** Hold and payment deadlines, earliest first; stale entries are skipped (see `isLive`). */
  private readonly deadlines = new DeadlineQueue<{ seatId: number } | { reservationKey: string }>();
  /**
   * Seats each user holds or has in an unpaid reservation. Derivable by scanning every seat, but the limit is checked
   * on every occupy of a rush, so it is kept up to date instead.
   */
  private readonly liveSeats = new Map<number, number>();
  private nextKey = 0;
  private readonly sale: SaleFacts;

  constructor(
    readonly eventId: number,
    readonly rules: InventoryRules,
    snapshot: InventorySnapshot,
  ) {
    this.sale = { ...snapshot.sale };
    for (const loaded of snapshot.seats) {
      const seat = { ...loaded };
      this.seats.set(seat.id, seat);
      if (seat.status === "HELD" || seat.status === "RESERVED") this.countLive(seat.userId!, 1);
      if (seat.status === "HELD") this.deadlines.push(seat.holdExpiresAt!, { seatId: seat.id });
    }
    for (const reservation of snapshot.reservations) {
      this.track({ ...reservation });
      if (reservation.status === "PENDING") this.deadlines.push(reservation.expiresAt, { reservationKey: reservation.key });
    }
  }

  decide(command: EventCommand, now: number): Decision<EventOp> {
    const accept = <T>(outcome: Outcome<T>, answer: (value: T) => () => Reply<unknown>): Decision<EventOp> =>
      outcome.ok ? { ok: true, ops: outcome.ops, answer: answer(outcome.value) } : outcome;
    if ("admittedTo" in command) {
      const refusal = this.gate(command.admittedTo, now);
      if (refusal) return refusal;
    }
    switch (command.type) {
      case "occupy":
        return accept(this.occupy(command.userId, command.seatId, now), ({ seatId }) => () => ok(this.holdView(seatId)));
      case "reserve":
        return accept(this.reserve(command.userId, command.seatIds, now), ({ key }) => () => ok(this.reservationView(key)));
      case "pay":
        return accept(this.pay(command.userId, command.reservationId, now), ({ key }) => () => {
          const payment = this.paymentView(key);
          return payment ? ok(payment) : fail("insufficient_balance");
        });
      case "release":
        return accept(this.release(command.userId, command.seatId), ({ seatId }) => () => ok(this.releasedView(seatId)));
      case "cancel":
        return accept(this.cancel(command.userId, command.reservationId, now), ({ key }) => () => ok(this.reservationView(key)));
      case "window":
        if (command.concertId === this.sale.concertId) Object.assign(this.sale, { opensAt: command.opensAt, closesAt: command.closesAt });
        return { ok: true, ops: [], answer: () => ok(null) };
      case "warm":
        return { ok: true, ops: [], answer: () => ok(null) };
    }
  }

  /** Seat commands: only a queue that admits to this event, and only while the sale is open. */
  private gate(admittedTo: number, now: number): { ok: false; code: ErrorCode } | undefined {
    const code = saleRefusal(this.sale, admittedTo, now);
    return code && refuse(code);
  }

  get concertId(): number {
    return this.sale.concertId;
  }

  // ---- reads ----------------------------------------------------------------------------------------------------

  counts(): Record<SeatStatus, number> {
    const counts: Record<SeatStatus, number> = { AVAILABLE: 0, HELD: 0, RESERVED: 0, SOLD: 0 };
    for (const seat of this.seats.values()) counts[seat.status]++;
    return counts;
  }

  /** No hold or unpaid reservation needs the actor's timer, so it may stop when idle. */
  dormant(): boolean {
    return this.liveSeats.size === 0;
  }

  /** The earliest moment something lapses, or undefined when nothing will. */
  nextDeadline(): number | undefined {
    return this.deadlines.peek(this.isLive)?.at;
  }

  /** Whether a queued deadline still stands: the hold or unpaid reservation it was set for has not moved on. */
  private readonly isLive = ({ at, subject }: Deadline<{ seatId: number } | { reservationKey: string }>): boolean => {
    if ("seatId" in subject) {
      const seat = this.seats.get(subject.seatId)!;
      return seat.status === "HELD" && seat.holdExpiresAt === at;
    }
    const r = this.reservationsByKey.get(subject.reservationKey)!;
    return r.status === "PENDING" && r.expiresAt === at;
  };

  holdView(seatId: number): HoldView {
    const seat = this.seats.get(seatId)!;
    return { ...seatView(seat), expirationTime: new Date(seat.holdExpiresAt!).toISOString() };
  }

  reservationView(key: string): ReservationView {
    const r = this.reservationsByKey.get(key)!;
    return {
      id: r.id!,
      concertEventId: this.eventId,
      totalSeats: r.seatIds.length,
      totalAmount: r.totalAmount,
      createdAt: new Date(r.createdAt).toISOString(),
      status: r.status === "PAYING" ? "PENDING" : r.status,
      expiresAt: new Date(r.expiresAt).toISOString(),
      seatIds: [...r.seatIds],
    };
  }

  paymentView(key: string): PaymentView | undefined {
    const r = this.reservationsByKey.get(key)!;
    if (!r.payment) return undefined;
    return {
      id: r.payment.id,
      reservationId: r.id!,
      amount: r.payment.amount,
      status: r.status === "REFUNDED" ? "refunded" : "success",
      paidAt: new Date(r.payment.paidAt).toISOString(),
    };
  }

  releasedView(seatId: number): ReleasedSeatView {
    const seat = this.seats.get(seatId)!;
    return { id: seat.id, seatNumber: seat.seatNumber, status: "AVAILABLE" };
  }

  // ---- commands -------------------------------------------------------------------------------------------------

  occupy(userId: number, seatId: number, now: number): Outcome<{ seatId: number; fresh: boolean }> {
    const seat = this.seats.get(seatId);
    if (!seat) return refuse("not_found_seat");
    if (seat.status === "HELD" && seat.userId === userId) return { ok: true, value: { seatId, fresh: false }, ops: [] };
    if (seat.status !== "AVAILABLE") return refuse("seat_unavailable");
    if ((this.liveSeats.get(userId) ?? 0) >= this.rules.maxSeatsPerUser) return refuse("hold_limit_exceeded");
    const expiresAt = now + this.rules.holdTtlMs;
    Object.assign(seat, { status: "HELD", userId, holdExpiresAt: expiresAt } satisfies Partial<Seat>);
    this.countLive(userId, 1);
    this.deadlines.push(expiresAt, { seatId });
    return { ok: true, value: { seatId, fresh: true }, ops: [{ type: "held", seatId, userId, expiresAt }] };
  }

  reserve(userId: number, seatIds: number[], now: number): Outcome<{ key: string }> {
    const again = this.pendingReservationOf(userId, seatIds);
    if (again) return { ok: true, value: { key: again.key }, ops: [] };
    const seats: Seat[] = [];
    for (const id of new Set(seatIds)) {
      const seat = this.seats.get(id);
      if (!seat || seat.status !== "HELD" || seat.userId !== userId || seat.holdExpiresAt! <= now) {
        return refuse("seat_not_held");
      }
      seats.push(seat);
    }
    if (seats.length === 0) return refuse("seat_not_held");
    const key = `r${this.nextKey++}`;
    const reservation: Reservation = {
      key,
      userId,
      seatIds: seats.map((s) => s.id),
      totalAmount: seats.reduce((sum, s) => sum + s.price, 0),
      createdAt: now,
      // Payment is due when the earliest of the holds it replaces would have lapsed.
      expiresAt: Math.min(...seats.map((s) => s.holdExpiresAt!)),
      status: "PENDING",
    };
    for (const seat of seats) {
      Object.assign(seat, { status: "RESERVED", holdExpiresAt: undefined, reservationKey: key } satisfies Partial<Seat>);
    }
    this.track(reservation);
    const { seatIds: ids, totalAmount, createdAt, expiresAt } = reservation;
    const prices = seats.map((s) => s.price);
    return {
      ok: true,
      value: { key },
      ops: [{ type: "reserved", key, userId, seatIds: ids, prices, totalAmount, createdAt, expiresAt }],
    };
  }

  /**
   * The user's reservation awaiting payment of exactly these seats: a reserve sent again (its first answer lost to a
   * timeout, say) gets it back, as a payment sent again gets its payment, instead of a 409 for seats it reserved.
   */
  private pendingReservationOf(userId: number, seatIds: number[]): Reservation | undefined {
    const key = this.seats.get(seatIds[0]!)?.reservationKey;
    const r = key === undefined ? undefined : this.reservationsByKey.get(key);
    if (!r || r.userId !== userId || r.status !== "PENDING") return undefined;
    const asked = new Set(seatIds);
    return asked.size === r.seatIds.length && r.seatIds.every((id) => asked.has(id)) ? r : undefined;
  }

  /**
   * Starts paying a reservation. `inFlight` means a payment for it is already committing and the caller should
   * wait for that one; `settled` means it was paid before and the same payment is the answer.
   */
  pay(
    userId: number,
    reservationId: number,
    now: number,
  ): Outcome<{ key: string; state: "started" | "inFlight" | "settled" }> {
    const r = this.reservationsById.get(reservationId);
    if (!r || r.userId !== userId) return refuse("not_found_reservation");
    if (r.status === "PAID") return { ok: true, value: { key: r.key, state: "settled" }, ops: [] };
    if (r.status === "PAYING") return { ok: true, value: { key: r.key, state: "inFlight" }, ops: [] };
    if (r.status !== "PENDING" || r.expiresAt <= now) return refuse("reservation_expired");
    r.status = "PAYING";
    const { concertId } = this.sale;
    const op: EventOp = { type: "paid", reservationId, userId, concertId, amount: r.totalAmount, seatIds: r.seatIds, paidAt: now };
    return { ok: true, value: { key: r.key, state: "started" }, ops: [op] };
  }

  /** Gives back a seat the user holds, before its hold lapses. */
  release(userId: number, seatId: number): Outcome<{ seatId: number }> {
    const seat = this.seats.get(seatId);
    if (!seat || seat.status !== "HELD" || seat.userId !== userId) return refuse("seat_not_held");
    this.free(seat);
    return { ok: true, value: { seatId }, ops: [{ type: "released", seatId, userId, reason: "released" }] };
  }

  /** Cancels an unpaid reservation, or refunds a paid one while the event is far enough away. */
  cancel(userId: number, reservationId: number, now: number): Outcome<{ key: string }> {
    const r = this.reservationsById.get(reservationId);
    if (!r || r.userId !== userId) return refuse("not_found_reservation");
    if (r.status === "EXPIRED" || r.status === "CANCELLED" || r.status === "REFUNDED") return { ok: true, value: { key: r.key }, ops: [] };
    if (r.status === "PAID") return this.refund(r, now);
    // One being paid right now cannot be pulled from under its payment.
    if (r.status !== "PENDING") return refuse("invalid_request");
    return { ok: true, value: { key: r.key }, ops: [this.end(r, "CANCELLED")] };
  }

  private refund(r: Reservation, now: number): Outcome<{ key: string }> {
    if (this.sale.startsAt - now <= this.rules.refundCutoffMs) return refuse("refund_period_over");
    r.status = "REFUNDED";
    for (const id of r.seatIds) this.makeAvailable(this.seats.get(id)!);
    const { id: reservationId, userId, seatIds, payment } = r;
    return {
      ok: true,
      value: { key: r.key },
      ops: [{ type: "refunded", reservationId: reservationId!, paymentId: payment!.id, userId, amount: payment!.amount, seatIds, at: now }],
    };
  }

  /** Releases every hold and unpaid reservation whose time has come. */
  expire(now: number): EventOp[] {
    const ops: EventOp[] = [];
    for (let due = this.deadlines.peek(this.isLive); due && due.at <= now; due = this.deadlines.peek(this.isLive)) {
      this.deadlines.pop();
      if ("reservationKey" in due.subject) {
        ops.push(this.end(this.reservationsByKey.get(due.subject.reservationKey)!, "EXPIRED"));
        continue;
      }
      const seat = this.seats.get(due.subject.seatId)!;
      ops.push({ type: "released", seatId: seat.id, userId: seat.userId!, reason: "expired" });
      this.free(seat);
    }
    return ops;
  }

  // ---- results of a commit --------------------------------------------------------------------------------------

  /** Applies what the database answered for each op of a committed batch. */
  settle(ops: EventOp[], results: OpResult[]): void {
    ops.forEach((op, index) => {
      const result = results[index];
      if (op.type === "reserved" && result && "reservationId" in result) {
        const r = this.reservationsByKey.get(op.key)!;
        r.id = result.reservationId;
        this.reservationsById.set(r.id, r);
        // Its deadline counts only from here: expiring it needs the id the database just gave it.
        if (r.status === "PENDING") this.deadlines.push(r.expiresAt, { reservationKey: r.key });
      }
      if (op.type === "paid") this.settlePayment(op, result ?? null);
    });
  }

  private settlePayment(op: Extract<EventOp, { type: "paid" }>, result: OpResult): void {
    const r = this.reservationsById.get(op.reservationId)!;
    if (!result || !("paymentId" in result)) {
      r.status = "PENDING";
      return;
    }
    r.status = "PAID";
    r.payment = { id: result.paymentId, amount: op.amount, paidAt: op.paidAt };
    for (const id of r.seatIds) this.seats.get(id)!.status = "SOLD";
    this.countLive(r.userId, -r.seatIds.length);
  }

  // ---- helpers --------------------------------------------------------------------------------------------------

  private countLive(userId: number, delta: number): void {
    const count = (this.liveSeats.get(userId) ?? 0) + delta;
    if (count > 0) this.liveSeats.set(userId, count);
    else this.liveSeats.delete(userId);
  }

  private track(reservation: Reservation): void {
    this.reservationsByKey.set(reservation.key, reservation);
    if (reservation.id !== undefined) this.reservationsById.set(reservation.id, reservation);
  }

  private end(r: Reservation, status: "EXPIRED" | "CANCELLED"): EventOp {
    r.status = status;
    for (const id of r.seatIds) this.free(this.seats.get(id)!);
    return { type: "reservationEnded", reservationId: r.id!, userId: r.userId, seatIds: r.seatIds, status };
  }

  /** A held or reserved seat goes back on sale: its user holds one seat less. */
  private free(seat: Seat): void {
    this.countLive(seat.userId!, -1);
    this.makeAvailable(seat);
  }

  private makeAvailable(seat: Seat): void {
    seat.status = "AVAILABLE";
    seat.userId = undefined;
    seat.holdExpiresAt = undefined;
    seat.reservationKey = undefined;
  }
}

function seatView(seat: Seat): SeatView {
  return { id: seat.id, seatNumber: seat.seatNumber, price: seat.price };
}
