// Every instance's copy of every queue (the read models of actors/queue-view.ts), so `GET /queue/status`, the seat
// routes' token check and the pushed status are answered from memory, not by a round trip to the queue's actor.
//
// Each queue's owner publishes what every commit changed, numbered, and every 50 ms which version it has committed.
// A copy applies the changes in order; one it missed (a gap, a new incarnation after the actor reloaded or moved) makes
// it ask the owner for the whole committed model and start again from there. A copy answers only while it is whole
// and has heard from the owner within the last 250 ms; otherwise the answer is 503, never a position that may be wrong.
import type { Subscription } from "nats";
import { QueueView } from "../../actors/queue-view";
import type { Bus } from "../shared/bus";
import { AppError } from "../shared/errors";
import { log } from "../shared/log";
import { checkerOf, QueueViewChanges, QueueViewHeartbeat, QueueViewSnapshot, ViewTokens, type QueueStatus, type ViewChange } from "../shared/messages";
import { listen } from "../shared/nats-service";
import { QueueViews as Subjects, queueSubject } from "../shared/subjects";
import { fingerprintKey, QUEUE_TOKEN_FORMAT, queueOfToken, tokenKey, type FingerprintKey } from "../shared/queue-tokens";

/** A copy older than this is not trusted: the contract's bound on how old a status may be. */
export const MAX_STALENESS_MS = 250;
/** How long a request waits for a copy that is not trusted right now (a hand-over) before it is answered 503. */
const HANDOVER_WAIT_MS = 1000;
/** A token missing from a fresh copy is looked for again after this many more beats of its owner. */
const BEATS_TO_WAIT = 2;
/**
 * Tokens that left the queues (the high 48 bits of their fingerprints), so asking about them again is answered at once.
 * One that merely shares those bits with a departed token (a chance of one in 2^48 per pair) is looked for without
 * waiting for the owner's next beats.
 */
const GONE_REMEMBERED = 200_000;

interface Tracked {
  queueId: number;
  view?: QueueView;
  incarnation?: string;
  version: number;
  lastHeard: number;
  /** Heartbeats and changes heard so far, for those waiting for the owner's next beats. */
  beats: number;
  syncing?: Promise<void>;
  buffer: QueueViewChanges[];
  waiters: Set<() => void>;
}

export type Lookup =
  | { kind: "found"; queueId: number; key: FingerprintKey; view: QueueView; slot: number }
  /** Not in the queue: the whole, fresh copy does not have it even after the owner's next beats. */
  | { kind: "absent" }
  /** This instance has no trustworthy copy of that queue right now. */
  | { kind: "unready" };

type ChangeListener = (queueId: number, changes: ViewChange[]) => void;

/** The committed models of the queues this instance owns, which are exact and current without any message. */
export interface OwnedViews {
  committedView(queueId: number): QueueView | undefined;
}

export class QueueViews {
  private readonly tracked = new Map<number, Tracked>();
  private readonly gone = new Set<number>();
  private readonly listeners: ChangeListener[] = [];
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly rules: { maxActive: number; activeTtlMs: number },
    /**
     * Where this instance owns the queue, its committed model answers: as exact as a copy and never late, even when a
     * saturated event loop delays the owner's own heartbeats past the 250 ms a copy is trusted for.
     */
    private readonly owned: OwnedViews = { committedView: () => undefined },
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.subscriptions = [
      listen(this.bus.nc, Subjects.allChanges, QueueViewChanges, (message) => this.onChanges(message)),
      listen(this.bus.nc, Subjects.heartbeat, QueueViewHeartbeat, (heartbeat) => this.onHeartbeat(heartbeat)),
    ];
  }

  close(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    for (const t of this.tracked.values()) this.wake(t);
  }

  /** Called with every batch of changes applied to a copy (pushed status streams listen). */
  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** Whether this instance can answer for the queue: it owns it, or holds a whole, fresh copy. */
  ready(queueId: number): boolean {
    return this.viewOf(queueId) !== undefined;
  }

  /** The model to answer from: the committed one where this instance owns the queue, else a whole, fresh copy. */
  viewOf(queueId: number): QueueView | undefined {
    const owned = this.owned.committedView(queueId);
    if (owned) return owned;
    const t = this.tracked.get(queueId);
    return t && this.fresh(t) ? t.view : undefined;
  }

  /**
   * Finds a token in its queue's copy; a queue not yet heard of is copied from its owner first. A token the copy does
   * not have is looked for again after the owner's next beats (`patient`), since it may have been committed just now.
   */
  async lookup(token: string, patient = true): Promise<Lookup> {
    if (!QUEUE_TOKEN_FORMAT.test(token)) throw new AppError("invalid_token");
    const queueId = queueOfToken(token);
    const key = tokenKey(token);
    const found = (view: QueueView) => {
      const slot = view.lookup(key, this.now());
      return slot >= 0 ? ({ kind: "found", queueId, key, view, slot } as const) : undefined;
    };
    const owned = this.owned.committedView(queueId);
    if (owned) return found(owned) ?? { kind: "absent" };
    let t = this.tracked.get(queueId);
    if (!t) {
      t = this.track(queueId);
      await this.resync(t);
      // No such concert: its tokens cannot be in any queue.
      if (this.tracked.get(queueId) !== t) return { kind: "absent" };
    }
    if (!this.fresh(t)) await this.freshAgain(t);
    if (!this.fresh(t)) return { kind: "unready" };
    const seen = found(t.view!);
    if (seen) return seen;
    if (this.gone.has(key.hi) || !patient) return { kind: "absent" };
    // Committed just now, perhaps: its change left the owner before its reply did, so it arrives within a beat or two.
    await this.beatsLater(t, BEATS_TO_WAIT);
    if (!this.fresh(t)) return { kind: "unready" };
    return found(t.view!) ?? { kind: "absent" };
  }

  /** What `GET /queue/status` answers, from this instance's copy. */
  async status(token: string, userId: number): Promise<QueueStatus> {
    const found = await this.lookup(token);
    if (found.kind === "unready") throw new AppError("service_unavailable");
    if (found.kind === "absent") throw new AppError("not_found_in_queue");
    if (found.view.userOf(found.slot) !== userId) throw new AppError("invalid_token");
    return found.view.statusAt(found.slot, this.now());
  }

  /**
   * `status` without waiting: the answer when a whole, fresh copy (or the owned model) holds the caller's token, else
   * undefined, and the caller goes the way of `status`, which waits for a copy or refuses.
   */
  statusNow(token: string, userId: number): QueueStatus | undefined {
    if (!QUEUE_TOKEN_FORMAT.test(token)) return undefined;
    const answer = this.viewOf(queueOfToken(token))?.status(tokenKey(token), userId, this.now());
    return answer?.ok ? answer.status : undefined;
  }

  // ---- following the owners -------------------------------------------------------------------------------------

  private track(queueId: number): Tracked {
    const t: Tracked = { queueId, version: 0, lastHeard: 0, beats: 0, buffer: [], waiters: new Set() };
    this.tracked.set(queueId, t);
    return t;
  }

  private fresh(t: Tracked): boolean {
    return t.view !== undefined && !t.syncing && this.now() - t.lastHeard <= MAX_STALENESS_MS;
  }

  /**
   * This instance's own queues are answered from their committed models, which its commits have already changed: a
   * copy of them would only cost memory. Their changes still reach the listeners.
   */
  private followed(queueId: number): Tracked | undefined {
    if (this.owned.committedView(queueId)) {
      this.tracked.delete(queueId);
      return undefined;
    }
    return this.tracked.get(queueId) ?? this.track(queueId);
  }

  private onChanges(message: QueueViewChanges): void {
    const t = this.followed(message.queueId);
    if (!t) return this.notify(message.queueId, message.changes);
    if (t.syncing) return void t.buffer.push(message);
    if (message.incarnation === t.incarnation && message.version <= t.version) return;
    if (message.incarnation !== t.incarnation || message.version !== t.version + 1) {
      t.buffer.push(message);
      return void this.resync(t);
    }
    this.applyChanges(t, message);
    this.heard(t);
  }

  private onHeartbeat(heartbeat: QueueViewHeartbeat): void {
    for (const [queueId, incarnation, version] of heartbeat.queues) {
      const t = this.followed(queueId);
      if (!t || t.syncing) continue;
      // Changes travel ahead of the beat that counts them: a beat ahead of the copy means a change was lost.
      if (incarnation !== t.incarnation || version > t.version) void this.resync(t);
      else this.heard(t);
    }
  }

  private heard(t: Tracked): void {
    t.lastHeard = this.now();
    t.beats++;
    this.wake(t);
  }

  private wake(t: Tracked): void {
    for (const waiter of [...t.waiters]) waiter();
  }

  /**
   * Waits, a little, for a copy to be trusted again: a queue handed over gracefully has a new owner, and its copy a
   * new model, within a fraction of a second, and its waiting room should not see a single error for it. A copy
   * still not trusted after that answers 503.
   */
  private freshAgain(t: Tracked): Promise<void> {
    return this.until(t, () => this.fresh(t), HANDOVER_WAIT_MS);
  }

  private beatsLater(t: Tracked, beats: number): Promise<void> {
    const target = t.beats + beats;
    return this.until(t, () => t.beats >= target || !this.fresh(t), MAX_STALENESS_MS);
  }

  /** Resolves once `done()` holds, looked at whenever the owner is heard from or the copy is rebuilt, or after `ms`. */
  private until(t: Tracked, done: () => boolean, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        t.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const check = () => done() && finish();
      const timer = setTimeout(finish, ms);
      t.waiters.add(check);
    });
  }

  private applyChanges(t: Tracked, message: QueueViewChanges): void {
    for (const change of message.changes) {
      t.view!.apply(change);
      if (change.type === "expired") this.forget(fingerprintKey(change.fp)!.hi);
    }
    t.version = message.version;
    this.notify(t.queueId, message.changes);
  }

  private notify(queueId: number, changes: ViewChange[]): void {
    for (const listener of this.listeners) listener(queueId, changes);
  }

  private forget(hi: number): void {
    if (this.gone.size >= GONE_REMEMBERED) this.gone.delete(this.gone.values().next().value!);
    this.gone.add(hi);
  }

  /** Copies the owner's committed model, then applies what arrived meanwhile; answers 503 until it is done. */
  private resync(t: Tracked): Promise<void> {
    t.syncing ??= (async () => {
      try {
        const snapshot = await this.bus.request<unknown>(queueSubject(t.queueId, "view"), { page: 0 });
        if (!checkerOf(QueueViewSnapshot).Check(snapshot)) throw new Error(`queue ${t.queueId}: malformed snapshot`);
        const view = new QueueView(this.rules, snapshot.state);
        const { incarnation, version } = snapshot;
        for (let page = 1; page < snapshot.pages; page++) {
          const tokens = await this.bus.request<unknown>(queueSubject(t.queueId, "view"), { page, incarnation, version });
          if (!checkerOf(ViewTokens).Check(tokens)) throw new Error(`queue ${t.queueId}: malformed page ${page}`);
          view.absorb(tokens);
        }
        const later = t.buffer.filter((m) => m.incarnation === snapshot.incarnation && m.version > snapshot.version);
        Object.assign(t, { view, incarnation: snapshot.incarnation, version: snapshot.version });
        for (const message of later.sort((a, b) => a.version - b.version)) {
          if (message.version !== t.version + 1) throw new Error(`queue ${t.queueId}: change ${t.version + 1} missing`);
          this.applyChanges(t, message);
        }
        t.lastHeard = this.now();
      } catch (error) {
        // Its next heartbeat tries again; until then the copy is not trusted. A queue that does not exist is dropped.
        t.view = undefined;
        t.incarnation = undefined;
        if (error instanceof AppError && error.code === "not_found_concert") this.tracked.delete(t.queueId);
        else if (!(error instanceof AppError)) log.warn("queue read model could not be copied", { queue: t.queueId, error: String(error) });
      } finally {
        t.buffer = [];
        t.syncing = undefined;
        this.wake(t);
      }
    })();
    return t.syncing;
  }
}
