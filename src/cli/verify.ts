// `bun run verify`: audits the database's invariants and exits non-zero on any violation.
// Uses the same configuration as the service (DATABASE_URL / DATA_DIR).
import { loadConfig } from "../shared/config";
import { openDatabase, type Database } from "../shared/db";
import { ADMISSION_ORDER_SQL } from "../shared/draw-order";

interface Check {
  name: string;
  sql: string;
}

const CHECKS: Check[] = [
  {
    name: "no seat in two live reservations",
    sql: `SELECT rs.seat_id FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
           WHERE r.status IN ('PENDING', 'PAID') GROUP BY rs.seat_id HAVING count(*) > 1`,
  },
  {
    name: "every sold seat belongs to a paid reservation with a payment",
    sql: `SELECT s.id FROM seats s LEFT JOIN reservations r ON r.id = s.reservation_id LEFT JOIN payments p ON p.reservation_id = r.id
           WHERE s.status = 'SOLD' AND (r.status IS DISTINCT FROM 'PAID' OR p.id IS NULL)`,
  },
  {
    name: "every reserved seat belongs to a pending reservation",
    sql: `SELECT s.id FROM seats s LEFT JOIN reservations r ON r.id = s.reservation_id
           WHERE s.status = 'RESERVED' AND r.status IS DISTINCT FROM 'PENDING'`,
  },
  {
    name: "every seat of a live reservation points back to it",
    sql: `SELECT rs.seat_id FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
           JOIN seats s ON s.id = rs.seat_id
           WHERE r.status IN ('PENDING', 'PAID') AND s.reservation_id IS DISTINCT FROM r.id`,
  },
  {
    name: "one payment per paid (or refunded) reservation, for its total",
    sql: `SELECT r.id FROM reservations r LEFT JOIN payments p ON p.reservation_id = r.id
           WHERE (r.status IN ('PAID', 'REFUNDED')) <> (p.id IS NOT NULL) OR (p.id IS NOT NULL AND p.amount <> r.total_amount)`,
  },
  {
    name: "a reservation's total is the sum of its seats' prices",
    sql: `SELECT r.id FROM reservations r JOIN reservation_seats rs ON rs.reservation_id = r.id JOIN seats s ON s.id = rs.seat_id
           GROUP BY r.id, r.total_amount HAVING sum(s.price) <> r.total_amount`,
  },
  {
    name: "a refunded reservation has a refunded payment, and none of its seats is still its",
    sql: `SELECT r.id FROM reservations r LEFT JOIN payments p ON p.reservation_id = r.id
           WHERE (r.status = 'REFUNDED') <> coalesce(p.status = 'refunded', false)
          UNION
          SELECT s.reservation_id FROM seats s JOIN reservations r ON r.id = s.reservation_id WHERE r.status = 'REFUNDED'`,
  },
  {
    name: "balance equals the ledger and is never negative",
    sql: `SELECT w.user_id FROM wallets w
           LEFT JOIN (SELECT user_id, sum(amount) AS total FROM wallet_ledger GROUP BY user_id) l ON l.user_id = w.user_id
           WHERE w.balance < 0 OR w.balance <> coalesce(l.total, 0)`,
  },
  {
    name: "every payment is in the ledger once",
    sql: `SELECT p.id FROM payments p LEFT JOIN wallet_ledger l ON l.payment_id = p.id AND l.kind = 'payment'
           GROUP BY p.id, p.amount HAVING count(l.id) <> 1 OR coalesce(sum(-l.amount), 0) <> p.amount`,
  },
  {
    name: "every refund is in the ledger once, for the payment's amount",
    sql: `SELECT p.id FROM payments p LEFT JOIN wallet_ledger l ON l.payment_id = p.id AND l.kind = 'refund'
           GROUP BY p.id, p.amount, p.status
          HAVING count(l.id) <> (CASE WHEN p.status = 'refunded' THEN 1 ELSE 0 END)
              OR coalesce(sum(l.amount), 0) <> (CASE WHEN p.status = 'refunded' THEN p.amount ELSE 0 END)`,
  },
  {
    name: "at most one live queue token per user in each queue",
    sql: `SELECT user_id FROM queue_tokens WHERE status IN ('WAITING', 'ACTIVE') GROUP BY queue_id, user_id HAVING count(*) > 1`,
  },
  {
    name: "drawn places are distinct, and only in concerts whose queue has opened",
    sql: `SELECT q.token FROM queue_tokens q LEFT JOIN concerts c ON c.id = q.queue_id
           WHERE q.draw IS NOT NULL AND (c.queue_opened_at IS NULL OR c.queue_draw_seed IS NOT NULL)
          UNION
          SELECT min(token) FROM queue_tokens WHERE draw IS NOT NULL GROUP BY queue_id, draw HAVING count(*) > 1
          UNION
          SELECT id::text FROM concerts WHERE queue_draw_seed IS NOT NULL AND queue_opened_at IS NULL`,
  },
  {
    name: "nobody was let in to a concert's queue before its opening",
    sql: `SELECT q.token FROM queue_tokens q JOIN concerts c ON c.id = q.queue_id
           WHERE q.activated_at IS NOT NULL AND (c.queue_opened_at IS NULL OR q.activated_at < c.queue_opened_at)`,
  },
  {
    // In each queue, admission takes the head of the line: the pre-queue in its drawn order first, then arrival order.
    name: "admissions followed each queue's order",
    sql: `SELECT token FROM (
            SELECT q.token, q.activated_at,
                   max(q.activated_at) OVER (PARTITION BY q.queue_id ORDER BY ${ADMISSION_ORDER_SQL}
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_ahead
              FROM queue_tokens q LEFT JOIN concerts c ON c.id = q.queue_id WHERE q.activated_at IS NOT NULL) admitted
           WHERE activated_at < latest_ahead`,
  },
];

export interface Violation {
  check: string;
  ids: string[];
}

export async function verify(db: Database): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const check of CHECKS) {
    const rows = await db.query(check.sql);
    if (rows.length > 0) violations.push({ check: check.name, ids: rows.slice(0, 20).map((r) => String(Object.values(r)[0])) });
  }
  return violations;
}

if (import.meta.main) {
  const db = await openDatabase(loadConfig().database);
  const violations = await verify(db);
  for (const check of CHECKS) {
    const failed = violations.find((v) => v.check === check.name);
    console.log(`${failed ? "FAIL" : "ok  "}  ${check.name}${failed ? `: ${failed.ids.join(", ")}` : ""}`);
  }
  await db.close();
  process.exit(violations.length > 0 ? 1 : 0);
}
