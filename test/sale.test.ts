// Selling a real show, end to end on both databases: an operator puts a concert on sale and adds an event from
// sections; fans wait in the concert's own queue for the opening; seats are on sale only inside the window; a hold can
// be given back; a paid reservation is refunded until the cutoff. Every route and error code of API.md's v1.1 sections
// on operators, the sale window, per-concert queues and refunds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { verify } from "../src/cli/verify";
import { CATALOG } from "../src/shared/errors";
import { databaseCases } from "./support/databases";
import { startTestService, UserClient, type Response, type TestService } from "./support/service";

const cases = await databaseCases();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function expectError(response: Response, code: keyof typeof CATALOG) {
  expect({ status: response.status, body: response.body }).toEqual({
    status: CATALOG[code].status,
    body: { error: { code, message: CATALOG[code].message } },
  });
}

const iso = (ms: number) => new Date(ms).toISOString();

for (const db of cases) {
  describe(`selling a real show on ${db.name}`, () => {
    let t: TestService;
    let drop: () => Promise<void>;
    let admin: UserClient;
    let nextUser = 5000;
    const user = () => new UserClient(t.base, nextUser++);

    const createConcert = async (body: Record<string, unknown>) => {
      const created = await admin.call("POST", "/api/v1/admin/concerts", { title: "테스트 콘서트", venue: "KSPO DOME", ...body });
      expect(created.status).toBe(201);
      return created.body.data as { id: number; title: string; venue: string; saleOpensAt: string; saleClosesAt: string | null };
    };
    const createEvent = async (concertId: number, sections: unknown[], startsAt = Date.now() + 30 * DAY) => {
      const created = await admin.call("POST", `/api/v1/admin/concerts/${concertId}/events`, { startsAt: iso(startsAt), sections });
      expect(created.status).toBe(201);
      return created.body.data as { id: number; totalSeats: number };
    };
    const seatsOf = async (u: UserClient, eventId: number) => (await u.call("GET", `/api/v1/concert-events/${eventId}/available-seats`)).body.list;
    /** A user admitted through the global queue with money in the wallet. */
    const buyer = async (balance = 1_000_000) => {
      const u = user();
      await u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount: balance });
      expect((await u.enterQueue()).body.data.status).toBe("ACTIVE");
      return u;
    };

    beforeAll(async () => {
      const opened = await db.open();
      drop = opened.drop;
      t = await startTestService(opened.target, { QUEUE_MAX_ACTIVE: "300", MAX_SEATS_PER_USER: "4", REFUND_CUTOFF_HOURS: "24" });
      admin = new UserClient(t.base, 1, true);
    }, 30_000);
    afterAll(async () => {
      await t?.stop();
      await drop?.();
    });

    test("operator routes need a valid token with the admin role", async () => {
      const anonymous = await fetch(`${t.base}/api/v1/admin/concerts/1/queue`);
      expect(anonymous.status).toBe(401);
      const fan = user();
      const routes: [string, string, unknown?][] = [
        ["POST", "/api/v1/admin/concerts", { title: "x", venue: "y", saleOpensAt: iso(Date.now()) }],
        ["PATCH", "/api/v1/admin/concerts/1", { title: "x" }],
        ["POST", "/api/v1/admin/concerts/1/events", { startsAt: iso(Date.now() + DAY), sections: [{ name: "A", price: 1, seats: 1 }] }],
        ["GET", "/api/v1/admin/concert-events/1/summary"],
        ["GET", "/api/v1/admin/concerts/1/queue"],
        ["GET", "/api/v1/admin/concerts/1/events"],
      ];
      for (const [method, path, body] of routes) expectError(await fan.call(method, path, body), "forbidden");
      expect((await admin.call("GET", "/api/v1/admin/concerts/1/queue")).status).toBe(200);
    });

    test("creating a concert: the window is shown in the list; bad input is invalid_request", async () => {
      const opensAt = Date.now() + DAY;
      const concert = await createConcert({ title: "아이유 콘서트 2027", saleOpensAt: iso(opensAt), saleClosesAt: iso(opensAt + DAY) });
      expect(concert).toEqual({ id: expect.any(Number), title: "아이유 콘서트 2027", venue: "KSPO DOME", saleOpensAt: iso(opensAt), saleClosesAt: iso(opensAt + DAY) });
      const open = await createConcert({ saleOpensAt: iso(opensAt) });
      expect(open.saleClosesAt).toBeNull();
      const list = (await user().call("GET", "/api/v1/concerts")).body.list;
      expect(list.find((c: { id: number }) => c.id === concert.id)).toEqual(concert);
      const bad: Record<string, unknown>[] = [
        { title: "", venue: "v", saleOpensAt: iso(opensAt) },
        { title: "x".repeat(201), venue: "v", saleOpensAt: iso(opensAt) },
        { title: "t", venue: "v" },
        { title: "t", venue: "v", saleOpensAt: "tomorrow" },
        { title: "t", venue: "v", saleOpensAt: iso(opensAt), saleClosesAt: iso(opensAt) },
        { title: "t", venue: "v", saleOpensAt: 12345 },
      ];
      for (const body of bad) expectError(await admin.call("POST", "/api/v1/admin/concerts", body), "invalid_request");
    });

    test("editing a concert: the opening moves until it has come, then sale_already_open", async () => {
      const concert = await createConcert({ saleOpensAt: iso(Date.now() + DAY) });
      const later = Date.now() + 2 * DAY;
      const moved = await admin.call("PATCH", `/api/v1/admin/concerts/${concert.id}`, { title: "바뀐 제목", saleOpensAt: iso(later) });
      expect(moved.status).toBe(200);
      expect(moved.body.data).toMatchObject({ id: concert.id, title: "바뀐 제목", saleOpensAt: iso(later), saleClosesAt: null });
      expectError(await admin.call("PATCH", `/api/v1/admin/concerts/${concert.id}`, { saleClosesAt: iso(later - 1) }), "invalid_request");
      expectError(await admin.call("PATCH", "/api/v1/admin/concerts/999999", { title: "x" }), "not_found_concert");
      expectError(await admin.call("PATCH", `/api/v1/admin/concerts/${concert.id}`, { title: "" }), "invalid_request");

      const opened = await createConcert({ saleOpensAt: iso(Date.now() - HOUR) });
      expectError(await admin.call("PATCH", `/api/v1/admin/concerts/${opened.id}`, { saleOpensAt: iso(Date.now() + DAY) }), "sale_already_open");
      const closes = Date.now() + DAY;
      const extended = await admin.call("PATCH", `/api/v1/admin/concerts/${opened.id}`, { venue: "고척스카이돔", saleClosesAt: iso(closes) });
      expect(extended.body.data).toMatchObject({ venue: "고척스카이돔", saleOpensAt: opened.saleOpensAt, saleClosesAt: iso(closes) });
    });

    test("creating an event from sections: seat numbers per section; bad seat maps are invalid_request", async () => {
      const concert = await createConcert({ saleOpensAt: iso(Date.now() - HOUR) });
      const event = await createEvent(concert.id, [
        { name: "VIP", price: 198_000, seats: 3 },
        { name: "R석", price: 154_000, seats: 2 },
      ]);
      expect(event).toMatchObject({ concertId: concert.id, totalSeats: 5 });
      const outlines = await admin.call("GET", `/api/v1/admin/concerts/${concert.id}/events`);
      expect(outlines.body.list).toEqual([
        {
          id: event.id,
          concertId: concert.id,
          startsAt: expect.any(String),
          totalSeats: 5,
          sections: [
            { name: "VIP", price: 198_000, seats: 3 },
            { name: "R석", price: 154_000, seats: 2 },
          ],
        },
      ]);
      expectError(await admin.call("GET", "/api/v1/admin/concerts/999999/events"), "not_found_concert");
      const fan = await buyer();
      expect((await seatsOf(fan, event.id)).map((s: { seatNumber: string; price: number }) => [s.seatNumber, s.price])).toEqual([
        ["VIP-1", 198_000],
        ["VIP-2", 198_000],
        ["VIP-3", 198_000],
        ["R석-1", 154_000],
        ["R석-2", 154_000],
      ]);
      const sections = (list: unknown[]) => admin.call("POST", `/api/v1/admin/concerts/${concert.id}/events`, { startsAt: iso(Date.now() + DAY), sections: list });
      const a = { name: "A", price: 1000, seats: 10 };
      for (const list of [
        [],
        Array.from({ length: 51 }, (_, i) => ({ ...a, name: `S${i}` })),
        [{ ...a, name: "V P" }],
        [{ ...a, name: "x".repeat(21) }],
        [a, a],
        [{ ...a, price: 100_000_001 }],
        [{ ...a, price: -1 }],
        [{ ...a, seats: 0 }],
        [{ ...a, seats: 1.5 }],
        [{ ...a, seats: 60_000 }, { ...a, name: "B", seats: 40_001 }],
      ]) {
        expectError(await sections(list), "invalid_request");
      }
      expectError(await admin.call("POST", `/api/v1/admin/concerts/${concert.id}/events`, { startsAt: "soon", sections: [a] }), "invalid_request");
      expectError(await admin.call("POST", "/api/v1/admin/concerts/999999/events", { startsAt: iso(Date.now() + DAY), sections: [a] }), "not_found_concert");
    });

    test("a 100,000-seat event is created in one call and bookable at once", async () => {
      const concert = await createConcert({ saleOpensAt: iso(Date.now() - HOUR) });
      const started = performance.now();
      const event = await createEvent(concert.id, [
        { name: "VIP", price: 198_000, seats: 20_000 },
        { name: "R", price: 154_000, seats: 80_000 },
      ]);
      const seconds = (performance.now() - started) / 1000;
      expect(event.totalSeats).toBe(100_000);
      const fan = await buyer();
      const seats = await seatsOf(fan, event.id);
      expect(seats.length).toBe(100_000);
      expect(seats.at(-1).seatNumber).toBe("R-80000");
      const held = await fan.call("POST", `/api/v1/concert-events/${event.id}/occupy`, { seatId: seats.at(-1).id });
      expect(held.body.data).toMatchObject({ seatNumber: "R-80000", price: 154_000 });
      console.error(`100,000-seat event created in ${seconds.toFixed(2)} s on ${db.name}`);
    }, 60_000);

    test("sales summary per event and queue summary per concert", async () => {
      const concert = await createConcert({ saleOpensAt: iso(Date.now() - HOUR) });
      const event = await createEvent(concert.id, [{ name: "A", price: 50_000, seats: 6 }]);
      const fan = await buyer();
      const seats = await seatsOf(fan, event.id);
      for (const seat of seats.slice(0, 3)) await fan.call("POST", `/api/v1/concert-events/${event.id}/occupy`, { seatId: seat.id });
      const reserved = await fan.call("POST", `/api/v1/concert-events/${event.id}/reserve`, { seatIds: [seats[0].id, seats[1].id] });
      const other = await buyer();
      await other.call("POST", `/api/v1/concert-events/${event.id}/occupy`, { seatId: seats[3].id });
      const mine = await other.call("POST", `/api/v1/concert-events/${event.id}/reserve`, { seatId: seats[3].id });
      expect((await other.call("POST", "/api/v1/payments", { reservationId: mine.body.data.id })).status).toBe(200);
      expect(reserved.status).toBe(200);
      const summary = await admin.call("GET", `/api/v1/admin/concert-events/${event.id}/summary`);
      expect(summary.body.data).toEqual({ concertEventId: event.id, totalSeats: 6, available: 2, held: 1, reserved: 2, sold: 1, revenue: 50_000 });
      expectError(await admin.call("GET", "/api/v1/admin/concert-events/999999/summary"), "not_found_concert_event");

      const waitingFan = user();
      expect((await waitingFan.enterQueue(concert.id)).body.data.status).toBe("ACTIVE");
      const report = await admin.call("GET", `/api/v1/admin/concerts/${concert.id}/queue`);
      expect(report.body.data).toEqual({ concertId: concert.id, opensAt: concert.saleOpensAt, waiting: 0, active: 1, admittedTotal: 1 });
      expectError(await admin.call("GET", "/api/v1/admin/concerts/999999/queue"), "not_found_concert");
    });

    test("seats are on sale only inside the window; a closed sale's queue cannot be entered", async () => {
      const future = await createConcert({ saleOpensAt: iso(Date.now() + DAY) });
      const futureEvent = await createEvent(future.id, [{ name: "A", price: 1000, seats: 3 }]);
      const fan = await buyer();
      expectError(await fan.call("GET", `/api/v1/concert-events/${futureEvent.id}/available-seats`), "sale_not_open");
      expectError(await fan.call("POST", `/api/v1/concert-events/${futureEvent.id}/occupy`, { seatId: 1 }), "sale_not_open");
      expectError(await fan.call("POST", `/api/v1/concert-events/${futureEvent.id}/reserve`, { seatId: 1 }), "sale_not_open");
      expectError(await fan.call("DELETE", `/api/v1/concert-events/${futureEvent.id}/holds/1`), "sale_not_open");

      const closing = await createConcert({ saleOpensAt: iso(Date.now() - HOUR), saleClosesAt: iso(Date.now() + 1500) });
      const closingEvent = await createEvent(closing.id, [{ name: "A", price: 1000, seats: 3 }]);
      const [first] = await seatsOf(fan, closingEvent.id);
      await fan.call("POST", `/api/v1/concert-events/${closingEvent.id}/occupy`, { seatId: first.id });
      const reservation = await fan.call("POST", `/api/v1/concert-events/${closingEvent.id}/reserve`, { seatId: first.id });
      await Bun.sleep(1600);
      expectError(await fan.call("GET", `/api/v1/concert-events/${closingEvent.id}/available-seats`), "sale_closed");
      expectError(await fan.call("POST", `/api/v1/concert-events/${closingEvent.id}/occupy`, { seatId: first.id + 1 }), "sale_closed");
      expectError(await user().enterQueue(closing.id), "sale_closed");
      // A reservation made in time can still be paid.
      expect((await fan.call("POST", "/api/v1/payments", { reservationId: reservation.body.data.id })).status).toBe(200);
      expectError(await user().enterQueue(999_999), "not_found_concert");
      expectError(await user().call("POST", "/api/v1/queue/tokens", { concertId: "one" }), "invalid_request");
    });

    test("a concert's queue: its tokens admit to its own events only, and it runs beside the global queue", async () => {
      const a = await createConcert({ saleOpensAt: iso(Date.now() - HOUR) });
      const b = await createConcert({ saleOpensAt: iso(Date.now() - HOUR) });
      const eventA = await createEvent(a.id, [{ name: "A", price: 1000, seats: 3 }]);
      const eventB = await createEvent(b.id, [{ name: "B", price: 1000, seats: 3 }]);
      const fan = user();
      const ticket = await fan.enterQueue(a.id);
      expect(ticket.body.data).toMatchObject({ status: "ACTIVE", queuePosition: 0 });
      expect(ticket.body.data.token.startsWith(`${a.id}.`)).toBe(true);
      expect((await fan.enterQueue(a.id)).body.data.token).toBe(ticket.body.data.token);
      const status = await fan.call("GET", "/api/v1/queue/status");
      expect(status.body.data).toMatchObject({ status: "ACTIVE", queuePosition: 0 });
      expect((await seatsOf(fan, eventA.id)).length).toBe(3);
      expectError(await fan.call("GET", `/api/v1/concert-events/${eventB.id}/available-seats`), "invalid_token");
      expectError(await fan.call("POST", `/api/v1/concert-events/${eventB.id}/occupy`, { seatId: 1 }), "invalid_token");
      expectError(await fan.call("GET", `/api/v1/concerts/${b.id}/events`), "invalid_token");
      expect((await fan.call("GET", `/api/v1/concerts/${a.id}/events`)).status).toBe(200);
      // The same user also holds a place in the global queue, which admits everywhere.
      const globalTicket = await fan.call("POST", "/api/v1/queue/tokens");
      expect(globalTicket.body.data.token).not.toBe(ticket.body.data.token);
      const withGlobal = { "user-token": globalTicket.body.data.token };
      expect((await fan.call("GET", `/api/v1/concert-events/${eventB.id}/available-seats`, undefined, withGlobal)).status).toBe(200);
      expect((await fan.call("DELETE", "/api/v1/queue/tokens")).body.data).toEqual({ status: "EXPIRED" });
      expectError(await fan.call("GET", "/api/v1/queue/status"), "not_found_in_queue");
    });

    test("before the opening fans wait in the pre-queue; at the opening they are let in", async () => {
      const opensAt = Date.now() + 2500;
      const concert = await createConcert({ saleOpensAt: iso(opensAt) });
      const event = await createEvent(concert.id, [{ name: "A", price: 1000, seats: 10 }]);
      const fans = [user(), user(), user()];
      const tickets = [];
      for (const fan of fans) tickets.push((await fan.enterQueue(concert.id)).body.data);
      expect(tickets[2]).toMatchObject({ status: "WAITING", queuePosition: 3, opensAt: iso(opensAt) });
      expect(tickets[2].estimatedWaitingTime).toBeGreaterThanOrEqual(1);
      expect(tickets[2].estimatedWaitingTime).toBeLessThanOrEqual(3);
      expect((await fans[0]!.call("GET", "/api/v1/queue/status")).body.data).toMatchObject({ status: "WAITING", queuePosition: 3 });
      expectError(await fans[0]!.call("GET", `/api/v1/concert-events/${event.id}/available-seats`), "queue_token_not_active");
      const report = await admin.call("GET", `/api/v1/admin/concerts/${concert.id}/queue`);
      expect(report.body.data).toMatchObject({ waiting: 3, active: 0, admittedTotal: 0 });
      await Bun.sleep(Math.max(0, opensAt - Date.now()) + 500);
      for (const fan of fans) expect((await fan.call("GET", "/api/v1/queue/status")).body.data.status).toBe("ACTIVE");
      expect((await seatsOf(fans[0]!, event.id)).length).toBe(10);
      const late = user();
      expect((await late.enterQueue(concert.id)).body.data.status).toBe("ACTIVE");
    });

    test("a hold is given back early", async () => {
      const fan = await buyer();
      const rival = await buyer();
      const [seat] = await seatsOf(fan, 4);
      await fan.call("POST", "/api/v1/concert-events/4/occupy", { seatId: seat.id });
      expectError(await rival.call("DELETE", `/api/v1/concert-events/4/holds/${seat.id}`), "seat_not_held");
      const released = await fan.call("DELETE", `/api/v1/concert-events/4/holds/${seat.id}`);
      expect(released.body).toEqual({ data: { id: seat.id, seatNumber: seat.seatNumber, status: "AVAILABLE" } });
      expectError(await fan.call("DELETE", `/api/v1/concert-events/4/holds/${seat.id}`), "seat_not_held");
      expect((await rival.call("POST", "/api/v1/concert-events/4/occupy", { seatId: seat.id })).status).toBe(200);
      expectError(await fan.call("DELETE", "/api/v1/concert-events/999999/holds/1"), "not_found_concert_event");
      expectError(await fan.call("DELETE", "/api/v1/concert-events/4/holds/1", undefined, { "user-token": "" }), "invalid_token");
    });

    test("a paid reservation is refunded once, until the cutoff before the event", async () => {
      const concert = await createConcert({ saleOpensAt: iso(Date.now() - HOUR) });
      const far = await createEvent(concert.id, [{ name: "A", price: 70_000, seats: 4 }], Date.now() + 30 * DAY);
      const soon = await createEvent(concert.id, [{ name: "A", price: 70_000, seats: 4 }], Date.now() + 12 * HOUR);
      const fan = await buyer(200_000);
      const buy = async (eventId: number) => {
        // A payment ends the buyer's turn in the queue: each purchase takes a new one.
        expect((await fan.enterQueue()).body.data.status).toBe("ACTIVE");
        const [seat] = await seatsOf(fan, eventId);
        await fan.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId: seat.id });
        const reservation = (await fan.call("POST", `/api/v1/concert-events/${eventId}/reserve`, { seatId: seat.id })).body.data;
        expect((await fan.call("POST", "/api/v1/payments", { reservationId: reservation.id })).status).toBe(200);
        return { reservation, seat };
      };
      const kept = await buy(soon.id);
      const { reservation, seat } = await buy(far.id);
      const balance = async () => (await fan.call("GET", `/api/v1/users/${fan.userId}/wallet`)).body.data.balance;
      expect(await balance()).toBe(60_000);
      expectError(await user().call("DELETE", `/api/v1/reservations/${reservation.id}`), "not_found_reservation");
      const refunded = await fan.call("DELETE", `/api/v1/reservations/${reservation.id}`);
      expect(refunded.body.data).toMatchObject({ id: reservation.id, status: "REFUNDED", totalAmount: 70_000 });
      expect(await balance()).toBe(130_000);
      expect((await fan.call("DELETE", `/api/v1/reservations/${reservation.id}`)).body.data).toEqual(refunded.body.data);
      expect(await balance()).toBe(130_000);
      const payments = (await fan.call("GET", `/api/v1/users/${fan.userId}/payments`)).body.list;
      expect(payments.find((p: { reservationId: number }) => p.reservationId === reservation.id).status).toBe("refunded");
      expect(payments.find((p: { reservationId: number }) => p.reservationId === kept.reservation.id).status).toBe("success");
      await fan.enterQueue();
      expect((await seatsOf(fan, far.id)).some((s: { id: number }) => s.id === seat.id)).toBe(true);
      const reservations = (await fan.call("GET", `/api/v1/users/${fan.userId}/reservations`)).body.list;
      expect(reservations.find((r: { id: number }) => r.id === reservation.id).status).toBe("REFUNDED");
      expectError(await fan.call("DELETE", `/api/v1/reservations/${kept.reservation.id}`), "refund_period_over");
      const summary = (await admin.call("GET", `/api/v1/admin/concert-events/${far.id}/summary`)).body.data;
      expect(summary).toMatchObject({ sold: 0, revenue: 0, available: 4 });
    });

    test("operator routes are documented under 운영, and the database audit is clean", async () => {
      const spec = (await (await fetch(`${t.base}/v3/api-docs`)).json()) as { paths: Record<string, Record<string, { tags: string[] }>> };
      for (const [path, method] of [
        ["/api/v1/admin/concerts", "post"],
        ["/api/v1/admin/concerts/{concertId}", "patch"],
        ["/api/v1/admin/concerts/{concertId}/events", "post"],
        ["/api/v1/admin/concert-events/{concertEventId}/summary", "get"],
        ["/api/v1/admin/concerts/{concertId}/queue", "get"],
      ] as const) {
        expect(spec.paths[path]?.[method]?.tags).toEqual(["운영"]);
      }
      expect(spec.paths["/api/v1/concert-events/{concertEventId}/holds/{seatId}"]?.delete).toBeDefined();
      expect(await verify(t.service.db)).toEqual([]);
    });
  });
}
