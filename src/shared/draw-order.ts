// The drawn order of a concert's pre-queue. At the opening the queue actor draws one 256-bit seed from a cryptographic
// source and stores it (one row, whatever the size of the pre-queue). Each token's place then follows from the seed and
// the token's arrival number: its key is the first 48 bits of SHA-256(seed ‖ seq as 8 bytes big-endian), and the
// pre-queue is admitted by (key, seq). SHA-256 under a secret random key is a pseudorandom function, so the order is
// as good as a uniformly random permutation, and every arrival time before the opening is worth the same. Because a
// token's key depends on nothing but the seed and its own seq, anyone who leaves changes nobody else's order, and the
// order can be recomputed exactly after a restart, by every read model, and by the database (`bun run verify`).
//
// The queue actor (actors/), every instance's read models and the verifier (src/cli) compute the same order: the
// JavaScript and the SQL below must agree, and test/shared/draw-order.test.ts holds them to it.

export const DRAW_SEED_BYTES = 32;

const input = new Uint8Array(DRAW_SEED_BYTES + 8);
const inputView = new DataView(input.buffer);
const digest = new Uint8Array(32);

/** The draw key of one token: a 48-bit integer, exact as a JavaScript number. */
export function drawKey(seed: Uint8Array, seq: number): number {
  input.set(seed);
  inputView.setUint32(DRAW_SEED_BYTES, Math.floor(seq / 2 ** 32));
  inputView.setUint32(DRAW_SEED_BYTES + 4, seq >>> 0);
  Bun.SHA256.hash(input, digest);
  return digest[0]! * 2 ** 40 + digest[1]! * 2 ** 32 + ((digest[2]! << 24) >>> 0) + (digest[3]! << 16) + (digest[4]! << 8) + digest[5]!;
}

/**
 * The indices of `seqs` in drawn order. A million tokens are ordered in well under a second: each index is packed with
 * the top bits of its key into one number and the packed numbers are sorted as a typed array; the rare runs whose top
 * bits agree are then put in order by their whole key and seq.
 */
export function drawnOrder(seed: Uint8Array, seqs: ArrayLike<number>): Int32Array {
  const n = seqs.length;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = drawKey(seed, seqs[i]!);
  const indexBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const topBits = 53 - indexBits;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = Math.floor(keys[i]! / 2 ** (48 - topBits)) * 2 ** indexBits + i;
  packed.sort();
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = packed[i]! % 2 ** indexBits;
  const top = (i: number) => Math.floor(packed[i]! / 2 ** indexBits);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && top(end) === top(start)) end++;
    if (end - start > 1) {
      const run = Array.from(order.subarray(start, end)).sort((a, b) => keys[a]! - keys[b]! || seqs[a]! - seqs[b]!);
      order.set(run, start);
    }
    start = end;
  }
  return order;
}

/**
 * The same key in SQL, for a `bytea` seed and a `bigint` seq: six bytes that compare as the 48-bit key does.
 * PostgreSQL has had sha256() since version 11, and PGlite has it too.
 */
export const drawKeySql = (seed: string, seq: string) => `substring(sha256(${seed} || int8send(${seq})) from 1 for 6)`;

/**
 * Whether token `q` entered its concert's queue before the sale opened at `opensAt` (a timestamptz), in SQL: it waits
 * for the draw, or has its drawn place. The opening cannot move once it has come, so this holds for good once drawn.
 */
export const prequeueSql = (q: string, opensAt: string) => `${q}.issued_at < ${opensAt}`;

/**
 * The admission order of a queue's tokens in SQL, for `q` (queue_tokens) and `c` (its concert, NULL for the global
 * queue): the pre-queue in drawn order, then everyone else in arrival order. Queues drawn before seeds were stored kept
 * each place in `q.draw`; a queue has one kind of draw or the other, never both.
 */
export const ADMISSION_ORDER_SQL = `(CASE WHEN q.draw IS NOT NULL THEN lpad(q.draw::text, 16, '0')
              WHEN c.queue_draw_seed IS NOT NULL AND ${prequeueSql("q", "c.sale_opens_at")}
              THEN encode(${drawKeySql("c.queue_draw_seed", "q.seq")}, 'hex') END) NULLS LAST, q.seq`;
