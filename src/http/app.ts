// The HTTP edge: schema-first routes for every endpoint of API.md. Handlers check who is calling, then send a request
// over NATS and wrap the reply; they never touch actor state or the database.
import { Elysia, t } from "elysia";
import { bearerVerifier } from "./auth";
import type { Bus } from "../shared/bus";
import type { Config } from "../shared/config";
import { AppError, CATALOG, errorBody, isErrorCode, RETRY_AFTER_SECONDS, type ErrorCode } from "../shared/errors";
import { log } from "../shared/log";
import { httpDuration, httpRequests, registry } from "../shared/metrics";
import { RateLimiter } from "./rate-limit";
import {
  eventSubject,
  Requests,
  type Balance,
  type Concert,
  type ConcertEventSummary,
  type HoldView,
  type PaymentView,
  type QueueStatus,
  type QueueTicket,
  type ReservationView,
  type SeatView,
} from "../shared/subjects";
import { BEARER, openApiDocument, QUEUE_TOKEN, swaggerUi, TAGS } from "./openapi";
import * as S from "./schemas";

export interface QueueGate {
  /** Throws AppError invalid_token, queue_token_not_active or service_unavailable. */
  requireActive(token: string | undefined, userId: number): Promise<void>;
}

export interface HttpDeps {
  config: Config;
  bus: Bus;
  queueGate: QueueGate;
  ready(): Promise<boolean>;
}

/** Bodies above this answer 413 payload_too_large from the catalog. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Deepest nesting a JSON body may have; ours have at most two levels. A deeper body is refused before validation:
 * the validator's error report pretty-prints the value, which takes time quadratic in its depth (a 50 KB body of
 * 10,000 nested objects held the event loop for 5 s).
 */
const MAX_JSON_DEPTH = 32;

function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

async function parseJsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) throw new AppError("invalid_request");
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("invalid_request");
  }
}
/** Bun's own cap, above ours so that ours (with its catalog body) answers first; Bun's guards chunked floods. */
export const SERVER_BODY_LIMIT = 1024 * 1024;

function errorResponse(code: ErrorCode, requestId?: string): Response {
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (requestId) headers["x-request-id"] = requestId;
  if (code === "too_many_requests" || code === "service_unavailable") headers["retry-after"] = String(RETRY_AFTER_SECONDS);
  return new Response(JSON.stringify(errorBody(code)), { status: CATALOG[code].status, headers });
}

/** A path id: digits only, positive, at most 2^53−1. */
function idFrom(value: string): number {
  const id = /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id)) throw new AppError("invalid_request");
  return id;
}

const requestIds = new WeakMap<Request, string>();

function requestIdOf(request: Request): string {
  let id = requestIds.get(request);
  if (!id) {
    const given = request.headers.get("x-request-id");
    id = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : crypto.randomUUID();
    requestIds.set(request, id);
  }
  return id;
}

/** The queue token travels in the User-Token header, documented as the `userToken` security scheme. */
const userTokenOf = (request: Request) => request.headers.get("user-token") ?? undefined;

export function createApp(deps: HttpDeps) {
  const { bus, queueGate, config } = deps;
  const ask = <T>(request: Request, subject: string, payload: unknown) => bus.request<T>(subject, payload, requestIdOf(request));
  const verifyBearer = bearerVerifier(config.authSecret);
  const queueEntries = new RateLimiter(config.rateLimitQueue);
  const occupations = new RateLimiter(config.rateLimitOccupy);
  const withinBudget = (limiter: RateLimiter, userId: number) => {
    if (!limiter.take(userId)) throw new AppError("too_many_requests");
  };

  /** Every /api/v1 route: the bearer token first, so an anonymous caller learns nothing else. */
  const api = new Elysia({ prefix: "/api/v1" })
    .derive({ as: "local" }, async ({ headers }) => ({ userId: await verifyBearer(headers.authorization) }))
    .derive({ as: "local" }, ({ userId }) => ({
      /** Refuses a path {userId} that is not the caller. */
      self(pathUserId: string): number {
        const id = idFrom(pathUserId);
        if (id !== userId) throw new AppError("forbidden");
        return id;
      },
      admitted: (token: string | undefined) => queueGate.requireActive(token, userId),
    }));

  const wallet = api
    .get(
      "/users/:userId/wallet",
      async ({ params, self, request }) => ({ data: await ask<Balance>(request, Requests.walletBalance, { userId: self(params.userId) }) }),
      {
        params: t.Object({ userId: S.IdParam }),
        response: { 200: S.Data(S.Balance, { balance: 100000 }), ...S.errors("invalid_request", "forbidden") },
        detail: { tags: [TAGS.user], summary: "잔액 조회", description: "사용자의 현재 잔액 정보를 조회합니다.", security: [BEARER] },
      },
    )
    .patch(
      "/users/:userId/wallet/charge",
      async ({ params, body, self, request }) => ({
        data: await ask<Balance>(request, Requests.walletCharge, { userId: self(params.userId), amount: body.amount }),
      }),
      {
        params: t.Object({ userId: S.IdParam }),
        body: S.ChargeBody,
        response: { 200: S.Data(S.Balance, { balance: 150000 }), ...S.errors("invalid_amount", "invalid_request", "forbidden") },
        detail: { tags: [TAGS.user], summary: "잔액 충전", description: "사용자의 잔액을 충전합니다.", security: [BEARER] },
      },
    );

  const queue = wallet
    .post(
      "/queue/tokens",
      async ({ userId, request }) => {
        withinBudget(queueEntries, userId);
        return { data: await ask<QueueTicket>(request, Requests.queueEnter, { userId }) };
      },
      {
        response: { 200: S.Data(S.QueueTicket, S.EXAMPLES.ticket), ...S.errors("too_many_requests") },
        detail: {
          tags: [TAGS.queue],
          summary: "대기열 토큰 발급",
          description: "대기열에 들어가 토큰을 발급받습니다. 이미 대기 중이거나 입장한 사용자는 같은 토큰과 순번을 받습니다.",
          security: [BEARER],
        },
      },
    )
    .get(
      "/queue/status",
      async ({ userId, request }) => ({
        data: await ask<QueueStatus>(request, Requests.queueStatus, { userId, token: queueToken(userTokenOf(request)) }),
      }),
      {
        response: { 200: S.Data(S.QueueStatus, S.EXAMPLES.queueStatus), ...S.errors("invalid_token", "not_found_in_queue") },
        detail: { tags: [TAGS.queue], summary: "대기열 정보 조회", description: "발급받은 Token으로 대기 정보를 조회합니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    )
    .delete(
      "/queue/tokens",
      async ({ userId, request }) => ({
        data: await ask<{ status: "EXPIRED" }>(request, Requests.queueLeave, { userId, token: queueToken(userTokenOf(request)) }),
      }),
      {
        response: { 200: S.Data(S.QueueLeft, { status: "EXPIRED" }), ...S.errors("invalid_token", "not_found_in_queue") },
        detail: { tags: [TAGS.queue], summary: "대기열 나가기", description: "(beyond) 대기열에서 나갑니다. 토큰은 만료됩니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    );

  const concerts = queue
    .get("/concerts", async ({ request }) => ({ list: await ask<Concert[]>(request, Requests.concerts, {}) }), {
      response: { 200: S.List(S.Concert, S.EXAMPLES.concert), ...S.errors() },
      detail: { tags: [TAGS.concert], summary: "콘서트 목록 조회", description: "(beyond) 콘서트 목록을 조회합니다.", security: [BEARER] },
    })
    .get(
      "/concerts/:concertId/events",
      async ({ params, admitted, request }) => {
        const concertId = idFrom(params.concertId);
        await admitted(userTokenOf(request));
        return { list: await ask<ConcertEventSummary[]>(request, Requests.concertEvents, { concertId }) };
      },
      {
        params: t.Object({ concertId: S.IdParam }),
        response: {
          200: S.List(S.ConcertEvent, S.EXAMPLES.event),
          ...S.errors("invalid_token", "invalid_request", "queue_token_not_active", "not_found_concert"),
        },
        detail: { tags: [TAGS.concert], summary: "예약 가능 날짜 조회", description: "콘서트의 예약 가능한 이벤트(날짜)를 조회합니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    );

  const eventParams = t.Object({ concertEventId: S.IdParam });
  const seatErrors = ["invalid_token", "invalid_request", "queue_token_not_active", "not_found_concert_event"] as const;
  const events = concerts
    .get(
      "/concert-events/:concertEventId/available-seats",
      async ({ params, userId, admitted, request }) => {
        const eventId = idFrom(params.concertEventId);
        await admitted(userTokenOf(request));
        return { list: await ask<SeatView[]>(request, eventSubject(eventId, "seats"), { userId }) };
      },
      {
        params: eventParams,
        response: { 200: S.List(S.Seat, S.EXAMPLES.seat), ...S.errors(...seatErrors) },
        detail: { tags: [TAGS.event], summary: "예약 가능한 좌석 조회", description: "점유, 예약, 판매되지 않은 좌석을 조회합니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    )
    .post(
      "/concert-events/:concertEventId/occupy",
      async ({ params, body, userId, admitted, request }) => {
        const eventId = idFrom(params.concertEventId);
        withinBudget(occupations, userId);
        await admitted(userTokenOf(request));
        return { data: await ask<HoldView>(request, eventSubject(eventId, "occupy"), { userId, seatId: body.seatId }) };
      },
      {
        params: eventParams,
        body: S.OccupyBody,
        response: {
          200: S.Data(S.Hold, S.EXAMPLES.hold),
          ...S.errors(...seatErrors, "not_found_seat", "seat_unavailable", "hold_limit_exceeded", "too_many_requests"),
        },
        detail: {
          tags: [TAGS.event],
          summary: "좌석 점유",
          description: "특정 콘서트 이벤트의 좌석을 점유합니다. 점유는 SEAT_HOLD_TTL_SECONDS(기본 5분) 동안 유지됩니다.",
          security: [{ ...BEARER, ...QUEUE_TOKEN }],
        },
      },
    )
    .post(
      "/concert-events/:concertEventId/reserve",
      async ({ params, body, userId, admitted, request }) => {
        const eventId = idFrom(params.concertEventId);
        const seatIds = seatIdsOf(body);
        await admitted(userTokenOf(request));
        return { data: await ask<ReservationView>(request, eventSubject(eventId, "reserve"), { userId, seatIds }) };
      },
      {
        params: eventParams,
        body: S.ReserveBody,
        response: { 200: S.Data(S.Reservation, S.EXAMPLES.reservation), ...S.errors(...seatErrors, "seat_not_held") },
        detail: { tags: [TAGS.event], summary: "좌석 예약", description: "점유한 좌석에 대해 결제 및 예약을 진행합니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    );

  const payments = events
    .post("/payments", async ({ body, userId, request }) => ({ data: await ask<PaymentView>(request, Requests.pay, { userId, reservationId: body.reservationId }) }), {
      body: S.PayBody,
      response: {
        200: S.Data(S.Payment, S.EXAMPLES.payment),
        ...S.errors("invalid_request", "not_found_reservation", "insufficient_balance", "reservation_expired"),
      },
      detail: { tags: [TAGS.payment], summary: "결제", description: "사용자가 한 예약에 대한 결제를 합니다.", security: [BEARER] },
    })
    .get(
      "/users/:userId/payments",
      async ({ params, self, request }) => ({ list: await ask<PaymentView[]>(request, Requests.payments, { userId: self(params.userId) }) }),
      {
        params: t.Object({ userId: S.IdParam }),
        response: { 200: S.List(S.Payment, S.EXAMPLES.payment), ...S.errors("invalid_request", "forbidden") },
        detail: { tags: [TAGS.payment], summary: "결제 내역 목록 조회", description: "사용자의 결제 내역을 최신순으로 조회합니다.", security: [BEARER] },
      },
    )
    .get(
      "/users/:userId/reservations",
      async ({ params, self, request }) => ({ list: await ask<ReservationView[]>(request, Requests.reservations, { userId: self(params.userId) }) }),
      {
        params: t.Object({ userId: S.IdParam }),
        response: { 200: S.List(S.Reservation, S.EXAMPLES.reservation), ...S.errors("invalid_request", "forbidden") },
        detail: { tags: [TAGS.payment], summary: "예약 목록 조회", description: "(beyond) 사용자의 예약을 최신순으로 조회합니다.", security: [BEARER] },
      },
    )
    .delete(
      "/reservations/:reservationId",
      async ({ params, userId, request }) => ({
        data: await ask<ReservationView>(request, Requests.cancelReservation, { userId, reservationId: idFrom(params.reservationId) }),
      }),
      {
        params: t.Object({ reservationId: S.IdParam }),
        response: { 200: S.Data(S.Reservation, { ...S.EXAMPLES.reservation, status: "CANCELLED" }), ...S.errors("invalid_request", "not_found_reservation") },
        detail: { tags: [TAGS.payment], summary: "예약 취소", description: "(beyond) 결제하지 않은 예약을 취소하고 좌석을 돌려놓습니다.", security: [BEARER] },
      },
    );

  // Precompiled at start, so the first requests of a rush do not pay for compiling the handlers.
  return new Elysia({ precompile: true })
    .onRequest(({ request }) => {
      const length = Number(request.headers.get("content-length") ?? 0);
      if (length > MAX_BODY_BYTES) return errorResponse("payload_too_large", requestIdOf(request));
      return swaggerUi(new URL(request.url).pathname);
    })
    .onParse({ as: "global" }, ({ request, contentType }) => (contentType?.startsWith("application/json") ? parseJsonBody(request) : undefined))
    .onAfterHandle({ as: "global" }, ({ request, set }) => {
      set.headers["x-request-id"] = requestIdOf(request);
    })
    .onError({ as: "global" }, ({ code, error, request }) => {
      const requestId = requestIdOf(request);
      if (error instanceof AppError) return errorResponse(error.code, requestId);
      if (code === "NOT_FOUND") return errorResponse("not_found", requestId);
      if (code === "VALIDATION" && isErrorCode(error.customError)) return errorResponse(error.customError, requestId);
      if (code === "VALIDATION" || code === "PARSE") return errorResponse("invalid_request", requestId);
      log.error("unexpected error", { requestId, path: new URL(request.url).pathname, error: String(error) });
      return errorResponse("internal_server_error", requestId);
    })
    .use(openApiDocument)
    .get("/health", () => ({ status: "UP" as const }), {
      response: { 200: t.Object({ status: t.Literal("UP") }) },
      detail: { tags: [TAGS.operations], summary: "프로세스 상태", description: "프로세스가 살아 있으면 200을 돌려줍니다." },
    })
    .get("/metrics", async () => new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } }), {
      detail: { tags: [TAGS.operations], summary: "메트릭", description: "Prometheus 텍스트 형식의 메트릭입니다." },
    })
    .get("/ready", async () => {
      if (!(await deps.ready())) throw new AppError("service_unavailable");
      return { status: "READY" as const };
    }, {
      response: { 200: t.Object({ status: t.Literal("READY") }), 503: S.errors()[503]! },
      detail: { tags: [TAGS.operations], summary: "준비 상태", description: "데이터베이스와 NATS에 연결되어 있으면 200, 아니면 503을 돌려줍니다." },
    })
    .use(payments);
}

/** The route a path belongs to, for metric labels and logs: ids folded, unknown paths pooled. */
function routeOf(pathname: string, status: number): string {
  return status === 404 && !pathname.startsWith("/api/") ? "unmatched" : pathname.replace(/\/\d+(?=\/|$)/g, "/:id");
}

/**
 * Wraps the app's fetch with what operators watch: a latency histogram and a counter per route and status, and one
 * structured log line per request carrying the request id the actors log too.
 */
export function instrumented(fetch: (request: Request) => Promise<Response> | Response) {
  return async (request: Request): Promise<Response> => {
    const started = performance.now();
    const response = await fetch(request);
    const seconds = (performance.now() - started) / 1000;
    const route = routeOf(new URL(request.url).pathname, response.status);
    httpRequests.inc({ route, method: request.method, status: response.status });
    httpDuration.observe({ route, method: request.method }, seconds);
    log.info("request", {
      requestId: response.headers.get("x-request-id") ?? undefined,
      method: request.method,
      route,
      status: response.status,
      ms: Math.round(seconds * 10_000) / 10,
    });
    return response;
  };
}

function queueToken(token: string | undefined): string {
  if (!token || !/^[A-Za-z0-9_-]{16,128}$/.test(token)) throw new AppError("invalid_token");
  return token;
}

function seatIdsOf(body: { seatId?: number; seatIds?: number[] }): number[] {
  if ((body.seatId === undefined) === (body.seatIds === undefined)) throw new AppError("invalid_request");
  return body.seatIds ?? [body.seatId!];
}
