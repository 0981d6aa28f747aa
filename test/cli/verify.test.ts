// The audit must catch what it promises to catch: each corruption below is one violation it reports.
import { describe, expect, test } from "bun:test";
import { openDatabase } from "../../src/shared/db";
import { seedDemo } from "../../src/catalog/demo-data";
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
    expect(checks).toContain("one payment per paid reservation, for its total");
  });
});
