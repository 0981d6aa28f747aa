// The concert catalog: concerts and their events with seat counts. Reads only; the counts treat a lapsed hold as
// available even before its actor has released it, so a passivated event never looks fuller than it is.
import type { NatsConnection, Service } from "nats";
import { ok } from "../shared/codec";
import type { Database } from "../shared/db";
import type { Row } from "../shared/db/port";
import { AppError } from "../shared/errors";
import { addService, endpoint } from "../shared/nats-service";
import { CATALOG_SERVICE, Requests } from "../shared/subjects";
import { Api, type Concert, type ConcertEventSummary, type SaleSummary } from "../shared/messages";

const CONCERT_COLUMNS = `id, title, venue, sale_opens_at, sale_closes_at`;
const iso = (value: unknown) => (value instanceof Date ? value : new Date(String(value))).toISOString();

function concertOf(row: Row): Concert {
  return {
    id: Number(row.id),
    title: String(row.title),
    venue: String(row.venue),
    saleOpensAt: iso(row.sale_opens_at),
    saleClosesAt: row.sale_closes_at === null ? null : iso(row.sale_closes_at),
  };
}

export async function concerts(db: Database): Promise<Concert[]> {
  return (await db.query(`SELECT ${CONCERT_COLUMNS} FROM concerts ORDER BY id`)).map(concertOf);
}

export async function concert(db: Database, concertId: number): Promise<Concert> {
  const [row] = await db.query(`SELECT ${CONCERT_COLUMNS} FROM concerts WHERE id = $1`, [concertId]);
  if (!row) throw new AppError("not_found_concert");
  return concertOf(row);
}

export async function concertEvents(db: Database, concertId: number): Promise<ConcertEventSummary[]> {
  const found = await db.query(`SELECT 1 FROM concerts WHERE id = $1`, [concertId]);
  if (found.length === 0) throw new AppError("not_found_concert");
  const rows = await db.query(
    `SELECT e.id, e.concert_id, e.starts_at,
            count(s.id) AS total_seats,
            count(s.id) FILTER (WHERE s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.hold_expires_at <= now())) AS available_seats
       FROM concert_events e LEFT JOIN seats s ON s.concert_event_id = e.id
      WHERE e.concert_id = $1
      GROUP BY e.id ORDER BY e.starts_at, e.id`,
    [concertId],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    concertId: Number(row.concert_id),
    startsAt: iso(row.starts_at),
    totalSeats: Number(row.total_seats),
    availableSeats: Number(row.available_seats),
  }));
}

/** Committed seat states per event (a lapsed hold counts as available) and live queue tokens. */
export async function saleSummary(db: Database): Promise<SaleSummary> {
  const seats = await db.query(
    `SELECT concert_event_id AS event_id,
            count(*) FILTER (WHERE status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= now())) AS available,
            count(*) FILTER (WHERE status = 'HELD' AND hold_expires_at > now()) AS held,
            count(*) FILTER (WHERE status = 'RESERVED') AS reserved,
            count(*) FILTER (WHERE status = 'SOLD') AS sold
       FROM seats GROUP BY concert_event_id ORDER BY concert_event_id`,
  );
  const [queue] = await db.query(
    `SELECT count(*) FILTER (WHERE status = 'WAITING') AS waiting, count(*) FILTER (WHERE status = 'ACTIVE') AS active
       FROM queue_tokens WHERE status IN ('WAITING', 'ACTIVE')`,
  );
  return {
    events: seats.map((row) => ({
      eventId: Number(row.event_id),
      available: Number(row.available),
      held: Number(row.held),
      reserved: Number(row.reserved),
      sold: Number(row.sold),
    })),
    queue: { waiting: Number(queue!.waiting), active: Number(queue!.active) },
  };
}

export function startCatalogService(nc: NatsConnection, db: Database): Promise<Service> {
  const api = Api.catalog;
  return addService(nc, CATALOG_SERVICE, "콘서트와 이벤트 목록", [
    endpoint({ name: "concerts", subject: Requests.concerts, messages: api.concerts, handle: async () => ok(await concerts(db)) }),
    endpoint({ name: "concert", subject: Requests.concert, messages: api.concert, handle: async ({ concertId }) => ok(await concert(db, concertId)) }),
    endpoint({
      name: "events",
      subject: Requests.concertEvents,
      messages: api.events,
      handle: async ({ concertId }) => ok(await concertEvents(db, concertId)),
    }),
    endpoint({
      name: "summary",
      subject: Requests.saleSummary,
      messages: api.summary,
      handle: async () => ok(await saleSummary(db)),
      // Also in its stats, so the read-only monitor user, who may send no rsv. request, can read it.
      stats: () => saleSummary(db),
    }),
  ]);
}
