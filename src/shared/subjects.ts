// The NATS subject scheme: requests the HTTP side sends to the actors, and the domain events the actors publish.
// What each subject carries is described in messages.ts; docs/architecture.md documents the same table.
import type * as M from "./messages";

/**
 * A subject whose messages carry `Body`: `message()` pairs a body with its subject, so the compiler checks every
 * published body against its schema's type.
 */
export type Topic<Body> = string & { readonly body?: Body };
const topic = <Body>(subject: string) => subject as Topic<Body>;

/** A message ready to publish, made by `message()` from a subject and a body of that subject's type. */
export interface Outgoing {
  readonly subject: Topic<unknown>;
  readonly body: unknown;
}
export const message = <Body>(subject: Topic<Body>, body: NoInfer<Body>): Outgoing => ({ subject, body });

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
  eventList: "rsv.admin.event.list",
  pay: "rsv.payment.pay",
  payments: "rsv.payment.list",
  reservations: "rsv.reservation.list",
  cancelReservation: "rsv.reservation.cancel",
  /** Sent when nobody serves an entity's subject: get it an owner (or learn that it does not exist). */
  claimOwner: "rsv.ownership.claim",
} as const;

/** Commands for one concert event actor: `rsv.event.<eventId>.<command>`. */
export type EventCommandName = "occupy" | "reserve" | "release" | "pay" | "cancel" | "warm" | "map";

export function eventSubject(eventId: number, command: EventCommandName): string {
  return `rsv.event.${eventId}.${command}`;
}


/**
 * Commands for one queue actor: `rsv.queue.<queueId>.<command>` (`update` edits a concert and its sale window; `view`
 * asks the owner for the queue's committed read model, to build or rebuild one).
 */
export type QueueCommandName = "enter" | "status" | "leave" | "update" | "view";

export function queueSubject(queueId: number, command: QueueCommandName): string {
  return `rsv.queue.${queueId}.${command}`;
}


/**
 * The queues' read models: each queue's owner publishes what every commit changed (`changes`), and every 50 ms which
 * version of each queue it has committed (`heartbeat`), so every instance keeps an exact, fresh copy.
 */
export const QueueViews = {
  changes: (queueId: number) => topic<M.QueueViewChanges>(`rsv.view.queue.${queueId}`),
  allChanges: topic<M.QueueViewChanges>("rsv.view.queue.*"),
  heartbeat: topic<M.ViewHeartbeat>("rsv.view.heartbeat.queue"),
} as const;

/** The events' seat maps, followed by every instance the same way (`rsv.event.<id>.map` answers a copy's pages). */
export const SeatMaps = {
  changes: (eventId: number) => topic<M.SeatMapChanges>(`rsv.view.event.${eventId}`),
  allChanges: topic<M.SeatMapChanges>("rsv.view.event.*"),
  heartbeat: topic<M.ViewHeartbeat>("rsv.view.heartbeat.event"),
} as const;

interface SeatEvents {
  held: M.SeatHeld;
  released: M.SeatReleased;
  reserved: M.ReservationSeats;
  sold: M.ReservationSeats;
}
interface ReservationEvents {
  created: M.ReservationCreated;
  expired: M.ReservationSeats;
  cancelled: M.ReservationSeats;
  refunded: M.ReservationSeats;
}
interface PaymentEvents {
  completed: M.PaymentCompleted;
  refunded: M.PaymentRefunded;
}
interface TokenEvents {
  issued: M.TokenIssued;
  activated: M.TokenActivated;
  expired: M.TokenExpired;
}

/** Domain events, published after the change they describe has committed; their schemas are messages.ts's DOMAIN_EVENTS. */
export const Events = {
  seat: <W extends keyof SeatEvents>(eventId: number, what: W) => topic<SeatEvents[W]>(`rsv.evt.event.${eventId}.seat.${what}`),
  reservation: <W extends keyof ReservationEvents>(eventId: number, what: W) =>
    topic<ReservationEvents[W]>(`rsv.evt.event.${eventId}.reservation.${what}`),
  payment: <W extends keyof PaymentEvents>(eventId: number, what: W) => topic<PaymentEvents[W]>(`rsv.evt.event.${eventId}.payment.${what}`),
  token: <W extends keyof TokenEvents>(queueId: number, what: W) => topic<TokenEvents[W]>(`rsv.evt.queue.${queueId}.token.${what}`),
  queueOpened: (queueId: number) => topic<M.QueueOpened>(`rsv.evt.queue.${queueId}.opened`),
  concertUpdated: (concertId: number) => topic<M.ConcertUpdated>(`rsv.evt.concert.${concertId}.updated`),
  walletCharged: topic<M.WalletCharged>("rsv.evt.wallet.charged"),
  ownership: (what: "acquired" | "released" | "lost") => topic<M.OwnershipChanged>(`rsv.evt.ownership.${what}`),
  allPayments: topic<M.PaymentCompleted>("rsv.evt.event.*.payment.completed"),
  allTokenExpiries: topic<M.TokenExpired>("rsv.evt.queue.*.token.expired"),
  allConcertUpdates: topic<M.ConcertUpdated>("rsv.evt.concert.*.updated"),
} as const;

/**
 * The catalog's name in the NATS service API. `bun run monitor --summary` reads the SaleSummary from
 * `$SRV.STATS.catalog`: the stats of the endpoint on Requests.saleSummary carry it as their data.
 */
export const CATALOG_SERVICE = "catalog";
