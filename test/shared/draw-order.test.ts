// The drawn order is computed in three places that must agree: the queue actor, every instance's read model (both
// JavaScript) and the verifier (SQL). It must also be a fair draw: any order of a small pre-queue about equally likely.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { drawKey, drawKeySql, drawnOrder } from "../../src/shared/draw-order";
import { openDatabase, type Database } from "../../src/shared/db";

let db: Database;
beforeAll(async () => {
  db = await openDatabase({ kind: "pglite-memory" });
});
afterAll(() => db.close());

const seqsOf = (n: number, first = 1) => Float64Array.from({ length: n }, (_, i) => first + i * 3);

describe("the drawn order", () => {
  test("JavaScript and SQL give every token the same key, and so the same order", async () => {
    const seed = randomBytes(32);
    const seqs = [1, 2, 3, 255, 256, 65_535, 2 ** 31, 2 ** 32 + 7, 2 ** 40 + 123, Number.MAX_SAFE_INTEGER];
    const rows = await db.query(
      `SELECT s.seq::text AS seq, encode(${drawKeySql("$1::bytea", "s.seq")}, 'hex') AS key FROM unnest($2::bigint[]) AS s(seq)`,
      [seed, seqs],
    );
    for (const row of rows) {
      expect({ seq: row.seq, key: parseInt(String(row.key), 16) }).toEqual({ seq: row.seq, key: drawKey(seed, Number(row.seq)) });
    }
    const byKey = [...seqs].sort((a, b) => drawKey(seed, a) - drawKey(seed, b) || a - b);
    const ordered = await db.query(`SELECT s.seq::text AS seq FROM unnest($2::bigint[]) AS s(seq) ORDER BY ${drawKeySql("$1::bytea", "s.seq")}, s.seq`, [seed, seqs]);
    expect(ordered.map((row) => Number(row.seq))).toEqual(byKey);
  });

  test("a draw is a permutation in key order, at sizes where the packed sort meets keys with equal top bits", () => {
    const seed = randomBytes(32);
    for (const n of [0, 1, 2, 17, 5_000, 300_000]) {
      const seqs = seqsOf(n);
      const order = drawnOrder(seed, seqs);
      expect(new Set(order).size).toBe(n);
      for (let i = 1; i < n; i++) {
        const [a, b] = [seqs[order[i - 1]!]!, seqs[order[i]!]!];
        const [ka, kb] = [drawKey(seed, a), drawKey(seed, b)];
        if (ka > kb || (ka === kb && a > b)) throw new Error(`out of order at ${i} of ${n}`);
      }
    }
  });

  test("leaving the pre-queue changes nobody else's order", () => {
    const seed = randomBytes(32);
    const seqs = seqsOf(1_000);
    const whole = Array.from(drawnOrder(seed, seqs), (i) => seqs[i]!);
    const left = new Set(Array.from({ length: 300 }, (_, i) => seqs[i * 3]!));
    const rest = Float64Array.from([...seqs].filter((seq) => !left.has(seq)));
    const after = Array.from(drawnOrder(seed, rest), (i) => rest[i]!);
    expect(after).toEqual(whole.filter((seq) => !left.has(seq)));
  });

  test("every order of four arrivals comes out about equally often over many seeds", () => {
    const seqs = seqsOf(4);
    const seen = new Map<string, number>();
    const draws = 24_000;
    for (let i = 0; i < draws; i++) {
      const order = Array.from(drawnOrder(randomBytes(32), seqs)).join("");
      seen.set(order, (seen.get(order) ?? 0) + 1);
    }
    expect(seen.size).toBe(24);
    // Chi-square with 23 degrees of freedom: above 49.7 once in a thousand fair runs.
    const expected = draws / 24;
    const chi = [...seen.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    expect(chi).toBeLessThan(49.7);
    // And the first arrival is first a quarter of the time, as any other.
    const firstFirst = [...seen].filter(([order]) => order.startsWith("0")).reduce((sum, [, n]) => sum + n, 0);
    expect(Math.abs(firstFirst / draws - 0.25)).toBeLessThan(0.02);
  });
});
