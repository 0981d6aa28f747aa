// Every endpoint of API.md through the real path: HTTP → NATS → actors → database, once per database adapter.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type NatsConnection } from "nats";
import { CATALOG } from "../src/shared/errors";
import { verify } from "../src/cli/verify";
import { databaseCases } from "./support/databases";
import { signUserToken } from "../src/http/auth";
import { startTestService, TEST_SECRET, UserClient, type TestService } from "./support/service";

const cases = await databaseCases();

function expectError(response: { status: number; body: any }, code: keyof typeof CATALOG) {
  expect({ status: response.status, body: response.body }).toEqual({
    status: CATALOG[code].status,
    body: { error: { code, message: CATALOG[code].message } },
  });
}

for (const db of cases) {
  describe(`end to end on ${db.name}`, () => {
    let t: TestService;
    let drop: () => Promise<void>;
    let nextUser = 1000;
    const user = () => new UserClient(t.base, nextUser++);
    const admitted = async () => {
      const u = user();
      expect((await u.enterQueue()).body.data.status).toBe("ACTIVE");
      return u;
    };

    let observer: NatsConnection;
    const published: string[] = [];

    beforeAll(async () => {
      const opened = await db.open();
      drop = opened.drop;
      t = await startTestService(opened.target, { QUEUE_MAX_ACTIVE: "300", MAX_SEATS_PER_USER: "4" });
      observer = await connect({ servers: t.nats.url });
      observer.subscribe("rsv.evt.>", { callback: (_, msg) => published.push(msg.subject) });
    }, 30_000);
    afterAll(async () => {
      await observer?.close();
      await t?.stop();
      await drop?.();
    });

    test("health, readiness, OpenAPI and Swagger UI", async () => {
      expect(await (await fetch(`${t.base}/health`)).json()).toEqual({ status: "UP" });
      const ready = await fetch(`${t.base}/ready`);
      expect(ready.status).toBe(200);
      const spec = (await (await fetch(`${t.base}/v3/api-docs`)).json()) as { info: { title: string }; paths: Record<string, unknown> };
      expect(spec.info.title).toBe("콘서트 좌석 예약 서비스 API");
      expect(Object.keys(spec.paths)).toContain("/api/v1/concert-events/{concertEventId}/occupy");
      const page = await (await fetch(`${t.base}/swagger`)).text();
      expect(page).toContain("swagger-ui");
      expect(page).not.toContain("unpkg.com");
    });

    test("a request id given by the client comes back, and one is made up otherwise", async () => {
      const u = user();
      const traced = await u.call("GET", `/api/v1/users/${u.userId}/wallet`, undefined, { "x-request-id": "trace-123" });
      expect(traced.headers.get("x-request-id")).toBe("trace-123");
      const failed = await u.call("GET", `/api/v1/users/${u.userId + 1}/wallet`, undefined, { "x-request-id": "trace-456" });
      expect(failed.headers.get("x-request-id")).toBe("trace-456");
      const made = await Promise.all([1, 2].map(async () => (await u.call("GET", `/api/v1/users/${u.userId}/wallet`)).headers.get("x-request-id")));
      // The instance's random prefix and a counter: two requests never share one.
      for (const id of made) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
      expect(made[0]).not.toBe(made[1]);
    });

    test("wallet: charge, read, refuse bad amounts, other users and missing tokens", async () => {
      const u = user();
      expect((await u.call("GET", `/api/v1/users/${u.userId}/wallet`)).body).toEqual({ data: { balance: 0 } });
      const charged = await u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount: 50_000 });
      expect(charged.body).toEqual({ data: { balance: 50_000 } });
      await u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount: 100_000 });
      expect((await u.call("GET", `/api/v1/users/${u.userId}/wallet`)).body).toEqual({ data: { balance: 150_000 } });
      for (const amount of [0, -1, 1.5, "100", 100_000_001, null]) {
        expectError(await u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount }), "invalid_amount");
      }
      expectError(await u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, {}), "invalid_amount");
      expectError(await u.call("GET", `/api/v1/users/${u.userId + 1}/wallet`), "forbidden");
      expectError(await u.call("PATCH", `/api/v1/users/${u.userId + 1}/wallet/charge`, { amount: 1 }), "forbidden");
      const anonymous = await fetch(`${t.base}/api/v1/users/${u.userId}/wallet`);
      expect(anonymous.status).toBe(401);
      expect((await u.call("GET", `/api/v1/users/${u.userId}/wallet`)).body).toEqual({ data: { balance: 150_000 } });
    });

    test("concurrent charges all count", async () => {
      const u = user();
      await Promise.all(Array.from({ length: 50 }, () => u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount: 1_000 })));
      expect((await u.call("GET", `/api/v1/users/${u.userId}/wallet`)).body).toEqual({ data: { balance: 50_000 } });
    });

    test("queue: a token, the same one again, status, leaving", async () => {
      const u = user();
      const first = await u.enterQueue();
      expect(first.status).toBe(200);
      expect(first.body.data).toMatchObject({ queuePosition: 0, estimatedWaitingTime: 0, status: "ACTIVE" });
      expect(first.body.data.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const again = await u.call("POST", "/api/v1/queue/tokens");
      expect(again.body.data.token).toBe(first.body.data.token);
      const status = await u.call("GET", "/api/v1/queue/status");
      expect(status.body.data).toMatchObject({ queuePosition: 0, estimatedWaitingTime: 0, status: "ACTIVE" });
      expect(Date.parse(status.body.data.expiresAt)).toBeGreaterThan(Date.now());
      expectError(await u.call("GET", "/api/v1/queue/status", undefined, { "user-token": "not a token!" }), "invalid_token");
      expectError(await u.call("GET", "/api/v1/queue/status", undefined, { "user-token": "A".repeat(22) }), "not_found_in_queue");
      const other = user();
      expectError(await other.call("GET", "/api/v1/queue/status", undefined, { "user-token": u.queueToken! }), "invalid_token");
      expect((await u.call("DELETE", "/api/v1/queue/tokens")).body).toEqual({ data: { status: "EXPIRED" } });
      expectError(await u.call("GET", "/api/v1/queue/status"), "not_found_in_queue");
      const fresh = await u.enterQueue();
      expect(fresh.body.data.token).not.toBe(first.body.data.token);
    });

    test("a status poll the front door answers from memory is the route's answer, counted and stamped alike", async () => {
      const u = await admitted();
      // A bearer this instance has not verified yet: its first poll takes the route, its second is answered at once.
      const bearer = { authorization: `Bearer ${await signUserToken(u.userId, TEST_SECRET, 3_600)}` };
      const polls = async () => (await fetch(`${t.base}/metrics`).then((r) => r.text())).match(/http_requests_total\{route="\/api\/v1\/queue\/status",method="GET",status="200"\} (\d+)/)?.[1];
      const before = Number((await polls()) ?? 0);
      const routed = await u.call("GET", "/api/v1/queue/status", undefined, bearer);
      const atOnce = await u.call("GET", "/api/v1/queue/status", undefined, { ...bearer, "x-request-id": "poll-42" });
      expect(routed.status).toBe(200);
      expect(atOnce.status).toBe(200);
      expect(atOnce.body).toEqual(routed.body);
      expect(atOnce.headers.get("content-type")).toBe(routed.headers.get("content-type")!);
      expect(atOnce.headers.get("x-request-id")).toBe("poll-42");
      expect(routed.headers.get("x-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
      expect(Number(await polls())).toBe(before + 2);
      // What memory cannot answer still takes the route: another user's token, a token gone from the queue.
      expectError(await user().call("GET", "/api/v1/queue/status", undefined, { "user-token": u.queueToken! }), "invalid_token");
      expectError(await u.call("GET", "/api/v1/queue/status", undefined, { ...bearer, "user-token": "B".repeat(22) }), "not_found_in_queue");
      expectError(await u.call("GET", "/api/v1/queue/status", undefined, { authorization: `${bearer.authorization}x` }), "unauthorized");
    });

    test("concerts and their events", async () => {
      const u = await admitted();
      const concerts = await u.call("GET", "/api/v1/concerts");
      expect(concerts.body.list.length).toBe(3);
      const concertId = concerts.body.list[0].id;
      expect(Object.keys(concerts.body.list[0]).sort()).toEqual(["id", "saleClosesAt", "saleOpensAt", "title", "venue"]);
      // The demo concerts are on sale, with no end.
      expect(concerts.body.list[0]).toMatchObject({ saleClosesAt: null });
      expect(Date.parse(concerts.body.list[0].saleOpensAt)).toBeLessThan(Date.now());
      expect(typeof concertId).toBe("number");
      const events = await u.call("GET", `/api/v1/concerts/${concertId}/events`);
      expect(events.body.list.length).toBe(3);
      expect(events.body.list[0]).toMatchObject({ concertId, totalSeats: 50 });
      expect(typeof events.body.list[0].availableSeats).toBe("number");
      expectError(await u.call("GET", "/api/v1/concerts/999999/events"), "not_found_concert");
      expectError(await u.call("GET", "/api/v1/concerts/1/events", undefined, { "user-token": "" }), "invalid_token");
    });

    test("a seat is held, reserved, paid for and sold; every step refuses what it must", async () => {
      const buyer = await admitted();
      const rival = await admitted();
      const eventId = 2;
      const seats = await buyer.call("GET", `/api/v1/concert-events/${eventId}/available-seats`);
      expect(seats.body.list.length).toBe(50);
      expect(seats.body.list[0]).toEqual({ id: expect.any(Number), seatNumber: "1", price: 150_000 });
      const seatId = seats.body.list[20].id;

      const held = await buyer.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId });
      expect(held.status).toBe(200);
      expect(held.body.data).toMatchObject({ id: seatId, seatNumber: "21", price: 50_000 });
      expect((await buyer.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId })).body).toEqual(held.body);
      expectError(await rival.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId }), "seat_unavailable");
      expectError(await rival.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId: 999_999 }), "not_found_seat");
      expectError(await rival.call("POST", `/api/v1/concert-events/999999/occupy`, { seatId }), "not_found_concert_event");
      expectError(await rival.call("GET", `/api/v1/concert-events/999999/available-seats`), "not_found_concert_event");
      expectError(await rival.call("POST", `/api/v1/concert-events/${eventId}/reserve`, { seatId }), "seat_not_held");
      const after = await rival.call("GET", `/api/v1/concert-events/${eventId}/available-seats`);
      expect(after.body.list.map((s: { id: number }) => s.id)).not.toContain(seatId);

      const reserved = await buyer.call("POST", `/api/v1/concert-events/${eventId}/reserve`, { seatId });
      expect(reserved.status).toBe(200);
      expect(reserved.body.data).toMatchObject({ concertEventId: eventId, totalSeats: 1, totalAmount: 50_000, status: "PENDING" });
      expect(reserved.body.data.expiresAt).toBe(held.body.data.expirationTime);
      const reservationId = reserved.body.data.id;

      expectError(await buyer.call("POST", "/api/v1/payments", { reservationId }), "insufficient_balance");
      expectError(await rival.call("POST", "/api/v1/payments", { reservationId }), "not_found_reservation");
      expectError(await buyer.call("POST", "/api/v1/payments", { reservationId: 99_999_999 }), "not_found_reservation");
      await buyer.call("PATCH", `/api/v1/users/${buyer.userId}/wallet/charge`, { amount: 60_000 });
      const paid = await buyer.call("POST", "/api/v1/payments", { reservationId });
      expect(paid.status).toBe(200);
      expect(paid.body.data).toMatchObject({ reservationId, amount: 50_000, status: "success" });
      expect((await buyer.call("POST", "/api/v1/payments", { reservationId })).body).toEqual(paid.body);
      expect((await buyer.call("GET", `/api/v1/users/${buyer.userId}/wallet`)).body).toEqual({ data: { balance: 10_000 } });
      expect((await buyer.call("GET", `/api/v1/users/${buyer.userId}/payments`)).body).toEqual({ list: [paid.body.data] });
      const mine = await buyer.call("GET", `/api/v1/users/${buyer.userId}/reservations`);
      expect(mine.body.list[0]).toMatchObject({ id: reservationId, status: "PAID" });
      expectError(await buyer.call("GET", `/api/v1/users/${rival.userId}/payments`), "forbidden");
      expectError(await buyer.call("GET", `/api/v1/users/${rival.userId}/reservations`), "forbidden");

      // Paying ended the buyer's turn in the queue: the queue's actor hears of the payment and ends it, and the
      // status, answered from the instance's copy of the queue, says so within the 250 ms it may lag.
      const until = Date.now() + 250;
      let status = await buyer.call("GET", "/api/v1/queue/status");
      while (status.status === 200 && Date.now() < until) status = await buyer.call("GET", "/api/v1/queue/status");
      expectError(status, "not_found_in_queue");
      expectError(await rival.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId }), "seat_unavailable");
    });

    test("hold limit, several seats in one reservation, cancelling", async () => {
      const u = await admitted();
      const eventId = 3;
      const list = (await u.call("GET", `/api/v1/concert-events/${eventId}/available-seats`)).body.list as { id: number; price: number }[];
      for (const seat of list.slice(0, 4)) expect((await u.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId: seat.id })).status).toBe(200);
      expectError(await u.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId: list[4]!.id }), "hold_limit_exceeded");
      const ids = list.slice(0, 2).map((s) => s.id);
      const reserved = await u.call("POST", `/api/v1/concert-events/${eventId}/reserve`, { seatIds: ids });
      expect(reserved.body.data).toMatchObject({ totalSeats: 2, totalAmount: list[0]!.price + list[1]!.price, seatIds: ids });
      const cancelled = await u.call("DELETE", `/api/v1/reservations/${reserved.body.data.id}`);
      expect(cancelled.body.data).toMatchObject({ id: reserved.body.data.id, status: "CANCELLED" });
      expect((await u.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId: list[4]!.id })).status).toBe(200);
      const free = (await u.call("GET", `/api/v1/concert-events/${eventId}/available-seats`)).body.list.map((s: { id: number }) => s.id);
      expect(free).toContain(ids[0]);
      expectError(await u.call("DELETE", `/api/v1/reservations/99999999`), "not_found_reservation");
      // Nobody else can cancel or pay this user's reservation, or use their queue token.
      const other = await admitted();
      const mine = await u.call("POST", `/api/v1/concert-events/${eventId}/reserve`, { seatId: list[2]!.id });
      expectError(await other.call("DELETE", `/api/v1/reservations/${mine.body.data.id}`), "not_found_reservation");
      expectError(await other.call("POST", "/api/v1/payments", { reservationId: mine.body.data.id }), "not_found_reservation");
      expectError(await other.call("DELETE", "/api/v1/queue/tokens", undefined, { "user-token": u.queueToken! }), "invalid_token");
      expect((await u.call("GET", "/api/v1/queue/status")).body.data.status).toBe("ACTIVE");
    });

    test("queue tokens guard the seat routes", async () => {
      const u = user();
      expectError(await u.call("GET", "/api/v1/concert-events/1/available-seats"), "invalid_token");
      expectError(await u.call("GET", "/api/v1/concert-events/1/available-seats", undefined, { "user-token": "B".repeat(22) }), "invalid_token");
      const owner = await admitted();
      expectError(await u.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 1 }, { "user-token": owner.queueToken! }), "invalid_token");
    });

    test("bad input answers from the catalog, never 500", async () => {
      const u = await admitted();
      const raw = await fetch(`${t.base}/api/v1/concert-events/1/occupy`, {
        method: "POST",
        headers: { authorization: `Bearer ${await import("../src/http/auth").then((a) => a.signUserToken(u.userId, "test-secret-for-the-end-to-end-suite"))}`, "user-token": u.queueToken!, "content-type": "application/json" },
        body: "{not json",
      });
      expect(raw.status).toBe(400);
      expectError(await u.call("POST", "/api/v1/concert-events/1/occupy", { seatId: "one" }), "invalid_request");
      expectError(await u.call("POST", "/api/v1/concert-events/abc/occupy", { seatId: 1 }), "invalid_request");
      expectError(await u.call("GET", `/api/v1/users/abc/wallet`), "invalid_request");
      expect((await u.call("GET", "/api/v1/nowhere")).status).toBe(404);
    });

    test("race: 200 admitted users occupy the same seat at once, exactly one wins", async () => {
      const users = await Promise.all(Array.from({ length: 200 }, () => admitted()));
      const seatId = (await users[0]!.call("GET", "/api/v1/concert-events/4/available-seats")).body.list[0].id;
      const results = await Promise.all(users.map((u) => u.call("POST", "/api/v1/concert-events/4/occupy", { seatId })));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200).length).toBe(1);
      expect(statuses.filter((s) => s === 409).length).toBe(199);
      for (const r of results.filter((r) => r.status === 409)) expect(r.body.error.code).toBe("seat_unavailable");
      const [row] = await t.service.db.query(`SELECT count(*) AS n FROM seats WHERE id = $1 AND status = 'HELD'`, [seatId]);
      expect(Number(row!.n)).toBe(1);
    }, 60_000);

    test("domain events of the sale were published on NATS", async () => {
      await observer.flush();
      const seen = new Set(published.map((subject) => subject.replace(/^rsv\.evt\.event\.\d+\./, "event.")));
      for (const subject of [
        "event.seat.held",
        "event.seat.reserved",
        "event.seat.sold",
        "event.seat.released",
        "event.reservation.created",
        "event.reservation.cancelled",
        "event.payment.completed",
        "rsv.evt.queue.0.token.issued",
        "rsv.evt.queue.0.token.expired",
        "rsv.evt.wallet.charged",
      ]) {
        expect(seen).toContain(subject);
      }
    });

    test("each owned event is a NATS service of its own whose stats count the requests", async () => {
      const stats = [];
      for await (const s of await observer.services.client().stats("concert-event")) stats.push(s);
      // One instance owns every demo event (and the queue), each under an ownership epoch.
      expect(stats.length).toBe(9);
      expect(stats.map((s) => Number(s.metadata!.event)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      let occupied = 0;
      for (const s of stats) {
        expect(s.metadata!.instance).toBe(t.service.instance);
        expect(Number(s.metadata!.epoch)).toBeGreaterThan(0);
        const occupy = s.endpoints!.find((e) => e.name === "occupy")!;
        expect(occupy.subject).toBe(`rsv.event.${s.metadata!.event}.occupy`);
        occupied += occupy.num_requests;
      }
      expect(occupied).toBeGreaterThan(200);
      const services = new Set<string>();
      for await (const info of await observer.services.client().info()) services.add(info.name);
      expect([...services].sort()).toEqual(["catalog", "catalog-admin", "concert-event", "ownership", "payments", "queue-admission", "wallet"]);
    });

    test("/metrics shows requests, commits, seats, queue and payments in Prometheus format", async () => {
      const response = await fetch(`${t.base}/metrics`);
      expect(response.headers.get("content-type")).toContain("text/plain");
      const text = await response.text();
      const value = (pattern: RegExp) => Number(text.match(pattern)?.[1] ?? NaN);
      expect(value(/http_requests_total\{route="\/api\/v1\/concert-events\/:id\/occupy",method="POST",status="409"\} (\d+)/)).toBeGreaterThanOrEqual(199);
      expect(text).toMatch(/http_request_duration_seconds_bucket\{le="0.005",route="\/api\/v1\/concert-events\/:id\/occupy",method="POST"\}/);
      expect(text).toMatch(/nats_request_duration_seconds_count\{subject="rsv.event.\*.occupy",outcome="seat_unavailable"\}/);
      expect(value(/actor_commit_batch_size_count\{actor="concert-event"\} (\d+)/)).toBeGreaterThan(0);
      expect(value(/actor_commit_duration_seconds_count\{actor="queue",outcome="committed"\} (\d+)/)).toBeGreaterThan(0);
      expect(value(/event_seats\{event="4",status="HELD"\} (\d+)/)).toBe(1);
      expect(value(/actor_mailbox_depth\{event="4"\} (\d+)/)).toBe(0);
      expect(value(/queue_tokens\{queue="0",status="active"\} (\d+)/)).toBeGreaterThan(200);
      expect(value(/queue_admissions_total\{queue="0"\} (\d+)/)).toBeGreaterThan(200);
      expect(value(/payments_total\{outcome="success"\} (\d+)/)).toBeGreaterThanOrEqual(1);
      expect(value(/payments_total\{outcome="insufficient_balance"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    });

    test("afterwards the database passes the audit", async () => {
      expect(await verify(t.service.db)).toEqual([]);
    });
  });
}

describe("queue admission end to end (QUEUE_MAX_ACTIVE=1)", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ kind: "pglite-memory" }, { QUEUE_MAX_ACTIVE: "1" });
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
  });

  test("a waiting token is refused on seat routes until its turn comes, in order", async () => {
    const [first, second, third] = [new UserClient(t.base, 1), new UserClient(t.base, 2), new UserClient(t.base, 3)];
    expect((await first.enterQueue()).body.data).toMatchObject({ status: "ACTIVE", queuePosition: 0 });
    const waiting = await second.enterQueue();
    expect(waiting.body.data).toMatchObject({ status: "WAITING", queuePosition: 1 });
    expect(waiting.body.data.estimatedWaitingTime).toBeGreaterThan(0);
    expect((await third.enterQueue()).body.data).toMatchObject({ status: "WAITING", queuePosition: 2 });
    expectError(await second.call("GET", "/api/v1/concert-events/1/available-seats"), "queue_token_not_active");
    expectError(await second.call("GET", "/api/v1/concerts/1/events"), "queue_token_not_active");

    expect((await first.call("GET", "/api/v1/concert-events/1/available-seats")).status).toBe(200);
    await first.call("DELETE", "/api/v1/queue/tokens");
    expect((await second.call("GET", "/api/v1/queue/status")).body.data).toMatchObject({ status: "ACTIVE", queuePosition: 0 });
    expect((await third.call("GET", "/api/v1/queue/status")).body.data).toMatchObject({ status: "WAITING", queuePosition: 1 });
    expect((await second.call("GET", "/api/v1/concert-events/1/available-seats")).status).toBe(200);
    // The user who left holds no place any more: the old token is refused everywhere.
    expectError(await first.call("GET", "/api/v1/concert-events/1/available-seats"), "invalid_token");
  });
});
