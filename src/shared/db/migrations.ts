import type { Database } from "./port";

// Each migration is a list of single statements, applied once, in order, inside one transaction.
// The constraints are the last line of defence for the invariants the actors keep in memory:
// a seat row has exactly one state, so it can be in at most one live hold or reservation;
// a reservation has at most one payment; a wallet balance never goes below zero.
const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE concerts (
       id bigserial PRIMARY KEY,
       title text NOT NULL,
       venue text NOT NULL
     )`,
    `CREATE TABLE concert_events (
       id bigserial PRIMARY KEY,
       concert_id bigint NOT NULL REFERENCES concerts(id),
       starts_at timestamptz NOT NULL
     )`,
    `CREATE INDEX concert_events_concert ON concert_events(concert_id)`,
    `CREATE TABLE reservations (
       id bigserial PRIMARY KEY,
       user_id bigint NOT NULL,
       concert_event_id bigint NOT NULL REFERENCES concert_events(id),
       total_amount bigint NOT NULL CHECK (total_amount >= 0),
       status text NOT NULL CHECK (status IN ('PENDING', 'PAID', 'EXPIRED', 'CANCELLED')),
       created_at timestamptz NOT NULL,
       expires_at timestamptz NOT NULL
     )`,
    `CREATE INDEX reservations_user ON reservations(user_id, id DESC)`,
    `CREATE INDEX reservations_event_live ON reservations(concert_event_id) WHERE status IN ('PENDING', 'PAID')`,
    `CREATE TABLE seats (
       id bigserial PRIMARY KEY,
       concert_event_id bigint NOT NULL REFERENCES concert_events(id),
       seat_number text NOT NULL,
       price bigint NOT NULL CHECK (price >= 0),
       status text NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'HELD', 'RESERVED', 'SOLD')),
       user_id bigint,
       hold_expires_at timestamptz,
       reservation_id bigint REFERENCES reservations(id),
       UNIQUE (concert_event_id, seat_number),
       CHECK ((status = 'AVAILABLE') = (user_id IS NULL)),
       CHECK ((status = 'HELD') = (hold_expires_at IS NOT NULL)),
       CHECK ((status IN ('RESERVED', 'SOLD')) = (reservation_id IS NOT NULL))
     )`,
    `CREATE INDEX seats_event ON seats(concert_event_id, id)`,
    `CREATE TABLE reservation_seats (
       reservation_id bigint NOT NULL REFERENCES reservations(id),
       seat_id bigint NOT NULL REFERENCES seats(id),
       price bigint NOT NULL,
       PRIMARY KEY (reservation_id, seat_id)
     )`,
    `CREATE TABLE wallets (
       user_id bigint PRIMARY KEY,
       balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0 AND balance <= 1000000000000)
     )`,
    `CREATE TABLE wallet_ledger (
       id bigserial PRIMARY KEY,
       user_id bigint NOT NULL,
       amount bigint NOT NULL,
       kind text NOT NULL CHECK (kind IN ('charge', 'payment')),
       payment_id bigint,
       created_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE INDEX wallet_ledger_user ON wallet_ledger(user_id)`,
    `CREATE TABLE payments (
       id bigserial PRIMARY KEY,
       reservation_id bigint NOT NULL UNIQUE REFERENCES reservations(id),
       user_id bigint NOT NULL,
       amount bigint NOT NULL CHECK (amount >= 0),
       status text NOT NULL DEFAULT 'success',
       paid_at timestamptz NOT NULL
     )`,
    `CREATE INDEX payments_user ON payments(user_id, id DESC)`,
    `CREATE TABLE queue_tokens (
       token text PRIMARY KEY,
       user_id bigint NOT NULL,
       seq bigint NOT NULL UNIQUE,
       status text NOT NULL CHECK (status IN ('WAITING', 'ACTIVE', 'EXPIRED')),
       issued_at timestamptz NOT NULL,
       activated_at timestamptz,
       expires_at timestamptz,
       CHECK ((status = 'ACTIVE') <= (expires_at IS NOT NULL))
     )`,
    // One live place in the queue per user, whatever the races.
    `CREATE UNIQUE INDEX queue_tokens_live_user ON queue_tokens(user_id) WHERE status IN ('WAITING', 'ACTIVE')`,
    `CREATE INDEX queue_tokens_live ON queue_tokens(seq) WHERE status IN ('WAITING', 'ACTIVE')`,
  ],
  [
    // Instances announce themselves here; one whose alive_until passed is gone.
    `CREATE TABLE service_instances (
       id text PRIMARY KEY,
       started_at timestamptz NOT NULL DEFAULT now(),
       alive_until timestamptz NOT NULL
     )`,
    // One row per actor that must have a single owner: 'event:<id>' and 'queue'. The epoch grows with every change
    // of owner and is the fencing token every actor commit checks; the lease is timed by the database's clock alone.
    `CREATE TABLE ownerships (
       entity text PRIMARY KEY,
       instance text,
       epoch bigint NOT NULL DEFAULT 0,
       lease_until timestamptz NOT NULL DEFAULT '-infinity'
     )`,
    `CREATE INDEX ownerships_instance ON ownerships(instance)`,
  ],
  [
    // The queue's load finds live tokens through queue_tokens_live_user (same predicate) and sorts them by seq. This
    // second partial index cost every issued token about a quarter of its insert on PGlite (16 of 60 µs).
    `DROP INDEX IF EXISTS queue_tokens_live`,
  ],
  [
    // The sale window. Concerts that existed before it are on sale from now on.
    `ALTER TABLE concerts ADD COLUMN sale_opens_at timestamptz NOT NULL DEFAULT now()`,
    `ALTER TABLE concerts ALTER COLUMN sale_opens_at DROP DEFAULT`,
    `ALTER TABLE concerts ADD COLUMN sale_closes_at timestamptz`,
    `ALTER TABLE concerts ADD CONSTRAINT concerts_sale_window CHECK (sale_closes_at IS NULL OR sale_closes_at > sale_opens_at)`,
    // Set once, by the concert's queue actor, in the transaction that stores the drawn order of its pre-queue.
    `ALTER TABLE concerts ADD COLUMN queue_opened_at timestamptz`,
    // A queue per concert beside the global one (0): one live place per user in each, arrival order per queue, and
    // the drawn place of those who waited for the opening.
    `ALTER TABLE queue_tokens ADD COLUMN queue_id bigint NOT NULL DEFAULT 0`,
    `ALTER TABLE queue_tokens ADD COLUMN draw int`,
    `ALTER TABLE queue_tokens DROP CONSTRAINT queue_tokens_seq_key`,
    `CREATE UNIQUE INDEX queue_tokens_queue_seq ON queue_tokens(queue_id, seq)`,
    `DROP INDEX queue_tokens_live_user`,
    `CREATE UNIQUE INDEX queue_tokens_live_user ON queue_tokens(queue_id, user_id) WHERE status IN ('WAITING', 'ACTIVE')`,
    // Refunds: the reservation and its payment say so, and the wallet's ledger records the credit.
    `ALTER TABLE reservations DROP CONSTRAINT reservations_status_check`,
    `ALTER TABLE reservations ADD CONSTRAINT reservations_status_check CHECK (status IN ('PENDING', 'PAID', 'EXPIRED', 'CANCELLED', 'REFUNDED'))`,
    `ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('success', 'refunded'))`,
    `ALTER TABLE payments ADD COLUMN refunded_at timestamptz`,
    `ALTER TABLE wallet_ledger DROP CONSTRAINT wallet_ledger_kind_check`,
    `ALTER TABLE wallet_ledger ADD CONSTRAINT wallet_ledger_kind_check CHECK (kind IN ('charge', 'payment', 'refund'))`,
    // The 10^12 cap is a rule for charges (the wallet's charge checks it); a refund must never be refused for it.
    `ALTER TABLE wallets DROP CONSTRAINT wallets_balance_check`,
    `ALTER TABLE wallets ADD CONSTRAINT wallets_balance_check CHECK (balance >= 0)`,
  ],
  [
    // Domain events waiting to reach the event stream, written with the change they describe (see shared/outbox.ts):
    // one row per commit, its events a JSON array of [subject, body]. A row lives from its commit until JetStream has
    // acknowledged its events, normally a few milliseconds.
    `CREATE TABLE event_outbox (
       id uuid PRIMARY KEY,
       events text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       claimed_until timestamptz NOT NULL DEFAULT '-infinity',
       claimed_by text
     )`,
  ],
  [
    // The opening's draw as one seed, from which every place of the pre-queue follows (shared/draw-order.ts): storing
    // a place per token made the opening of a stadium's line one statement the size of the line. Queues opened before
    // keep their places in queue_tokens.draw.
    `ALTER TABLE concerts ADD COLUMN queue_draw_seed bytea`,
    `ALTER TABLE concerts ADD CONSTRAINT concerts_draw_seed CHECK (queue_draw_seed IS NULL OR (queue_opened_at IS NOT NULL AND length(queue_draw_seed) = 32))`,
  ],
  [
    // An event's sections, in the order its operator gave them, and each seat's section (its index in that order).
    `CREATE TABLE event_sections (
       concert_event_id bigint NOT NULL REFERENCES concert_events(id),
       ord smallint NOT NULL CHECK (ord BETWEEN 0 AND 49),
       name text NOT NULL,
       price bigint NOT NULL CHECK (price >= 0),
       PRIMARY KEY (concert_event_id, ord),
       UNIQUE (concert_event_id, name)
     )`,
    `ALTER TABLE seats ADD COLUMN section smallint NOT NULL DEFAULT 0`,
    // Events that existed before: an operator's have seat numbers "<section>-<n>", so their sections are found again,
    // in the order of their first seats, each at its lowest price; any other event (the demo's, the seed loader's) is
    // one section, "전체".
    `CREATE TEMPORARY TABLE seat_section ON COMMIT DROP AS
       WITH named AS (SELECT id, concert_event_id, price,
                             CASE WHEN seat_number ~ '^.+-[0-9]+$' THEN regexp_replace(seat_number, '-[0-9]+$', '') END AS name
                        FROM seats),
            whole AS (SELECT concert_event_id, bool_and(name IS NOT NULL) AS named FROM named GROUP BY concert_event_id)
       SELECT n.id, n.concert_event_id, n.price, CASE WHEN w.named THEN n.name ELSE '전체' END AS name
         FROM named n JOIN whole w USING (concert_event_id)`,
    `INSERT INTO event_sections (concert_event_id, ord, name, price)
       SELECT concert_event_id, row_number() OVER (PARTITION BY concert_event_id ORDER BY min(id)) - 1, name, min(price)
         FROM seat_section GROUP BY concert_event_id, name`,
    `UPDATE seats s SET section = es.ord FROM seat_section ss JOIN event_sections es USING (concert_event_id, name) WHERE ss.id = s.id`,
  ],
];

export async function migrate(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    // Instances starting together would race on CREATE TABLE IF NOT EXISTS (it is not atomic in PostgreSQL).
    await tx.query(`SELECT pg_advisory_xact_lock(7242026)`);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  for (const [index, statements] of MIGRATIONS.entries()) {
    const version = index + 1;
    await db.transaction(async (tx) => {
      // The lock keeps two instances starting at once from applying the same migration twice.
      await tx.query(`LOCK TABLE schema_migrations IN EXCLUSIVE MODE`);
      const done = await tx.query(`SELECT 1 FROM schema_migrations WHERE version = $1`, [version]);
      if (done.length > 0) return;
      for (const statement of statements) await tx.query(statement);
      await tx.query(`INSERT INTO schema_migrations (version) VALUES ($1)`, [version]);
    });
  }
}
