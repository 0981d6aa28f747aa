// Traces across the bus, received by an OTLP endpoint in this process: one payment is one trace whose spans cover the
// HTTP request, the NATS requests, the actor's command and the commit that made it durable, each under the right
// parent; a commit serving many commands links to each; both OTLP encodings arrive.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestService, UserClient, type TestService } from "./support/service";
import { waitFor } from "./support/nats-server";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  links?: { traceId: string; spanId: string }[];
}

const SERVER = 2;
const CLIENT = 3;

/** An OTLP/HTTP endpoint: keeps what it is sent and answers as a collector does. */
function otlpReceiver() {
  const bodies: { contentType: string; body: Uint8Array }[] = [];
  const server = Bun.serve({
    port: 0,
    async fetch(request) {
      if (request.method !== "POST" || new URL(request.url).pathname !== "/v1/traces") return new Response("", { status: 404 });
      const contentType = request.headers.get("content-type") ?? "";
      bodies.push({ contentType, body: new Uint8Array(await request.arrayBuffer()) });
      return contentType.includes("json") ? Response.json({}) : new Response(new Uint8Array(), { headers: { "content-type": "application/x-protobuf" } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    bodies,
    spans: (): OtlpSpan[] =>
      bodies.flatMap(({ body }) =>
        JSON.parse(new TextDecoder().decode(body)).resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans)),
      ),
    stop: () => server.stop(true),
  };
}

const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

/** Charges, takes a turn, holds and reserves `seatId`: what a payment needs first. */
async function reserve(user: UserClient, seatId: number): Promise<number> {
  expect((await user.call("PATCH", `/api/v1/users/${user.userId}/wallet/charge`, { amount: 500_000 })).status).toBe(200);
  expect((await user.enterQueue()).status).toBe(200);
  expect((await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId })).status).toBe(200);
  const reserved = await user.call("POST", "/api/v1/concert-events/1/reserve", { seatId });
  expect(reserved.status).toBe(200);
  return reserved.body.data.id;
}

/** Reserves `seatId` and pays for it in a trace the caller started (sampled): the trace's id. */
async function payInCallersTrace(user: UserClient, seatId: number): Promise<string> {
  const reservationId = await reserve(user, seatId);
  const traceId = hex(16);
  expect((await user.call("POST", "/api/v1/payments", { reservationId }, { traceparent: `00-${traceId}-${hex(8)}-01` })).status).toBe(200);
  return traceId;
}

/** A service exporting its spans to a receiver of its own, for the tests of one describe block. */
function tracedService(env: Record<string, string>) {
  const receiver = otlpReceiver();
  const traced = { receiver, base: "" };
  let service: TestService | undefined;
  beforeAll(async () => {
    service = await startTestService({ kind: "pglite-memory" }, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "50", ...env });
    traced.base = service.base;
  }, 30_000);
  afterAll(async () => {
    await service?.stop();
    receiver.stop();
  });
  return traced;
}

describe("traces over OTLP http/json", () => {
  const service = tracedService({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_SERVICE_NAME: "seats-under-test" });
  const { receiver } = service;

  test("one payment is one trace: HTTP → NATS → the actor's command → its commit", async () => {
    const user = new UserClient(service.base, 1);
    const reservationId = await reserve(user, 7);
    const [traceId, callerSpan] = [hex(16), hex(8)];
    const paid = await user.call("POST", "/api/v1/payments", { reservationId }, { traceparent: `00-${traceId}-${callerSpan}-01` });
    expect(paid.status).toBe(200);

    const trace = () => receiver.spans().filter((s) => s.traceId === traceId);
    // The HTTP span ends last: it may leave in a later batch than the commit's.
    const names = () => new Set(trace().map((s) => s.name));
    await waitFor(async () => names().has("concert-event commit") && names().has("POST /api/v1/payments"), "the payment's spans");
    const spans = trace();
    const one = (what: string, match: (s: OtlpSpan) => boolean) => {
      const found = spans.filter(match);
      expect(found.map((s) => s.name), what).toHaveLength(1);
      return found[0]!;
    };
    const http = one("HTTP", (s) => s.kind === SERVER && s.name === "POST /api/v1/payments");
    // The instance that took the reservation knows its event, so the payment goes straight to the event's actor.
    const toActor = one("NATS request to the actor", (s) => s.kind === CLIENT && s.parentSpanId === http.spanId);
    const command = one("the actor's command", (s) => s.name === "concert-event pay");
    const commit = one("the commit", (s) => s.name === "concert-event commit");

    expect(http.parentSpanId).toBe(callerSpan);
    expect(toActor.name).toBe("rsv.event.*.pay request");
    expect(command.parentSpanId).toBe(toActor.spanId);
    expect(commit.parentSpanId).toBe(command.spanId);
    expect(commit.links?.map((l) => l.spanId)).toContain(command.spanId);

    const resource = JSON.parse(new TextDecoder().decode(receiver.bodies[0]!.body)).resourceSpans[0].resource;
    expect(resource.attributes).toContainEqual({ key: "service.name", value: { stringValue: "seats-under-test" } });
  });

  test("a request without traceparent starts its trace at the HTTP edge; a commit of many holds links to each", async () => {
    const users = Array.from({ length: 24 }, (_, i) => new UserClient(service.base, 100 + i));
    for (const user of users) expect((await user.enterQueue()).status).toBe(200);
    const held = await Promise.all(users.map((user, i) => user.call("POST", "/api/v1/concert-events/2/occupy", { seatId: 51 + i })));
    expect(held.map((r) => r.status)).toEqual(users.map(() => 200));

    const commits = () => receiver.spans().filter((s) => s.name === "concert-event commit" && (s.links?.length ?? 0) > 1);
    // Every span of the holds' traces has arrived once each linked trace's HTTP span has (it ends last).
    const roots = () => new Set(receiver.spans().filter((s) => s.kind === SERVER && s.name.startsWith("POST ")).map((s) => s.traceId));
    const complete = () => commits().find((c) => c.links!.every((l) => roots().has(l.traceId)));
    await waitFor(async () => complete() !== undefined, "a commit serving several holds, and their traces");
    const spans = receiver.spans();
    const commit = complete()!;
    const linkedTraces = new Set(commit.links!.map((l) => l.traceId));
    expect(linkedTraces.size).toBe(commit.links!.length);
    for (const link of commit.links!) {
      const command = spans.find((s) => s.spanId === link.spanId);
      expect(command?.name).toBe("concert-event occupy");
      const root = spans.find((s) => s.traceId === link.traceId && s.kind === SERVER && s.name.startsWith("POST "));
      expect(root?.name).toBe("POST /api/v1/concert-events/:id/occupy");
      expect(root?.parentSpanId ?? "").toBe("");
    }
  });
});

describe("traces over OTLP http/protobuf (the default)", () => {
  const service = tracedService({});
  const { receiver } = service;

  test("a payment's spans arrive as protobuf, carrying its trace id and the commit", async () => {
    const traceId = await payInCallersTrace(new UserClient(service.base, 2), 9);
    const traceBytes = Buffer.from(traceId, "hex");
    const carrying = () => receiver.bodies.filter(({ body }) => Buffer.from(body).includes(traceBytes));
    await waitFor(async () => carrying().some(({ body }) => Buffer.from(body).includes("concert-event commit")), "the payment's commit span");
    expect(carrying().every(({ contentType }) => contentType === "application/x-protobuf")).toBe(true);
  });
});

describe("sampling (OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0)", () => {
  const service = tracedService({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" });
  const { receiver } = service;

  test("no new trace is recorded, but a caller's sampled trace is followed through to the commit", async () => {
    const traceId = await payInCallersTrace(new UserClient(service.base, 3), 11);
    await waitFor(async () => receiver.spans().some((s) => s.traceId === traceId && s.name === "concert-event commit"), "the caller's trace");
    expect(new Set(receiver.spans().map((s) => s.traceId))).toEqual(new Set([traceId]));
  });
});
