// The PGlite adapter prepares each statement once and runs transactions on its single backend itself, so these pin
// down what PGlite's own query and transaction did for us: types both ways, errors, rollback, and turn-taking.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "../../src/shared/db";
import { openPglite } from "../../src/shared/db/pglite";

let db: Database;

beforeAll(async () => {
  db = await openPglite();
  await db.query(`CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, at timestamptz, tags text[])`);
});
afterAll(() => db.close());

const count = async () => Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM items`))[0]!.n);

describe("PGlite adapter", () => {
  test("parameters and results keep their types, on the first run of a statement and on later ones", async () => {
    for (const id of [1, 2]) {
      await db.query(`INSERT INTO items (id, name, at, tags) VALUES ($1, $2, $3, $4)`, [id, `item ${id}`, "2026-01-02T03:04:05.000Z", ["a", "b,c", 'd"e']]);
    }
    const rows = await db.query(`SELECT id, name, at, tags FROM items WHERE id = ANY($1::bigint[]) ORDER BY id`, [[1, 2]]);
    expect(rows).toEqual([
      { id: 1, name: "item 1", at: new Date("2026-01-02T03:04:05.000Z"), tags: ["a", "b,c", 'd"e'] },
      { id: 2, name: "item 2", at: new Date("2026-01-02T03:04:05.000Z"), tags: ["a", "b,c", 'd"e'] },
    ]);
    expect(await db.query(`SELECT $1::int + 1 AS n, $2::text IS NULL AS missing`, [41, null])).toEqual([{ n: 42, missing: true }]);
  });

  test("a failing statement throws Postgres's error and leaves the backend usable", async () => {
    const error = await db.query(`INSERT INTO items (id, name) VALUES ($1, $2)`, [1, "duplicate"]).catch((e) => e);
    expect(error.code).toBe("23505");
    await expect(db.query(`SELECT nope FROM items`)).rejects.toThrow(/nope/);
    expect(await count()).toBe(2);
  });

  test("a transaction commits all of its statements, or none when its work throws", async () => {
    await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO items (id, name) VALUES ($1, $2)`, [10, "kept"]);
      await tx.query(`UPDATE items SET name = $2 WHERE id = $1`, [10, "kept twice"]);
    });
    const failure = db.transaction(async (tx) => {
      await tx.query(`INSERT INTO items (id, name) VALUES ($1, $2)`, [11, "lost"]);
      throw new Error("changed my mind");
    });
    await expect(failure).rejects.toThrow("changed my mind");
    expect(await db.query(`SELECT id, name FROM items WHERE id >= 10`)).toEqual([{ id: 10, name: "kept twice" }]);
  });

  test("a transaction whose failed statement was swallowed does not report a commit", async () => {
    const swallowed = db.transaction(async (tx) => {
      await tx.query(`INSERT INTO items (id, name) VALUES ($1, $2)`, [20, "lost"]);
      await tx.query(`INSERT INTO items (id, name) VALUES ($1, $2)`, [1, "duplicate"]).catch(() => undefined);
    });
    await expect(swallowed).rejects.toThrow(/rolled back/);
    expect(await db.query(`SELECT id FROM items WHERE id = 20`)).toEqual([]);
  });

  test("statements sent while a transaction is open wait for it instead of joining it", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const open = db.transaction(async (tx) => {
      await tx.query(`INSERT INTO items (id, name) VALUES ($1, $2)`, [30, "inside"]);
      await gate;
      throw new Error("roll back");
    });
    const outside = db.query(`INSERT INTO items (id, name) VALUES ($1, $2)`, [31, "outside"]);
    const seen = db.query<{ id: number }>(`SELECT id FROM items WHERE id IN (30, 31) ORDER BY id`);
    release();
    await expect(open).rejects.toThrow("roll back");
    await outside;
    expect(await seen).toEqual([{ id: 31 }]);
  });

  test("a statement on a finished transaction is refused", async () => {
    let leaked: { query: Database["query"] } | undefined;
    await db.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.query(`SELECT 1`)).rejects.toThrow(/finished transaction/);
  });
});
