// PGlite never gathers statistics (it has no autovacuum), so the planner works from guesses. These pin down that the
// queue's hot statements still go through the primary key when the guesses are wrong: a batch of expiries once read
// every live token (a hash join over the partial index on live tokens, guessed at a handful) for a few tokens' change.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openDatabase, type Database, type Queryable } from "../../src/shared/db";
import { claim, FencedError, QUEUE_ENTITY } from "../../src/cluster/ownership-store";
import { StoreDriftError } from "../../src/shared/db/port";
import { commitQueue, loadQueue } from "../../src/queue/queue-store";
import { databaseCases } from "../support/databases";

const LIVE = 5000;
let shared: Database;
let epoch: number;

/** The statements `work` sends through the database, with their parameters. */
async function statementsOf(work: (db: Database) => Promise<unknown>, on?: Database): Promise<{ sql: string; params: unknown[] }[]> {
  const db = on ?? shared;
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
  const db = (shared = await openDatabase({ kind: "pglite-memory" }));
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
afterAll(() => shared.close());

describe("queue store on PGlite, with no statistics", () => {
  test("a batch of expiries looks its tokens up by key and expires exactly those", async () => {
    const db = shared;
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

describe("a queue's turn ending and the next admitted, as one statement", () => {
  test("lands whole, fenced, or not at all when a token to admit was not waiting", async () => {
    const db = await openDatabase({ kind: "pglite-memory" });
    const epoch = (await claim(db, "test", QUEUE_ENTITY, 60_000))!;
    const tok = (i: number) => `turn-${String(i).padStart(16, "0")}`;
    await commitQueue(db, 0, epoch, [1, 2, 3].map((i) => ({ type: "issued" as const, token: tok(i), userId: i, seq: i, status: "WAITING" as const, issuedAt: 0 })));
    await commitQueue(db, 0, epoch, [{ type: "activated", token: tok(1), userId: 1, activatedAt: 1, expiresAt: 2 }]);
    const statuses = async () => (await db.query(`SELECT status FROM queue_tokens ORDER BY seq`)).map((row) => row.status);
    const ended = { type: "expired" as const, token: tok(1), userId: 1, at: 3, reason: "paid" as const };
    const next = { type: "activated" as const, token: tok(2), userId: 2, activatedAt: 3, expiresAt: 4 };
    const sent = await statementsOf((db) => commitQueue(db, 0, epoch, [ended, next]), db);
    expect(sent).toHaveLength(1);
    expect(await statuses()).toEqual(["EXPIRED", "ACTIVE", "WAITING"]);
    // Admitting a token that is not waiting changes nothing at all, the turn it ends included.
    const drift = await commitQueue(db, 0, epoch, [{ ...ended, token: tok(2), userId: 2 }, { ...next, token: tok(2) }]).catch((e) => e);
    expect(drift).toBeInstanceOf(Error);
    expect(await statuses()).toEqual(["EXPIRED", "ACTIVE", "WAITING"]);
    const wrongTurn = await commitQueue(db, 0, epoch, [{ ...ended, token: tok(2), userId: 2 }, { ...next, token: tok(1), userId: 1 }]).catch((e) => e);
    expect(wrongTurn).toBeInstanceOf(StoreDriftError);
    expect(await statuses()).toEqual(["EXPIRED", "ACTIVE", "WAITING"]);
    // A superseded owner's is refused whole.
    const current = (await claim(db, "other", QUEUE_ENTITY, 60_000, { force: true }))!;
    expect(await commitQueue(db, 0, epoch, [{ ...ended, token: tok(2), userId: 2 }, { ...next, token: tok(3), userId: 3 }]).catch((e) => e)).toBeInstanceOf(FencedError);
    expect(await statuses()).toEqual(["EXPIRED", "ACTIVE", "WAITING"]);
    await commitQueue(db, 0, current, [{ ...ended, token: tok(2), userId: 2 }, { ...next, token: tok(3), userId: 3 }]);
    expect(await statuses()).toEqual(["EXPIRED", "EXPIRED", "ACTIVE"]);
    await db.close();
  });
});

// Found by the chaos run (seed 1): a fan whose turn ran out queued again while the queue's commit of that expiry was
// still waiting, so the expiry and the new place went into one batch. As one statement, the new place could be
// inserted before the old one was expired, against the one-live-place-per-user index: a 500 on entering.
describe("a user's turn ending and their next place, in one batch", async () => {
  for (const { name, open } of await databaseCases()) {
    test(`lands in the actor's order on ${name}`, async () => {
      const { target, drop } = await open();
      const db = await openDatabase(target);
      const epoch = (await claim(db, "test", QUEUE_ENTITY, 60_000))!;
      const first = { type: "issued" as const, token: "again-0000000000000001", userId: 7, seq: 1, status: "ACTIVE" as const, issuedAt: 0, activatedAt: 0, expiresAt: 1 };
      await commitQueue(db, 0, epoch, [first]);
      const ended = { type: "expired" as const, token: first.token, userId: 7, at: 2, reason: "ttl" as const };
      const next = { type: "issued" as const, token: "again-0000000000000002", userId: 7, seq: 2, status: "WAITING" as const, issuedAt: 2 };
      await commitQueue(db, 0, epoch, [ended, next]);
      const rows = await db.query(`SELECT token, status FROM queue_tokens WHERE user_id = 7 ORDER BY seq`);
      expect(rows.map((r) => [r.token, r.status])).toEqual([[first.token, "EXPIRED"], [next.token, "WAITING"]]);
      await db.close();
      await drop();
    });
  }
});

describe("queue store on PGlite, with no statistics: loading", () => {
  test("each page of a load reads the queue's tokens in (queue, seq) order, not all its live tokens, sorted, per page", async () => {
    const db = shared;
    const sent = await statementsOf((db) => loadQueue(db, 0, 1_000));
    const page = sent.find(({ sql }) => sql.includes("string_agg"))!;
    const plan = (await db.query(`EXPLAIN ${page.sql}`, page.params)).map((row) => String(row["QUERY PLAN"])).join("\n");
    expect(plan).toContain("Index Scan using queue_tokens_queue_seq on queue_tokens");
    expect(plan).not.toContain("Sort");
    const [live] = await db.query(`SELECT count(*)::int AS n FROM queue_tokens WHERE queue_id = 0 AND status <> 'EXPIRED'`);
    expect(sent.filter(({ sql }) => sql.includes("string_agg")).length).toBe(Math.floor(Number(live!.n) / 1_000) + 1);
  });
});

describe("loading a queue", () => {
  test("gives back what was committed: places, the pre-queue, turns and their ends, the seed, across pages", async () => {
    const db = await openDatabase({ kind: "pglite-memory" });
    const opensAt = Date.parse("2027-01-10T11:00:00.000Z");
    const [concert] = await db.query(`INSERT INTO concerts (title, venue, sale_opens_at) VALUES ('t', 'v', $1) RETURNING id`, [new Date(opensAt).toISOString()]);
    const queueId = Number(concert!.id);
    const queueEpoch = (await claim(db, "test", `queue:${queueId}`, 60_000))!;
    const early = Array.from({ length: 1_500 }, (_, i) => i + 1);
    const issued = (seq: number, issuedAt: number) => ({ type: "issued" as const, token: `${queueId}.tok${String(seq).padStart(20, "0")}`, userId: 1000 + seq, seq, status: "WAITING" as const, issuedAt });
    await commitQueue(db, queueId, queueEpoch, early.map((seq) => issued(seq, opensAt - 60_000 + seq)));
    const seed = Buffer.alloc(32, 9).toString("base64url");
    await commitQueue(db, queueId, queueEpoch, [{ type: "drawn", at: opensAt, seed, drawn: early.length }]);
    await commitQueue(db, queueId, queueEpoch, [issued(1_501, opensAt + 5), issued(1_502, opensAt + 6)]);
    await commitQueue(db, queueId, queueEpoch, [
      { type: "activated", token: issued(7, 0).token, userId: 1007, activatedAt: opensAt + 10, expiresAt: opensAt + 600_010 },
      { type: "expired", token: issued(8, 0).token, userId: 1008, at: opensAt + 10, reason: "left" },
    ]);
    const snapshot = (await loadQueue(db, queueId, 400))!;
    expect(snapshot.sale).toEqual({ opensAt, closesAt: undefined, openedAt: opensAt, seed });
    expect(snapshot.nextSeq).toBe(1_503);
    expect(snapshot.tokens).toHaveLength(1_501);
    const bySeq = new Map(snapshot.tokens.map((t) => [t.seq, t]));
    expect(bySeq.get(7)).toEqual({ token: issued(7, 0).token, userId: 1007, seq: 7, status: "ACTIVE", expiresAt: opensAt + 600_010 });
    expect(bySeq.has(8)).toBe(false);
    expect(bySeq.get(9)).toEqual({ token: issued(9, 0).token, userId: 1009, seq: 9, status: "WAITING", prequeue: true });
    expect(bySeq.get(1_501)).toEqual({ token: issued(1_501, 0).token, userId: 2501, seq: 1_501, status: "WAITING" });
    expect(await loadQueue(db, queueId + 1)).toBeNull();
    await db.close();
  });
});
