// Persistence for the queue-admission actors: a queue's live tokens (and, for a concert, its sale window), and a batch
// of its changes per transaction, fenced by the queue's ownership epoch, with the domain events of those changes.
import type { QueueOp, QueueSnapshot, QueueTokenRecord } from "../../actors/queue-admission";
import type { Database, Queryable } from "../shared/db";
import { fromEpochMs, StoreDriftError } from "../shared/db/port";
import { GLOBAL_QUEUE } from "../shared/queue-tokens";
import { prequeueSql } from "../shared/draw-order";
import { fenceAndRecord, fenceCte, FencedError, queueEntity } from "../cluster/ownership-store";
import { outboxEntry, recordEventsParams, recordEventsSql, type OutboxEntry } from "../shared/outbox";

const ms = (value: unknown) => (value instanceof Date ? value.getTime() : new Date(String(value)).getTime());
const optionalMs = (value: unknown) => (value === null || value === undefined ? undefined : ms(value));

/** Live tokens read per statement: a stadium's line is loaded in pages, so no statement grows with it. */
const LOAD_PAGE = 100_000;

/**
 * A queue's live tokens; null for a concert that does not exist. Each page comes back as one text value rather than a
 * row per token (PGlite's per-row decoding dominated a large load, as it did the seats'), and asks the engine for as
 * little as it can: whether a token entered before the opening rather than when (turning times into numbers was two
 * thirds of the load), and an expiry only for the few admitted. Pages go by the (queue, seq) index: named by its
 * predicate, the partial index of live tokens was read whole, and sorted, for every page.
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
                WHERE q.queue_id = $1 AND q.seq > $2 AND q.status <> 'EXPIRED' ORDER BY q.seq LIMIT $3) page`,
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

type RunType = "issued" | "activated" | "expired";
/** Ops that come in runs during a rush; the rest (the opening, an operator's edit) are single statements of their own. */
type RunOp = Of<RunType>;
const isRunOp = (op: QueueOp): op is RunOp => op.type === "issued" || op.type === "activated" || op.type === "expired";

/** A statement's parameters as it is written: `p(value)` adds one and gives its placeholder. */
class Params {
  readonly values: unknown[] = [];
  p = (value: unknown): string => `$${this.values.push(value)}`;
}

/**
 * A run of ops of one type is one statement: a queue rush issues thousands of tokens in a handful of them. `when` is a
 * condition the change is applied under (a fence, say).
 */
function statementFor(queueId: number, run: RunOp[], { p }: Params, when = "true"): string {
  switch (run[0]!.type) {
    case "issued": {
      const ops = run as Of<"issued">[];
      return `INSERT INTO queue_tokens (queue_id, token, user_id, seq, status, issued_at, activated_at, expires_at)
              SELECT ${p(queueId)}, token, user_id, seq, status, ${fromEpochMs("issued_at")}, ${fromEpochMs("activated_at")}, ${fromEpochMs("expires_at")}
                FROM unnest(${p(ops.map((op) => op.token))}::text[], ${p(ops.map((op) => op.userId))}::bigint[], ${p(ops.map((op) => op.seq))}::bigint[],
                            ${p(ops.map((op) => op.status))}::text[], ${p(ops.map((op) => op.issuedAt))}::bigint[],
                            ${p(ops.map((op) => op.activatedAt ?? null))}::bigint[], ${p(ops.map((op) => op.expiresAt ?? null))}::bigint[])
                     AS u(token, user_id, seq, status, issued_at, activated_at, expires_at)
               WHERE ${when}`;
    }
    case "activated": {
      const ops = run as Of<"activated">[];
      return `UPDATE queue_tokens q SET status = 'ACTIVE', activated_at = ${fromEpochMs("u.activated_at")}, expires_at = ${fromEpochMs("u.expires_at")}
                FROM unnest(${p(ops.map((op) => op.token))}::text[], ${p(ops.map((op) => op.activatedAt))}::bigint[], ${p(ops.map((op) => op.expiresAt))}::bigint[])
                     AS u(token, activated_at, expires_at)
               WHERE q.token = u.token AND q.status = 'WAITING' AND ${when} RETURNING q.token`;
    }
    case "expired": {
      const ops = run as Of<"expired">[];
      // A payment may already have expired a token in its own transaction; expiring it again changes nothing.
      // `<> 'EXPIRED'` rather than the live statuses by name: PGlite never gathers statistics, and given the name of the
      // partial index's predicate the planner took every live token to be a handful and read them all.
      return `UPDATE queue_tokens q SET status = 'EXPIRED', expires_at = ${fromEpochMs("u.at")}
                FROM unnest(${p(ops.map((op) => op.token))}::text[], ${p(ops.map((op) => op.at))}::bigint[]) AS u(token, at)
               WHERE q.token = u.token AND q.status <> 'EXPIRED' AND ${when}`;
    }
  }
}

async function applyRun(tx: Queryable, queueId: number, run: RunOp[]): Promise<void> {
  const params = new Params();
  const rows = await tx.query(statementFor(queueId, run, params), params.values);
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

/**
 * Runs of issued, admitted and ended turns as one statement, applied only while the epoch is current (fence and
 * change together, see fenceCte) and only if every token to admit is still waiting: all of it, or nothing. The runs'
 * users must be distinct (distinctUsers), since the parts of one statement do not see each other's changes.
 */
async function applyFencedRuns(db: Database, queueId: number, epoch: number, runs: RunOp[][], events: OutboxEntry): Promise<void> {
  const params = new Params();
  const { p } = params;
  const entity = queueEntity(queueId);
  const admitted = runs.filter((run) => run[0]!.type === "activated").flat();
  const parts = [fenceCte(p(entity), p(epoch))];
  let applies = "EXISTS (SELECT 1 FROM owner)";
  if (admitted.length > 0) {
    parts.push(`ready AS (SELECT count(*) AS n FROM queue_tokens WHERE token = ANY(${p(admitted.map((op) => op.token))}::text[]) AND status = 'WAITING')`);
    applies += ` AND (SELECT n FROM ready) = ${p(admitted.length)}`;
  }
  runs.forEach((run, i) => parts.push(`change${i} AS (${statementFor(queueId, run, params, applies)})`));
  parts.push(`recorded AS (${recordEventsSql(params.values.length + 1, applies)})`);
  params.values.push(...recordEventsParams(events));
  const [row] = await db.query(
    `WITH ${parts.join(",\n")}
     SELECT (SELECT count(*) FROM owner)::int AS owned, ${admitted.length > 0 ? "(SELECT n FROM ready)::int" : "0"} AS ready`,
    params.values,
  );
  if (Number(row!.owned) === 0) throw new FencedError(entity);
  if (Number(row!.ready) !== admitted.length) throw new StoreDriftError(`${admitted.length - Number(row!.ready)} admitted tokens were not waiting`);
}

/**
 * Whether no user appears in two ops, so that the runs can be the parts of one statement. Distinct tokens are not
 * enough: a user's turn ending and their next place (two tokens of one user) in one statement may be applied in either
 * order, and the new place inserted first meets the old one, still live, in the one-live-place-per-user index.
 */
function distinctUsers(runs: RunOp[][]): boolean {
  const seen = new Set<number>();
  for (const op of runs.flat()) {
    if (seen.has(op.userId)) return false;
    seen.add(op.userId);
  }
  return true;
}

/**
 * Commits a batch atomically, in the actor's order, fenced by the owner's epoch. A batch of issued, admitted and ended
 * turns (a rush's entries; a sale's turn ended by a payment and the next admitted) is one statement, atomic on its own:
 * it saves the BEGIN, the fence and the COMMIT, a third of such a commit's time on PGlite. Anything else (the opening,
 * an operator's edit, a user with two ops in one batch, as a token that enters and leaves) takes a transaction, fenced
 * when it commits.
 */
export async function commitQueue(db: Database, queueId: number, epoch: number, ops: QueueOp[], events = outboxEntry([])): Promise<void> {
  const runs = runsOf(ops);
  if (runs.every((run) => run.every(isRunOp)) && distinctUsers(runs as RunOp[][])) {
    return applyFencedRuns(db, queueId, epoch, runs as RunOp[][], events);
  }
  await db.transaction(async (tx) => {
    for (const run of runs) {
      if (run.every(isRunOp)) await applyRun(tx, queueId, run);
      else await applyOne(tx, queueId, run);
    }
    await fenceAndRecord(tx, queueEntity(queueId), epoch, events);
  });
}
