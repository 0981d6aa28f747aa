// Traces across the bus (API.md v1.2 "Traces"): the HTTP request continues the caller's `traceparent`, the context
// rides in NATS headers to the actor, and the actor's command and the group commit that made it durable are spans of
// the same trace. A commit serves many commands: it is the child of the first and links to every one.
//
// Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set. Off, every function here is one check of a
// module variable and a direct call: no SDK is loaded, no context is kept, no header is written.
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type Tracer,
} from "@opentelemetry/api";
import type { MsgHdrs } from "nats";
import type { TracingConfig } from "./config";
import { log } from "./log";
import { subjectKind } from "./metrics";

let tracer: Tracer | undefined;
let propagator: TextMapPropagator = propagation;

export const tracingOn = () => tracer !== undefined;

/** Starts exporting spans as the configuration says; returns what flushes and stops it at shutdown. */
export async function startTracing(config: TracingConfig | undefined): Promise<() => Promise<void>> {
  if (!config) return async () => {};
  const [
    { TracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler },
    { AsyncLocalStorageContextManager },
    { W3CTraceContextPropagator },
    { resourceFromAttributes },
  ] = await Promise.all([
      import("@opentelemetry/sdk-trace"),
      import("@opentelemetry/context-async-hooks"),
      import("@opentelemetry/core"),
      import("@opentelemetry/resources"),
    ]);
  const { OTLPTraceExporter } =
    config.protocol === "http/json" ? await import("@opentelemetry/exporter-trace-otlp-http") : await import("@opentelemetry/exporter-trace-otlp-proto");
  const byTraceId = new TraceIdRatioBasedSampler(config.sampler.ratio);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": config.serviceName }),
    sampler: config.sampler.parentBased ? new ParentBasedSampler({ root: byTraceId }) : byTraceId,
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: config.url }), scheduledDelayMillis: config.batchDelayMs })],
  });
  // Explicit contexts through Elysia, NATS callbacks and XState would touch every handler; async-local storage
  // carries the active span across their awaits instead, and is only enabled here, with tracing on.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagator = new W3CTraceContextPropagator();
  tracer = provider.getTracer("concert-reservation");
  log.info("tracing", { url: config.url, protocol: config.protocol, service: config.serviceName, sampler: config.sampler });
  return async () => {
    tracer = undefined;
    context.disable();
    await provider.shutdown().catch((error) => log.warn("spans could not be flushed", { error: String(error) }));
  };
}

const requestHeaders: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

const natsHeaders: TextMapGetter<MsgHdrs | undefined> = {
  keys: (headers) => (headers ? headers.keys() : []),
  get: (headers, key) => headers?.get(key) || undefined,
};

/** Runs `work` as `span`'s time: the span ends when it settles, marked an error if it throws. */
function within<T>(span: Span, parent: Context, work: () => T | Promise<T>, ended?: (value: T) => void): T | Promise<T> {
  const fail = (error: unknown) => {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    throw error;
  };
  const done = (value: T) => {
    ended?.(value);
    span.end();
    return value;
  };
  try {
    const result = context.with(trace.setSpan(parent, span), work);
    return result instanceof Promise ? result.then(done, fail) : done(result);
  } catch (error) {
    return fail(error);
  }
}

/** The HTTP request's span, continuing the caller's `traceparent` when it sent one. */
export function traceHttp(request: Request, pathname: string, handle: () => Response | Promise<Response>, routeOf: (status: number) => string) {
  if (!tracer) return handle();
  const parent = propagator.extract(ROOT_CONTEXT, request.headers, requestHeaders);
  const span = tracer.startSpan(
    request.method,
    { kind: SpanKind.SERVER, attributes: { "http.request.method": request.method, "url.path": pathname } },
    parent,
  );
  return within(span, parent, handle, (response) => {
    const route = routeOf(response.status);
    span.updateName(`${request.method} ${route}`);
    span.setAttributes({ "http.route": route, "http.response.status_code": response.status });
    if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  });
}

/** A request sent over NATS: its span, and the context written into the headers it is sent with. */
export function traceNatsRequest<T>(subject: string, headers: () => MsgHdrs, send: (headers: MsgHdrs | undefined) => Promise<T>): Promise<T> {
  if (!tracer) return send(undefined);
  const parent = context.active();
  const span = tracer.startSpan(
    // Named by the kind of subject, ids folded, as span names should be; the subject itself is an attribute.
    `${subjectKind(subject)} request`,
    { kind: SpanKind.CLIENT, attributes: { "messaging.system": "nats", "messaging.destination.name": subject, "messaging.operation.type": "send" } },
    parent,
  );
  const carrier = headers();
  propagator.inject(trace.setSpan(parent, span), carrier, { set: (h, key, value) => h.set(key, value) });
  return within(span, parent, () => send(carrier)) as Promise<T>;
}

/** A request served from NATS (an actor's command, a service's request), in the trace its headers carry. */
export function traceNatsHandler<T>(service: string, endpoint: string, headers: MsgHdrs | undefined, handle: () => Promise<T>): Promise<T> {
  if (!tracer) return handle();
  const parent = propagator.extract(ROOT_CONTEXT, headers, natsHeaders);
  const span = tracer.startSpan(
    `${service} ${endpoint}`,
    { kind: SpanKind.SERVER, attributes: { "messaging.system": "nats", "messaging.operation.type": "process", "rsv.endpoint": endpoint } },
    parent,
  );
  return within(span, parent, handle) as Promise<T>;
}

/** Which command span a waiting reply belongs to: the commit that serves it links to it. */
const commandSpans = new WeakMap<object, SpanContext>();

/** Marks a command's reply with the span it is served in, when one is active. */
export function tagWithSpan(replyTo: object): void {
  if (!tracer) return;
  const active = trace.getActiveSpan()?.spanContext();
  if (active) commandSpans.set(replyTo, active);
}

/** A group commit: the child of the first command it serves, linked to each of them. */
export function traceCommit<T>(entity: string, ops: number, waiting: readonly { replyTo?: object }[], commit: () => Promise<T>): Promise<T> {
  if (!tracer) return commit();
  const served = waiting.flatMap(({ replyTo }) => {
    const spanContext = replyTo && commandSpans.get(replyTo);
    return spanContext ? [spanContext] : [];
  });
  const links: Link[] = served.map((spanContext) => ({ context: spanContext }));
  const parent = served[0] ? trace.setSpanContext(ROOT_CONTEXT, served[0]) : ROOT_CONTEXT;
  const span = tracer.startSpan(
    `${entity} commit`,
    { kind: SpanKind.INTERNAL, links, attributes: { "db.operation.name": "COMMIT", "rsv.ops": ops, "rsv.commands": waiting.length } },
    parent,
  );
  return within(span, parent, commit) as Promise<T>;
}
