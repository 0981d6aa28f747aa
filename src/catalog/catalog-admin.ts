// What operators do to the catalog: put a concert on sale, add an event with its seat map, and read how a sale is
// going. A concert's later edits (its sale window above all) belong to its queue actor, which the HTTP side asks
// directly; everything here is a plain statement on rows no actor owns yet, or a read.
import type { NatsConnection, Service } from "nats";
import { ok } from "../shared/codec";
import type { Database } from "../shared/db";
import { AppError } from "../shared/errors";
import { addService, endpoint } from "../shared/nats-service";
import { Requests } from "../shared/subjects";
import {
  Api,
  MAX_SEATS_PER_EVENT,
  type Concert,
  type EventOutline,
  type EventSales,
  type NewConcert,
  type NewConcertEvent,
  type QueueReport,
  type Section,
} from "../shared/messages";
import { concert } from "./catalog";

const iso = (value: unknown) => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOf = (ms: number) => new Date(ms).toISOString();

// ---- the rules a schema cannot say (the schemas in messages.ts check every field's shape first) ------------------

/** A time an operator sent, already an ISO-8601 date-time by its schema, as epoch milliseconds: it must also exist. */
export function timeOf(value: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new AppError("invalid_request");
  return ms;
}

/** A sale window closes after it opens. */
function saleWindowOf(request: NewConcert): { opensAt: number; closesAt: number | null } {
  const opensAt = timeOf(request.saleOpensAt);
  const closesAt = request.saleClosesAt === undefined || request.saleClosesAt === null ? null : timeOf(request.saleClosesAt);
  if (closesAt !== null && closesAt <= opensAt) throw new AppError("invalid_request");
  return { opensAt, closesAt };
}

/** Section names are unique within the event, and the hall has at most MAX_SEATS_PER_EVENT seats. */
export function seatMapOf(sections: Section[]): Section[] {
  const total = sections.reduce((sum, s) => sum + s.seats, 0);
  if (new Set(sections.map((s) => s.name)).size !== sections.length || total > MAX_SEATS_PER_EVENT) throw new AppError("invalid_request");
  return sections;
}

// ---- statements ------------------------------------------------------------------------------------------------

export async function createConcert(db: Database, request: NewConcert): Promise<Concert> {
  const { opensAt, closesAt } = saleWindowOf(request);
  const [row] = await db.query(
    `INSERT INTO concerts (title, venue, sale_opens_at, sale_closes_at) VALUES ($1, $2, $3, $4) RETURNING id`,
    [request.title, request.venue, isoOf(opensAt), closesAt === null ? null : isoOf(closesAt)],
  );
  return concert(db, Number(row!.id));
}

/**
 * An event and its whole seat map in one transaction, the seats by one set-based INSERT (a 100,000-seat hall is one
 * statement): seat numbers `"<section>-<n>"`, ids in section order. The event is bookable at once: the first request
 * for it finds no owner, and one takes it (see cluster/ownership.ts).
 */
export async function createEvent(db: Database, concertId: number, startsAt: number, sections: Section[]): Promise<NewConcertEvent> {
  return db.transaction(async (tx) => {
    const found = await tx.query(`SELECT 1 FROM concerts WHERE id = $1 FOR SHARE`, [concertId]);
    if (found.length === 0) throw new AppError("not_found_concert");
    const [event] = await tx.query(`INSERT INTO concert_events (concert_id, starts_at) VALUES ($1, $2) RETURNING id`, [concertId, isoOf(startsAt)]);
    const eventId = Number(event!.id);
    const [seats] = await tx.query(
      `WITH listed AS (SELECT name, price, seats, ord - 1 AS ord FROM unnest($2::text[], $3::bigint[], $4::int[]) WITH ORDINALITY AS s(name, price, seats, ord)),
            sections AS (INSERT INTO event_sections (concert_event_id, ord, name, price) SELECT $1, ord, name, price FROM listed),
            created AS (
              INSERT INTO seats (concert_event_id, seat_number, price, section)
              SELECT $1, s.name || '-' || n, s.price, s.ord FROM listed s, generate_series(1, s.seats) AS n ORDER BY s.ord, n
              RETURNING 1)
       SELECT count(*)::int AS n FROM created`,
      [eventId, sections.map((s) => s.name), sections.map((s) => s.price), sections.map((s) => s.seats)],
    );
    return { id: eventId, concertId, startsAt: isoOf(startsAt), totalSeats: Number(seats!.n) };
  });
}

/**
 * Seats by state (a lapsed hold counts as available, as in the catalog) and the revenue of payments not refunded,
 * from the event's own seats alone: a sold seat belongs to exactly one payment not refunded, whose amount is its
 * reservation's total, the sum of its seats' prices (`bun run verify` checks all three). Summing the payments
 * instead joined every payment of every event, 99 ms per poll at 14,000 payments, polled every second per event.
 */
export async function eventSales(db: Database, eventId: number): Promise<EventSales> {
  const found = await db.query(`SELECT 1 FROM concert_events WHERE id = $1`, [eventId]);
  if (found.length === 0) throw new AppError("not_found_concert_event");
  const [seats] = await db.query(
    `SELECT count(*) AS total,
            count(*) FILTER (WHERE status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= now())) AS available,
            count(*) FILTER (WHERE status = 'HELD' AND hold_expires_at > now()) AS held,
            count(*) FILTER (WHERE status = 'RESERVED') AS reserved,
            count(*) FILTER (WHERE status = 'SOLD') AS sold,
            coalesce(sum(price) FILTER (WHERE status = 'SOLD'), 0) AS revenue
       FROM seats WHERE concert_event_id = $1`,
    [eventId],
  );
  return {
    concertEventId: eventId,
    totalSeats: Number(seats!.total),
    available: Number(seats!.available),
    held: Number(seats!.held),
    reserved: Number(seats!.reserved),
    sold: Number(seats!.sold),
    revenue: Number(seats!.revenue),
  };
}

/** A concert's events with their sections as the operator gave them, each section's seats counted. */
export async function eventOutlines(db: Database, concertId: number): Promise<EventOutline[]> {
  await concert(db, concertId);
  const rows = await db.query(
    `SELECT e.id, e.starts_at, es.name, es.price, count(s.id) AS seats
       FROM concert_events e
       JOIN event_sections es ON es.concert_event_id = e.id
       LEFT JOIN seats s ON s.concert_event_id = e.id AND s.section = es.ord
      WHERE e.concert_id = $1
      GROUP BY e.id, e.starts_at, es.ord, es.name, es.price
      ORDER BY e.starts_at, e.id, es.ord`,
    [concertId],
  );
  const events = new Map<number, EventOutline>();
  for (const row of rows) {
    const id = Number(row.id);
    let event = events.get(id);
    if (!event) events.set(id, (event = { id, concertId, startsAt: iso(row.starts_at), totalSeats: 0, sections: [] }));
    const seats = Number(row.seats);
    event.totalSeats += seats;
    event.sections.push({ name: String(row.name), price: Number(row.price), seats });
  }
  return [...events.values()];
}

/** A concert's queue as committed: who waits, who is in (turns not yet lapsed), and how many were ever let in. */
export async function queueReport(db: Database, concertId: number): Promise<QueueReport> {
  const [row] = await db.query(
    `SELECT c.sale_opens_at,
            count(q.token) FILTER (WHERE q.status = 'WAITING') AS waiting,
            count(q.token) FILTER (WHERE q.status = 'ACTIVE' AND q.expires_at > now()) AS active,
            count(q.token) FILTER (WHERE q.activated_at IS NOT NULL) AS admitted
       FROM concerts c LEFT JOIN queue_tokens q ON q.queue_id = c.id
      WHERE c.id = $1 GROUP BY c.id`,
    [concertId],
  );
  if (!row) throw new AppError("not_found_concert");
  return {
    concertId,
    opensAt: iso(row.sale_opens_at),
    waiting: Number(row.waiting),
    active: Number(row.active),
    admittedTotal: Number(row.admitted),
  };
}

export function startCatalogAdminService(nc: NatsConnection, db: Database): Promise<Service> {
  const api = Api["catalog-admin"];
  return addService(nc, "catalog-admin", "운영: 콘서트와 회차 등록, 판매 현황, 대기열 현황", [
    endpoint({ name: "create-concert", subject: Requests.createConcert, messages: api["create-concert"], handle: async (r) => ok(await createConcert(db, r)) }),
    endpoint({
      name: "create-event",
      subject: Requests.createEvent,
      messages: api["create-event"],
      handle: async (r) => ok(await createEvent(db, r.concertId, timeOf(r.startsAt), seatMapOf(r.sections))),
    }),
    endpoint({
      name: "event-sales",
      subject: Requests.eventSales,
      messages: api["event-sales"],
      handle: async ({ concertEventId }) => ok(await eventSales(db, concertEventId)),
    }),
    endpoint({
      name: "queue-report",
      subject: Requests.queueReport,
      messages: api["queue-report"],
      handle: async ({ concertId }) => ok(await queueReport(db, concertId)),
    }),
    endpoint({
      name: "event-list",
      subject: Requests.eventList,
      messages: api["event-list"],
      handle: async ({ concertId }) => ok(await eventOutlines(db, concertId)),
    }),
  ]);
}
