// Every instance's copy of every queue (the read models of actors/queue-view.ts), so `GET /queue/status`, the seat
// routes' token check and the pushed status are answered from memory, not by a round trip to the queue's actor. How
// copies follow their owner, and when they are trusted, is shared/replicas.ts; this is what a queue adds: finding a
// token, and telling a token that has left from one committed a moment ago on another instance.
import type { Subscription } from "nats";
import { queueViewCodec, type QueueView } from "../../actors/queue-view";
import type { Bus } from "../shared/bus";
import { AppError } from "../shared/errors";
import { checkerOf, QueueViewChanges, QueueViewSnapshot, ViewHeartbeat, ViewTokens, type QueueStatus, type ViewChange, type ViewState } from "../shared/messages";
import { listen } from "../shared/nats-service";
import { QueueViews as Subjects, queueSubject } from "../shared/subjects";
import { fingerprintKey, QUEUE_TOKEN_FORMAT, queueOfToken, tokenKey, type FingerprintKey } from "../shared/queue-tokens";
import { Replicas } from "../shared/replicas";
import { BoundedSet } from "../shared/bounded";

/** A token missing from a fresh copy is looked for again after this many more beats of its owner. */
const BEATS_TO_WAIT = 2;
/**
 * Tokens that left the queues (the high 48 bits of their fingerprints), so asking about them again is answered at once.
 * One that merely shares those bits with a departed token (a chance of one in 2^48 per pair) is looked for without
 * waiting for the owner's next beats.
 */
const GONE_REMEMBERED = 200_000;

type Rules = { maxActive: number; activeTtlMs: number };

export type Lookup =
  | { kind: "found"; queueId: number; key: FingerprintKey; view: QueueView; slot: number }
  /** Not in the queue: the whole, fresh copy does not have it even after the owner's next beats. */
  | { kind: "absent" }
  /** This instance has no trustworthy copy of that queue right now. */
  | { kind: "unready" };

/** The committed models of the queues this instance owns, which are exact and current without any message. */
export interface OwnedViews {
  committedView(queueId: number): QueueView | undefined;
}

export class QueueViews {
  private readonly replicas: Replicas<QueueView, ViewChange, ViewState, ViewTokens>;
  private readonly gone = new BoundedSet<number>(GONE_REMEMBERED);
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly bus: Bus,
    rules: Rules,
    /**
     * Where this instance owns the queue, its committed model answers: as exact as a copy and never late, even when a
     * saturated event loop delays the owner's own heartbeats past the 250 ms a copy is trusted for.
     */
    owned: OwnedViews = { committedView: () => undefined },
    private readonly now: () => number = Date.now,
  ) {
    this.replicas = new Replicas(
      bus,
      queueViewCodec(rules),
      {
        name: "queue",
        pagesSubject: (queueId) => queueSubject(queueId, "view"),
        missingCode: "not_found_concert",
        owned: (queueId) => owned.committedView(queueId),
        checkFirst: (value) => checkerOf(QueueViewSnapshot).Check(value),
        checkPage: (value) => checkerOf(ViewTokens).Check(value),
      },
      now,
    );
    this.replicas.onChange((_, changes) => {
      for (const change of changes) if (change.type === "expired") this.forget(fingerprintKey(change.fp)!.hi);
    });
  }

  start(): void {
    this.subscriptions = [
      listen(this.bus.nc, Subjects.allChanges, QueueViewChanges, ({ queueId, ...message }) => this.replicas.onChanges(queueId, message)),
      listen(this.bus.nc, Subjects.heartbeat, ViewHeartbeat, ({ views }) => {
        for (const [queueId, incarnation, version] of views) this.replicas.onBeat(queueId, incarnation, version);
      }),
    ];
  }

  close(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.replicas.close();
  }

  /** Called with every batch of changes a queue's model took (pushed status streams listen). */
  onChange(listener: (queueId: number, changes: ViewChange[]) => void): void {
    this.replicas.onChange(listener);
  }

  /** Whether this instance can answer for the queue: it owns it, or holds a whole, fresh copy. */
  ready(queueId: number): boolean {
    return this.viewOf(queueId) !== undefined;
  }

  /** The model to answer from: the committed one where this instance owns the queue, else a whole, fresh copy. */
  viewOf(queueId: number): QueueView | undefined {
    return this.replicas.viewOf(queueId);
  }

  /**
   * Finds a token in its queue's copy; a queue not yet heard of is copied from its owner first. A token the copy does
   * not have is looked for again after the owner's next beats (`patient`), since it may have been committed just now.
   */
  async lookup(token: string, patient = true): Promise<Lookup> {
    if (!QUEUE_TOKEN_FORMAT.test(token)) throw new AppError("invalid_token");
    const queueId = queueOfToken(token);
    const key = tokenKey(token);
    const found = (): Lookup | undefined => {
      const view = this.viewOf(queueId);
      if (!view) return { kind: "unready" };
      const slot = view.lookup(key, this.now());
      return slot >= 0 ? { kind: "found", queueId, key, view, slot } : undefined;
    };
    const readiness = await this.replicas.ready(queueId);
    // No such concert: its tokens cannot be in any queue.
    if (readiness === "missing") return { kind: "absent" };
    if (readiness === "unready") return { kind: "unready" };
    const seen = found();
    if (seen) return seen;
    if (this.gone.has(key.hi) || !patient) return { kind: "absent" };
    // Committed just now, perhaps: its change left the owner before its reply did, so it arrives within a beat or two.
    await this.replicas.beatsLater(queueId, BEATS_TO_WAIT);
    return found() ?? { kind: "absent" };
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

  private forget(hi: number): void {
    this.gone.add(hi);
  }
}
