// Every actor-facing NATS endpoint is registered through the NATS service API, so `nats micro ls|info|stats` lists it
// with its request counts, errors and processing time, and (in its metadata) its request and response schemas. The
// boundary is here: a payload reaches a handler only once its schema's compiled checker has passed it. A handler
// returns the reply; this module encodes it.
import type { Msg, NatsConnection, Service, ServiceMsg, Subscription } from "nats";
import type { Static, TSchema } from "typebox";
import { decode, encode, fail, type Reply } from "./codec";
import { isConnectionError } from "./db/port";
import { AppError, CATALOG, isErrorCode, type ErrorCode } from "./errors";
import { REQUEST_ID_HEADER } from "./bus";
import { log } from "./log";
import { checkerOf, ERROR_CODE_KEYWORD, ReplyOf, type Exchange } from "./messages";
import { traceNatsHandler } from "./tracing";
import type { Topic } from "./subjects";

export interface Endpoint<Request extends TSchema = TSchema, Response extends TSchema = TSchema> {
  name: string;
  subject: string;
  /** What the endpoint takes and answers (messages.ts's Api). */
  messages: Exchange<Request, Response>;
  handle(request: Static<Request>, subject: string): Promise<Reply<Static<Response>>> | Reply<Static<Response>>;
  /** What the endpoint reports as its `data` in `$SRV.STATS`, which users allowed no request (monitor) may read. */
  stats?(): Promise<unknown>;
}

/** Ties a handler to its endpoint's schemas, so the compiler checks what it reads and what it answers. */
export const endpoint = <Request extends TSchema, Response extends TSchema>(spec: Endpoint<Request, Response>): Endpoint => spec as Endpoint;

/** The payload, or undefined when it is not JSON (or gzipped JSON) at all. An empty payload stands for `{}`. */
function parse(msg: ServiceMsg): { value: unknown } | undefined {
  try {
    return { value: msg.data.length === 0 ? {} : decode<unknown>(msg.data) };
  } catch {
    return undefined;
  }
}

/**
 * The catalog code that refuses a payload: `invalid_request`, unless every fault lies in fields whose schema names
 * one code of its own (a malformed queue token is `invalid_token`, an amount `invalid_amount`, as on HTTP). Only
 * refusals come here, so listing the faults costs nothing on the way of a valid request.
 */
function refusalOf(schema: TSchema, value: unknown): ErrorCode {
  const properties = (schema as { properties?: Record<string, Record<string, unknown>> }).properties ?? {};
  const faultyFields = checkerOf(schema)
    .Errors(value)
    .flatMap((error) =>
      error.keyword === "required" ? (error.params as { requiredProperties: string[] }).requiredProperties : [error.instancePath.split("/")[1] ?? ""],
    );
  const codes = new Set(faultyFields.map((field) => properties[field]?.[ERROR_CODE_KEYWORD]));
  const [code] = codes;
  return codes.size === 1 && typeof code === "string" && isErrorCode(code) ? code : "invalid_request";
}

/** What `$SRV.INFO` shows of an endpoint: its request schema and its reply's, as JSON Schema text. */
function metadataOf({ request, response }: Exchange): Record<string, string> {
  return { request_schema: JSON.stringify(request), response_schema: JSON.stringify(ReplyOf(response)) };
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

async function serve(service: string, endpoint: Endpoint, msg: ServiceMsg): Promise<void> {
  // The HTTP side's request id travels in a NATS header, so one id follows a request into the actor's logs.
  const requestId = msg.headers?.get(REQUEST_ID_HEADER) || undefined;
  const payload = parse(msg);
  if (!payload) return respond(msg, fail("invalid_request"));
  const schema = endpoint.messages.request;
  if (!checkerOf(schema).Check(payload.value)) return respond(msg, fail(refusalOf(schema, payload.value)));
  let reply: Reply<unknown>;
  try {
    reply = await traceNatsHandler(service, endpoint.name, msg.headers, async () => endpoint.handle(payload.value, msg.subject));
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
      metadata: metadataOf(endpoint.messages),
      handler: (error, msg) => {
        if (error) return log.error("endpoint subscription failed", { endpoint: endpoint.name, error: String(error) });
        void serve(name, endpoint, msg);
      },
    });
  }
  return service;
}

/**
 * Subscribes to messages of one schema (domain events, the queues' feed): one that is not what its schema says is
 * logged and dropped, never handled, so a bad publisher cannot break its readers.
 */
export function listen<T extends TSchema>(
  nc: NatsConnection,
  subject: Topic<Static<T>>,
  schema: T,
  handle: (body: Static<T>, msg: Msg) => void,
): Subscription {
  return nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error) return;
      const body = parseAs(schema, msg.data);
      if (body === undefined) return log.warn("malformed message dropped", { subject: msg.subject });
      handle(body, msg);
    },
  });
}

/** Decodes a message and checks it against its schema: undefined when it is not JSON of that shape. */
export function parseAs<T extends TSchema>(schema: T, data: Uint8Array): Static<T> | undefined {
  try {
    const value = decode<unknown>(data);
    return checkerOf(schema).Check(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
