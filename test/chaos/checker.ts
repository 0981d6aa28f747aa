// The checker of a chaos run: the client history against the final database and event stream. Each invariant lists
// its violations, named so that one can be found in the history (op ids) or the database (row ids). An operation whose
// outcome was unknown (a 503, a timeout) may be in the final state or not, but wholly: a payment with its charge, a
// reservation with its seats.
import type { FinalState } from "./final-state";
import type { Op } from "./history";

export interface InvariantResult {
  name: string;
  /** How many things it looked at: a check that looked at nothing proves nothing, and says so. */
  checked: number;
  violations: string[];
}

type Check = (ops: Op[], state: FinalState) => InvariantResult;

const maybe = (op: Op) => op.outcome !== "fail";
const sameSeats = (a: number[], b: number[]) => a.length === b.length && [...a].sort((x, y) => x - y).every((v, i) => v === [...b].sort((x, y) => x - y)[i]);
const of = (ops: Op[], kind: Op["kind"]) => ops.filter((op) => op.kind === kind);

function result(name: string, checked: number, violations: string[]): InvariantResult {
  return { name, checked, violations };
}

const answers: Check = (ops) => {
  const violations: string[] = [];
  for (const op of ops) {
    if (op.status !== undefined && op.status >= 500 && op.status !== 503) violations.push(`op ${op.id} ${op.kind}: ${op.status} ${op.code ?? ""}`);
    if (op.status === 503 && !op.retryAfter) violations.push(`op ${op.id} ${op.kind}: 503 without Retry-After`);
  }
  return result("answers: 2xx, a catalog 4xx, or 503 with Retry-After (never another 5xx)", ops.length, violations);
};

const charges: Check = (ops, state) => {
  const violations: string[] = [];
  const asked = new Map<string, Op>();
  for (const op of of(ops, "charge")) asked.set(`${op.user}:${op.args.amount}`, op);
  const stored = new Map<string, number>();
  for (const row of state.ledger.filter((r) => r.kind === "charge")) {
    const key = `${row.userId}:${row.amount}`;
    stored.set(key, (stored.get(key) ?? 0) + 1);
    const op = asked.get(key);
    if (!op || !maybe(op)) violations.push(`ledger charge ${key} that no request (or a refused one) asked for`);
  }
  for (const [key, n] of stored) if (n > 1) violations.push(`charge ${key} stored ${n} times`);
  for (const [key, op] of asked) if (op.outcome === "ok" && !stored.has(key)) violations.push(`acknowledged charge op ${op.id} (${key}) is not in the ledger`);
  return result("every acknowledged charge is in the ledger once; no charge nobody asked for", asked.size, violations);
};

const reservations: Check = (ops, state) => {
  const violations: string[] = [];
  const byId = new Map(state.reservations.map((r) => [r.id, r]));
  const reserves = of(ops, "reserve");
  for (const op of reserves.filter((o) => o.outcome === "ok")) {
    const row = byId.get(op.data.id);
    if (!row) violations.push(`acknowledged reservation ${op.data.id} (op ${op.id}) is missing`);
    else if (row.userId !== op.user || row.eventId !== op.args.eventId || !sameSeats(row.seatIds, op.args.seatIds as number[]))
      violations.push(`reservation ${row.id} differs from what op ${op.id} was told`);
  }
  for (const row of state.reservations.filter((r) => state.eventIds.includes(r.eventId))) {
    const asked = reserves.some((op) => maybe(op) && op.user === row.userId && op.args.eventId === row.eventId && sameSeats(row.seatIds, op.args.seatIds as number[]));
    if (!asked) violations.push(`reservation ${row.id} of user ${row.userId} that no request asked for`);
  }
  return result("every acknowledged reservation is stored as answered; none nobody asked for", reserves.length, violations);
};

const payments: Check = (ops, state) => {
  const violations: string[] = [];
  const byId = new Map(state.payments.map((p) => [p.id, p]));
  const pays = of(ops, "pay");
  const refundAsked = new Set(of(ops, "refund").filter(maybe).map((op) => op.args.reservationId as number));
  const reservation = new Map(state.reservations.map((r) => [r.id, r]));
  for (const op of pays.filter((o) => o.outcome === "ok")) {
    const row = byId.get(op.data.id);
    if (!row) violations.push(`acknowledged payment ${op.data.id} (op ${op.id}) is missing`);
    else if (row.userId !== op.user || row.reservationId !== op.args.reservationId || row.amount !== op.data.amount)
      violations.push(`payment ${row.id} differs from what op ${op.id} was told`);
    const status = reservation.get(op.args.reservationId as number)?.status;
    const expected = refundAsked.has(op.args.reservationId as number) ? ["PAID", "REFUNDED"] : ["PAID"];
    if (!expected.includes(status ?? "missing")) violations.push(`reservation ${op.args.reservationId} paid by op ${op.id} is ${status}`);
  }
  for (const row of state.payments) {
    const asked = pays.some((op) => maybe(op) && op.user === row.userId && op.args.reservationId === row.reservationId);
    if (!asked && state.reservations.some((r) => r.id === row.reservationId && state.eventIds.includes(r.eventId)))
      violations.push(`payment ${row.id} of user ${row.userId} that no request asked for`);
  }
  return result("every acknowledged payment is stored as answered and its reservation paid; none nobody asked for", pays.length, violations);
};

const refundsAndCancels: Check = (ops, state) => {
  const violations: string[] = [];
  const reservation = new Map(state.reservations.map((r) => [r.id, r]));
  const payment = new Map(state.payments.map((p) => [p.reservationId, p]));
  const refunds = of(ops, "refund");
  const cancels = of(ops, "cancel");
  for (const op of refunds.filter((o) => o.outcome === "ok")) {
    const id = op.args.reservationId as number;
    if (reservation.get(id)?.status !== "REFUNDED" || payment.get(id)?.status !== "refunded") violations.push(`refund of ${id} (op ${op.id}) is not in the final state`);
  }
  for (const op of cancels.filter((o) => o.outcome === "ok")) {
    const status = reservation.get(op.args.reservationId as number)?.status;
    if (status !== "CANCELLED") violations.push(`cancelled reservation ${op.args.reservationId} (op ${op.id}) is ${status}`);
  }
  for (const row of state.reservations.filter((r) => state.eventIds.includes(r.eventId))) {
    const asked = (list: Op[]) => list.some((op) => maybe(op) && op.user === row.userId && op.args.reservationId === row.id);
    if (row.status === "REFUNDED" && !asked(refunds)) violations.push(`reservation ${row.id} refunded without a request`);
    if (row.status === "CANCELLED" && !asked(cancels)) violations.push(`reservation ${row.id} cancelled without a request`);
  }
  return result("every acknowledged refund and cancellation took effect; none nobody asked for", refunds.length + cancels.length, violations);
};

/**
 * No seat held by two fans at once, from the history alone: a hold acknowledged to B while A's acknowledged hold of the
 * same seat was certainly live. A's hold is certainly live from its answer until its expiry, unless A gave it back,
 * cancelled, paid or was refunded meanwhile (anything of A's on that seat that had started by then ends the certainty).
 */
const holds: Check = (ops) => {
  const violations: string[] = [];
  const granted = of(ops, "occupy").filter((op) => op.outcome === "ok");
  const letGo = ops.filter((op) => ["release", "cancel", "refund", "reserve"].includes(op.kind) && maybe(op));
  const bySeat = new Map<number, Op[]>();
  for (const op of granted) bySeat.set(op.args.seatId as number, [...(bySeat.get(op.args.seatId as number) ?? []), op]);
  for (const [seatId, list] of bySeat) {
    for (const a of list) {
      const expiresAt = new Date(a.data.expirationTime).getTime();
      // A reserved seat stays A's past the hold, but a reservation can be cancelled or lapse: only the hold is certain.
      const ends = Math.min(expiresAt, ...letGo.filter((op) => op.user === a.user && op.start >= a.start).map((op) => op.start));
      for (const b of list) {
        if (b.user !== a.user && b.start > a.end && b.end < ends) violations.push(`seat ${seatId}: held by user ${a.user} (op ${a.id}) and user ${b.user} (op ${b.id}) at once`);
      }
    }
  }
  violations.push(...lostHolds(ops, granted));
  return result("no seat held by two fans at once; no acknowledged hold lost while it lasted", granted.length, violations);
};

/**
 * Holds that were acknowledged and then gone before their expiry: the holder's reservation of the seat, asked for and
 * answered while the hold was certainly live, was refused as `seat_not_held`. Anything of the holder's that may have let
 * the seat go meanwhile (giving it back, a cancellation, a refund, a reservation of other seats) ends the certainty.
 */
function lostHolds(ops: Op[], granted: Op[]): string[] {
  const lost: string[] = [];
  const refused = of(ops, "reserve").filter((op) => op.code === "seat_not_held");
  for (const r of refused) {
    const seatIds = r.args.seatIds as number[];
    const letGoBetween = (from: number, seatId: number) =>
      ops.some(
        (o) =>
          o.user === r.user &&
          o !== r &&
          maybe(o) &&
          o.start >= from &&
          o.start < r.start &&
          ((o.kind === "release" && o.args.seatId === seatId) || o.kind === "cancel" || o.kind === "refund" || (o.kind === "reserve" && !sameSeats(o.args.seatIds as number[], seatIds))),
      );
    for (const seatId of seatIds) {
      const hold = granted.find(
        (h) => h.user === r.user && h.args.seatId === seatId && h.end < r.start && r.end < new Date(h.data.expirationTime).getTime() && !letGoBetween(h.start, seatId),
      );
      if (hold) lost.push(`seat ${seatId}: user ${r.user}'s acknowledged hold (op ${hold.id}) was gone when they reserved it (op ${r.id})`);
    }
  }
  return lost;
}

const soldOnce: Check = (ops, state) => {
  const violations: string[] = [];
  const reservation = new Map(state.reservations.map((r) => [r.id, r]));
  const refunded = new Set(of(ops, "refund").filter(maybe).map((op) => op.args.reservationId as number));
  const owner = new Map<number, number>();
  const paid = of(ops, "pay").filter((op) => op.outcome === "ok" && !refunded.has(op.args.reservationId as number));
  for (const op of paid) {
    for (const seatId of reservation.get(op.args.reservationId as number)?.seatIds ?? []) {
      const other = owner.get(seatId);
      if (other !== undefined && other !== op.args.reservationId) violations.push(`seat ${seatId} sold in reservations ${other} and ${op.args.reservationId}`);
      owner.set(seatId, op.args.reservationId as number);
    }
  }
  const live = new Map<number, number>();
  for (const row of state.reservations.filter((r) => r.status === "PAID" || r.status === "PENDING")) {
    for (const seatId of row.seatIds) {
      if (live.has(seatId)) violations.push(`seat ${seatId} in live reservations ${live.get(seatId)} and ${row.id}`);
      live.set(seatId, row.id);
    }
  }
  return result("no seat sold twice", paid.length + live.size, violations);
};

const money: Check = (_ops, state) => {
  const violations: string[] = [];
  const users = new Set([...state.wallets.map((w) => w.userId), ...state.ledger.map((l) => l.userId)]);
  for (const user of users) {
    const charged = state.ledger.filter((l) => l.userId === user && l.kind === "charge").reduce((n, l) => n + l.amount, 0);
    const balance = state.wallets.find((w) => w.userId === user)?.balance ?? 0;
    const mine = state.payments.filter((p) => p.userId === user);
    const paid = mine.reduce((n, p) => n + p.amount, 0);
    const refunded = mine.filter((p) => p.status === "refunded").reduce((n, p) => n + p.amount, 0);
    if (balance < 0) violations.push(`user ${user}: balance ${balance}`);
    if (charged !== balance + paid - refunded) violations.push(`user ${user}: charged ${charged} ≠ balance ${balance} + paid ${paid} − refunded ${refunded}`);
  }
  return result("money conserved per user: charges = balance + payments − refunds, no balance below 0", users.size, violations);
};

const queue: Check = (ops, state) => {
  const violations: string[] = [];
  const tokens = new Map(state.tokens.map((t) => [t.token, t]));
  const enters = of(ops, "enter").filter((op) => op.outcome === "ok");
  for (const op of enters) {
    const row = tokens.get(op.data.token);
    if (!row || row.userId !== op.user) violations.push(`queue place of op ${op.id} (user ${op.user}) is not stored`);
  }
  const statuses = of(ops, "status").filter((op) => op.outcome === "ok");
  // A status may be up to 250 ms old (API.md): only a WAITING asked for later than that after an ACTIVE counts.
  const activeSince = new Map<string, number>();
  for (const op of [...statuses].sort((a, b) => a.start - b.start)) {
    const token = op.args.token as string;
    if (op.data.status === "ACTIVE") {
      if (op.end < state.opensAt) violations.push(`op ${op.id}: user ${op.user} admitted before the opening`);
      if (!activeSince.has(token)) activeSince.set(token, op.end);
    } else if ((activeSince.get(token) ?? Infinity) + 250 < op.start) violations.push(`op ${op.id}: token of user ${op.user} waiting again after its admission`);
  }
  for (const row of state.tokens) if (row.activatedAt !== null && row.activatedAt < state.opensAt) violations.push(`user ${row.userId} admitted at ${new Date(row.activatedAt).toISOString()}, before the opening`);
  if (!state.drawSeedStored || state.queueOpenedAt === null) violations.push("the pre-queue's order was never drawn");
  const order = state.audit.filter((v) => v.check.startsWith("admissions followed") || v.check.startsWith("nobody was let in") || v.check.startsWith("at most one live"));
  for (const v of order) violations.push(`${v.check}: ${v.ids.join(", ")}`);
  return result("every place kept; admissions in the drawn order, none before the opening, none twice for one turn", enters.length + statuses.length, violations);
};

const stream: Check = (_ops, state) => {
  const violations: string[] = [];
  const seen = new Map<string, number>();
  for (const e of state.events) {
    if (e.msgId === undefined) violations.push(`stream message ${e.seq} (${e.subject}) has no Nats-Msg-Id`);
    else seen.set(e.msgId, (seen.get(e.msgId) ?? 0) + 1);
  }
  for (const [id, n] of seen) if (n > 1) violations.push(`message id ${id} stored ${n} times`);
  const count = (ids: number[]) => ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<number, number>());
  const once = (what: string, committed: number[], published: number[]) => {
    const got = count(published);
    for (const id of committed) if (got.get(id) !== 1) violations.push(`${what} ${id}: ${got.get(id) ?? 0} events in the stream`);
    const known = new Set(committed);
    for (const id of got.keys()) if (!known.has(id)) violations.push(`${what} ${id}: an event for a change the database does not hold`);
  };
  const bodies = (suffix: string) => state.events.filter((e) => e.subject.endsWith(suffix)).map((e) => e.body);
  const ours = state.reservations.filter((r) => state.eventIds.includes(r.eventId));
  once("reservation", ours.map((r) => r.id), bodies(".reservation.created").filter((b) => state.eventIds.includes(b.eventId)).map((b) => b.reservationId));
  once("payment", state.payments.map((p) => p.id), bodies(".payment.completed").map((b) => b.paymentId));
  once("refund", state.payments.filter((p) => p.status === "refunded").map((p) => p.id), bodies(".payment.refunded").map((b) => b.paymentId));
  const key = (userId: number, amount: number) => userId * 1e9 + amount;
  once("charge", state.ledger.filter((l) => l.kind === "charge").map((l) => key(l.userId, l.amount)), bodies("rsv.evt.wallet.charged").map((b) => key(b.userId, b.amount)));
  const issued = state.events.filter((e) => e.subject === `rsv.evt.queue.${state.concertId}.token.issued`).length;
  if (issued !== state.tokens.length) violations.push(`${state.tokens.length} queue tokens stored, ${issued} token.issued events`);
  const activated = state.events.filter((e) => e.subject === `rsv.evt.queue.${state.concertId}.token.activated`).length;
  const admitted = state.tokens.filter((t) => t.activatedAt !== null).length;
  if (activated !== admitted) violations.push(`${admitted} admissions stored, ${activated} token.activated events`);
  if (state.outboxLeft > 0) violations.push(`${state.outboxLeft} outbox rows never reached the stream`);
  return result("every committed change's event in RSV_EVENTS exactly once", state.events.length, violations);
};

const lapsedHolds: Check = (_ops, state) => {
  // Five seconds' grace: an event whose owner was killed is taken over within a lease (4 s), then its lapsed holds go.
  const stale = state.seats.filter((s) => state.eventIds.includes(s.eventId) && s.status === "HELD" && s.holdExpiresAt! < state.readAt - 5_000);
  return result("lapsed holds released (also those whose owner was killed)", state.seats.length, stale.map((s) => `seat ${s.id} still held by user ${s.userId}, lapsed at ${new Date(s.holdExpiresAt!).toISOString()}`));
};

const audit: Check = (_ops, state) =>
  result("the database audit (bun run verify)", state.seats.length, state.audit.map((v) => `${v.check}: ${v.ids.join(", ")}`));

const CHECKS: Check[] = [answers, charges, reservations, payments, refundsAndCancels, holds, soldOnce, money, queue, stream, lapsedHolds, audit];

export function check(ops: Op[], state: FinalState): InvariantResult[] {
  return CHECKS.map((c) => c(ops, state));
}
