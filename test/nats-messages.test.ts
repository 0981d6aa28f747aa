// The NATS messages as messages.ts describes them, against a running service: every endpoint documents its request
// and response schema in `$SRV.INFO`, a malformed payload on any subject is refused by the compiled checker, and in a
// real sale every request, reply, domain event and queue feed message is what its schema says.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, RequestStrategy, type NatsConnection, type ServiceInfo } from "nats";
import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { decode, encode } from "../src/shared/codec";
import { Api, checkerOf, DOMAIN_EVENTS, QueueViewChanges, ReplyOf, SeatMapChanges, ViewHeartbeat } from "../src/shared/messages";
import { eventSubject, queueSubject, Requests } from "../src/shared/subjects";
import { startTestService, UserClient, type TestService } from "./support/service";

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const TOKEN = "AAAAAAAAAAAAAAAAAAAAAA";

type Service = keyof typeof Api;

/** A valid request for every endpoint, on a subject it is served on: the malformed ones are made from these. */
const VALID: { [S in Service]: { [E in keyof (typeof Api)[S]]: [subject: string, payload: Record<string, unknown>] } } = {
  "concert-event": {
    occupy: [eventSubject(1, "occupy"), { userId: 1, admittedTo: 0, seatId: 1 }],
    reserve: [eventSubject(1, "reserve"), { userId: 1, admittedTo: 0, seatIds: [1, 2] }],
    release: [eventSubject(1, "release"), { userId: 1, admittedTo: 0, seatId: 1 }],
    pay: [eventSubject(1, "pay"), { userId: 1, reservationId: 1 }],
    cancel: [eventSubject(1, "cancel"), { userId: 1, reservationId: 1 }],
    warm: [eventSubject(1, "warm"), {}],
    map: [eventSubject(1, "map"), { page: 0 }],
  },
  "queue-admission": {
    enter: [queueSubject(0, "enter"), { userId: 1 }],
    status: [queueSubject(0, "status"), { userId: 1, token: TOKEN }],
    leave: [queueSubject(0, "leave"), { userId: 1, token: TOKEN }],
    update: [queueSubject(1, "update"), { title: "제목", opensAt: Date.now(), closesAt: null }],
    view: [queueSubject(0, "view"), {}],
  },
  wallet: {
    balance: [Requests.walletBalance, { userId: 1 }],
    charge: [Requests.walletCharge, { userId: 1, amount: 1000 }],
  },
  payments: {
    pay: [Requests.pay, { userId: 1, reservationId: 1 }],
    cancel: [Requests.cancelReservation, { userId: 1, reservationId: 1 }],
    payments: [Requests.payments, { userId: 1 }],
    reservations: [Requests.reservations, { userId: 1 }],
  },
  catalog: {
    concerts: [Requests.concerts, {}],
    concert: [Requests.concert, { concertId: 1 }],
    events: [Requests.concertEvents, { concertId: 1 }],
    summary: [Requests.saleSummary, {}],
  },
  "catalog-admin": {
    "create-concert": [Requests.createConcert, { title: "제목", venue: "장소", saleOpensAt: iso(Date.now()), saleClosesAt: null }],
    "create-event": [Requests.createEvent, { concertId: 1, startsAt: iso(Date.now() + HOUR), sections: [{ name: "VIP", price: 1000, seats: 2 }] }],
    "event-sales": [Requests.eventSales, { concertEventId: 1 }],
    "queue-report": [Requests.queueReport, { concertId: 1 }],
    "event-list": [Requests.eventList, { concertId: 1 }],
  },
  ownership: {
    claim: [Requests.claimOwner, { entity: "event:1" }],
  },
};

/** Faults inside a field, which the generic malformations above do not reach. */
const NESTED: [subject: string, what: string, payload: Record<string, unknown>][] = [
  [eventSubject(1, "reserve"), "no seat ids", { userId: 1, admittedTo: 0, seatIds: [] }],
  [eventSubject(1, "reserve"), "seat id 0", { userId: 1, admittedTo: 0, seatIds: [0] }],
  [eventSubject(1, "reserve"), "a seat id as text", { userId: 1, admittedTo: 0, seatIds: ["1"] }],
  [eventSubject(1, "occupy"), "userId 0", { userId: 0, admittedTo: 0, seatId: 1 }],
  [eventSubject(1, "occupy"), "a negative queue", { userId: 1, admittedTo: -1, seatId: 1 }],
  [Requests.createEvent, "no sections", { concertId: 1, startsAt: iso(Date.now() + HOUR), sections: [] }],
  [Requests.createEvent, "a section without seats", { concertId: 1, startsAt: iso(Date.now() + HOUR), sections: [{ name: "A", price: 1 }] }],
  [Requests.createEvent, "a section name with a space", { concertId: 1, startsAt: iso(Date.now() + HOUR), sections: [{ name: "A B", price: 1, seats: 1 }] }],
  [Requests.createEvent, "a section with garbage", { concertId: 1, startsAt: iso(Date.now() + HOUR), sections: [{ name: "A", price: 1, seats: 1, x: 1 }] }],
  [Requests.createEvent, "a date that does not exist", { concertId: 1, startsAt: "2027-02-30T10:00:00Z", sections: [{ name: "A", price: 1, seats: 1 }] }],
  [Requests.createConcert, "a time without a zone", { title: "t", venue: "v", saleOpensAt: "2027-01-10T11:00:00" }],
  [Requests.createConcert, "an empty title", { title: "", venue: "v", saleOpensAt: iso(Date.now()) }],
  [Requests.claimOwner, "an entity of no kind", { entity: "seat:1" }],
  [Requests.claimOwner, "an id written otherwise", { entity: "event:01" }],
  [queueSubject(0, "status"), "a token too short", { userId: 1, token: "abc" }],
];

/** Fields whose malformed value the contract answers with a code of their own, as HTTP does. */
const OWN_CODES: Record<string, string> = { token: "invalid_token", amount: "invalid_amount" };

const endpoints = () =>
  Object.entries(VALID).flatMap(([service, byName]) =>
    Object.entries(byName as Record<string, [string, Record<string, unknown>]>).map(([name, [subject, payload]]) => ({
      service,
      name,
      subject,
      payload,
      request: (Api as Record<string, Record<string, { request: TSchema }>>)[service]![name]!.request,
    })),
  );

/** Malformed versions of a valid payload, each with the code it must be refused with. */
function malformed(payload: Record<string, unknown>, request: TSchema): [what: string, body: Uint8Array, code: string][] {
  const json = (value: unknown) => encode(value);
  const cases: [string, Uint8Array, string][] = [
    ["not JSON", new TextEncoder().encode("{oops"), "invalid_request"],
    ["an array", json([payload]), "invalid_request"],
    ["a number", json(42), "invalid_request"],
    ["null", json(null), "invalid_request"],
    ["extra garbage", json({ ...payload, garbage: "x" }), "invalid_request"],
  ];
  const required = new Set((request as { required?: string[] }).required ?? []);
  for (const [field, value] of Object.entries(payload)) {
    const code = OWN_CODES[field] ?? "invalid_request";
    const { [field]: _, ...without } = payload;
    if (required.has(field)) cases.push([`no ${field}`, json(without), code]);
    cases.push([`${field} of the wrong type`, json({ ...payload, [field]: typeof value === "string" ? 12 : "12" }), code]);
    if (typeof value === "number") {
      for (const bad of [1.5, 2 ** 53, -(2 ** 53)]) cases.push([`${field} ${bad}`, json({ ...payload, [field]: bad }), code]);
    }
  }
  return cases;
}

describe("NATS messages against their schemas", () => {
  let t: TestService;
  let nc: NatsConnection;

  beforeAll(async () => {
    t = await startTestService({ kind: "pglite-memory" }, { QUEUE_MAX_ACTIVE: "300", SEAT_HOLD_TTL_SECONDS: "3", RATE_LIMIT_OCCUPY_PER_SECOND: "0" });
    nc = await connect({ servers: t.nats.url });
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await t?.stop();
  });

  /** Every instance's `$SRV.INFO` of every service: each owned event and queue is a service instance of its own. */
  async function allInfos(): Promise<ServiceInfo[]> {
    const found: ServiceInfo[] = [];
    for await (const info of await nc.services.client({ strategy: RequestStrategy.Timer, maxWait: 1000 }).info()) found.push(info);
    return found;
  }

  test("every valid example is valid, so each malformed one differs by its fault alone", () => {
    for (const { service, name, payload, request } of endpoints()) expect({ service, name, valid: checkerOf(request).Check(payload) }).toEqual({ service, name, valid: true });
  });

  test("$SRV.INFO shows each endpoint's request and response schema", async () => {
    for (const [service, exchanges] of Object.entries(Api)) {
      const info = (await nc.request(`$SRV.INFO.${service}`, undefined, { timeout: 5000 })).json<ServiceInfo>();
      const shown = Object.fromEntries(
        info.endpoints.map((e) => [e.name, { request: JSON.parse(e.metadata!.request_schema!), response: JSON.parse(e.metadata!.response_schema!) }]),
      );
      const described = Object.fromEntries(
        Object.entries(exchanges as Record<string, { request: TSchema; response: TSchema }>).map(([name, { request, response }]) => [
          name,
          JSON.parse(JSON.stringify({ request, response: ReplyOf(response) })),
        ]),
      );
      expect({ service, endpoints: shown }).toEqual({ service, endpoints: described });
    }
  }, 30_000);

  test("a malformed payload on any subject is refused by the checker with invalid_request, or the field's own code", async () => {
    const wrong: string[] = [];
    let sent = 0;
    for (const { service, name, subject, payload, request } of endpoints()) {
      for (const [what, body, code] of malformed(payload, request)) {
        const reply = decode<{ ok: boolean; code?: string }>((await nc.request(subject, body, { timeout: 5000 })).data);
        sent++;
        if (reply.ok || reply.code !== code) wrong.push(`${service}.${name} (${subject}), ${what}: ${JSON.stringify(reply)}, expected ${code}`);
      }
    }
    for (const [subject, what, payload] of NESTED) {
      const code = what.startsWith("a token") ? "invalid_token" : "invalid_request";
      const reply = decode<{ ok: boolean; code?: string }>((await nc.request(subject, encode(payload), { timeout: 5000 })).data);
      if (reply.ok || reply.code !== code) wrong.push(`${subject}, ${what}: ${JSON.stringify(reply)}, expected ${code}`);
    }
    expect(wrong).toEqual([]);
    expect(sent).toBeGreaterThan(200);
  }, 60_000);

  test("in a real sale, every request, reply, domain event and feed message is what its schema says", async () => {
    const requests = new Map<string, { subject: string; data: Uint8Array }>();
    const replies: { inbox: string; data: Uint8Array }[] = [];
    const published: { subject: string; data: Uint8Array }[] = [];
    const observer = await connect({ servers: t.nats.url });
    const record = (subject: string) =>
      observer.subscribe(subject, { callback: (_, msg) => msg.reply && requests.set(msg.reply, { subject: msg.subject, data: msg.data }) });
    observer.subscribe("rsv.evt.>", { callback: (_, msg) => published.push({ subject: msg.subject, data: msg.data }) });
    observer.subscribe("rsv.view.>", { callback: (_, msg) => published.push({ subject: msg.subject, data: msg.data }) });
    observer.subscribe("_INBOX_service.>", { callback: (_, msg) => replies.push({ inbox: msg.subject, data: msg.data }) });
    // Subjects some service always serves. An owned entity's subjects are recorded only once it has its owner: a
    // subscriber there would hide that nobody serves them, which is how the service learns to find an owner.
    for (const subject of ["rsv.admin.>", "rsv.catalog.>", "rsv.wallet.>", "rsv.payment.>", "rsv.reservation.>", Requests.claimOwner]) record(subject);
    await observer.flush();

    const admin = new UserClient(t.base, 1, true);
    let nextUser = 7000;
    const fan = async () => {
      const u = new UserClient(t.base, nextUser++);
      await u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount: 1_000_000 });
      expect((await u.enterQueue()).body.data.status).toBe("ACTIVE");
      return u;
    };
    const concert = (await admin.call("POST", "/api/v1/admin/concerts", { title: "스키마 콘서트", venue: "KSPO DOME", saleOpensAt: iso(Date.now() - HOUR) })).body.data;
    expect((await admin.call("PATCH", `/api/v1/admin/concerts/${concert.id}`, { title: "스키마 콘서트 2" })).status).toBe(200);
    const created = await admin.call("POST", `/api/v1/admin/concerts/${concert.id}/events`, {
      startsAt: iso(Date.now() + 30 * 24 * HOUR),
      sections: [{ name: "A", price: 1000, seats: 8 }],
    });
    const eventId: number = created.body.data.id;
    const seats = `/api/v1/concert-events/${eventId}`;
    const buyer = await fan();
    expect((await buyer.call("GET", `${seats}/available-seats`)).status).toBe(200);
    // A concert whose sale opens in a moment: its pre-queue is drawn, and its waiting fan admitted.
    const soon = (await admin.call("POST", "/api/v1/admin/concerts", { title: "곧 열리는 콘서트", venue: "벡스코", saleOpensAt: iso(Date.now() + 2500) })).body.data;
    const early = new UserClient(t.base, nextUser++);
    expect((await early.enterQueue(soon.id)).body.data.status).toBe("WAITING");

    // Every entity of the sale has its owner now.
    record("rsv.event.>");
    record("rsv.queue.>");
    await observer.flush();
    expect((await admin.call("PATCH", `/api/v1/admin/concerts/${concert.id}`, { venue: "잠실" })).status).toBe(200);
    expect((await admin.call("GET", `/api/v1/admin/concert-events/${eventId}/summary`)).status).toBe(200);
    expect((await admin.call("GET", `/api/v1/admin/concerts/${concert.id}/queue`)).status).toBe(200);
    await early.call("GET", "/api/v1/queue/status");

    const [first, second, third, fourth] = (await buyer.call("GET", `${seats}/available-seats`)).body.list.map((s: { id: number }) => s.id);
    expect((await buyer.call("POST", `${seats}/occupy`, { seatId: first })).status).toBe(200);
    expect((await buyer.call("DELETE", `${seats}/holds/${first}`)).status).toBe(200);
    await buyer.call("POST", `${seats}/occupy`, { seatId: second });
    const reservation = (await buyer.call("POST", `${seats}/reserve`, { seatId: second })).body.data;
    expect((await buyer.call("POST", "/api/v1/payments", { reservationId: reservation.id })).status).toBe(200);
    expect((await buyer.call("DELETE", `/api/v1/reservations/${reservation.id}`)).body.data.status).toBe("REFUNDED");
    await buyer.call("GET", `/api/v1/users/${buyer.userId}/payments`);
    await buyer.call("GET", `/api/v1/users/${buyer.userId}/reservations`);
    await buyer.call("GET", `/api/v1/users/${buyer.userId}/wallet`);

    const canceller = await fan();
    // Seat lists and sections are answered by each instance's copy of the seat map, not by a request to the actor.
    expect((await canceller.call("GET", `${seats}/sections`)).status).toBe(200);
    await canceller.call("POST", `${seats}/occupy`, { seatId: fourth });
    await canceller.call("DELETE", `${seats}/holds/${fourth}`);
    await canceller.call("POST", `${seats}/occupy`, { seatId: third });
    const unpaid = (await canceller.call("POST", `${seats}/reserve`, { seatIds: [third] })).body.data;
    expect((await canceller.call("DELETE", `/api/v1/reservations/${unpaid.id}`)).body.data.status).toBe("CANCELLED");
    expect((await canceller.call("DELETE", "/api/v1/queue/tokens")).status).toBe(200);

    const lapsing = await fan();
    await lapsing.call("POST", `${seats}/occupy`, { seatId: fourth });
    await Bun.sleep(4000);
    await observer.flush();
    await Bun.sleep(200);

    // The documentation the service gives of itself, read back from every instance of every service.
    const bySubject = new Map<string, { request: TSchema; response: TSchema }>();
    for (const info of await allInfos()) {
      for (const e of info.endpoints) bySubject.set(e.subject, { request: JSON.parse(e.metadata!.request_schema!), response: JSON.parse(e.metadata!.response_schema!) });
    }
    const compiled = new Map<unknown, ReturnType<typeof Compile>>();
    const check = (schema: TSchema, value: unknown) => {
      if (!compiled.has(schema)) compiled.set(schema, Compile(schema));
      return compiled.get(schema)!.Check(value);
    };

    const wrong: string[] = [];
    let pairs = 0;
    for (const { inbox, data } of replies) {
      const request = requests.get(inbox);
      if (!request) continue;
      const schemas = bySubject.get(request.subject);
      if (!schemas) {
        wrong.push(`${request.subject}: no endpoint documents it`);
        continue;
      }
      pairs++;
      const body = request.data.length === 0 ? {} : decode(request.data);
      if (!check(schemas.request, body)) wrong.push(`request on ${request.subject}: ${JSON.stringify(body)}`);
      const reply = decode(data);
      if (!check(schemas.response, reply)) wrong.push(`reply on ${request.subject}: ${JSON.stringify(reply).slice(0, 300)}`);
    }

    const matches = (pattern: string, subject: string) => {
      const p = pattern.split(".");
      const s = subject.split(".");
      return p.length === s.length && p.every((token, i) => token === "*" || token === s[i]);
    };
    const feed: [string, TSchema][] = [
      ["rsv.view.queue.*", QueueViewChanges],
      ["rsv.view.event.*", SeatMapChanges],
      ["rsv.view.heartbeat.queue", ViewHeartbeat],
      ["rsv.view.heartbeat.event", ViewHeartbeat],
    ];
    const seen = new Set<string>();
    for (const { subject, data } of published) {
      const known = [...DOMAIN_EVENTS, ...feed].find(([pattern]) => matches(pattern, subject));
      if (!known) {
        wrong.push(`${subject}: no schema describes it`);
        continue;
      }
      seen.add(known[0]);
      const body = decode(data);
      if (!checkerOf(known[1]).Check(body)) wrong.push(`${subject}: ${JSON.stringify(body).slice(0, 300)}`);
    }
    await observer.close();

    expect(wrong).toEqual([]);
    expect(pairs).toBeGreaterThan(30);
    const reached = [...seen].sort();
    for (const pattern of [
      "rsv.evt.event.*.seat.held",
      "rsv.evt.event.*.seat.released",
      "rsv.evt.event.*.seat.reserved",
      "rsv.evt.event.*.seat.sold",
      "rsv.evt.event.*.reservation.created",
      "rsv.evt.event.*.reservation.cancelled",
      "rsv.evt.event.*.reservation.refunded",
      "rsv.evt.event.*.payment.completed",
      "rsv.evt.event.*.payment.refunded",
      "rsv.evt.queue.*.token.issued",
      "rsv.evt.queue.*.token.activated",
      "rsv.evt.queue.*.token.expired",
      "rsv.evt.queue.*.opened",
      "rsv.evt.concert.*.updated",
      "rsv.evt.wallet.charged",
      "rsv.evt.ownership.acquired",
      "rsv.view.queue.*",
      "rsv.view.event.*",
      "rsv.view.heartbeat.queue",
      "rsv.view.heartbeat.event",
    ]) {
      expect(reached).toContain(pattern);
    }
  }, 60_000);
});
