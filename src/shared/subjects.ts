// The NATS subject scheme: requests the HTTP side sends to the actors, and the domain events the actors publish.
// Payload and reply shapes are the contract between the two sides; the README documents the same table.

export const Requests = {
  walletBalance: "rsv.wallet.balance",
  walletCharge: "rsv.wallet.charge",
  queueEnter: "rsv.queue.enter",
  queueStatus: "rsv.queue.status",
  queueLeave: "rsv.queue.leave",
  queueSnapshot: "rsv.queue.snapshot",
  concerts: "rsv.catalog.concerts",
  concertEvents: "rsv.catalog.events",
  saleSummary: "rsv.catalog.summary",
  pay: "rsv.payment.pay",
  payments: "rsv.payment.list",
  reservations: "rsv.reservation.list",
  cancelReservation: "rsv.reservation.cancel",
  /** Sent when nobody serves an entity's subject: get it an owner (or learn that it does not exist). */
  claimOwner: "rsv.ownership.claim",
} as const;

/** Commands for one concert event actor: `rsv.event.<eventId>.<command>`. */
export type EventCommandName = "seats" | "occupy" | "reserve" | "pay" | "cancel";

export function eventSubject(eventId: number, command: EventCommandName): string {
  return `rsv.event.${eventId}.${command}`;
}

/** Domain events, published after the change they describe has committed. */
export const Events = {
  seat: (eventId: number, what: "held" | "released" | "reserved" | "sold") => `rsv.evt.event.${eventId}.seat.${what}`,
  reservation: (eventId: number, what: "created" | "expired" | "cancelled") =>
    `rsv.evt.event.${eventId}.reservation.${what}`,
  paymentCompleted: (eventId: number) => `rsv.evt.event.${eventId}.payment.completed`,
  token: (what: "issued" | "activated" | "expired") => `rsv.evt.queue.token.${what}`,
  walletCharged: "rsv.evt.wallet.charged",
  ownership: (what: "acquired" | "released" | "lost") => `rsv.evt.ownership.${what}`,
  allPayments: "rsv.evt.event.*.payment.completed",
} as const;

// ---- payloads -------------------------------------------------------------------------------------------------

export interface UserRequest {
  userId: number;
}
export interface ChargeRequest extends UserRequest {
  amount: number;
}
export interface Balance {
  balance: number;
}

export type QueueStatusName = "WAITING" | "ACTIVE";
export interface QueueTicket {
  token: string;
  queuePosition: number;
  estimatedWaitingTime: number;
  status: QueueStatusName;
  expiresAt?: string;
}
export interface QueueTokenRequest extends UserRequest {
  token: string;
}
export type QueueStatus = Omit<QueueTicket, "token">;

export interface Concert {
  id: number;
  title: string;
  venue: string;
}
export interface ConcertEventSummary {
  id: number;
  concertId: number;
  startsAt: string;
  totalSeats: number;
  availableSeats: number;
}

/**
 * The catalog's name in the NATS service API. `bun run monitor --summary` reads the SaleSummary from
 * `$SRV.STATS.catalog`: the stats of the endpoint on Requests.saleSummary carry it as their data.
 */
export const CATALOG_SERVICE = "catalog";

/** What `bun run monitor --summary` shows: seats by state per event, and the queue. */
export interface SaleSummary {
  events: { eventId: number; available: number; held: number; reserved: number; sold: number }[];
  queue: { waiting: number; active: number };
}

export interface SeatView {
  id: number;
  seatNumber: string;
  price: number;
}
export interface HoldView extends SeatView {
  expirationTime: string;
}
export interface OccupyRequest extends UserRequest {
  seatId: number;
}
export interface ReserveRequest extends UserRequest {
  seatIds: number[];
}
export interface ReservationView {
  id: number;
  concertEventId: number;
  totalSeats: number;
  totalAmount: number;
  createdAt: string;
  status: "PENDING" | "PAID" | "EXPIRED" | "CANCELLED";
  expiresAt: string;
  seatIds: number[];
}
export interface ReservationRequest extends UserRequest {
  reservationId: number;
}
export interface PaymentView {
  id: number;
  reservationId: number;
  amount: number;
  status: "success";
  paidAt: string;
}
