// The NATS subject scheme: requests the HTTP side sends to the actors, and the domain events the actors publish.
// Payload and reply shapes are the contract between the two sides; the README documents the same table.

export const Requests = {
  walletBalance: "rsv.wallet.balance",
  walletCharge: "rsv.wallet.charge",
  concerts: "rsv.catalog.concerts",
  concert: "rsv.catalog.concert",
  concertEvents: "rsv.catalog.events",
  saleSummary: "rsv.catalog.summary",
  createConcert: "rsv.admin.concert.create",
  createEvent: "rsv.admin.event.create",
  eventSales: "rsv.admin.event.sales",
  queueReport: "rsv.admin.queue.report",
  pay: "rsv.payment.pay",
  payments: "rsv.payment.list",
  reservations: "rsv.reservation.list",
  cancelReservation: "rsv.reservation.cancel",
  /** Sent when nobody serves an entity's subject: get it an owner (or learn that it does not exist). */
  claimOwner: "rsv.ownership.claim",
} as const;

/** Commands for one concert event actor: `rsv.event.<eventId>.<command>`. */
export type EventCommandName = "seats" | "occupy" | "reserve" | "release" | "pay" | "cancel" | "warm";

export function eventSubject(eventId: number, command: EventCommandName): string {
  return `rsv.event.${eventId}.${command}`;
}

/** The global queue of v1; every other queue is a concert's own, numbered by the concert's id. */
export const GLOBAL_QUEUE = 0;

/**
 * Commands for one queue actor: `rsv.queue.<queueId>.<command>` (`update` edits a concert and its sale window; `view`
 * asks the owner for the queue's committed read model, to build or rebuild one).
 */
export type QueueCommandName = "enter" | "status" | "leave" | "update" | "view";

export function queueSubject(queueId: number, command: QueueCommandName): string {
  return `rsv.queue.${queueId}.${command}`;
}

/** A queue token as clients hand it back: 128 random bits in base64url, after `<concertId>.` for a concert's queue. */
export const QUEUE_TOKEN_FORMAT = /^(?:[1-9][0-9]{0,15}\.)?[A-Za-z0-9_-]{16,128}$/;

/** The queue a token belongs to: a concert's tokens start with the concert's id and a dot, the global queue's do not. */
export function queueOfToken(token: string): number {
  const match = /^([1-9][0-9]{0,15})\./.exec(token);
  return match ? Number(match[1]) : GLOBAL_QUEUE;
}

/**
 * The queues' read models: each queue's owner publishes what every commit changed (`changes`), and every 50 ms which
 * version of each queue it has committed (`heartbeat`), so every instance keeps an exact, fresh copy.
 */
export const QueueViews = {
  changes: (queueId: number) => `rsv.view.queue.${queueId}`,
  allChanges: "rsv.view.queue.*",
  heartbeat: "rsv.view.heartbeat",
} as const;

/** Domain events, published after the change they describe has committed. */
export const Events = {
  seat: (eventId: number, what: "held" | "released" | "reserved" | "sold") => `rsv.evt.event.${eventId}.seat.${what}`,
  reservation: (eventId: number, what: "created" | "expired" | "cancelled" | "refunded") =>
    `rsv.evt.event.${eventId}.reservation.${what}`,
  payment: (eventId: number, what: "completed" | "refunded") => `rsv.evt.event.${eventId}.payment.${what}`,
  token: (queueId: number, what: "issued" | "activated" | "expired") => `rsv.evt.queue.${queueId}.token.${what}`,
  queueOpened: (queueId: number) => `rsv.evt.queue.${queueId}.opened`,
  concertUpdated: (concertId: number) => `rsv.evt.concert.${concertId}.updated`,
  walletCharged: "rsv.evt.wallet.charged",
  ownership: (what: "acquired" | "released" | "lost") => `rsv.evt.ownership.${what}`,
  allPayments: "rsv.evt.event.*.payment.completed",
  allTokenExpiries: "rsv.evt.queue.*.token.expired",
  allConcertUpdates: "rsv.evt.concert.*.updated",
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
  /** While the user waits in a concert's pre-queue: when the sale opens and the pre-queue is drawn. */
  opensAt?: string;
}
export interface QueueTokenRequest extends UserRequest {
  token: string;
}
export type QueueStatus = Omit<QueueTicket, "token">;

export interface Concert {
  id: number;
  title: string;
  venue: string;
  saleOpensAt: string;
  /** null: the sale stays open. */
  saleClosesAt: string | null;
}
/** What `rsv.evt.concert.<id>.updated` carries: the window as it now is, and the title or venue if they changed. */
export interface ConcertUpdatedEvent {
  concertId: number;
  title?: string;
  venue?: string;
  saleOpensAt: string;
  saleClosesAt: string | null;
}
/** An operator's edit of a concert: any of its fields; the sale window goes through the concert's queue actor. */
export interface ConcertUpdate {
  title?: string;
  venue?: string;
  saleOpensAt?: string;
  saleClosesAt?: string | null;
}
export interface SectionSpec {
  name: string;
  price: number;
  seats: number;
}
export interface NewConcertEvent {
  id: number;
  concertId: number;
  startsAt: string;
  totalSeats: number;
}
/** An operator's view of one event's sale. `revenue`: payments not refunded. */
export interface EventSales {
  concertEventId: number;
  totalSeats: number;
  available: number;
  held: number;
  reserved: number;
  sold: number;
  revenue: number;
}
/** An operator's view of one concert's queue. */
export interface QueueReport {
  concertId: number;
  opensAt: string;
  waiting: number;
  active: number;
  admittedTotal: number;
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
export interface ReleasedSeatView {
  id: number;
  seatNumber: string;
  status: "AVAILABLE";
}
/** Seat commands say which queue admitted the caller: a concert's queue admits to that concert's events only. */
export interface AdmittedRequest extends UserRequest {
  admittedTo: number;
}
export interface OccupyRequest extends AdmittedRequest {
  seatId: number;
}
export interface ReserveRequest extends AdmittedRequest {
  seatIds: number[];
}
export interface ReservationView {
  id: number;
  concertEventId: number;
  totalSeats: number;
  totalAmount: number;
  createdAt: string;
  status: "PENDING" | "PAID" | "EXPIRED" | "CANCELLED" | "REFUNDED";
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
  status: "success" | "refunded";
  paidAt: string;
}
