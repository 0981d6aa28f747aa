import type { Database, Queryable } from "../shared/db";

// API.md's demo data: 3 concerts, each with 3 events of 50 seats numbered "1"…"50".
const CONCERTS = [
  { title: "아이유 콘서트 2026", venue: "서울 올림픽공원 KSPO DOME" },
  { title: "BTS 월드 투어 서울", venue: "서울 잠실종합운동장" },
  { title: "뉴진스 팬미팅", venue: "부산 벡스코 오디토리움" },
];

/** The section of an event loaded without sections: the whole hall. */
const WHOLE_HALL = "전체";

export async function createEvent(tx: Queryable, concertId: number, startsAt: Date, seats: number): Promise<number> {
  const [event] = await tx.query<{ id: number }>(
    `INSERT INTO concert_events (concert_id, starts_at) VALUES ($1, $2) RETURNING id`,
    [concertId, startsAt.toISOString()],
  );
  const eventId = Number(event!.id);
  // One section for the whole hall, priced (as a section shows it) at its lowest price.
  await tx.query(`INSERT INTO event_sections (concert_event_id, ord, name, price) VALUES ($1, 0, $2, $3)`, [eventId, WHOLE_HALL, 50000]);
  await tx.query(
    // The first ten seats of every event are VIP.
    `INSERT INTO seats (concert_event_id, seat_number, price)
     SELECT $1, n::text, CASE WHEN n <= 10 THEN 150000 ELSE 50000 END FROM generate_series(1, $2::int) AS n`,
    [eventId, seats],
  );
  return eventId;
}

/** Loads the demo concerts when the database has none; returns whether it did. */
export async function seedDemo(db: Database): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.query(`LOCK TABLE concerts IN EXCLUSIVE MODE`);
    const existing = await tx.query(`SELECT 1 FROM concerts LIMIT 1`);
    if (existing.length > 0) return false;
    for (const [index, concert] of CONCERTS.entries()) {
      // The demo concerts are on sale already, with no end.
      const [row] = await tx.query<{ id: number }>(
        `INSERT INTO concerts (title, venue, sale_opens_at) VALUES ($1, $2, '2026-01-01T00:00:00Z') RETURNING id`,
        [concert.title, concert.venue],
      );
      for (let day = 0; day < 3; day++) {
        const startsAt = new Date(Date.UTC(2027, index + 1, 10 + day, 10, 0, 0));
        await createEvent(tx, Number(row!.id), startsAt, 50);
      }
    }
    return true;
  });
}
