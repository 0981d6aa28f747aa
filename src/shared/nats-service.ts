// Every actor-facing NATS endpoint is registered through the NATS service API, so `nats micro ls|info|stats` lists it
// with its request counts, errors and processing time. A handler returns the reply; this module encodes it.
import type { NatsConnection, Service, ServiceMsg } from "nats";
import { decode, encode, fail, type Reply } from "./codec";
import { isConnectionError } from "./db/port";
import { AppError, CATALOG } from "./errors";
import { REQUEST_ID_HEADER } from "./bus";
import { log } from "./log";

export interface Endpoint {
  name: string;
  subject: string;
  handle(request: Record<string, unknown>, subject: string): Promise<Reply<unknown>> | Reply<unknown>;
  /** What the endpoint reports as its `data` in `$SRV.STATS`, which users allowed no request (monitor) may read. */
  stats?(): Promise<unknown>;
}

function parse(msg: ServiceMsg): Record<string, unknown> | undefined {
  try {
    const value = msg.data.length === 0 ? {} : decode<unknown>(msg.data);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function respond(msg: ServiceMsg, reply: Reply<unknown>): void {
  // Server-side failures count as endpoint errors in `nats micro stats`; catalog refusals are ordinary answers.
  if (!reply.ok && CATALOG[reply.code].status >= 500) {
    msg.respondError(CATALOG[reply.code].status, reply.code, encode(reply));
    return;
  }
  try {
    msg.respond(encode(reply));
  } catch (error) {
    // A reply NATS will not carry (over its max_payload even compressed) is a bug to see, not a request left hanging.
    log.error("reply could not be sent", { subject: msg.subject, error: String(error) });
    msg.respondError(500, "internal_server_error", encode(fail("internal_server_error")));
  }
}

async function serve(endpoint: Endpoint, msg: ServiceMsg): Promise<void> {
  // The HTTP side's request id travels in a NATS header, so one id follows a request into the actor's logs.
  const requestId = msg.headers?.get(REQUEST_ID_HEADER) || undefined;
  const request = parse(msg);
  if (!request) return respond(msg, fail("invalid_request"));
  let reply: Reply<unknown>;
  try {
    reply = await endpoint.handle(request, msg.subject);
  } catch (error) {
    if (error instanceof AppError) reply = fail(error.code);
    else if (isConnectionError(error)) reply = fail("service_unavailable");
    else {
      log.error("endpoint failed", { requestId, endpoint: endpoint.name, subject: msg.subject, error: String(error) });
      reply = fail("internal_server_error");
    }
  }
  log.debug("actor request", { requestId, subject: msg.subject, outcome: reply.ok ? "ok" : reply.code });
  respond(msg, reply);
}

export async function addService(
  nc: NatsConnection,
  name: string,
  description: string,
  endpoints: Endpoint[],
  metadata?: Record<string, string>,
): Promise<Service> {
  const bySubject = new Map(endpoints.map((endpoint) => [endpoint.subject, endpoint]));
  const reportsData = endpoints.some((endpoint) => endpoint.stats);
  const service = await nc.services.add({
    name,
    version: "1.0.0",
    description,
    metadata,
    ...(reportsData && { statsHandler: async ({ subject }) => (await bySubject.get(subject)?.stats?.()) ?? null }),
  });
  for (const endpoint of endpoints) {
    service.addEndpoint(endpoint.name, {
      subject: endpoint.subject,
      handler: (error, msg) => {
        if (error) return log.error("endpoint subscription failed", { endpoint: endpoint.name, error: String(error) });
        void serve(endpoint, msg);
      },
    });
  }
  return service;
}

/** Reads a positive integer id (at most 2^53−1) from a request, refusing anything else. */
export function idOf(request: Record<string, unknown>, field: string): number {
  return asId(request[field]);
}

export function idsOf(request: Record<string, unknown>, field: string): number[] {
  const value = request[field];
  if (!Array.isArray(value) || value.length === 0) throw new AppError("invalid_request");
  return value.map(asId);
}

/** Reads a queue id: 0 for the global queue, otherwise a concert's id. */
export function queueIdOf(request: Record<string, unknown>, field: string): number {
  const value = request[field];
  return value === 0 ? 0 : asId(value);
}

function asId(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) throw new AppError("invalid_request");
  return value;
}
