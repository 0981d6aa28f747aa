// The HTTP edge: the app that serves every endpoint of API.md, composed of one route module per feature
// (wallet, queue, concerts and seats, payments). Handlers check who is calling, then send a request over NATS and
// wrap the reply; they never touch actor state or the database.
import { Elysia, t } from "elysia";
import { AppError, CATALOG, errorBody, isErrorCode, RETRY_AFTER_SECONDS, type ErrorCode } from "../shared/errors";
import { log } from "../shared/log";
import { httpMetrics, registry } from "../shared/metrics";
import { traceHttp, tracingOn } from "../shared/tracing";
import { pathnameOf, requestIdOf, ReservationEvents, responseRequestIdOf, type Api, type HttpDeps, type PageServer } from "./api";
import { adminRoutes } from "./admin-routes";
import { bearerVerifier } from "./auth";
import { InFlight, laneOf } from "./in-flight";
import { concertRoutes, seatStreamRoutes } from "./concert-routes";
import { openApiDocument, swaggerUi, TAGS } from "./openapi";
import { paymentRoutes } from "./payment-routes";
import { queueAnswersAtOnce, queueRoutes, queueStreamRoutes } from "./queue-routes";
import { RateLimiter } from "./rate-limit";
import * as S from "./schemas";
import { walletRoutes } from "./wallet-routes";

export type { HttpDeps, PageServer, QueueGate, QueueReads, SeatMapReads } from "./api";

/** Bodies above this answer 413 payload_too_large from the catalog. */
export const MAX_BODY_BYTES = 64 * 1024;

/** What Elysia answers an object with; answers given at once say the same. */
const JSON_TYPE = "application/json;charset=utf-8";

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
  // An empty body is no body: a route whose body is optional takes it, one that needs a body refuses it.
  if (text.trim() === "") return undefined;
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

/** The app's routes as a type: the pages' typed client (Eden) is made from it. */
export type App = ReturnType<typeof createApp>["app"];

/** The app and the front door that serves it: `fetch` is what Bun.serve is given. */
export function createApp(deps: HttpDeps) {
  const { bus, config } = deps;
  const inFlight = new InFlight(config.inFlightLimit);
  const api: Api = {
    deps,
    verifyBearer: bearerVerifier(config.authSecret),
    ask: (request, subject, payload, timeoutMs) =>
      inFlight.run(laneOf(subject), () => bus.request(subject, payload, requestIdOf(request), timeoutMs)),
    limits: { queueEntries: new RateLimiter(config.rateLimitQueue), occupations: new RateLimiter(config.rateLimitOccupy) },
    reservations: new ReservationEvents(),
  };

  // Precompiled at start, so the first requests of a rush do not pay for compiling the handlers. What every request
  // needs before and after the app (the body limit, Swagger UI's page, the request id, metrics) is done by `serve`
  // around it: each Elysia hook on every request cost a status poll more than half a microsecond.
  const app = new Elysia({ precompile: true })
    .onParse({ as: "global" }, ({ request, contentType }) => (contentType?.startsWith("application/json") ? parseJsonBody(request) : undefined))
    .onError({ as: "global" }, ({ code, error, request }) => {
      const requestId = requestIdOf(request);
      if (error instanceof AppError) return errorResponse(error.code, requestId);
      if (code === "NOT_FOUND") return errorResponse("not_found", requestId);
      if (code === "VALIDATION" && isErrorCode(error.customError)) return errorResponse(error.customError, requestId);
      if (code === "VALIDATION" || code === "PARSE") return errorResponse("invalid_request", requestId);
      log.error("unexpected error", { requestId, path: pathnameOf(request.url), error: String(error) });
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
    .use(walletRoutes(api))
    .use(queueRoutes(api))
    .use(queueStreamRoutes(api))
    .use(concertRoutes(api))
    .use(seatStreamRoutes(api))
    .use(paymentRoutes(api))
    .use(adminRoutes(api));
  return { app, fetch: serve(app.fetch, new Map(queueAnswersAtOnce(api)), deps.pages) };
}

/** The route a path belongs to, for metric labels and logs: ids folded, unknown paths pooled. */
function routeOf(pathname: string, status: number): string {
  return status === 404 && !pathname.startsWith("/api/") ? "unmatched" : pathname.replace(/\/\d+(?=\/|$)/g, "/:id");
}

/**
 * GET routes the front door may answer before routing, from memory and at once: each returns the 200 body, or
 * undefined to leave the request to its Elysia route, which answers the same request the long way (errors included).
 */
export type AnswersAtOnce = Map<string, (request: Request) => object | undefined>;

type AppFetch = (request: Request) => Promise<Response> | Response;

/**
 * The HTTP front door around the app's fetch: refuses a body over 64 KiB with its catalog answer, serves Swagger UI's
 * page and assets and the answers memory gives at once, and after the app, stamps the request id on the response and
 * records what operators watch: a latency histogram and a counter per route and status, and a structured log line
 * carrying the request id the actors log too. Nothing here awaits unless the app does: a status poll answered from
 * memory costs no promise.
 */
function serve(fetch: AppFetch, atOnce: AnswersAtOnce, pages: PageServer | undefined) {
  return (request: Request): Response | Promise<Response> => {
    const started = performance.now();
    const pathname = pathnameOf(request.url);
    const response = tracingOn()
      ? traceHttp(request, pathname, () => front(request, pathname, fetch, atOnce, pages), (status) => routeOf(pathname, status))
      : front(request, pathname, fetch, atOnce, pages);
    return response instanceof Promise ? response.then((r) => served(request, pathname, started, r)) : served(request, pathname, started, response);
  };
}

function front(request: Request, pathname: string, fetch: AppFetch, atOnce: AnswersAtOnce, pages: PageServer | undefined) {
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > MAX_BODY_BYTES) return errorResponse("payload_too_large", requestIdOf(request));
  if (pathname.startsWith("/swagger")) return swaggerUi(pathname) || fetch(request);
  if (pages && request.method === "GET" && !pathname.startsWith("/api/")) {
    const page = pages(request, pathname);
    if (page) return page;
  }
  const body = request.method === "GET" ? atOnce.get(pathname)?.(request) : undefined;
  if (body === undefined) return fetch(request);
  return new Response(JSON.stringify(body), { headers: { "content-type": JSON_TYPE, "x-request-id": responseRequestIdOf(request) } });
}

function served(request: Request, pathname: string, started: number, response: Response): Response {
  if (!response.headers.has("x-request-id")) response.headers.set("x-request-id", responseRequestIdOf(request));
  const seconds = (performance.now() - started) / 1000;
  const route = routeOf(pathname, response.status);
  httpMetrics.record(route, request.method, response.status, seconds);
  if (log.enabled("info")) {
    log.info("request", {
      requestId: response.headers.get("x-request-id") ?? undefined,
      method: request.method,
      route,
      status: response.status,
      ms: Math.round(seconds * 10_000) / 10,
    });
  }
  return response;
}
