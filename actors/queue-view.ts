// A read model of one queue, built from what its actor committed: every instance keeps one per queue and answers
// `GET /queue/status`, the seat routes' token check and the pushed status from it, without asking the actor. It
// never decides anything; it follows the committed changes in order and places each token as the actor does.
//
// Tokens are known by their fingerprint only (tokens are secrets); positions come from two order-statistic counters,
// so a status costs O(log n) whatever the queue's length: drawn places for the pre-queue once it is drawn, and arrival
// order for everyone else.
import { AdmissionRate, statusOf, type Place } from "./queue-status";
import type { QueueOp, QueueSnapshot } from "./waiting-line";
// What a view is made of travels between instances, so its shapes are messages.
import type { QueueSale, QueueStatus, ViewChange, ViewEntry, ViewState } from "../src/shared/messages";

export type ViewAnswer = { ok: true; status: QueueStatus; entry: ViewEntry } | { ok: false; code: "invalid_token" };

export class QueueView {
  private readonly entries = new Map<string, ViewEntry>();
  private readonly sale: QueueSale | undefined;
  private prequeue = 0;
  /** WAITING tokens with a drawn place, by place; and every other waiting token outside the pre-queue, by arrival. */
  private readonly drawn = new OrderedCounter();
  private readonly arrived = new OrderedCounter();
  private readonly rate: AdmissionRate;

  constructor(
    rules: { maxActive: number; activeTtlMs: number },
    state: ViewState,
  ) {
    this.sale = state.sale && { ...state.sale };
    this.rate = new AdmissionRate(rules, state.admissions);
    for (const [fp, entry] of state.entries) this.add(fp, { ...entry });
  }

  get size(): number {
    return this.entries.size;
  }

  apply(change: ViewChange): void {
    switch (change.type) {
      case "issued": {
        const { fp, type: _, ...entry } = change;
        this.add(fp, entry);
        return;
      }
      case "activated": {
        const entry = this.entries.get(change.fp);
        if (!entry) return;
        this.unplace(entry);
        Object.assign(entry, { status: "ACTIVE", expiresAt: change.expiresAt });
        this.rate.observe(change.at);
        return;
      }
      case "expired": {
        const entry = this.entries.get(change.fp);
        if (!entry) return;
        this.unplace(entry);
        this.entries.delete(change.fp);
        return;
      }
      case "drawn":
        return this.draw(change);
      case "window":
        if (this.sale) Object.assign(this.sale, { opensAt: change.opensAt, closesAt: change.closesAt });
        return;
    }
  }

  /**
   * A token's entry, if it is in the queue now. A turn whose time is up is over even before its actor has committed
   * its end (a few milliseconds later): nobody is told it is still on.
   */
  lookup(fp: string, now: number): ViewEntry | undefined {
    const entry = this.entries.get(fp);
    return entry && !(entry.status === "ACTIVE" && entry.expiresAt! <= now) ? entry : undefined;
  }

  /** What `GET /queue/status` answers for this token and caller; undefined when the token is not in the queue. */
  status(fp: string, userId: number, now: number): ViewAnswer | undefined {
    const entry = this.lookup(fp, now);
    if (!entry) return undefined;
    if (entry.userId !== userId) return { ok: false, code: "invalid_token" };
    return { ok: true, status: statusOf(this.placeOf(entry), this.rate, now), entry };
  }

  /** The same answer without the owner check: for a stream, which the token alone authenticates. */
  statusOfEntry(entry: ViewEntry, now: number): QueueStatus {
    return statusOf(this.placeOf(entry), this.rate, now);
  }

  state(): ViewState {
    return { entries: [...this.entries].map(([fp, e]) => [fp, { ...e }]), sale: this.sale && { ...this.sale }, admissions: this.rate.seen() };
  }

  counts(): { waiting: number; active: number } {
    const waiting = this.prequeue + this.drawn.size + this.arrived.size;
    return { waiting, active: this.entries.size - waiting };
  }

  // ---- placing tokens -------------------------------------------------------------------------------------------

  private inPrequeue(entry: ViewEntry): boolean {
    const sale = this.sale;
    return entry.status === "WAITING" && entry.draw === undefined && sale !== undefined && sale.openedAt === undefined && entry.issuedAt < sale.opensAt;
  }

  private add(fp: string, entry: ViewEntry): void {
    this.entries.set(fp, entry);
    this.place(entry);
  }

  private place(entry: ViewEntry): void {
    if (entry.status !== "WAITING") return;
    if (this.inPrequeue(entry)) this.prequeue++;
    else if (entry.draw !== undefined) this.drawn.add(entry.draw);
    else this.arrived.add(entry.seq);
  }

  private unplace(entry: ViewEntry): void {
    if (entry.status !== "WAITING") return;
    if (this.inPrequeue(entry)) this.prequeue--;
    else if (entry.draw !== undefined) this.drawn.remove(entry.draw);
    else this.arrived.remove(entry.seq);
  }

  private draw(change: Extract<ViewChange, { type: "drawn" }>): void {
    change.fps.forEach((fp, i) => {
      const entry = this.entries.get(fp);
      if (!entry) return;
      this.unplace(entry);
      entry.draw = i + 1;
    });
    if (this.sale) this.sale.openedAt = change.at;
    for (const fp of change.fps) {
      const entry = this.entries.get(fp);
      if (entry) this.place(entry);
    }
  }

  private placeOf(entry: ViewEntry): Place {
    if (entry.status === "ACTIVE") return { kind: "active", expiresAt: entry.expiresAt! };
    if (this.inPrequeue(entry)) return { kind: "pre", size: this.prequeue, opensAt: this.sale!.opensAt };
    const ahead = entry.draw !== undefined ? this.drawn.countBelow(entry.draw) : this.drawn.size + this.arrived.countBelow(entry.seq);
    return { kind: "line", position: this.prequeue + ahead + 1 };
  }
}

/**
 * A set of positive integers that counts how many are below a given one in O(log n): a Fenwick tree over a window of
 * keys [base, base + capacity). Keys mostly arrive at the top and leave from the bottom (a queue), so when the window
 * runs out it is moved up to the smallest live key and rebuilt, in O(n).
 */
export class OrderedCounter {
  private tree = new Int32Array(1025);
  private base = 1;
  private readonly keys = new Set<number>();

  get size(): number {
    return this.keys.size;
  }

  add(key: number): void {
    if (this.keys.has(key)) return;
    this.keys.add(key);
    if (key < this.base || key - this.base >= this.capacity) return this.rebuild();
    this.update(key - this.base + 1, 1);
  }

  remove(key: number): void {
    if (!this.keys.delete(key)) return;
    this.update(key - this.base + 1, -1);
  }

  countBelow(key: number): number {
    let i = Math.min(key - this.base, this.capacity);
    let sum = 0;
    for (; i > 0; i -= i & -i) sum += this.tree[i]!;
    return sum;
  }

  private get capacity(): number {
    return this.tree.length - 1;
  }

  private update(index: number, delta: number): void {
    for (let i = index; i <= this.capacity; i += i & -i) this.tree[i] = this.tree[i]! + delta;
  }

  /** Moves the window to the live keys, with room above them, and refills it in linear time. */
  private rebuild(): void {
    let min = Infinity;
    let max = -Infinity;
    for (const key of this.keys) {
      if (key < min) min = key;
      if (key > max) max = key;
    }
    this.base = min;
    let capacity = 1024;
    while (capacity < 2 * (max - min + 1)) capacity *= 2;
    this.tree = new Int32Array(capacity + 1);
    for (const key of this.keys) this.tree[key - min + 1]! += 1;
    for (let i = 1; i <= capacity; i++) {
      const parent = i + (i & -i);
      if (parent <= capacity) this.tree[parent] = this.tree[parent]! + this.tree[i]!;
    }
  }
}

/** The committed ops of a queue actor as its read models take them: tokens replaced by their fingerprints. */
export function viewChangesOf(ops: QueueOp[], fingerprint: (token: string) => string): ViewChange[] {
  return ops.flatMap((op): ViewChange[] => {
    switch (op.type) {
      case "issued":
        return [{ type: "issued", fp: fingerprint(op.token), userId: op.userId, seq: op.seq, status: op.status, issuedAt: op.issuedAt, expiresAt: op.expiresAt }];
      case "activated":
        return [{ type: "activated", fp: fingerprint(op.token), at: op.activatedAt, expiresAt: op.expiresAt }];
      case "expired":
        return [{ type: "expired", fp: fingerprint(op.token) }];
      case "drawn":
        return [{ type: "drawn", at: op.at, fps: op.tokens.map(fingerprint) }];
      case "concertUpdated":
        return [{ type: "window", opensAt: op.opensAt, closesAt: op.closesAt }];
    }
  });
}

/** A view of what the actor loaded: the starting point of the owner's committed view. */
export function viewStateOf(snapshot: QueueSnapshot, fingerprint: (token: string) => string): ViewState {
  return {
    entries: snapshot.tokens.map((t) => [
      fingerprint(t.token),
      { userId: t.userId, status: t.status, seq: t.seq, issuedAt: t.issuedAt, draw: t.draw, expiresAt: t.expiresAt },
    ]),
    sale: snapshot.sale,
    admissions: { times: [] },
  };
}
