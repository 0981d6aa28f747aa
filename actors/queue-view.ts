// A model of one queue's places: who is in it, who waits where, who is admitted until when. The queue actor decides
// with one (waiting-line.ts), and every instance keeps one built from what the actor committed, to answer
// `GET /queue/status`, the seat routes' token check and the pushed status without asking the actor. One implementation
// for both, so a copy places every token exactly as the actor does.
//
// Built for a stadium's line: a waiting user costs a slot in a few typed arrays and one entry of a map keyed by a
// number (the token's fingerprint, tokens being secrets), not an object and a string; positions come from two
// order-statistic counters, O(log n) per answer whatever the length of the line; the opening's draw ranks the whole
// pre-queue from one seed (src/shared/draw-order.ts).
import { AdmissionRate, statusOf, type Place } from "./queue-status";
import type { QueueOp, QueueSnapshot, QueueTokenRecord } from "./waiting-line";
// What a view is made of travels between instances, so its shapes are messages.
import type { QueueSale, QueueStatus, ViewChange, ViewState, ViewTokens } from "../src/shared/messages";
import { drawnOrder } from "../src/shared/draw-order";
import type { ViewCodec } from "../src/shared/replicas";
import { fingerprintKey, fingerprintOf, tokenFingerprint, tokenKey, type FingerprintKey } from "../src/shared/queue-tokens";

/** Where a token stands. */
export const FREE = 0;
/** Waiting for the opening, in the pre-queue: no place yet. */
export const PRE = 1;
/** Waiting with a place drawn at the opening. */
export const DRAWN = 2;
/** Waiting in arrival order: the global queue, and whoever entered a concert's queue once it had opened. */
export const LINE = 3;
export const ACTIVE = 4;
export type Kind = typeof FREE | typeof PRE | typeof DRAWN | typeof LINE | typeof ACTIVE;

const KIND_LETTERS = "-PDLA";

export type ViewAnswer = { ok: true; status: QueueStatus; slot: number } | { ok: false; code: "invalid_token" };

const seedBytes = (seed: string) => new Uint8Array(Buffer.from(seed, "base64url"));

export class QueueView {
  // One slot per token; a slot is reused once its token has left.
  private hi = new Float64Array(0);
  private lo = new Float64Array(0);
  private user = new Float64Array(0);
  private seqs = new Float64Array(0);
  /** The drawn place for DRAWN tokens. */
  private rank = new Float64Array(0);
  /** When an ACTIVE token's turn ends. */
  private expires = new Float64Array(0);
  private kinds = new Uint8Array(0);
  private used = 0;
  private readonly free: number[] = [];
  /** Fingerprint key (its high 48 bits) to slot; the rare token whose high bits another already has goes in `overflow`. */
  private readonly index = new Map<number, number>();
  private readonly overflow = new Map<string, number>();
  private live = 0;
  private readonly sale: QueueSale | undefined;
  private prequeue = 0;
  /** WAITING tokens with a drawn place, by place; and those waiting in arrival order, by seq. */
  private readonly drawn = new OrderedCounter();
  private readonly arrived = new OrderedCounter();
  private readonly rate: AdmissionRate;

  constructor(
    rules: { maxActive: number; activeTtlMs: number },
    state: ViewState,
  ) {
    this.sale = state.sale && { ...state.sale };
    this.rate = new AdmissionRate(rules, state.admissions);
    this.absorb(state.tokens);
  }

  /**
   * The view of what the actor loaded, with `each` told every token's slot. A queue loaded after its opening has its
   * seed, not its places: the draw is made again, to the same order.
   */
  static of(rules: { maxActive: number; activeTtlMs: number }, snapshot: QueueSnapshot, each?: (record: QueueTokenRecord, slot: number) => void): QueueView {
    const sale = snapshot.sale;
    const view = new QueueView(rules, { sale, admissions: { times: [] }, tokens: emptyTokens() });
    const drawable = sale !== undefined && (sale.openedAt === undefined || sale.seed !== undefined);
    for (const t of snapshot.tokens) {
      const kind: Kind = t.status === "ACTIVE" ? ACTIVE : t.draw !== undefined ? DRAWN : t.prequeue && drawable ? PRE : LINE;
      const slot = view.add(tokenKey(t.token), t.userId, t.seq, kind, t.draw ?? 0, t.expiresAt ?? 0);
      each?.(t, slot);
    }
    if (view.prequeue > 0 && sale?.openedAt !== undefined && sale.seed !== undefined) view.rankPrequeue(sale.seed);
    return view;
  }

  /** Adds a page of tokens (a snapshot arrives in pages: see `pages`). */
  absorb(tokens: ViewTokens): void {
    for (let i = 0; i < tokens.users.length; i++) {
      const key = fingerprintKey(tokens.fps.substring(16 * i, 16 * i + 16))!;
      const kind = KIND_LETTERS.indexOf(tokens.kinds[i]!) as Kind;
      this.add(key, tokens.users[i]!, tokens.seqs[i]!, kind, tokens.places[i]!, tokens.expires[i]!);
    }
  }

  get size(): number {
    return this.live;
  }

  /** Applies a committed (or, in the actor, a decided) change; returns the slot it concerned, or -1. */
  apply(change: ViewChange): number {
    switch (change.type) {
      case "issued": {
        const kind = change.status === "ACTIVE" ? ACTIVE : this.opensLater(change.issuedAt) ? PRE : LINE;
        return this.add(fingerprintKey(change.fp)!, change.userId, change.seq, kind, 0, change.expiresAt ?? 0);
      }
      case "activated": {
        const slot = this.find(fingerprintKey(change.fp)!);
        if (slot >= 0) this.activateAt(slot, change.at, change.expiresAt);
        return slot;
      }
      case "expired": {
        const slot = this.find(fingerprintKey(change.fp)!);
        if (slot >= 0) this.removeAt(slot);
        return slot;
      }
      case "drawn":
        this.draw(change.at, change.seed);
        return -1;
      case "window":
        if (this.sale) Object.assign(this.sale, { opensAt: change.opensAt, closesAt: change.closesAt });
        return -1;
    }
  }

  /** A waiting token's turn begins. */
  activateAt(slot: number, at: number, expiresAt: number): void {
    this.unplace(slot);
    this.kinds[slot] = ACTIVE;
    this.expires[slot] = expiresAt;
    this.rate.observe(at);
  }

  /** A token leaves the queue (its turn ended, it left, or its user paid); its slot is free for another. */
  removeAt(slot: number): void {
    this.unplace(slot);
    const hi = this.hi[slot]!;
    if (this.index.get(hi) === slot) {
      this.index.delete(hi);
      // A token that shared these high bits takes the index's place.
      for (const [name, other] of this.overflow) {
        if (this.hi[other] !== hi) continue;
        this.overflow.delete(name);
        this.index.set(hi, other);
        break;
      }
    } else {
      this.overflow.delete(`${hi}:${this.lo[slot]}`);
    }
    this.kinds[slot] = FREE;
    this.live--;
    this.free.push(slot);
  }

  /**
   * The opening: every token of the pre-queue gets its drawn place, and the sale is open. Returns the pre-queue's slots
   * in drawn order, which the actor admits from.
   */
  draw(at: number, seed: string): Int32Array {
    if (this.sale) Object.assign(this.sale, { openedAt: at, seed });
    return this.rankPrequeue(seed);
  }

  // ---- reading ----------------------------------------------------------------------------------------------------

  /** The slot of a token, or -1. */
  find(key: FingerprintKey): number {
    const slot = this.index.get(key.hi);
    if (slot !== undefined && this.lo[slot] === key.lo) return slot;
    return this.overflow.size === 0 ? -1 : (this.overflow.get(`${key.hi}:${key.lo}`) ?? -1);
  }

  /**
   * A token's slot, if it is in the queue now. A turn whose time is up is over even before its actor has committed its
   * end (a few milliseconds later): nobody is told it is still on.
   */
  lookup(key: FingerprintKey, now: number): number {
    const slot = this.find(key);
    return slot >= 0 && !(this.kinds[slot] === ACTIVE && this.expires[slot]! <= now) ? slot : -1;
  }

  userOf(slot: number): number {
    return this.user[slot]!;
  }

  seqOf(slot: number): number {
    return this.seqs[slot]!;
  }

  kindOf(slot: number): Kind {
    return this.kinds[slot] as Kind;
  }

  isActive(slot: number): boolean {
    return this.kinds[slot] === ACTIVE;
  }

  expiresAtOf(slot: number): number {
    return this.expires[slot]!;
  }

  fingerprintAt(slot: number): string {
    return fingerprintOf({ hi: this.hi[slot]!, lo: this.lo[slot]! });
  }

  /** What `GET /queue/status` answers for this token and caller; undefined when the token is not in the queue. */
  status(key: FingerprintKey, userId: number, now: number): ViewAnswer | undefined {
    const slot = this.lookup(key, now);
    if (slot < 0) return undefined;
    if (this.user[slot] !== userId) return { ok: false, code: "invalid_token" };
    return { ok: true, status: statusOf(this.placeOf(slot), this.rate, now), slot };
  }

  /** The same answer without the owner check: for a stream, which the token alone authenticates. */
  statusAt(slot: number, now: number): QueueStatus {
    return statusOf(this.placeOf(slot), this.rate, now);
  }

  counts(): { waiting: number; active: number } {
    const waiting = this.prequeue + this.drawn.size + this.arrived.size;
    return { waiting, active: this.live - waiting };
  }

  /** Every token waiting in `kind`'s order: DRAWN by place, LINE by arrival. For the actor, once, when it loads. */
  waitingInOrder(kind: typeof DRAWN | typeof LINE): Int32Array {
    return this.slotsOf(kind, (slot) => (kind === DRAWN ? this.rank[slot]! : this.seqs[slot]!));
  }

  /** ACTIVE tokens by the end of their turn. */
  activeInOrder(): Int32Array {
    return this.slotsOf(ACTIVE, (slot) => this.expires[slot]!);
  }

  /**
   * The whole view as pages of at most `pageSize` tokens, for another instance to build an equal one: the first page
   * is a ViewState, the rest ViewTokens. A stadium's line is megabytes; no single NATS message may carry it.
   */
  pages(pageSize: number): { state: ViewState; rest: ViewTokens[] } {
    const pages: ViewTokens[] = [];
    let page = emptyTokens();
    for (let slot = 0; slot < this.used; slot++) {
      if (this.kinds[slot] === FREE) continue;
      if (page.users.length === pageSize) {
        pages.push(page);
        page = emptyTokens();
      }
      page.fps += this.fingerprintAt(slot);
      page.users.push(this.user[slot]!);
      page.seqs.push(this.seqs[slot]!);
      page.kinds += KIND_LETTERS[this.kinds[slot]!];
      page.places.push(this.kinds[slot] === DRAWN ? this.rank[slot]! : 0);
      page.expires.push(this.kinds[slot] === ACTIVE ? this.expires[slot]! : 0);
    }
    pages.push(page);
    const [first, ...rest] = pages;
    return { state: { sale: this.sale && { ...this.sale }, admissions: this.rate.seen(), tokens: first! }, rest };
  }

  // ---- slots and places -------------------------------------------------------------------------------------------

  /** Before the opening, a token entered now waits for the draw; at or after it (even before the draw), in line. */
  private opensLater(issuedAt: number): boolean {
    const sale = this.sale;
    return sale !== undefined && sale.openedAt === undefined && issuedAt < sale.opensAt;
  }

  private add(key: FingerprintKey, userId: number, seq: number, kind: Kind, rank: number, expiresAt: number): number {
    const slot = this.free.pop() ?? this.grow();
    this.hi[slot] = key.hi;
    this.lo[slot] = key.lo;
    this.user[slot] = userId;
    this.seqs[slot] = seq;
    this.rank[slot] = rank;
    this.expires[slot] = expiresAt;
    this.kinds[slot] = kind;
    if (this.index.has(key.hi)) this.overflow.set(`${key.hi}:${key.lo}`, slot);
    else this.index.set(key.hi, slot);
    this.live++;
    this.place(slot);
    return slot;
  }

  private grow(): number {
    if (this.used === this.kinds.length) {
      const capacity = Math.max(1024, this.kinds.length * 2);
      const widen = <T extends Float64Array | Uint8Array>(old: T, make: (n: number) => T): T => {
        const next = make(capacity);
        next.set(old);
        return next;
      };
      this.hi = widen(this.hi, (n) => new Float64Array(n));
      this.lo = widen(this.lo, (n) => new Float64Array(n));
      this.user = widen(this.user, (n) => new Float64Array(n));
      this.seqs = widen(this.seqs, (n) => new Float64Array(n));
      this.rank = widen(this.rank, (n) => new Float64Array(n));
      this.expires = widen(this.expires, (n) => new Float64Array(n));
      this.kinds = widen(this.kinds, (n) => new Uint8Array(n));
    }
    return this.used++;
  }

  private place(slot: number): void {
    switch (this.kinds[slot]) {
      case PRE:
        this.prequeue++;
        return;
      case DRAWN:
        return this.drawn.add(this.rank[slot]!);
      case LINE:
        return this.arrived.add(this.seqs[slot]!);
    }
  }

  private unplace(slot: number): void {
    switch (this.kinds[slot]) {
      case PRE:
        this.prequeue--;
        return;
      case DRAWN:
        return this.drawn.remove(this.rank[slot]!);
      case LINE:
        return this.arrived.remove(this.seqs[slot]!);
    }
  }

  /** Places the pre-queue in the seed's order, after any place already drawn; returns its slots in that order. */
  private rankPrequeue(seed: string): Int32Array {
    const slots = this.slotsOf(PRE, () => 0);
    const seqs = Float64Array.from(slots, (slot) => this.seqs[slot]!);
    const order = drawnOrder(seedBytes(seed), seqs);
    const ranked = Int32Array.from(order, (i) => slots[i]!);
    const after = this.drawn.size === 0 ? 0 : this.drawn.maxKey();
    ranked.forEach((slot, i) => {
      this.unplace(slot);
      this.kinds[slot] = DRAWN;
      this.rank[slot] = after + i + 1;
      this.place(slot);
    });
    return ranked;
  }

  /** Slots of one kind, ordered by `keyOf` (then by slot). */
  private slotsOf(kind: Kind, keyOf: (slot: number) => number): Int32Array {
    const slots: number[] = [];
    for (let slot = 0; slot < this.used; slot++) if (this.kinds[slot] === kind) slots.push(slot);
    return Int32Array.from(slots.sort((a, b) => keyOf(a) - keyOf(b) || a - b));
  }

  private placeOf(slot: number): Place {
    switch (this.kinds[slot]) {
      case ACTIVE:
        return { kind: "active", expiresAt: this.expires[slot]! };
      case PRE:
        return { kind: "pre", size: this.prequeue, opensAt: this.sale!.opensAt };
      case DRAWN:
        return { kind: "line", position: this.prequeue + this.drawn.countBelow(this.rank[slot]!) + 1 };
      default:
        return { kind: "line", position: this.prequeue + this.drawn.size + this.arrived.countBelow(this.seqs[slot]!) + 1 };
    }
  }
}

const emptyTokens = (): ViewTokens => ({ fps: "", users: [], seqs: [], kinds: "", places: [], expires: [] });

/**
 * A set of positive integers that counts how many are below a given one in O(log n): a Fenwick tree over a window of
 * keys [base, base + capacity). Keys mostly arrive at the top and leave from the bottom (a queue), so when a key falls
 * outside the window, the window is moved to the live keys and widened, in O(capacity). The caller adds only keys that
 * are absent and removes only keys that are present; the tree itself is all the memory it takes.
 */
export class OrderedCounter {
  private tree = new Int32Array(1025);
  private base = 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(key: number): void {
    if (key < this.base || key - this.base >= this.capacity) this.refit(key);
    this.update(key - this.base + 1, 1);
    this.count++;
  }

  remove(key: number): void {
    this.update(key - this.base + 1, -1);
    this.count--;
  }

  countBelow(key: number): number {
    let i = Math.min(key - this.base, this.capacity);
    let sum = 0;
    for (; i > 0; i -= i & -i) sum += this.tree[i]!;
    return sum;
  }

  /** The largest key present (the set must not be empty). */
  maxKey(): number {
    const counts = this.counts();
    let i = counts.length - 1;
    while (i > 0 && counts[i] === 0) i--;
    return this.base + i;
  }

  private get capacity(): number {
    return this.tree.length - 1;
  }

  private update(index: number, delta: number): void {
    for (let i = index; i <= this.capacity; i += i & -i) this.tree[i] = this.tree[i]! + delta;
  }

  /** How many of each key the tree holds, index 0 for `base` (the tree's inverse, in linear time). */
  private counts(): Int32Array {
    const counts = this.tree.slice(1);
    for (let i = this.capacity; i >= 1; i--) {
      const parent = i + (i & -i);
      if (parent <= this.capacity) counts[parent - 1] = counts[parent - 1]! - counts[i - 1]!;
    }
    return counts;
  }

  /** Moves the window to cover the live keys and `key`, with as much room again above them, and refills it. */
  private refit(key: number): void {
    const counts = this.counts();
    let low = key;
    let high = key;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      low = Math.min(low, this.base + i);
      high = Math.max(high, this.base + i);
    }
    let capacity = 1024;
    while (capacity < 2 * (high - low + 1)) capacity *= 2;
    const tree = new Int32Array(capacity + 1);
    for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) tree[this.base + i - low + 1] = counts[i]!;
    for (let i = 1; i <= capacity; i++) {
      const parent = i + (i & -i);
      if (parent <= capacity) tree[parent] = tree[parent]! + tree[i]!;
    }
    this.tree = tree;
    this.base = low;
  }
}

/** The ops of a queue actor as its read models take them: tokens replaced by their fingerprints. */
export function viewChangesOf(ops: QueueOp[]): ViewChange[] {
  return ops.flatMap((op): ViewChange[] => {
    switch (op.type) {
      case "issued":
        return [{ type: "issued", fp: tokenFingerprint(op.token), userId: op.userId, seq: op.seq, status: op.status, issuedAt: op.issuedAt, expiresAt: op.expiresAt }];
      case "activated":
        return [{ type: "activated", fp: tokenFingerprint(op.token), at: op.activatedAt, expiresAt: op.expiresAt }];
      case "expired":
        return [{ type: "expired", fp: tokenFingerprint(op.token) }];
      case "drawn":
        return [{ type: "drawn", at: op.at, seed: op.seed }];
      case "concertUpdated":
        return [{ type: "window", opensAt: op.opensAt, closesAt: op.closesAt }];
    }
  });
}


/** How a queue's model changes and travels (shared/replicas.ts). */
export const queueViewCodec = (rules: { maxActive: number; activeTtlMs: number }): ViewCodec<QueueView, ViewChange, ViewState, ViewTokens> => ({
  apply: (view, change) => void view.apply(change),
  cut: (view, pageSize) => view.pages(pageSize),
  build: (state) => new QueueView(rules, state),
  absorb: (view, page) => view.absorb(page),
});
