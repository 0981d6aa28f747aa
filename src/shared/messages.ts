// Every NATS message, described once as a TypeBox schema: the requests the actors serve and their replies' data, the
// domain events (rsv.evt.>), and the feed that keeps every instance's copy of the queues. The TypeScript types are
// these schemas' `Static`; the NATS boundary validates payloads with their compiled checkers (nats-service.ts); and
// each endpoint's request and response schema travels in its NATS service metadata, so `nats micro info <service>`
// documents the bus. The HTTP edge has its own schemas (src/http/schemas.ts): its contract is API.md, not this.
import Type, { type Static, type TSchema } from "typebox";
import { Compile, type Validator } from "typebox/compile";
import { QUEUE_TOKEN_FORMAT } from "./queue-tokens";

/** A field whose malformed value is refused with this catalog code rather than `invalid_request` (nats-service.ts). */
export const ERROR_CODE_KEYWORD = "errorCode";

/** Messages are closed: a field nobody reads is a sender's mistake, and an event must not leak what it should not carry. */
const Message = <P extends Record<string, TSchema>>(properties: P, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description && { description }) });

const Id = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const QueueId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "0: the global queue; otherwise a concert's id" });
const Count = Type.Integer({ minimum: 0 });
const Money = Type.Integer({ minimum: 0, description: "won" });
const EpochMs = Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description: "epoch milliseconds" });
const Time = Type.String({ format: "date-time" });
const Text = Type.String({ minLength: 1, maxLength: 200 });
const Ids = Type.Array(Id, { minItems: 1 });
/** Tokens are secrets: what leaves the queue actor names a token by this fingerprint of it. */
const Fingerprint = Type.String({ pattern: "^[A-Za-z0-9_-]{16}$", description: "a token's fingerprint (tokens are secrets): 12 bytes of its SHA-256" });
const QueueState = Type.Union([Type.Literal("WAITING"), Type.Literal("ACTIVE")]);

const QueueToken = Type.String({ pattern: QUEUE_TOKEN_FORMAT.source, [ERROR_CODE_KEYWORD]: "invalid_token" });

export const MAX_CHARGE = 100_000_000;
export const MAX_SEATS_PER_EVENT = 100_000;

// ---- requests -------------------------------------------------------------------------------------------------

export const NoPayload = Message({}, "no fields (an empty payload is read as {})");
export const UserRequest = Message({ userId: Id });
export const ChargeRequest = Message({
  userId: Id,
  amount: Type.Integer({ minimum: 1, maximum: MAX_CHARGE, [ERROR_CODE_KEYWORD]: "invalid_amount" }),
});
export const QueueTokenRequest = Message({ userId: Id, token: QueueToken });
/** An operator's edit as the admin edge sends it: times as epoch milliseconds, `closesAt: null` for an open-ended sale. */
export const ConcertEdit = Message({
  title: Type.Optional(Text),
  venue: Type.Optional(Text),
  opensAt: Type.Optional(EpochMs),
  closesAt: Type.Optional(Type.Union([EpochMs, Type.Null()])),
});
export const ConcertRequest = Message({ concertId: Id });
export const EventSalesRequest = Message({ concertEventId: Id });
/** The operator's body; times are ISO-8601 with a zone, and must also parse (catalog-admin.ts). */
export const NewConcert = Message({
  title: Text,
  venue: Text,
  saleOpensAt: Time,
  saleClosesAt: Type.Optional(Type.Union([Time, Type.Null()])),
});
export const Section = Message({
  name: Type.String({ pattern: "^[\\p{L}\\p{N}_-]{1,20}$", description: "letters of any script, digits, _ and -" }),
  price: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
  seats: Type.Integer({ minimum: 1, maximum: MAX_SEATS_PER_EVENT }),
});
/** Names unique and at most MAX_SEATS_PER_EVENT seats in all are checked by the catalog, which a schema cannot say. */
export const NewEvent = Message({ concertId: Id, startsAt: Time, sections: Type.Array(Section, { minItems: 1, maxItems: 50 }) });
/** 'event:<id>', 'queue' (the global queue) or 'queue:<concertId>', ids written as the subjects write them. */
export const EntityRequest = Message({ entity: Type.String({ pattern: "^(?:event:[1-9][0-9]{0,15}|queue(?::[1-9][0-9]{0,15})?)$" }) });

/** Seat commands say which queue admitted the caller: a concert's queue admits to that concert's events only. */
export const SeatRequest = Message({ userId: Id, admittedTo: QueueId, seatId: Id });
export const ReserveRequest = Message({ userId: Id, admittedTo: QueueId, seatIds: Ids });
export const ReservationRequest = Message({ userId: Id, reservationId: Id });

// ---- replies' data --------------------------------------------------------------------------------------------

export const Balance = Message({ balance: Count });

export const QueueStatus = Message({
  queuePosition: Count,
  estimatedWaitingTime: Type.Integer({ minimum: 0, description: "seconds" }),
  status: QueueState,
  expiresAt: Type.Optional(Time),
  /** While the user waits in a concert's pre-queue: when the sale opens and the pre-queue is drawn. */
  opensAt: Type.Optional(Time),
});
export const QueueTicket = Message({ token: Type.String(), ...QueueStatus.properties });
export const QueueLeft = Message({ status: Type.Literal("EXPIRED") });

export const Concert = Message({
  id: Id,
  title: Type.String(),
  venue: Type.String(),
  saleOpensAt: Time,
  saleClosesAt: Type.Union([Time, Type.Null()], { description: "null: the sale stays open" }),
});
export const ConcertEventSummary = Message({ id: Id, concertId: Id, startsAt: Time, totalSeats: Count, availableSeats: Count });
export const NewConcertEvent = Message({ id: Id, concertId: Id, startsAt: Time, totalSeats: Count });
/** An event as its operator set it up: its sections in the order given, each with its seat count. */
export const EventOutline = Message({ id: Id, concertId: Id, startsAt: Time, totalSeats: Count, sections: Type.Array(Section) });
/** An operator's view of one event's sale. `revenue`: payments not refunded. */
export const EventSales = Message({
  concertEventId: Id,
  totalSeats: Count,
  available: Count,
  held: Count,
  reserved: Count,
  sold: Count,
  revenue: Money,
});
export const QueueReport = Message({ concertId: Id, opensAt: Time, waiting: Count, active: Count, admittedTotal: Count });
/** What `bun run monitor --summary` shows: seats by state per event, and the queue. */
export const SaleSummary = Message({
  events: Type.Array(Message({ eventId: Id, available: Count, held: Count, reserved: Count, sold: Count })),
  queue: Message({ waiting: Count, active: Count }),
});

export const SeatView = Message({ id: Id, seatNumber: Type.String(), price: Money });
export const HoldView = Message({ ...SeatView.properties, expirationTime: Time });
export const ReleasedSeatView = Message({ id: Id, seatNumber: Type.String(), status: Type.Literal("AVAILABLE") });
export const ReservationView = Message({
  id: Id,
  concertEventId: Id,
  totalSeats: Count,
  totalAmount: Money,
  createdAt: Time,
  status: Type.Union([Type.Literal("PENDING"), Type.Literal("PAID"), Type.Literal("EXPIRED"), Type.Literal("CANCELLED"), Type.Literal("REFUNDED")]),
  expiresAt: Time,
  seatIds: Type.Array(Id),
});
export const PaymentView = Message({
  id: Id,
  reservationId: Id,
  amount: Money,
  status: Type.Union([Type.Literal("success"), Type.Literal("refunded")]),
  paidAt: Time,
});

// ---- the queues' read-model feed ------------------------------------------------------------------------------

/** The opening's seed: 32 random bytes in base64url, from which the pre-queue's drawn order follows (draw-order.ts). */
const DrawSeed = Type.String({ pattern: "^[A-Za-z0-9_-]{43}$" });
/** A concert's sale as its queue knows it: the window, and when the pre-queue was drawn (once, at the opening) from which seed. */
export const QueueSale = Message({
  opensAt: EpochMs,
  closesAt: Type.Optional(EpochMs),
  openedAt: Type.Optional(EpochMs),
  seed: Type.Optional(DrawSeed),
});
/** A committed change, as the queue's owner publishes it: tokens named by fingerprint. */
export const ViewChange = Type.Union([
  Message({ type: Type.Literal("issued"), fp: Fingerprint, userId: Id, seq: Count, status: QueueState, issuedAt: EpochMs, expiresAt: Type.Optional(EpochMs) }),
  Message({ type: Type.Literal("activated"), fp: Fingerprint, at: EpochMs, expiresAt: EpochMs }),
  Message({ type: Type.Literal("expired"), fp: Fingerprint }),
  Message({ type: Type.Literal("drawn"), at: EpochMs, seed: DrawSeed }),
  Message({ type: Type.Literal("window"), opensAt: EpochMs, closesAt: Type.Optional(EpochMs) }),
]);
/** Tokens of a view, a column per field (a stadium's line is megabytes, so it travels in pages of these). */
export const ViewTokens = Message({
  fps: Type.String({ pattern: "^(?:[A-Za-z0-9_-]{16})*$", description: "the fingerprints, 16 characters each, one after another" }),
  users: Type.Array(Id),
  seqs: Type.Array(Count),
  kinds: Type.String({ pattern: "^[PDLA]*$", description: "P: waiting for the draw, D: drawn, L: in line by arrival, A: admitted" }),
  places: Type.Array(Count, { description: "the drawn place of D, else 0" }),
  expires: Type.Array(EpochMs, { description: "when the turn of A ends, else 0" }),
});
/** Everything a view is made of (its first page of tokens; the rest follow as ViewTokens). */
export const ViewState = Message({
  sale: Type.Optional(QueueSale),
  admissions: Message({ times: Type.Array(EpochMs), first: Type.Optional(EpochMs) }),
  tokens: ViewTokens,
});
/** What an owner publishes on `rsv.view.queue.<queueId>` after each commit of a queue. */
export const QueueViewChanges = Message({ queueId: QueueId, incarnation: Type.String(), version: Count, changes: Type.Array(ViewChange) });
/** Every 50 ms, per owner and kind (`rsv.view.heartbeat.queue`, `.event`): each model's id, incarnation and committed version. */
export const ViewHeartbeat = Message({ views: Type.Array(Type.Tuple([QueueId, Type.String(), Count])) });
/**
 * A page of an owner's committed view (`rsv.queue.<id>.view`, `rsv.event.<id>.map`): page 0 starts a copy; later pages
 * name the version they belong to, and are refused (service_unavailable) once the owner no longer keeps its pages.
 */
export const ViewPageRequest = Message({
  page: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  incarnation: Type.Optional(Type.String()),
  version: Type.Optional(Count),
});
/** The owner's answer to page 0 of `rsv.queue.<id>.view`: the view at one version, and how many pages it has. */
export const QueueViewSnapshot = Message({ incarnation: Type.String(), version: Count, pages: Type.Integer({ minimum: 1 }), state: ViewState });

// ---- the seat maps' feed --------------------------------------------------------------------------------------

/** Who may see an event's seats, and when: the concert whose queue admits to it, and its sale window. */
export const SaleWindow = Message({ concertId: Id, opensAt: EpochMs, closesAt: Type.Optional(EpochMs) });
const SectionName = Type.String({ pattern: "^[\\p{L}\\p{N}_-]{1,20}$", description: "letters of any script, digits, _ and -" });
export const SectionInfo = Message({ name: SectionName, price: Money });
/** Seats of a seat map, a column per field, ascending by id (a 100,000-seat hall travels in pages of these). */
export const SeatMapSeats = Message({
  ids: Type.Array(Id),
  numbers: Type.Array(Type.String()),
  prices: Type.Array(Money),
  sections: Type.Array(Type.Integer({ minimum: 0, maximum: 49 }), { description: "the index of each seat's section" }),
  available: Type.String({ pattern: "^[01]*$", description: "1 for a seat on sale, one character a seat" }),
});
/** Everything a seat map is made of (its first page of seats; the rest follow as SeatMapSeats). */
export const SeatMapState = Message({ sale: SaleWindow, sections: Type.Array(SectionInfo, { minItems: 1, maxItems: 50 }), seats: SeatMapSeats });
/** What a commit changed: seats that went off sale and seats back on it (disjoint), or a new sale window. */
export const SeatMapChange = Type.Union([
  Message({ type: Type.Literal("seats"), taken: Type.Array(Id), freed: Type.Array(Id) }),
  Message({ type: Type.Literal("window"), opensAt: EpochMs, closesAt: Type.Optional(EpochMs) }),
]);
/** What an event's owner publishes on `rsv.view.event.<eventId>` after each commit that moved a seat on or off sale. */
export const SeatMapChanges = Message({ eventId: Id, incarnation: Type.String(), version: Count, changes: Type.Array(SeatMapChange) });
/** The owner's answer to page 0 of `rsv.event.<id>.map`. */
export const SeatMapSnapshot = Message({ incarnation: Type.String(), version: Count, pages: Type.Integer({ minimum: 1 }), state: SeatMapState });
/** A section as buyers see it: its price, its seats, and how many are on sale now. */
export const SectionView = Message({ name: SectionName, price: Money, seats: Count, available: Count });

// ---- domain events --------------------------------------------------------------------------------------------

const SeatsOfReservation = { eventId: Id, reservationId: Id, userId: Id, seatIds: Ids };
export const SeatHeld = Message({ eventId: Id, seatIds: Ids, userId: Id, expiresAt: Time });
export const SeatReleased = Message({
  eventId: Id,
  seatIds: Ids,
  userId: Id,
  reservationId: Type.Optional(Id),
  reason: Type.Union([
    Type.Literal("expired"),
    Type.Literal("released"),
    Type.Literal("reservation_expired"),
    Type.Literal("reservation_cancelled"),
    Type.Literal("reservation_refunded"),
  ]),
});
export const ReservationSeats = Message(SeatsOfReservation);
export const ReservationCreated = Message({ ...SeatsOfReservation, totalAmount: Money, expiresAt: Time });
export const PaymentCompleted = Message({ ...SeatsOfReservation, concertId: Id, paymentId: Id, amount: Money });
export const PaymentRefunded = Message({ ...SeatsOfReservation, paymentId: Id, amount: Money });
export const TokenIssued = Message({ queueId: QueueId, tokenId: Fingerprint, userId: Id, seq: Count, status: QueueState });
export const TokenActivated = Message({ queueId: QueueId, tokenId: Fingerprint, userId: Id, expiresAt: Time });
export const TokenExpired = Message({
  queueId: QueueId,
  tokenId: Fingerprint,
  userId: Id,
  reason: Type.Union([Type.Literal("ttl"), Type.Literal("left"), Type.Literal("paid")]),
});
export const QueueOpened = Message({ queueId: Id, openedAt: Time, drawn: Count });
/** The window as it now is, and the title or venue if they changed. */
export const ConcertUpdated = Message({
  concertId: Id,
  title: Type.Optional(Type.String()),
  venue: Type.Optional(Type.String()),
  saleOpensAt: Time,
  saleClosesAt: Type.Union([Time, Type.Null()]),
});
export const WalletCharged = Message({ userId: Id, amount: Money, balance: Money });
export const OwnershipChanged = Message({
  entity: Type.String(),
  instance: Type.String(),
  epoch: Id,
  to: Type.Optional(Type.String({ description: "the instance it was handed to" })),
});

/** Which schema each domain event's subject carries, by the subject's NATS wildcard pattern. */
export const DOMAIN_EVENTS: readonly (readonly [pattern: string, schema: TSchema])[] = [
  ["rsv.evt.event.*.seat.held", SeatHeld],
  ["rsv.evt.event.*.seat.released", SeatReleased],
  ["rsv.evt.event.*.seat.reserved", ReservationSeats],
  ["rsv.evt.event.*.seat.sold", ReservationSeats],
  ["rsv.evt.event.*.reservation.created", ReservationCreated],
  ["rsv.evt.event.*.reservation.expired", ReservationSeats],
  ["rsv.evt.event.*.reservation.cancelled", ReservationSeats],
  ["rsv.evt.event.*.reservation.refunded", ReservationSeats],
  ["rsv.evt.event.*.payment.completed", PaymentCompleted],
  ["rsv.evt.event.*.payment.refunded", PaymentRefunded],
  ["rsv.evt.queue.*.token.issued", TokenIssued],
  ["rsv.evt.queue.*.token.activated", TokenActivated],
  ["rsv.evt.queue.*.token.expired", TokenExpired],
  ["rsv.evt.queue.*.opened", QueueOpened],
  ["rsv.evt.concert.*.updated", ConcertUpdated],
  ["rsv.evt.wallet.charged", WalletCharged],
  ["rsv.evt.ownership.acquired", OwnershipChanged],
  ["rsv.evt.ownership.released", OwnershipChanged],
  ["rsv.evt.ownership.lost", OwnershipChanged],
];

// ---- the service API: each endpoint's request and reply --------------------------------------------------------

export interface Exchange<Request extends TSchema = TSchema, Response extends TSchema = TSchema> {
  request: Request;
  response: Response;
}
const exchange = <Request extends TSchema, Response extends TSchema>(request: Request, response: Response): Exchange<Request, Response> => ({
  request,
  response,
});

/** Every endpoint of every NATS service, by service and endpoint name; the subjects are in subjects.ts. */
export const Api = {
  "concert-event": {
    occupy: exchange(SeatRequest, HoldView),
    reserve: exchange(ReserveRequest, ReservationView),
    release: exchange(SeatRequest, ReleasedSeatView),
    pay: exchange(ReservationRequest, PaymentView),
    cancel: exchange(ReservationRequest, ReservationView),
    /** Answered once the event is loaded: an operator's new event is warmed before its 201. */
    warm: exchange(NoPayload, Type.Null()),
    /** A page of the committed seat map, for an instance building its copy (shared/replicas.ts). */
    map: exchange(ViewPageRequest, Type.Union([SeatMapSnapshot, SeatMapSeats])),
  },
  "queue-admission": {
    enter: exchange(UserRequest, QueueTicket),
    status: exchange(QueueTokenRequest, QueueStatus),
    leave: exchange(QueueTokenRequest, QueueLeft),
    update: exchange(ConcertEdit, Type.Null()),
    view: exchange(ViewPageRequest, Type.Union([QueueViewSnapshot, ViewTokens])),
  },
  wallet: {
    balance: exchange(UserRequest, Balance),
    charge: exchange(ChargeRequest, Balance),
  },
  payments: {
    pay: exchange(ReservationRequest, PaymentView),
    cancel: exchange(ReservationRequest, ReservationView),
    payments: exchange(UserRequest, Type.Array(PaymentView)),
    reservations: exchange(UserRequest, Type.Array(ReservationView)),
  },
  catalog: {
    concerts: exchange(NoPayload, Type.Array(Concert)),
    concert: exchange(ConcertRequest, Concert),
    events: exchange(ConcertRequest, Type.Array(ConcertEventSummary)),
    summary: exchange(NoPayload, SaleSummary),
  },
  "catalog-admin": {
    "create-concert": exchange(NewConcert, Concert),
    "create-event": exchange(NewEvent, NewConcertEvent),
    "event-sales": exchange(EventSalesRequest, EventSales),
    "queue-report": exchange(ConcertRequest, QueueReport),
    "event-list": exchange(ConcertRequest, Type.Array(EventOutline)),
  },
  ownership: {
    claim: exchange(EntityRequest, Type.Null()),
  },
} as const satisfies Record<string, Record<string, Exchange>>;

/** How every reply travels (codec.ts): the data, or a refusal with a code of the error catalog (API.md). */
export const ReplyOf = <Data extends TSchema>(data: Data) =>
  Type.Union([Message({ ok: Type.Literal(true), data }), Message({ ok: Type.Literal(false), code: Type.String({ description: "a catalog code" }) })]);

const checkers = new WeakMap<TSchema, Validator>();

/** The schema's compiled checker, made once per schema: compiling generates code, checking is then a function call. */
export function checkerOf<T extends TSchema>(schema: T): Validator<{}, T> {
  let checker = checkers.get(schema);
  if (!checker) checkers.set(schema, (checker = Compile(schema)));
  return checker as Validator<{}, T>;
}

export type ConcertEdit = Static<typeof ConcertEdit>;
export type NewConcert = Static<typeof NewConcert>;
export type Section = Static<typeof Section>;
export type ReservationRequest = Static<typeof ReservationRequest>;
export type Balance = Static<typeof Balance>;
export type QueueStatus = Static<typeof QueueStatus>;
export type QueueTicket = Static<typeof QueueTicket>;
export type Concert = Static<typeof Concert>;
export type ConcertEventSummary = Static<typeof ConcertEventSummary>;
export type NewConcertEvent = Static<typeof NewConcertEvent>;
export type EventOutline = Static<typeof EventOutline>;
export type EventSales = Static<typeof EventSales>;
export type QueueReport = Static<typeof QueueReport>;
export type SaleSummary = Static<typeof SaleSummary>;
export type SeatView = Static<typeof SeatView>;
export type HoldView = Static<typeof HoldView>;
export type ReleasedSeatView = Static<typeof ReleasedSeatView>;
export type ReservationView = Static<typeof ReservationView>;
export type PaymentView = Static<typeof PaymentView>;
export type QueueSale = Static<typeof QueueSale>;
export type ViewTokens = Static<typeof ViewTokens>;
export type ViewPageRequest = Static<typeof ViewPageRequest>;
export type SaleWindow = Static<typeof SaleWindow>;
export type SeatMapSeats = Static<typeof SeatMapSeats>;
export type SeatMapState = Static<typeof SeatMapState>;
export type SeatMapChange = Static<typeof SeatMapChange>;
export type SeatMapChanges = Static<typeof SeatMapChanges>;
export type SeatMapSnapshot = Static<typeof SeatMapSnapshot>;
export type SectionView = Static<typeof SectionView>;
export type ViewChange = Static<typeof ViewChange>;
export type ViewState = Static<typeof ViewState>;
export type QueueViewChanges = Static<typeof QueueViewChanges>;
export type ViewHeartbeat = Static<typeof ViewHeartbeat>;
export type QueueViewSnapshot = Static<typeof QueueViewSnapshot>;
export type SeatHeld = Static<typeof SeatHeld>;
export type SeatReleased = Static<typeof SeatReleased>;
export type ReservationSeats = Static<typeof ReservationSeats>;
export type ReservationCreated = Static<typeof ReservationCreated>;
export type PaymentCompleted = Static<typeof PaymentCompleted>;
export type PaymentRefunded = Static<typeof PaymentRefunded>;
export type TokenIssued = Static<typeof TokenIssued>;
export type TokenActivated = Static<typeof TokenActivated>;
export type TokenExpired = Static<typeof TokenExpired>;
export type QueueOpened = Static<typeof QueueOpened>;
export type ConcertUpdated = Static<typeof ConcertUpdated>;
export type WalletCharged = Static<typeof WalletCharged>;
export type OwnershipChanged = Static<typeof OwnershipChanged>;
