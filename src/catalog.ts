// The concert catalog: concerts and their events with seat counts. Reads only; the counts treat a lapsed hold as
// available even before its actor has released it, so a passivated event never looks fuller than it is.
import type { NatsConnection, Service } from "nats";
import { ok } from "./codec";
import type { Database } from "./db";
import { AppError } from "./errors";
import { addService, idOf } from "./nats-service";
import { Requests, type Concert, type ConcertEventSummary } from "./subjects";

export async function concerts(db: Database): Promise<Concert[]> {
  const rows = await db.query(`SELECT id, title, venue FROM concerts ORDER BY id`);
  return rows.map((row) => ({ id: Number(row.id), title: String(row.title), venue: String(row.venue) }));
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
    startsAt: (row.starts_at as Date).toISOString(),
    totalSeats: Number(row.total_seats),
    availableSeats: Number(row.available_seats),
  }));
}

export function startCatalogService(nc: NatsConnection, db: Database): Promise<Service> {
  return addService(nc, "catalog", "콘서트와 이벤트 목록", [
    { name: "concerts", subject: Requests.concerts, handle: async () => ok(await concerts(db)) },
    {
      name: "events",
      subject: Requests.concertEvents,
      handle: async (request) => ok(await concertEvents(db, idOf(request, "concertId"))),
    },
  ]);
}
