// The rules of one waiting queue: one live token per user, admission in order up to `maxActive`, ACTIVE tokens lapsing
// after their TTL or when their user has paid, and a waiting-time estimate from the admission rate actually observed.
//
// A concert's queue also has a sale window. Whoever enters before the sale opens waits in the pre-queue, where arrival
// time is worth nothing: at the opening the pre-queue is put in a uniformly random order, that order is committed, and
// only then does admission start, in it. Later arrivals queue behind the whole pre-queue, in arrival order.
// Pure in-memory logic; time is passed in, tokens and the draw's randomness come from the given generators.
import { fail, ok, type Reply } from "../src/shared/codec";
import type { ErrorCode } from "../src/shared/errors";
import type { ConcertEdit, QueueSale, QueueStatus, QueueTicket } from "../src/shared/messages";
import type { Decision, EntityModel, ReplyTo } from "./durable-entity";
import { AdmissionRate, statusOf, type Place } from "./queue-status";

export interface QueueTokenRecord {
  token: string;
  userId: number;
  /** Arrival order; the database keeps it so positions survive a restart. */
  seq: number;
  status: "WAITING" | "ACTIVE";
  issuedAt: number;
  activatedAt?: number;
  expiresAt?: number;
  /** The place drawn at the opening, for those who waited in the pre-queue (1 is admitted first). */
  draw?: number;
}

export interface QueueSnapshot {
  tokens: QueueTokenRecord[];
  nextSeq: number;
  /** A concert's queue; undefined for the global queue, which is always open. */
  sale?: QueueSale;
}

export type QueueOp =
  | ({ type: "issued" } & QueueTokenRecord)
  | { type: "activated"; token: string; userId: number; activatedAt: number; expiresAt: number }
  | { type: "expired"; token: string; userId: number; at: number; reason: "ttl" | "left" | "paid" }
  /** The opening: the pre-queue's drawn order (`draws[i]` is the place of `tokens[i]`), stored before any admission. */
  | { type: "drawn"; at: number; tokens: string[]; draws: number[] }
  /** An operator's edit of the concert; the window is the queue's to change, the rest is carried along. */
  | { type: "concertUpdated"; title?: string; venue?: string; opensAt: number; closesAt?: number };

export type QueueCommand =
  | { type: "enter"; userId: number; replyTo?: ReplyTo }
  | { type: "status"; userId: number; token: string; replyTo?: ReplyTo }
  | { type: "leave"; userId: number; token: string; replyTo?: ReplyTo }
  /** The user's payment committed (and expired the token in the same transaction): their place is free. */
  | { type: "paid"; userId: number; replyTo?: ReplyTo }
  | ({ type: "update"; replyTo?: ReplyTo } & ConcertEdit);

export interface QueueRules {
  maxActive: number;
  activeTtlMs: number;
  newToken: () => string;
  /** A uniformly random integer in [0, bound): a cryptographic source in production, a fixed one in tests. */
  randomBelow: (bound: number) => number;
}

type Found = { ok: true; record: QueueTokenRecord } | { ok: false; code: ErrorCode };

export class WaitingLine implements EntityModel<QueueCommand, QueueOp, null> {
  private readonly byToken = new Map<string, QueueTokenRecord>();
  private readonly byUser = new Map<number, QueueTokenRecord>();
  /** Those who entered before the opening, not yet drawn, in arrival order. */
  private readonly prequeue = new Map<string, QueueTokenRecord>();
  /** WAITING tokens in admission order; entries before `head` have been admitted and are dropped in bulk now and then. */
  private waiting: QueueTokenRecord[] = [];
  private head = 0;
  /** Each waiting token's place in `waiting`'s order (increasing), so a token is found by binary search. */
  private readonly rank = new Map<QueueTokenRecord, number>();
  private lastRank = 0;
  /** ACTIVE tokens in expiry order: every admission expires one TTL after it, so insertion order is expiry order. */
  private readonly active = new Map<string, QueueTokenRecord>();
  private readonly rate: AdmissionRate;
  private nextSeq: number;
  private readonly sale: QueueSale | undefined;
  /** The drawn order is being committed: nobody is admitted until it has been. */
  private drawPending = false;
  /** The draw has committed: admission starts at the next tick. */
  private admitDue = false;

  constructor(
    private readonly rules: QueueRules,
    snapshot: QueueSnapshot,
  ) {
    this.nextSeq = snapshot.nextSeq;
    this.rate = new AdmissionRate(rules);
    this.sale = snapshot.sale && { ...snapshot.sale };
    for (const record of [...snapshot.tokens].sort(admissionOrder)) this.track({ ...record });
    const byExpiry = snapshot.tokens.filter((t) => t.status === "ACTIVE").sort((a, b) => a.expiresAt! - b.expiresAt!);
    for (const record of byExpiry) this.active.set(record.token, this.byToken.get(record.token)!);
  }

  decide(command: QueueCommand, now: number): Decision<QueueOp> {
    switch (command.type) {
      case "enter":
        return this.enter(command.userId, now);
      case "status": {
        const found = this.find(command.userId, command.token);
        if (!found.ok) return found;
        return { ok: true, ops: [], answer: () => this.statusReply(found.record, now) };
      }
      case "leave": {
        const found = this.find(command.userId, command.token);
        if (!found.ok) return found;
        const ops = [this.remove(found.record, now, "left"), ...this.admit(now)];
        return { ok: true, ops, answer: () => ok({ status: "EXPIRED" }) };
      }
      case "paid": {
        const record = this.byUser.get(command.userId);
        const ops = record?.status === "ACTIVE" ? [this.remove(record, now, "paid"), ...this.admit(now)] : [];
        return { ok: true, ops, answer: () => ok(null) };
      }
      case "update":
        return this.update(command, now);
    }
  }

  expire(now: number): QueueOp[] {
    const ops: QueueOp[] = [];
    if (this.sale && this.sale.openedAt === undefined && now >= this.sale.opensAt) ops.push(this.draw(now));
    for (const record of this.active.values()) {
      if (record.expiresAt! > now) break;
      ops.push(this.remove(record, now, "ttl"));
    }
    this.admitDue = false;
    return [...ops, ...this.admit(now)];
  }

  nextDeadline(): number | undefined {
    if (this.admitDue) return this.sale!.openedAt;
    const deadlines = [this.active.values().next().value?.expiresAt];
    if (this.sale && this.sale.openedAt === undefined) deadlines.push(this.sale.opensAt);
    const known = deadlines.filter((d): d is number => d !== undefined);
    return known.length > 0 ? Math.min(...known) : undefined;
  }

  settle(ops: QueueOp[]): void {
    if (!ops.some((op) => op.type === "drawn")) return;
    this.drawPending = false;
    this.admitDue = true;
  }

  counts(): { waiting: number; active: number } {
    return { waiting: this.waitingCount() + this.prequeue.size, active: this.active.size };
  }

  /** A queue never stops: its timer admits, expires and opens the sale. */
  dormant(): boolean {
    return false;
  }

  // ---- commands ---------------------------------------------------------------------------------------------------

  private enter(userId: number, now: number): Decision<QueueOp> {
    const existing = this.byUser.get(userId);
    if (existing) return { ok: true, ops: [], answer: () => this.ticket(existing, now) };
    if (this.closed(now)) return { ok: false, code: "sale_closed" };
    const admitNow = this.admitting() && this.active.size < this.rules.maxActive && this.waitingCount() === 0 && this.prequeue.size === 0;
    const record: QueueTokenRecord = {
      token: this.rules.newToken(),
      userId,
      seq: this.nextSeq++,
      status: admitNow ? "ACTIVE" : "WAITING",
      issuedAt: now,
      ...(admitNow ? { activatedAt: now, expiresAt: now + this.rules.activeTtlMs } : {}),
    };
    this.track(record);
    if (admitNow) this.active.set(record.token, record);
    return { ok: true, ops: [{ type: "issued", ...record }], answer: () => this.ticket(record, now) };
  }

  private find(userId: number, token: string): Found {
    const record = this.byToken.get(token);
    if (!record) return { ok: false, code: "not_found_in_queue" };
    if (record.userId !== userId) return { ok: false, code: "invalid_token" };
    return { ok: true, record };
  }

  /**
   * An operator's edit. The opening cannot move once it has come (whoever waited was promised that moment); an opening
   * set in the past opens the sale now, so everyone already waiting stays in the pre-queue.
   */
  private update(edit: ConcertEdit, now: number): Decision<QueueOp> {
    const sale = this.sale;
    if (!sale) return { ok: false, code: "invalid_request" };
    const opensAt = edit.opensAt === undefined ? sale.opensAt : Math.max(edit.opensAt, now);
    const closesAt = edit.closesAt === undefined ? sale.closesAt : (edit.closesAt ?? undefined);
    const moved = edit.opensAt !== undefined && edit.opensAt !== sale.opensAt;
    if (moved && (sale.openedAt !== undefined || now >= sale.opensAt)) return { ok: false, code: "sale_already_open" };
    if (closesAt !== undefined && closesAt <= opensAt) return { ok: false, code: "invalid_request" };
    Object.assign(sale, { opensAt, closesAt });
    const op: QueueOp = { type: "concertUpdated", title: edit.title, venue: edit.venue, opensAt, closesAt };
    return { ok: true, ops: [op], answer: () => ok(null) };
  }

  // ---- the opening and admission ----------------------------------------------------------------------------------

  /** Draws the pre-queue's order (Fisher–Yates over the given random source) and puts it ahead of later arrivals. */
  private draw(now: number): QueueOp {
    const drawn = [...this.prequeue.values()];
    for (let i = drawn.length - 1; i > 0; i--) {
      const j = this.rules.randomBelow(i + 1);
      [drawn[i], drawn[j]] = [drawn[j]!, drawn[i]!];
    }
    drawn.forEach((record, i) => (record.draw = i + 1));
    const later = this.waiting.slice(this.head);
    this.prequeue.clear();
    this.waiting = [];
    this.head = 0;
    for (const record of [...drawn, ...later]) this.appendWaiting(record);
    this.sale!.openedAt = now;
    this.drawPending = true;
    return { type: "drawn", at: now, tokens: drawn.map((r) => r.token), draws: drawn.map((r) => r.draw!) };
  }

  /** Admission runs once the sale is open and its drawn order is stored; the global queue always admits. */
  private admitting(): boolean {
    return !this.sale || (this.sale.openedAt !== undefined && !this.drawPending);
  }

  private closed(now: number): boolean {
    return this.sale?.closesAt !== undefined && now >= this.sale.closesAt;
  }

  private inPrequeue(now: number): boolean {
    return this.sale !== undefined && this.sale.openedAt === undefined && now < this.sale.opensAt;
  }

  private admit(now: number): QueueOp[] {
    const ops: QueueOp[] = [];
    if (!this.admitting()) return ops;
    while (this.active.size < this.rules.maxActive && this.head < this.waiting.length) {
      const record = this.waiting[this.head++]!;
      this.rank.delete(record);
      record.status = "ACTIVE";
      record.activatedAt = now;
      record.expiresAt = now + this.rules.activeTtlMs;
      this.active.set(record.token, record);
      this.rate.observe(now);
      ops.push({ type: "activated", token: record.token, userId: record.userId, activatedAt: now, expiresAt: record.expiresAt });
    }
    this.compact();
    return ops;
  }

  private remove(record: QueueTokenRecord, now: number, reason: "ttl" | "left" | "paid"): QueueOp {
    this.byToken.delete(record.token);
    this.byUser.delete(record.userId);
    if (record.status === "ACTIVE") this.active.delete(record.token);
    else if (!this.prequeue.delete(record.token)) {
      this.waiting.splice(this.indexOf(record), 1);
      this.rank.delete(record);
    }
    return { type: "expired", token: record.token, userId: record.userId, at: now, reason };
  }

  /** Files a loaded or new token: ACTIVE ones are tracked by the caller, WAITING ones join the pre-queue or the line. */
  private track(record: QueueTokenRecord): void {
    this.byToken.set(record.token, record);
    this.byUser.set(record.userId, record);
    if (record.status !== "WAITING") return;
    if (record.draw === undefined && this.inPrequeue(record.issuedAt)) this.prequeue.set(record.token, record);
    else this.appendWaiting(record);
  }

  private appendWaiting(record: QueueTokenRecord): void {
    this.waiting.push(record);
    this.rank.set(record, ++this.lastRank);
  }

  /** Drops admitted entries from the front once they are the bulk of the array, keeping admission O(1) amortised. */
  private compact(): void {
    if (this.head < 1024 || this.head < this.waiting.length / 2) return;
    this.waiting = this.waiting.slice(this.head);
    this.head = 0;
  }

  private waitingCount(): number {
    return this.waiting.length - this.head;
  }

  /** Binary search by rank: `waiting` is kept in admission order. */
  private indexOf(record: QueueTokenRecord): number {
    const wanted = this.rank.get(record)!;
    let low = this.head;
    let high = this.waiting.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const rank = this.rank.get(this.waiting[mid]!)!;
      if (rank === wanted) return mid;
      if (rank < wanted) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  // ---- answers --------------------------------------------------------------------------------------------------

  /** Behind the pre-queue until it is drawn, every later arrival waits behind all of it. */
  private placeOf(record: QueueTokenRecord): Place {
    if (record.status === "ACTIVE") return { kind: "active", expiresAt: record.expiresAt! };
    if (this.prequeue.has(record.token)) return { kind: "pre", size: this.prequeue.size, opensAt: this.sale!.opensAt };
    return { kind: "line", position: this.prequeue.size + this.indexOf(record) - this.head + 1 };
  }

  private statusReply(record: QueueTokenRecord, now: number): Reply<QueueStatus> {
    if (!this.byToken.has(record.token)) return fail("not_found_in_queue");
    return ok(statusOf(this.placeOf(record), this.rate, now));
  }

  private ticket(record: QueueTokenRecord, now: number): Reply<QueueTicket> {
    const status = this.statusReply(record, now);
    return status.ok ? ok({ token: record.token, ...status.data }) : status;
  }
}

/** Drawn places first, then everyone else in arrival order. */
function admissionOrder(a: QueueTokenRecord, b: QueueTokenRecord): number {
  if (a.draw !== undefined || b.draw !== undefined) return (a.draw ?? Infinity) - (b.draw ?? Infinity) || a.seq - b.seq;
  return a.seq - b.seq;
}
