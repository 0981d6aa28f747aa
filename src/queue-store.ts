// Persistence for the queue-admission actor: live tokens in queue order, and a batch of token changes per transaction.
import type { QueueOp, QueueSnapshot, QueueTokenRecord } from "../actors/queue-admission";
import type { Database } from "./db";
import { StoreDriftError } from "./concert-event-store";

const iso = (ms: number) => new Date(ms).toISOString();
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

export async function commitQueue(db: Database, ops: QueueOp[]): Promise<void> {
  await db.transaction(async (tx) => {
    for (const op of ops) {
      if (op.type === "issued") {
        await tx.query(
          `INSERT INTO queue_tokens (token, user_id, seq, status, issued_at, activated_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            op.token,
            op.userId,
            op.seq,
            op.status,
            iso(op.issuedAt),
            op.activatedAt === undefined ? null : iso(op.activatedAt),
            op.expiresAt === undefined ? null : iso(op.expiresAt),
          ],
        );
      } else if (op.type === "activated") {
        const rows = await tx.query(
          `UPDATE queue_tokens SET status = 'ACTIVE', activated_at = $2, expires_at = $3
            WHERE token = $1 AND status = 'WAITING' RETURNING token`,
          [op.token, iso(op.activatedAt), iso(op.expiresAt)],
        );
        if (rows.length !== 1) throw new StoreDriftError("an activated token was not waiting");
      } else {
        // A payment may already have expired the token in its own transaction; expiring it again changes nothing.
        await tx.query(
          `UPDATE queue_tokens SET status = 'EXPIRED', expires_at = $2 WHERE token = $1 AND status IN ('WAITING', 'ACTIVE')`,
          [op.token, iso(op.at)],
        );
      }
    }
  });
}
