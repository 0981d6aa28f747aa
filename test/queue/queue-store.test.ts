// PGlite never gathers statistics (it has no autovacuum), so the planner works from guesses. These pin down that the
// queue's hot statements still go through the primary key when the guesses are wrong: a batch of expiries once read
// every live token (a hash join over the partial index on live tokens, guessed at a handful) for a few tokens' change.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openDatabase, type Database, type Queryable } from "../../src/shared/db";
import { claim, QUEUE_ENTITY } from "../../src/cluster/ownership-store";
import { commitQueue } from "../../src/queue/queue-store";

const LIVE = 5000;
let db: Database;
let epoch: number;

/** The statements `work` sends through the database, with their parameters. */
async function statementsOf(work: (db: Database) => Promise<unknown>): Promise<{ sql: string; params: unknown[] }[]> {
  const sent: { sql: string; params: unknown[] }[] = [];
  const record = (q: Queryable): Queryable => ({
    query: (sql, params = []) => {
      sent.push({ sql, params });
      return q.query(sql, params);
    },
  });
  await work({ ...db, ...record(db), transaction: (inner) => db.transaction((tx) => inner(record(tx))) });
  return sent;
}

const token = (i: number) => `token-${String(i).padStart(16, "0")}`;

beforeAll(async () => {
  db = await openDatabase({ kind: "pglite-memory" });
  epoch = (await claim(db, "test", QUEUE_ENTITY, 60_000))!;
  // As a rush leaves it: every token live, written in runs, never analyzed.
  for (let first = 1; first <= LIVE; first += 500) {
    const run = Array.from({ length: 500 }, (_, k) => first + k);
    await commitQueue(
      db,
      0,
      epoch,
      run.map((i) => ({ type: "issued" as const, token: token(i), userId: i, seq: i, status: "ACTIVE" as const, issuedAt: 0, activatedAt: 0, expiresAt: 1 })),
    );
  }
});
afterAll(() => db.close());

describe("queue store on PGlite, with no statistics", () => {
  test("a batch of expiries looks its tokens up by key and expires exactly those", async () => {
    const ended = Array.from({ length: 60 }, (_, k) => 1 + k * 37);
    const sent = await statementsOf((db) =>
      commitQueue(db, 0, epoch, ended.map((i) => ({ type: "expired" as const, token: token(i), userId: i, at: 5, reason: "paid" as const }))),
    );
    expect(sent).toHaveLength(1);
    const plan = (await db.query(`EXPLAIN ${sent[0]!.sql}`, sent[0]!.params)).map((row) => String(row["QUERY PLAN"])).join("\n");
    expect(plan).toContain("Index Scan using queue_tokens_pkey on queue_tokens");
    expect(plan).not.toMatch(/(Seq|Bitmap Heap) Scan on queue_tokens/);

    const expired = await db.query(`SELECT seq FROM queue_tokens WHERE status = 'EXPIRED' ORDER BY seq`);
    expect(expired.map((row) => Number(row.seq))).toEqual(ended);
    const [live] = await db.query(`SELECT count(*)::int AS n FROM queue_tokens WHERE status = 'ACTIVE'`);
    expect(Number(live!.n)).toBe(LIVE - ended.length);
  });
});
