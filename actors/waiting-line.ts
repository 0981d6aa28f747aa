// The rules of one waiting queue: one live token per user, admission in order up to `maxActive`, ACTIVE tokens lapsing
// after their TTL or when their user has paid, and a waiting-time estimate from the admission rate actually observed.
//
// A concert's queue also has a sale window. Whoever enters before the sale opens waits in the pre-queue, where arrival
// time is worth nothing: at the opening one random seed is drawn and committed, which puts the pre-queue in a uniformly
// random order (src/shared/draw-order.ts), and only then does admission start, in that order. Later arrivals queue
// behind the whole pre-queue, in arrival order.
//
// Pure in-memory logic; time is passed in, tokens and the draw's seed come from the given generators. Who stands where
// is a QueueView (queue-view.ts), the same model every instance's read side keeps: the actor's answers and theirs are
// computed by one piece of code. What a line of a million costs here is that view, a token string and a map entry each.
import { fail, ok, type Reply } from "../src/shared/codec";
import type { ErrorCode } from "../src/shared/errors";
import type { ConcertEdit, QueueSale, QueueStatus, QueueTicket } from "../src/shared/messages";
import { tokenFingerprint, tokenKey } from "../src/shared/queue-tokens";
import type { Decision, EntityModel, ReplyTo } from "./durable-entity";
import { DRAWN, LINE, QueueView } from "./queue-view";

/** A live token as the queue loads it. */
export interface QueueTokenRecord {
  token: string;
  userId: number;
  /** Arrival order; the database keeps it so positions survive a restart. */
  seq: number;
  status: "WAITING" | "ACTIVE";
  /** A WAITING token entered before the sale's opening: it waits for the draw, or has its drawn place. */
  prequeue?: boolean;
  expiresAt?: number;
  /** The place drawn at the opening, in queues drawn before the seed was stored (1 is admitted first). */
  draw?: number;
}

export interface QueueSnapshot {
  tokens: QueueTokenRecord[];
  nextSeq: number;
  /** A concert's queue; undefined for the global queue, which is always open. */
  sale?: QueueSale;
}

export type QueueOp =
  | {
      type: "issued";
      token: string;
      userId: number;
      seq: number;
      status: "WAITING" | "ACTIVE";
      issuedAt: number;
      activatedAt?: number;
      expiresAt?: number;
    }
  | { type: "activated"; token: string; userId: number; activatedAt: number; expiresAt: number }
  | { type: "expired"; token: string; userId: number; at: number; reason: "ttl" | "left" | "paid" }
  /** The opening: the seed of the pre-queue's drawn order (of `drawn` tokens), stored before any admission. */
  | { type: "drawn"; at: number; seed: string; drawn: number }
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
  /** The opening's seed: 32 bytes from a cryptographic source in production (base64url), a fixed one in tests. */
  newSeed: () => string;
}

type Found = { ok: true; slot: number } | { ok: false; code: ErrorCode };

/**
 * Slots in the order they are to be served, each with the seq it had when queued: a slot whose token has since left
 * (and which may hold another token by now) is skipped when it comes up, so leaving costs nothing here.
 */
class SlotQueue {
  private slots: Int32Array;
  private seqs: Float64Array;
  private head = 0;
  private tail = 0;

  constructor(slots: Int32Array = new Int32Array(0), seqOf: (slot: number) => number = () => 0) {
    this.slots = new Int32Array(Math.max(1024, slots.length));
    this.seqs = new Float64Array(this.slots.length);
    slots.forEach((slot) => this.push(slot, seqOf(slot)));
  }

  push(slot: number, seq: number): void {
    if (this.tail === this.slots.length) this.makeRoom();
    this.slots[this.tail] = slot;
    this.seqs[this.tail++] = seq;
  }

  /** The first slot that `current(slot, seq)` still vouches for, dropping those before it; -1 when none. */
  peek(current: (slot: number, seq: number) => boolean): number {
    while (this.head < this.tail) {
      const slot = this.slots[this.head]!;
      if (current(slot, this.seqs[this.head]!)) return slot;
      this.head++;
    }
    return -1;
  }

  /** Reuses the room before `head`, or doubles. */
  private makeRoom(): void {
    const live = this.tail - this.head;
    const size = live * 2 > this.slots.length ? this.slots.length * 2 : this.slots.length;
    const slots = new Int32Array(size);
    const seqs = new Float64Array(size);
    slots.set(this.slots.subarray(this.head, this.tail));
    seqs.set(this.seqs.subarray(this.head, this.tail));
    Object.assign(this, { slots, seqs, head: 0, tail: live });
  }
}

export class WaitingLine implements EntityModel<QueueCommand, QueueOp, null> {
  /** Who stands where, as decided (ahead of the commit). */
  private readonly line: QueueView;
  /** Each slot's token, for the user who enters again (and "" for a free slot). */
  private readonly tokens: string[] = [];
  private readonly byUser = new Map<number, number>();
  /** The pre-queue in drawn order, then everyone else in arrival order; each skips who is no longer waiting. */
  private drawn: SlotQueue;
  private readonly arrivals: SlotQueue;
  /** ACTIVE tokens in expiry order: every admission expires one TTL after it, so admission order is expiry order. */
  private readonly active: SlotQueue;
  private activeCount = 0;
  private nextSeq: number;
  private readonly sale: QueueSale | undefined;
  /** The drawn order is being committed: nobody is admitted until it has been. */
  private drawPending = false;
  /** Admission is due at the next tick: the draw has committed, or the queue loaded with places free. */
  private admitDue = false;

  constructor(
    private readonly rules: QueueRules,
    snapshot: QueueSnapshot,
  ) {
    this.nextSeq = snapshot.nextSeq;
    this.sale = snapshot.sale && { ...snapshot.sale };
    this.line = QueueView.of(rules, snapshot, (record, slot) => {
      this.tokens[slot] = record.token;
      this.byUser.set(record.userId, slot);
    });
    const seqOf = (slot: number) => this.line.seqOf(slot);
    this.drawn = new SlotQueue(this.line.waitingInOrder(DRAWN), seqOf);
    this.arrivals = new SlotQueue(this.line.waitingInOrder(LINE), seqOf);
    const active = this.line.activeInOrder();
    this.active = new SlotQueue(active, seqOf);
    this.activeCount = active.length;
    // Loaded with places free and people waiting (a crash between the draw's commit and the first admissions', say):
    // admission resumes at once, not at the next turn that ends.
    this.admitDue = this.admitting() && this.activeCount < rules.maxActive && this.line.counts().waiting > 0;
  }

  decide(command: QueueCommand, now: number): Decision<QueueOp> {
    switch (command.type) {
      case "enter":
        return this.enter(command.userId, now);
      case "status": {
        const found = this.find(command.userId, command.token);
        if (!found.ok) return found;
        return { ok: true, ops: [], answer: () => this.statusReply(found.slot, command.token, now) };
      }
      case "leave": {
        const found = this.find(command.userId, command.token);
        if (!found.ok) return found;
        const ops = [this.remove(found.slot, now, "left"), ...this.admit(now)];
        return { ok: true, ops, answer: () => ok({ status: "EXPIRED" }) };
      }
      case "paid": {
        const slot = this.byUser.get(command.userId);
        const ops = slot !== undefined && this.line.isActive(slot) ? [this.remove(slot, now, "paid"), ...this.admit(now)] : [];
        return { ok: true, ops, answer: () => ok(null) };
      }
      case "update":
        return this.update(command, now);
    }
  }

  expire(now: number): QueueOp[] {
    const ops: QueueOp[] = [];
    if (this.sale && this.sale.openedAt === undefined && now >= this.sale.opensAt) ops.push(this.draw(now));
    for (let slot = this.firstActive(); slot >= 0 && this.line.expiresAtOf(slot) <= now; slot = this.firstActive()) {
      ops.push(this.remove(slot, now, "ttl"));
    }
    this.admitDue = false;
    return [...ops, ...this.admit(now)];
  }

  nextDeadline(): number | undefined {
    // Due now: any moment in the past will do.
    if (this.admitDue) return 0;
    const first = this.firstActive();
    const deadlines = first >= 0 ? [this.line.expiresAtOf(first)] : [];
    if (this.sale && this.sale.openedAt === undefined) deadlines.push(this.sale.opensAt);
    return deadlines.length > 0 ? Math.min(...deadlines) : undefined;
  }

  settle(ops: QueueOp[]): void {
    if (!ops.some((op) => op.type === "drawn")) return;
    this.drawPending = false;
    this.admitDue = true;
  }

  counts(): { waiting: number; active: number } {
    return this.line.counts();
  }

  /** A queue never stops: its timer admits, expires and opens the sale. */
  dormant(): boolean {
    return false;
  }

  // ---- commands ---------------------------------------------------------------------------------------------------

  private enter(userId: number, now: number): Decision<QueueOp> {
    const existing = this.byUser.get(userId);
    if (existing !== undefined) {
      const token = this.tokens[existing]!;
      return { ok: true, ops: [], answer: () => this.ticket(existing, token, now) };
    }
    if (this.closed(now)) return { ok: false, code: "sale_closed" };
    const admitNow = this.admitting() && this.activeCount < this.rules.maxActive && this.line.counts().waiting === 0;
    const token = this.rules.newToken();
    const seq = this.nextSeq++;
    const status = admitNow ? "ACTIVE" : "WAITING";
    const expiresAt = admitNow ? now + this.rules.activeTtlMs : undefined;
    const slot = this.line.apply({ type: "issued", fp: tokenFingerprint(token), userId, seq, status, issuedAt: now, expiresAt });
    this.tokens[slot] = token;
    this.byUser.set(userId, slot);
    if (admitNow) this.activated(slot, seq);
    else if (this.line.kindOf(slot) === LINE) this.arrivals.push(slot, seq);
    const op: QueueOp = { type: "issued", token, userId, seq, status, issuedAt: now, ...(admitNow ? { activatedAt: now, expiresAt } : {}) };
    return { ok: true, ops: [op], answer: () => this.ticket(slot, token, now) };
  }

  private find(userId: number, token: string): Found {
    const slot = this.line.find(tokenKey(token));
    if (slot < 0 || this.tokens[slot] !== token) return { ok: false, code: "not_found_in_queue" };
    if (this.line.userOf(slot) !== userId) return { ok: false, code: "invalid_token" };
    return { ok: true, slot };
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
    this.line.apply({ type: "window", opensAt, closesAt });
    const op: QueueOp = { type: "concertUpdated", title: edit.title, venue: edit.venue, opensAt, closesAt };
    return { ok: true, ops: [op], answer: () => ok(null) };
  }

  // ---- the opening and admission ----------------------------------------------------------------------------------

  /** Draws the seed that orders the pre-queue, and puts the whole pre-queue ahead of later arrivals. */
  private draw(now: number): QueueOp {
    const seed = this.rules.newSeed();
    const order = this.line.draw(now, seed);
    this.drawn = new SlotQueue(order, (slot) => this.line.seqOf(slot));
    this.sale!.openedAt = now;
    this.sale!.seed = seed;
    this.drawPending = true;
    return { type: "drawn", at: now, seed, drawn: order.length };
  }

  /** Admission runs once the sale is open and its drawn order is stored; the global queue always admits. */
  private admitting(): boolean {
    return !this.sale || (this.sale.openedAt !== undefined && !this.drawPending);
  }

  private closed(now: number): boolean {
    return this.sale?.closesAt !== undefined && now >= this.sale.closesAt;
  }

  private admit(now: number): QueueOp[] {
    const ops: QueueOp[] = [];
    if (!this.admitting()) return ops;
    while (this.activeCount < this.rules.maxActive) {
      const slot = this.nextWaiting();
      if (slot < 0) break;
      const expiresAt = now + this.rules.activeTtlMs;
      this.line.activateAt(slot, now, expiresAt);
      this.activated(slot, this.line.seqOf(slot));
      ops.push({ type: "activated", token: this.tokens[slot]!, userId: this.line.userOf(slot), activatedAt: now, expiresAt });
    }
    return ops;
  }

  private activated(slot: number, seq: number): void {
    this.active.push(slot, seq);
    this.activeCount++;
  }

  private nextWaiting(): number {
    const waiting = (kind: number) => (slot: number, seq: number) => this.line.kindOf(slot) === kind && this.line.seqOf(slot) === seq;
    const drawn = this.drawn.peek(waiting(DRAWN));
    return drawn >= 0 ? drawn : this.arrivals.peek(waiting(LINE));
  }

  private firstActive(): number {
    return this.active.peek((slot, seq) => this.line.isActive(slot) && this.line.seqOf(slot) === seq);
  }

  private remove(slot: number, now: number, reason: "ttl" | "left" | "paid"): QueueOp {
    const token = this.tokens[slot]!;
    const userId = this.line.userOf(slot);
    if (this.line.isActive(slot)) this.activeCount--;
    this.line.removeAt(slot);
    this.tokens[slot] = "";
    this.byUser.delete(userId);
    return { type: "expired", token, userId, at: now, reason };
  }

  // ---- answers --------------------------------------------------------------------------------------------------

  /** Answered after the commit: the token may have left meanwhile, and its slot gone to someone else. */
  private statusReply(slot: number, token: string, now: number): Reply<QueueStatus> {
    if (this.tokens[slot] !== token) return fail("not_found_in_queue");
    return ok(this.line.statusAt(slot, now));
  }

  private ticket(slot: number, token: string, now: number): Reply<QueueTicket> {
    const status = this.statusReply(slot, token, now);
    return status.ok ? ok({ token, ...status.data }) : status;
  }
}
