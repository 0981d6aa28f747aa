import { PGlite } from "@electric-sql/pglite";
import type { Database, Queryable, Row } from "./port";

function wrap(q: { query: PGlite["query"] }): Queryable {
  return {
    async query<T extends Row>(sql: string, params: unknown[] = []) {
      return (await q.query<T>(sql, params)).rows;
    },
  };
}

/** PGlite, on disk under `dir`, or in memory when `dir` is undefined. */
export async function openPglite(dir?: string): Promise<Database> {
  const db = dir ? new PGlite(dir) : new PGlite();
  await db.waitReady;
  const plain = wrap(db);
  return {
    engine: "pglite",
    query: plain.query,
    transaction: (work) => db.transaction((tx) => work(wrap(tx))),
    close: () => db.close(),
  };
}
