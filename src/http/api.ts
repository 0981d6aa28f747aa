// What every /api/v1 route module shares: who is calling (the bearer token, checked first so an anonymous caller
// learns nothing else), the NATS request helper, and the parsing of path ids and queue tokens.
import { Elysia } from "elysia";
import type { Bus } from "../shared/bus";
import type { Config } from "../shared/config";
import { BoundedMap } from "../shared/bounded";
import { AppError } from "../shared/errors";
import { eventSubject } from "../shared/subjects";
import { QUEUE_TOKEN_FORMAT } from "../shared/queue-tokens";
import type { QueueStatus, SectionView } from "../shared/messages";
import type { BearerVerifier } from "./auth";
import { RateLimiter } from "./rate-limit";

export interface QueueGate {
  /**
   * Resolves to the queue that admitted the caller (0: the global one, otherwise the concert's); throws AppError
   * invalid_token, queue_token_not_active or service_unavailable.
   */
  requireActive(token: string | undefined, userId: number): Promise<number>;
}

/** The queue's read side on this instance: answered from its copies of the queues, not by the queue actors. */
export interface QueueReads {
  /** Throws AppError invalid_token, not_found_in_queue, or service_unavailable while no trustworthy copy is held. */
  status(token: string, userId: number): Promise<QueueStatus>;
  /**
   * The same answer when the copy in memory gives it at once (the token is the caller's and in a whole, fresh copy);
   * undefined whenever `status` would wait or refuse.
   */
  statusNow(token: string, userId: number): QueueStatus | undefined;
  /** A Server-Sent Events response for the token, or the same errors. */
  stream(token: string): Promise<Response>;
}

/**
 * The events' seat maps as this instance's copies have them: never a request to an event's actor. Each throws AppError
 * not_found_concert_event, service_unavailable while no trustworthy copy is held, or the sale gate's invalid_token,
 * sale_not_open and sale_closed for a caller admitted by `admittedTo`.
 */
export interface SeatMapReads {
  sections(eventId: number, admittedTo: number): Promise<SectionView[]>;
  /** The body of `{"list": [...]}` (the seats on sale, in `section` or all); an unknown section is invalid_request. */
  availableList(eventId: number, admittedTo: number, section?: string): Promise<string>;
  /** The live seat map as Server-Sent Events for a queue token alone, or the errors above and the token's. */
  stream(eventId: number, token: string): Promise<Response>;
}

/** Serves the pages (src/pages): the page or asset at a path, or undefined when the path is none of theirs. */
export type PageServer = (request: Request, pathname: string) => Response | Promise<Response> | undefined;

export interface HttpDeps {
  config: Config;
  bus: Bus;
  queueGate: QueueGate;
  queues: QueueReads;
  seatMaps: SeatMapReads;
  ready(): Promise<boolean>;
  /** The fans' and operators' pages; without it (a benchmark's bare server) only the API is served. */
  pages?: PageServer;
}

/** Built once per app and handed to every route module. */
export interface Api {
  deps: HttpDeps;
  verifyBearer: BearerVerifier;
  /** Sends a request to the actors over NATS, carrying the HTTP request's id; `timeoutMs` overrides REQUEST_TIMEOUT_MS. */
  ask<T>(request: Request, subject: string, payload: unknown, timeoutMs?: number): Promise<T>;
  limits: { queueEntries: RateLimiter; occupations: RateLimiter };
  /** Which event each reservation made through this instance belongs to (see ReservationEvents). */
  reservations: ReservationEvents;
}

/** Reservations remembered at most; a payment of one forgotten takes the longer way. */
const RESERVATIONS_REMEMBERED = 200_000;

/**
 * The event of each reservation this instance relayed. A payment (or a cancellation) of one of them goes straight to
 * its event's actor; any other goes through the payments service, which looks the event up in the database: one
 * NATS hop and one query less for nearly every checkout, since buyers pay on the instance they reserved on. A
 * reservation never moves to another event, so nothing here can go stale.
 */
export class ReservationEvents {
  private readonly events = new BoundedMap<number, number>(RESERVATIONS_REMEMBERED);

  remember(reservationId: number, eventId: number): void {
    this.events.set(reservationId, eventId);
  }

  /** The subject to send a payment or cancellation to: the event actor's when known. */
  subject(reservationId: number, command: "pay" | "cancel", viaPayments: string): string {
    const eventId = this.events.get(reservationId);
    return eventId === undefined ? viaPayments : eventSubject(eventId, command);
  }
}

const requestIds = new WeakMap<Request, string>();

/**
 * Ids this instance makes: a random prefix per process and a counter, unique across instances and restarts without
 * a random UUID per request.
 */
const ID_PREFIX = `${crypto.randomUUID().slice(0, 8)}-`;
let idsMade = 0;

function newRequestId(request: Request): string {
  const given = request.headers.get("x-request-id");
  return given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : ID_PREFIX + (++idsMade).toString(36);
}

/** The request's id: the client's `X-Request-Id` when it is sane, otherwise a new one; the same for every caller. */
export function requestIdOf(request: Request): string {
  let id = requestIds.get(request);
  if (!id) requestIds.set(request, (id = newRequestId(request)));
  return id;
}

/**
 * The id to stamp on a response: the one handed out while serving the request, if any part asked for it; otherwise
 * one made now and not remembered, since nothing else will ask (a status poll never reaches NATS or a log line).
 */
export function responseRequestIdOf(request: Request): string {
  return requestIds.get(request) ?? newRequestId(request);
}

/** The path of a request's URL without parsing all of it: `new URL` was 1.5 % of the CPU under a load of status polls. */
export function pathnameOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/** A path id: digits only, positive, at most 2^53−1. */
export function idFrom(value: string): number {
  const id = /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id)) throw new AppError("invalid_request");
  return id;
}

/** The queue token travels in the User-Token header, documented as the `userToken` security scheme. */
export const userTokenOf = (request: Request) => request.headers.get("user-token") ?? undefined;

export function queueToken(token: string | undefined): string {
  if (!token || !QUEUE_TOKEN_FORMAT.test(token)) throw new AppError("invalid_token");
  return token;
}

export function withinBudget(limiter: RateLimiter, userId: number): void {
  if (!limiter.take(userId)) throw new AppError("too_many_requests");
}

/** The routes of one feature under /api/v1, each knowing its caller's user id from the bearer token. */
export function userApi(api: Api) {
  return new Elysia({ prefix: "/api/v1" }).derive({ as: "local" }, async ({ headers }) => {
    const { userId } = await api.verifyBearer(headers.authorization);
    return {
      userId,
      /** Refuses a path {userId} that is not the caller. */
      self(pathUserId: string): number {
        const id = idFrom(pathUserId);
        if (id !== userId) throw new AppError("forbidden");
        return id;
      },
      admitted: (token: string | undefined) => api.deps.queueGate.requireActive(token, userId),
    };
  });
}

/** The operators' routes under /api/v1/admin: a valid token without `role: "admin"` is 403 forbidden. */
export function adminApi(api: Api) {
  return new Elysia({ prefix: "/api/v1/admin" }).derive({ as: "local" }, async ({ headers }) => {
    const caller = await api.verifyBearer(headers.authorization);
    if (!caller.admin) throw new AppError("forbidden");
    return { operatorId: caller.userId };
  });
}
