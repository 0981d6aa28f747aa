// `bun run verify`: audits the database's invariants and exits non-zero on any violation.
// Uses the same configuration as the service (DATABASE_URL / DATA_DIR).
import { loadConfig } from "../shared/config";
import { openDatabase, type Database } from "../shared/db";

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
    name: "one payment per paid reservation, for its total",
    sql: `SELECT r.id FROM reservations r LEFT JOIN payments p ON p.reservation_id = r.id
           WHERE (r.status = 'PAID') <> (p.id IS NOT NULL) OR (p.id IS NOT NULL AND p.amount <> r.total_amount)`,
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
    name: "at most one live queue token per user",
    sql: `SELECT user_id FROM queue_tokens WHERE status IN ('WAITING', 'ACTIVE') GROUP BY user_id HAVING count(*) > 1`,
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
