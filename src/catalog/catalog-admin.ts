// What operators do to the catalog: put a concert on sale, add an event with its seat map, and read how a sale is
// going. A concert's later edits (its sale window above all) belong to its queue actor, which the HTTP side asks
// directly; everything here is a plain statement on rows no actor owns yet, or a read.
import type { NatsConnection, Service } from "nats";
import { ok } from "../shared/codec";
import type { Database } from "../shared/db";
import { AppError } from "../shared/errors";
import { addService, idOf } from "../shared/nats-service";
import { Requests, type Concert, type EventSales, type NewConcertEvent, type QueueReport, type SectionSpec } from "../shared/subjects";
import { concert } from "./catalog";

export const MAX_SEATS_PER_EVENT = 100_000;
const MAX_SECTIONS = 50;
const MAX_SECTION_PRICE = 100_000_000;
/** Letters of any script (Hangul included), digits, `_` and `-`. */
const SECTION_NAME = /^[\p{L}\p{N}_-]{1,20}$/u;

const iso = (value: unknown) => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOf = (ms: number) => new Date(ms).toISOString();

/** A time an operator sent: an ISO-8601 string with a time zone, as epoch milliseconds. */
export function timeOf(value: unknown): number {
  const ms = typeof value === "string" && /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new AppError("invalid_request");
  return ms;
}

function text(value: unknown): string {
  if (typeof value !== "string" || value.length < 1 || value.length > 200) throw new AppError("invalid_request");
  return value;
}

export async function createConcert(db: Database, request: Record<string, unknown>): Promise<Concert> {
  const title = text(request.title);
  const venue = text(request.venue);
  const opensAt = timeOf(request.saleOpensAt);
  const closesAt = request.saleClosesAt === undefined || request.saleClosesAt === null ? null : timeOf(request.saleClosesAt);
  if (closesAt !== null && closesAt <= opensAt) throw new AppError("invalid_request");
  const [row] = await db.query(
    `INSERT INTO concerts (title, venue, sale_opens_at, sale_closes_at) VALUES ($1, $2, $3, $4) RETURNING id`,
    [title, venue, isoOf(opensAt), closesAt === null ? null : isoOf(closesAt)],
  );
  return concert(db, Number(row!.id));
}

export function sectionsOf(value: unknown): SectionSpec[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_SECTIONS) throw new AppError("invalid_request");
  const sections = value.map((section: Record<string, unknown> | null): SectionSpec => {
    const { name, price, seats } = section ?? {};
    const valid =
      typeof name === "string" &&
      SECTION_NAME.test(name) &&
      Number.isSafeInteger(price) &&
      (price as number) >= 0 &&
      (price as number) <= MAX_SECTION_PRICE &&
      Number.isSafeInteger(seats) &&
      (seats as number) >= 1;
    if (!valid) throw new AppError("invalid_request");
    return { name, price: price as number, seats: seats as number };
  });
  const total = sections.reduce((sum, s) => sum + s.seats, 0);
  if (new Set(sections.map((s) => s.name)).size !== sections.length || total > MAX_SEATS_PER_EVENT) throw new AppError("invalid_request");
  return sections;
}

/**
 * An event and its whole seat map in one transaction, the seats by one set-based INSERT (a 100,000-seat hall is one
 * statement): seat numbers `"<section>-<n>"`, ids in section order. The event is bookable at once: the first request
 * for it finds no owner, and one takes it (see cluster/ownership.ts).
 */
export async function createEvent(db: Database, concertId: number, startsAt: number, sections: SectionSpec[]): Promise<NewConcertEvent> {
  return db.transaction(async (tx) => {
    const found = await tx.query(`SELECT 1 FROM concerts WHERE id = $1 FOR SHARE`, [concertId]);
    if (found.length === 0) throw new AppError("not_found_concert");
    const [event] = await tx.query(`INSERT INTO concert_events (concert_id, starts_at) VALUES ($1, $2) RETURNING id`, [concertId, isoOf(startsAt)]);
    const eventId = Number(event!.id);
    const [seats] = await tx.query(
      `WITH created AS (
         INSERT INTO seats (concert_event_id, seat_number, price)
         SELECT $1, s.name || '-' || n, s.price
           FROM unnest($2::text[], $3::bigint[], $4::int[]) WITH ORDINALITY AS s(name, price, seats, ord),
                generate_series(1, s.seats) AS n
          ORDER BY s.ord, n
         RETURNING 1)
       SELECT count(*)::int AS n FROM created`,
      [eventId, sections.map((s) => s.name), sections.map((s) => s.price), sections.map((s) => s.seats)],
    );
    return { id: eventId, concertId, startsAt: isoOf(startsAt), totalSeats: Number(seats!.n) };
  });
}

/** Seats by state (a lapsed hold counts as available, as in the catalog) and the revenue of payments not refunded. */
export async function eventSales(db: Database, eventId: number): Promise<EventSales> {
  const found = await db.query(`SELECT 1 FROM concert_events WHERE id = $1`, [eventId]);
  if (found.length === 0) throw new AppError("not_found_concert_event");
  const [seats] = await db.query(
    `SELECT count(*) AS total,
            count(*) FILTER (WHERE status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= now())) AS available,
            count(*) FILTER (WHERE status = 'HELD' AND hold_expires_at > now()) AS held,
            count(*) FILTER (WHERE status = 'RESERVED') AS reserved,
            count(*) FILTER (WHERE status = 'SOLD') AS sold
       FROM seats WHERE concert_event_id = $1`,
    [eventId],
  );
  const [money] = await db.query(
    `SELECT coalesce(sum(p.amount), 0) AS revenue
       FROM payments p JOIN reservations r ON r.id = p.reservation_id
      WHERE r.concert_event_id = $1 AND p.status = 'success'`,
    [eventId],
  );
  return {
    concertEventId: eventId,
    totalSeats: Number(seats!.total),
    available: Number(seats!.available),
    held: Number(seats!.held),
    reserved: Number(seats!.reserved),
    sold: Number(seats!.sold),
    revenue: Number(money!.revenue),
  };
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
  return addService(nc, "catalog-admin", "운영: 콘서트와 회차 등록, 판매 현황, 대기열 현황", [
    { name: "create-concert", subject: Requests.createConcert, handle: async (r) => ok(await createConcert(db, r)) },
    {
      name: "create-event",
      subject: Requests.createEvent,
      handle: async (r) => ok(await createEvent(db, idOf(r, "concertId"), timeOf(r.startsAt), sectionsOf(r.sections))),
    },
    { name: "event-sales", subject: Requests.eventSales, handle: async (r) => ok(await eventSales(db, idOf(r, "concertEventId"))) },
    { name: "queue-report", subject: Requests.queueReport, handle: async (r) => ok(await queueReport(db, idOf(r, "concertId"))) },
  ]);
}
