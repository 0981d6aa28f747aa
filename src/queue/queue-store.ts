// Persistence for the queue-admission actors: a queue's live tokens (and, for a concert, its sale window), and a batch
// of its changes per transaction, fenced by the queue's ownership epoch, with the domain events of those changes.
import type { QueueOp, QueueSnapshot, QueueTokenRecord } from "../../actors/queue-admission";
import type { Database, Queryable } from "../shared/db";
import { fromEpochMs, StoreDriftError } from "../shared/db/port";
import { GLOBAL_QUEUE } from "../shared/queue-tokens";
import { prequeueSql } from "../shared/draw-order";
import { fence, fenceCte, FencedError, queueEntity } from "../cluster/ownership-store";
import { outboxEntry, recordEvents, recordEventsParams, recordEventsSql, type OutboxEntry } from "../shared/outbox";

const ms = (value: unknown) => (value instanceof Date ? value.getTime() : new Date(String(value)).getTime());
const optionalMs = (value: unknown) => (value === null || value === undefined ? undefined : ms(value));

/** Live tokens read per statement: a stadium's line is loaded in pages, so no statement grows with it. */
const LOAD_PAGE = 100_000;

/**
 * A queue's live tokens; null for a concert that does not exist. Each page comes back as one text value rather than a
 * row per token (PGlite's per-row decoding dominated a large load, as it did the seats'), and asks the engine for as
 * little as it can: whether a token entered before the opening rather than when (turning times into numbers was two
 * thirds of the load), and an expiry only for the few admitted.
 */
export async function loadQueue(db: Database, queueId: number, pageSize = LOAD_PAGE): Promise<QueueSnapshot | null> {
  const sale = queueId === GLOBAL_QUEUE ? undefined : await loadSale(db, queueId);
  if (sale === null) return null;
  const tokens: QueueTokenRecord[] = [];
  // The opening as a parameter: joining each token to its concert cost the load two fifths of its time.
  const prequeue = sale ? prequeueSql("q", fromEpochMs("$4::bigint")) : "false";
  for (let after = 0; ; ) {
    const [page] = await db.query(
      `SELECT coalesce(string_agg(concat_ws(' ', seq, user_id, token, kind, expires, draw), ' '), '') AS rows, count(*)::int AS n, max(seq) AS last
         FROM (SELECT q.seq, q.user_id, q.token, coalesce(q.draw, 0) AS draw,
                      CASE WHEN q.status = 'ACTIVE' THEN 'A' WHEN ${prequeue} THEN 'P' ELSE 'L' END AS kind,
                      CASE WHEN q.status = 'ACTIVE' THEN (extract(epoch FROM q.expires_at) * 1000)::bigint ELSE 0 END AS expires
                 FROM queue_tokens q
                WHERE q.queue_id = $1 AND q.seq > $2 AND q.status IN ('WAITING', 'ACTIVE') ORDER BY q.seq LIMIT $3) page`,
      [queueId, after, pageSize, ...(sale ? [sale.opensAt] : [])],
    );
    for (const token of tokensOf(String(page!.rows))) tokens.push(token);
    if (Number(page!.n) < pageSize) break;
    after = Number(page!.last);
  }
  const [last] = await db.query(`SELECT coalesce(max(seq), 0) AS seq FROM queue_tokens WHERE queue_id = $1`, [queueId]);
  return { tokens, nextSeq: Number(last!.seq) + 1, sale };
}

/**
 * Six space-separated fields a token (tokens, by their format, hold no space), read in place: splitting a page into a
 * string per field made a million strings for a stadium's line.
 */
function tokensOf(text: string): QueueTokenRecord[] {
  const tokens: QueueTokenRecord[] = [];
  let at = 0;
  const number = () => {
    let value = 0;
    for (let c = text.charCodeAt(at); c >= 48 && c <= 57; c = text.charCodeAt(++at)) value = value * 10 + (c - 48);
    at++;
    return value;
  };
  const word = () => {
    const end = text.indexOf(" ", at);
    const value = text.substring(at, end < 0 ? text.length : end);
    at = end < 0 ? text.length : end + 1;
    return value;
  };
  while (at < text.length) {
    const seq = number();
    const userId = number();
    const token = word();
    const kind = text[at];
    at += 2;
    const expiresAt = number();
    const draw = number();
    const record: QueueTokenRecord = { token, userId, seq, status: kind === "A" ? "ACTIVE" : "WAITING" };
    if (kind === "P") record.prequeue = true;
    if (kind === "A") record.expiresAt = expiresAt;
    if (draw > 0) record.draw = draw;
    tokens.push(record);
  }
  return tokens;
}

async function loadSale(db: Database, concertId: number): Promise<QueueSnapshot["sale"] | null> {
  const [row] = await db.query(
    `SELECT sale_opens_at, sale_closes_at, queue_opened_at, encode(queue_draw_seed, 'base64') AS seed FROM concerts WHERE id = $1`,
    [concertId],
  );
  if (!row) return null;
  return {
    opensAt: ms(row.sale_opens_at),
    closesAt: optionalMs(row.sale_closes_at),
    openedAt: optionalMs(row.queue_opened_at),
    seed: row.seed === null ? undefined : Buffer.from(String(row.seed), "base64").toString("base64url"),
  };
}

type Of<T extends QueueOp["type"]> = Extract<QueueOp, { type: T }>;

interface Statement {
  sql: string;
  params: unknown[];
}

type RunType = "issued" | "activated" | "expired";
/** Ops that come in runs during a rush; the rest (the opening, an operator's edit) are single statements of their own. */
type RunOp = Of<RunType>;
const isRunOp = (op: QueueOp): op is RunOp => op.type === "issued" || op.type === "activated" || op.type === "expired";

/** A run of ops of one type is one statement: a queue rush issues thousands of tokens in a handful of them. */
function statementFor(queueId: number, run: RunOp[]): Statement {
  switch (run[0]!.type) {
    case "issued": {
      const ops = run as Of<"issued">[];
      return {
        sql: `INSERT INTO queue_tokens (queue_id, token, user_id, seq, status, issued_at, activated_at, expires_at)
              SELECT $8, token, user_id, seq, status, ${fromEpochMs("issued_at")}, ${fromEpochMs("activated_at")}, ${fromEpochMs("expires_at")}
                FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
                     AS u(token, user_id, seq, status, issued_at, activated_at, expires_at)`,
        params: [
          ops.map((op) => op.token),
          ops.map((op) => op.userId),
          ops.map((op) => op.seq),
          ops.map((op) => op.status),
          ops.map((op) => op.issuedAt),
          ops.map((op) => op.activatedAt ?? null),
          ops.map((op) => op.expiresAt ?? null),
          queueId,
        ],
      };
    }
    case "activated": {
      const ops = run as Of<"activated">[];
      return {
        sql: `UPDATE queue_tokens q SET status = 'ACTIVE', activated_at = ${fromEpochMs("u.activated_at")}, expires_at = ${fromEpochMs("u.expires_at")}
                FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(token, activated_at, expires_at)
               WHERE q.token = u.token AND q.status = 'WAITING' RETURNING q.token`,
        params: [ops.map((op) => op.token), ops.map((op) => op.activatedAt), ops.map((op) => op.expiresAt)],
      };
    }
    case "expired": {
      const ops = run as Of<"expired">[];
      // A payment may already have expired a token in its own transaction; expiring it again changes nothing.
      // `<> 'EXPIRED'` rather than the live statuses by name: PGlite never gathers statistics, and given the name of the
      // partial index's predicate the planner took every live token to be a handful and read them all.
      return {
        sql: `UPDATE queue_tokens q SET status = 'EXPIRED', expires_at = ${fromEpochMs("u.at")}
                FROM unnest($1::text[], $2::bigint[]) AS u(token, at)
               WHERE q.token = u.token AND q.status <> 'EXPIRED'`,
        params: [ops.map((op) => op.token), ops.map((op) => op.at)],
      };
    }
  }
}

async function applyRun(tx: Queryable, queueId: number, run: RunOp[]): Promise<void> {
  const { sql, params } = statementFor(queueId, run);
  const rows = await tx.query(sql, params);
  if (run[0]!.type === "activated" && rows.length !== run.length) {
    throw new StoreDriftError(`${run.length - rows.length} activated tokens were not waiting`);
  }
}

/**
 * The opening, exactly once: the concert is marked opened and the seed of its pre-queue's order stored together (one
 * row, whatever the size of the pre-queue). A queue that finds it already opened has drifted from the database and
 * reloads.
 */
async function applyDraw(tx: Queryable, queueId: number, op: Of<"drawn">): Promise<void> {
  const rows = await tx.query(
    `UPDATE concerts SET queue_opened_at = ${fromEpochMs("$2::bigint")}, queue_draw_seed = decode($3, 'base64')
      WHERE id = $1 AND queue_opened_at IS NULL RETURNING id`,
    [queueId, op.at, Buffer.from(op.seed, "base64url").toString("base64")],
  );
  if (rows.length !== 1) throw new StoreDriftError(`opening of queue ${queueId}: it had opened already`);
}

async function applyConcertUpdate(tx: Queryable, queueId: number, op: Of<"concertUpdated">): Promise<void> {
  const rows = await tx.query(
    `UPDATE concerts SET title = coalesce($2, title), venue = coalesce($3, venue),
            sale_opens_at = ${fromEpochMs("$4::bigint")}, sale_closes_at = ${fromEpochMs("$5::bigint")}
      WHERE id = $1 RETURNING id`,
    [queueId, op.title ?? null, op.venue ?? null, op.opensAt, op.closesAt ?? null],
  );
  if (rows.length !== 1) throw new StoreDriftError(`concert ${queueId} is gone`);
}

async function applyOne(tx: Queryable, queueId: number, run: QueueOp[]): Promise<void> {
  for (const op of run) {
    if (op.type === "drawn") await applyDraw(tx, queueId, op);
    if (op.type === "concertUpdated") await applyConcertUpdate(tx, queueId, op);
  }
}

/** Splits a batch into runs of consecutive ops of one type, keeping the actor's order. */
function runsOf(ops: QueueOp[]): QueueOp[][] {
  const runs: QueueOp[][] = [];
  for (const op of ops) {
    const last = runs.at(-1);
    if (last && last[0]!.type === op.type) last.push(op);
    else runs.push([op]);
  }
  return runs;
}

/** One statement that applies a run only while the epoch is current, fence and change together (see fenceCte). */
async function applyFencedRun(db: Database, queueId: number, epoch: number, run: RunOp[], events: OutboxEntry): Promise<void> {
  const { sql, params } = statementFor(queueId, run);
  const owned = "EXISTS (SELECT 1 FROM owner)";
  const guarded = run[0]!.type === "issued" ? `${sql} WHERE ${owned}` : `${sql} AND ${owned}`;
  const n = params.length;
  const entity = queueEntity(queueId);
  const [row] = await db.query(
    `WITH ${fenceCte(`$${n + 1}`, `$${n + 2}`)},
          change AS (${guarded}),
          recorded AS (${recordEventsSql(n + 3, owned)})
     SELECT count(*)::int AS owned FROM owner`,
    [...params, entity, epoch, ...recordEventsParams(events)],
  );
  if (Number(row!.owned) === 0) throw new FencedError(entity);
}

/**
 * Commits a batch atomically, in the actor's order, fenced by the owner's epoch. A batch that is a single run of
 * issued (or expired) tokens is one statement, atomic on its own: during a queue rush that saves the BEGIN and COMMIT
 * round trips, each of which waits behind the busy event loop. Anything else takes a transaction.
 */
export async function commitQueue(db: Database, queueId: number, epoch: number, ops: QueueOp[], events = outboxEntry([])): Promise<void> {
  const runs = runsOf(ops);
  const only = runs.length === 1 ? runs[0]! : undefined;
  if (only && (only[0]!.type === "issued" || only[0]!.type === "expired")) return applyFencedRun(db, queueId, epoch, only as RunOp[], events);
  await db.transaction(async (tx) => {
    await fence(tx, queueEntity(queueId), epoch);
    for (const run of runs) {
      if (run.every(isRunOp)) await applyRun(tx, queueId, run);
      else await applyOne(tx, queueId, run);
    }
    await recordEvents(tx, events);
  });
}
