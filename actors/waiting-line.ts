// The rules of the waiting queue: one live token per user, admission strictly in arrival order up to `maxActive`,
// ACTIVE tokens lapsing after their TTL or when their user has paid, and a waiting-time estimate from the admission
// rate actually observed. Pure in-memory logic; time is passed in, tokens come from the given generator.
import { fail, ok, type Reply } from "../src/shared/codec";
import type { QueueStatus, QueueTicket } from "../src/shared/subjects";
import type { Decision, EntityModel, ReplyTo } from "./durable-entity";

export interface QueueTokenRecord {
  token: string;
  userId: number;
  /** Arrival order; the database keeps it so positions survive a restart. */
  seq: number;
  status: "WAITING" | "ACTIVE";
  issuedAt: number;
  activatedAt?: number;
  expiresAt?: number;
}

export interface QueueSnapshot {
  tokens: QueueTokenRecord[];
  nextSeq: number;
}

export type QueueOp =
  | ({ type: "issued" } & QueueTokenRecord)
  | { type: "activated"; token: string; userId: number; activatedAt: number; expiresAt: number }
  | { type: "expired"; token: string; userId: number; at: number; reason: "ttl" | "left" | "paid" };

export type QueueCommand =
  | { type: "enter"; userId: number; replyTo?: ReplyTo }
  | { type: "status"; userId: number; token: string; replyTo?: ReplyTo }
  | { type: "leave"; userId: number; token: string; replyTo?: ReplyTo }
  /** The user's payment committed (and expired the token in the same transaction): their place is free. */
  | { type: "paid"; userId: number; replyTo?: ReplyTo };

export interface QueueRules {
  maxActive: number;
  activeTtlMs: number;
  newToken: () => string;
}

/** How far back admissions count towards the observed rate. */
const RATE_WINDOW_MS = 60_000;

export class WaitingLine implements EntityModel<QueueCommand, QueueOp, null> {
  private readonly byToken = new Map<string, QueueTokenRecord>();
  private readonly byUser = new Map<number, QueueTokenRecord>();
  /** WAITING tokens by seq; entries before `head` have been admitted and are dropped in bulk now and then. */
  private waiting: QueueTokenRecord[] = [];
  private head = 0;
  /** ACTIVE tokens in expiry order: every admission expires one TTL after it, so insertion order is expiry order. */
  private readonly active = new Map<string, QueueTokenRecord>();
  /** When WAITING tokens were admitted, within the rate window. */
  private admissions: number[] = [];
  private firstAdmission: number | undefined;
  private nextSeq: number;

  constructor(
    private readonly rules: QueueRules,
    snapshot: QueueSnapshot,
  ) {
    this.nextSeq = snapshot.nextSeq;
    const byExpiry = snapshot.tokens.filter((t) => t.status === "ACTIVE").sort((a, b) => a.expiresAt! - b.expiresAt!);
    for (const record of [...snapshot.tokens].sort((a, b) => a.seq - b.seq)) this.track({ ...record });
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
    }
  }

  expire(now: number): QueueOp[] {
    const ops: QueueOp[] = [];
    for (const record of this.active.values()) {
      if (record.expiresAt! > now) break;
      ops.push(this.remove(record, now, "ttl"));
    }
    return ops.length > 0 ? [...ops, ...this.admit(now)] : ops;
  }

  nextDeadline(): number | undefined {
    return this.active.values().next().value?.expiresAt;
  }

  settle(): void {}

  counts(): { waiting: number; active: number } {
    return { waiting: this.waitingCount(), active: this.active.size };
  }

  /** The queue is a singleton that never stops. */
  dormant(): boolean {
    return false;
  }

  // ---- commands ---------------------------------------------------------------------------------------------------

  private enter(userId: number, now: number): Decision<QueueOp> {
    const existing = this.byUser.get(userId);
    if (existing) return { ok: true, ops: [], answer: () => this.ticket(existing, now) };
    const admitNow = this.active.size < this.rules.maxActive && this.waitingCount() === 0;
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

  private find(userId: number, token: string): { ok: true; record: QueueTokenRecord } | { ok: false; code: "not_found_in_queue" | "invalid_token" } {
    const record = this.byToken.get(token);
    if (!record) return { ok: false, code: "not_found_in_queue" };
    if (record.userId !== userId) return { ok: false, code: "invalid_token" };
    return { ok: true, record };
  }

  // ---- admission ------------------------------------------------------------------------------------------------

  private admit(now: number): QueueOp[] {
    const ops: QueueOp[] = [];
    while (this.active.size < this.rules.maxActive && this.head < this.waiting.length) {
      const record = this.waiting[this.head++]!;
      record.status = "ACTIVE";
      record.activatedAt = now;
      record.expiresAt = now + this.rules.activeTtlMs;
      this.active.set(record.token, record);
      this.observeAdmission(now);
      ops.push({ type: "activated", token: record.token, userId: record.userId, activatedAt: now, expiresAt: record.expiresAt });
    }
    this.compact();
    return ops;
  }

  private remove(record: QueueTokenRecord, now: number, reason: "ttl" | "left" | "paid"): QueueOp {
    this.byToken.delete(record.token);
    this.byUser.delete(record.userId);
    if (record.status === "ACTIVE") this.active.delete(record.token);
    else this.waiting.splice(this.indexOf(record), 1);
    return { type: "expired", token: record.token, userId: record.userId, at: now, reason };
  }

  private track(record: QueueTokenRecord): void {
    this.byToken.set(record.token, record);
    this.byUser.set(record.userId, record);
    if (record.status === "WAITING") this.waiting.push(record);
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

  /** Binary search by seq: WAITING tokens are kept in arrival order. */
  private indexOf(record: QueueTokenRecord): number {
    let low = this.head;
    let high = this.waiting.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const seq = this.waiting[mid]!.seq;
      if (seq === record.seq) return mid;
      if (seq < record.seq) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  // ---- answers --------------------------------------------------------------------------------------------------

  private position(record: QueueTokenRecord): number {
    return record.status === "ACTIVE" ? 0 : this.indexOf(record) - this.head + 1;
  }

  private observeAdmission(now: number): void {
    this.firstAdmission ??= now;
    this.admissions.push(now);
    if (this.admissions.length > 4096) this.admissions = this.admissions.slice(-2048);
  }

  /** Admissions per second over the last minute; before any was seen, the rate a full turnover would give. */
  private admissionRate(now: number): number {
    const since = now - RATE_WINDOW_MS;
    const recent = this.admissions.filter((at) => at > since).length;
    if (recent === 0 || this.firstAdmission === undefined) return this.rules.maxActive / (this.rules.activeTtlMs / 1000);
    const observedMs = Math.min(RATE_WINDOW_MS, Math.max(1000, now - this.firstAdmission));
    return recent / (observedMs / 1000);
  }

  private statusReply(record: QueueTokenRecord, now: number): Reply<QueueStatus> {
    if (!this.byToken.has(record.token)) return fail("not_found_in_queue");
    if (record.status === "ACTIVE") {
      return ok({ queuePosition: 0, estimatedWaitingTime: 0, status: "ACTIVE", expiresAt: new Date(record.expiresAt!).toISOString() });
    }
    const queuePosition = this.position(record);
    return ok({ queuePosition, estimatedWaitingTime: Math.ceil(queuePosition / this.admissionRate(now)), status: "WAITING" });
  }

  private ticket(record: QueueTokenRecord, now: number): Reply<QueueTicket> {
    const status = this.statusReply(record, now);
    return status.ok ? ok({ token: record.token, ...status.data }) : status;
  }
}
