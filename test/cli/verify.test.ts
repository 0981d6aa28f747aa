// The audit must catch what it promises to catch: each corruption below is one violation it reports.
import { describe, expect, test } from "bun:test";
import { openDatabase } from "../../src/shared/db";
import { seedDemo } from "../../src/catalog/demo-data";
import { drawKey } from "../../src/shared/draw-order";
import { verify } from "../../src/cli/verify";

async function fresh() {
  const db = await openDatabase({ kind: "pglite-memory" });
  await seedDemo(db);
  return db;
}

describe("bun run verify", () => {
  test("a consistent database passes", async () => {
    const db = await fresh();
    await db.query(`INSERT INTO wallets (user_id, balance) VALUES (1, 500)`);
    await db.query(`INSERT INTO wallet_ledger (user_id, amount, kind) VALUES (1, 500, 'charge')`);
    expect(await verify(db)).toEqual([]);
  });

  test("a balance that does not match its ledger is reported", async () => {
    const db = await fresh();
    await db.query(`INSERT INTO wallets (user_id, balance) VALUES (1, 500)`);
    expect((await verify(db)).map((v) => v.check)).toEqual(["balance equals the ledger and is never negative"]);
  });

  test("a seat sold without a payment, and a seat in two live reservations, are reported", async () => {
    const db = await fresh();
    const reserve = async () => {
      const [r] = await db.query(
        `INSERT INTO reservations (user_id, concert_event_id, total_amount, status, created_at, expires_at)
         VALUES (1, 1, 50000, 'PAID', now(), now()) RETURNING id`,
      );
      await db.query(`INSERT INTO reservation_seats (reservation_id, seat_id, price) VALUES ($1, 1, 50000)`, [r!.id]);
      return r!.id;
    };
    const first = await reserve();
    await reserve();
    await db.query(`UPDATE seats SET status = 'SOLD', user_id = 1, reservation_id = $1 WHERE id = 1`, [first]);
    const checks = (await verify(db)).map((v) => v.check);
    expect(checks).toContain("no seat in two live reservations");
    expect(checks).toContain("every sold seat belongs to a paid reservation with a payment");
    expect(checks).toContain("one payment per paid (or refunded) reservation, for its total");
  });

  test("a reservation whose total is not its seats' prices is reported (the operators' revenue is read from the seats)", async () => {
    const db = await fresh();
    const [seat] = await db.query(`SELECT price FROM seats WHERE id = 2`);
    const [r] = await db.query(
      `INSERT INTO reservations (user_id, concert_event_id, total_amount, status, created_at, expires_at)
       VALUES (1, 1, $1, 'EXPIRED', now(), now()) RETURNING id`,
      [Number(seat!.price) + 1],
    );
    await db.query(`INSERT INTO reservation_seats (reservation_id, seat_id, price) VALUES ($1, 2, $2)`, [r!.id, seat!.price]);
    expect((await verify(db)).map((v) => v.check)).toEqual(["a reservation's total is the sum of its seats' prices"]);
    await db.query(`UPDATE reservations SET total_amount = $2 WHERE id = $1`, [r!.id, seat!.price]);
    expect(await verify(db)).toEqual([]);
  });

  test("a refund without its ledger entry, or whose seat still points at it, is reported", async () => {
    const db = await fresh();
    const [r] = await db.query(
      `INSERT INTO reservations (user_id, concert_event_id, total_amount, status, created_at, expires_at)
       VALUES (1, 1, 50000, 'REFUNDED', now(), now()) RETURNING id`,
    );
    const [p] = await db.query(
      `INSERT INTO payments (reservation_id, user_id, amount, status, paid_at) VALUES ($1, 1, 50000, 'refunded', now()) RETURNING id`,
      [r!.id],
    );
    await db.query(`INSERT INTO wallets (user_id, balance) VALUES (1, 0)`);
    await db.query(`INSERT INTO wallet_ledger (user_id, amount, kind) VALUES (1, 50000, 'charge')`);
    await db.query(`INSERT INTO wallet_ledger (user_id, amount, kind, payment_id) VALUES (1, -50000, 'payment', $1)`, [p!.id]);
    expect((await verify(db)).map((v) => v.check)).toEqual(["every refund is in the ledger once, for the payment's amount"]);
    await db.query(`UPDATE seats SET status = 'SOLD', user_id = 1, reservation_id = $1 WHERE id = 1`, [r!.id]);
    expect((await verify(db)).map((v) => v.check)).toContain("a refunded reservation has a refunded payment, and none of its seats is still its");
  });

  test("an admission out of a queue's order, or before its opening, is reported", async () => {
    const db = await fresh();
    await db.query(`UPDATE concerts SET queue_opened_at = '2027-01-01T00:00:00Z' WHERE id = 1`);
    const token = (seq: number, draw: number | null, activatedAt: string | null) =>
      db.query(
        `INSERT INTO queue_tokens (queue_id, token, user_id, seq, status, issued_at, activated_at, expires_at, draw)
         VALUES (1, $1, $2, $2, $3, '2026-12-31T00:00:00Z', $4, $5, $6)`,
        [`token-${seq}`, seq, activatedAt ? "ACTIVE" : "WAITING", activatedAt, activatedAt ? "2027-02-01T00:00:00Z" : null, draw],
      );
    await token(1, 2, "2027-01-01T00:00:01Z");
    await token(2, 1, "2027-01-01T00:00:01Z");
    await token(3, null, "2027-01-01T00:00:02Z");
    expect(await verify(db)).toEqual([]);
    await token(4, 3, "2027-01-01T00:00:03Z");
    expect((await verify(db)).map((v) => v.check)).toEqual(["admissions followed each queue's order"]);
    await db.query(`UPDATE queue_tokens SET activated_at = '2026-12-31T23:59:59Z' WHERE token = 'token-2'`);
    expect((await verify(db)).map((v) => v.check)).toContain("nobody was let in to a concert's queue before its opening");
  });

  test("a queue drawn from a seed is checked in the seed's order: the pre-queue first, then later arrivals", async () => {
    const db = await fresh();
    const seed = Buffer.alloc(32, 3);
    await db.query(`UPDATE concerts SET sale_opens_at = '2027-01-01T00:00:00Z', queue_opened_at = '2027-01-01T00:00:00Z', queue_draw_seed = $1 WHERE id = 1`, [seed]);
    const seqs = [1, 2, 3, 4, 5, 6];
    const drawn = [...seqs].sort((a, b) => drawKey(seed, a) - drawKey(seed, b) || a - b);
    const admitted = new Map<number, number>();
    // Admitted one per second in the seed's order; seq 7 came after the opening and is admitted last.
    [...drawn, 7].forEach((seq, i) => admitted.set(seq, i));
    const insert = (seq: number, at: number, issuedAt: string) =>
      db.query(
        `INSERT INTO queue_tokens (queue_id, token, user_id, seq, status, issued_at, activated_at, expires_at)
         VALUES (1, $1, $2, $2, 'ACTIVE', $3, timestamptz '2027-01-01T00:00:01Z' + $4 * interval '1 second', '2027-02-01T00:00:00Z')`,
        [`token-${seq}`, seq, issuedAt, at],
      );
    for (const seq of seqs) await insert(seq, admitted.get(seq)!, "2026-12-31T00:00:00Z");
    await insert(7, admitted.get(7)!, "2027-01-01T00:00:05Z");
    expect(await verify(db)).toEqual([]);
    // Swap the first two of the drawn order: an admission out of order.
    await db.query(`UPDATE queue_tokens SET activated_at = activated_at + interval '10 seconds' WHERE seq = $1`, [drawn[0]]);
    expect((await verify(db)).map((v) => v.check)).toEqual(["admissions followed each queue's order"]);
  });
});
