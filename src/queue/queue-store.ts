// Persistence for the queue-admission actor: live tokens in queue order, and a batch of token changes per transaction.
import type { QueueOp, QueueSnapshot, QueueTokenRecord } from "../../actors/queue-admission";
import type { Database, Queryable } from "../shared/db";
import { fromEpochMs, StoreDriftError } from "../shared/db/port";
import { fence, fenceCte, FencedError, QUEUE_ENTITY } from "../cluster/ownership-store";

const ms = (value: unknown) => (value instanceof Date ? value.getTime() : new Date(String(value)).getTime());

export async function loadQueue(db: Database): Promise<QueueSnapshot> {
  const rows = await db.query(
    `SELECT token, user_id, seq, status, issued_at, activated_at, expires_at
       FROM queue_tokens WHERE status IN ('WAITING', 'ACTIVE') ORDER BY seq`,
  );
  const [last] = await db.query(`SELECT coalesce(max(seq), 0) AS seq FROM queue_tokens`);
  const tokens: QueueTokenRecord[] = rows.map((row) => ({
    token: String(row.token),
    userId: Number(row.user_id),
    seq: Number(row.seq),
    status: row.status as QueueTokenRecord["status"],
    issuedAt: ms(row.issued_at),
    activatedAt: row.activated_at === null ? undefined : ms(row.activated_at),
    expiresAt: row.expires_at === null ? undefined : ms(row.expires_at),
  }));
  return { tokens, nextSeq: Number(last!.seq) + 1 };
}


type Of<T extends QueueOp["type"]> = Extract<QueueOp, { type: T }>;

interface Statement {
  sql: string;
  params: unknown[];
}

/** A run of ops of one type is one statement: a queue rush issues thousands of tokens in a handful of them. */
function statementFor(run: QueueOp[]): Statement {
  switch (run[0]!.type) {
    case "issued": {
      const ops = run as Of<"issued">[];
      return {
        sql: `INSERT INTO queue_tokens (token, user_id, seq, status, issued_at, activated_at, expires_at)
              SELECT token, user_id, seq, status, ${fromEpochMs("issued_at")}, ${fromEpochMs("activated_at")}, ${fromEpochMs("expires_at")}
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
      return {
        sql: `UPDATE queue_tokens q SET status = 'EXPIRED', expires_at = ${fromEpochMs("u.at")}
                FROM unnest($1::text[], $2::bigint[]) AS u(token, at)
               WHERE q.token = u.token AND q.status IN ('WAITING', 'ACTIVE')`,
        params: [ops.map((op) => op.token), ops.map((op) => op.at)],
      };
    }
  }
}

async function applyRun(tx: Queryable, run: QueueOp[]): Promise<void> {
  const { sql, params } = statementFor(run);
  const rows = await tx.query(sql, params);
  if (run[0]!.type === "activated" && rows.length !== run.length) {
    throw new StoreDriftError(`${run.length - rows.length} activated tokens were not waiting`);
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
async function applyFencedRun(db: Database, epoch: number, run: QueueOp[]): Promise<void> {
  const { sql, params } = statementFor(run);
  const guarded = run[0]!.type === "issued" ? `${sql} WHERE EXISTS (SELECT 1 FROM owner)` : `${sql} AND EXISTS (SELECT 1 FROM owner)`;
  const n = params.length;
  const [row] = await db.query(
    `WITH ${fenceCte(`$${n + 1}`, `$${n + 2}`)},
          change AS (${guarded})
     SELECT count(*)::int AS owned FROM owner`,
    [...params, QUEUE_ENTITY, epoch],
  );
  if (Number(row!.owned) === 0) throw new FencedError(QUEUE_ENTITY);
}

/**
 * Commits a batch atomically, in the actor's order, fenced by the owner's epoch. A batch that is a single run of
 * issued (or expired) tokens is one statement, atomic on its own: during a queue rush that saves the BEGIN and COMMIT
 * round trips, each of which waits behind the busy event loop. Anything else takes a transaction.
 */
export async function commitQueue(db: Database, epoch: number, ops: QueueOp[]): Promise<void> {
  const runs = runsOf(ops);
  if (runs.length === 1 && runs[0]![0]!.type !== "activated") return applyFencedRun(db, epoch, runs[0]!);
  await db.transaction(async (tx) => {
    await fence(tx, QUEUE_ENTITY, epoch);
    for (const run of runs) await applyRun(tx, run);
  });
}
