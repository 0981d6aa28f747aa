// Hosts the queue-admission actors this instance owns: the global queue and concerts' own queues, each with one owner
// across all instances (see cluster/ownership.ts). Gives each actor the database and NATS as adapters, fences its
// commits with its ownership epoch, feeds it the payments that end a user's turn, and restarts it from the database if
// it ever crashes. A queue's actor starts as soon as it is owned: loading it expires the turns that ran out while
// nobody owned it, and its timer must be running to open a sale on time.
import { randomBytes } from "node:crypto";
import type { NatsConnection, Service, Subscription } from "nats";
import { createActor, fromPromise, type Actor } from "xstate";
import { endOfTurn, mailboxDepth, pipelined, type CommitInput } from "../../actors/durable-entity";
import { queueAdmissionMachine, type QueueCommand, type QueueOp, type QueueRequest, type QueueSnapshot } from "../../actors/queue-admission";
import { QueueView, queueViewCodec, viewChangesOf } from "../../actors/queue-view";
import type { Publisher } from "../shared/bus";
import { fail, ok, type Reply } from "../shared/codec";
import type { Config } from "../shared/config";
import type { Database } from "../shared/db";
import { storeCall } from "../shared/db/port";
import { log } from "../shared/log";
import { Mailbox } from "../shared/mailbox";
import { observe, queueAdmissions, timedCommit } from "../shared/metrics";
import { addService, endpoint, listen } from "../shared/nats-service";
import { settled, whenFenced, type Lease, type OwnerHost } from "../cluster/ownership";
import { queueEntity, queueIdOf, type Entity } from "../cluster/ownership-store";
import { Api, PaymentCompleted, type ViewChange, type ViewHeartbeat, type ViewPageRequest, type ViewState, type ViewTokens } from "../shared/messages";
import { CommittedView, HEARTBEAT_MS, type Snapshot } from "../shared/replicas";
import { Events, message, QueueViews, queueSubject, type Outgoing } from "../shared/subjects";
import { GLOBAL_QUEUE, tokenFingerprint } from "../shared/queue-tokens";
import { DRAW_SEED_BYTES } from "../shared/draw-order";
import { commitQueue, loadQueue } from "./queue-store";
import { outboxEntry, RecentIds, type OutboxRelay } from "../shared/outbox";
import { tagWithSpan, traceCommit } from "../shared/tracing";

/** Changes per feed message: a commit of more goes out as several versions, each well under NATS's payload limit. */
const CHANGES_PER_MESSAGE = 2_000;
/** Tokens per page of a view's copy (about 60 bytes each as JSON). */
const VIEW_PAGE = 10_000;
/** Payments whose events were seen, to drop repeats: far more than a sale's payments in the minutes a repeat can lag. */
const PAYMENTS_REMEMBERED = 100_000;

type QueueActor = Actor<typeof queueAdmissionMachine>;

/**
 * A new queue token: 128 random bits, prefixed by the concert's id for a concert's queue so that any instance can
 * route the token's requests to its queue (see `queueOfToken`).
 */
function newToken(queueId: number): string {
  const secret = randomBytes(16).toString("base64url");
  return queueId === GLOBAL_QUEUE ? secret : `${queueId}.${secret}`;
}

const iso = (ms: number) => new Date(ms).toISOString();

function domainEvent(queueId: number, op: QueueOp): Outgoing {
  switch (op.type) {
    case "issued":
      return message(Events.token(queueId, "issued"), { queueId, tokenId: tokenFingerprint(op.token), userId: op.userId, seq: op.seq, status: op.status });
    case "activated":
      return message(Events.token(queueId, "activated"), { queueId, tokenId: tokenFingerprint(op.token), userId: op.userId, expiresAt: iso(op.expiresAt) });
    case "expired":
      return message(Events.token(queueId, "expired"), { queueId, tokenId: tokenFingerprint(op.token), userId: op.userId, reason: op.reason });
    case "drawn":
      return message(Events.queueOpened(queueId), { queueId, openedAt: iso(op.at), drawn: op.drawn });
    case "concertUpdated":
      return message(Events.concertUpdated(queueId), {
        concertId: queueId,
        title: op.title,
        venue: op.venue,
        saleOpensAt: iso(op.opensAt),
        saleClosesAt: op.closesAt === undefined ? null : iso(op.closesAt),
      });
  }
}

/** What the queue's actor has committed, as every instance's read model takes it (see shared/replicas.ts). */
type Committed = CommittedView<QueueView, ViewChange, ViewState, ViewTokens>;

/** One queue while this instance owns it: the lease (and epoch) it serves under, and what serves it. */
interface Owned {
  queueId: number;
  lease: Lease;
  actor?: QueueActor;
  service?: Service;
  mailbox: Mailbox<QueueCommand>;
  /** Commands sent to the actor and not answered yet. */
  pending: number;
  committed?: Committed;
}

export class QueueAdmissionHost implements OwnerHost {
  private readonly owned = new Map<number, Owned>();
  private readonly payments: Subscription;
  private readonly paymentsSeen = new RecentIds(PAYMENTS_REMEMBERED);
  private readonly heartbeat: ReturnType<typeof setInterval>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly db: Database,
    private readonly bus: Publisher,
    private readonly relay: OutboxRelay,
    private readonly config: Config,
    private readonly instance: string,
  ) {
    this.observeQueues();
    // A payment ends its user's turn in the global queue and in the concert's: the payment's transaction already
    // expired those tokens, the actors free the places.
    // A payment's event can arrive twice (see shared/outbox.ts); a repeat must not end a turn the user took since.
    this.payments = listen(nc, Events.allPayments, PaymentCompleted, ({ userId, concertId, paymentId }) => {
      if (!this.paymentsSeen.add(paymentId)) return;
      for (const queueId of new Set([GLOBAL_QUEUE, concertId])) this.owned.get(queueId)?.mailbox.post({ type: "paid", userId });
    });
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
  }

  private logicFor(owned: Owned) {
    const { db, relay, config } = this;
    const { queueId, lease } = owned;
    const rules = { maxActive: config.queueMaxActive, activeTtlMs: config.queueActiveTtlMs };
    const commit = pipelined(async (input: CommitInput<QueueOp>) => {
      const events = outboxEntry(input.ops.map((op) => domainEvent(queueId, op)));
      await traceCommit("queue", input.ops.length, input.waiting, () =>
        timedCommit("queue", input.ops.length, () => storeCall("queue", commitQueue(db, queueId, lease.epoch, input.ops, events))),
      ).catch(whenFenced(lease, "queue", `queue ${queueId}`));
      this.publishChanges(owned, input.ops);
      relay.publish(events);
      for (const op of input.ops) {
        if (op.type === "activated" || (op.type === "issued" && op.status === "ACTIVE")) queueAdmissions.inc({ queue: queueId });
      }
      return input.ops.map(() => null);
    });
    return queueAdmissionMachine.provide({
      actors: {
        gather: endOfTurn,
        load: fromPromise<QueueSnapshot | null, { key: number }>(async () => {
          const snapshot = await storeCall("queue", loadQueue(db, queueId));
          owned.committed = snapshot ? new CommittedView(QueueView.of(rules, snapshot), queueViewCodec(rules), VIEW_PAGE) : undefined;
          return snapshot;
        }),
        commit: fromPromise(({ input }: { input: CommitInput<QueueOp> }) => commit(input)),
      },
    });
  }

  /** After a commit, before its replies: a client that holds a new token can already find it in every read model. */
  private publishChanges(owned: Owned, ops: QueueOp[]): void {
    for (const message of owned.committed!.commit(viewChangesOf(ops), CHANGES_PER_MESSAGE)) {
      this.bus.publish(QueueViews.changes(owned.queueId), { queueId: owned.queueId, ...message });
    }
  }

  /** Which version of each queue this instance has committed: read models notice what they missed, or that it is alive. */
  private beat(): void {
    const views: ViewHeartbeat["views"] = [];
    for (const { queueId, committed, lease } of this.owned.values()) {
      if (committed && lease.valid()) views.push([queueId, committed.incarnation, committed.version]);
    }
    if (views.length > 0) this.bus.publish(QueueViews.heartbeat, { views });
  }

  /**
   * Resolves once every queue this instance owns has loaded (or `limitMs` has passed): a restarted instance opens its
   * doors then, rather than meet a waiting crowd's reconnections with nothing to answer them from.
   */
  loaded(limitMs: number): Promise<void> {
    return settled(() => [...this.owned.values()].every((owned) => owned.committed !== undefined), limitMs);
  }

  /** The committed model of a queue this instance serves now; what its instance's read side answers from. */
  committedView(queueId: number): QueueView | undefined {
    const owned = this.owned.get(queueId);
    return owned?.committed && owned.lease.valid() ? owned.committed.view : undefined;
  }

  /** A page of the committed view, for an instance building its copy (see shared/replicas.ts). */
  private viewOf(owned: Owned, request: ViewPageRequest): Reply<Snapshot<ViewState> | ViewTokens> {
    const committed = owned.committed;
    if (!committed || this.owned.get(owned.queueId) !== owned || !owned.lease.valid()) return fail("service_unavailable");
    return committed.page(request);
  }

  private actorOf(owned: Owned): QueueActor {
    if (owned.actor && owned.actor.getSnapshot().status === "active") return owned.actor;
    const actor = createActor(this.logicFor(owned), {
      input: {
        key: owned.queueId,
        // A queue never passivates; the idle timer only needs a finite value.
        idleMs: 86_400_000,
        maxCommitsInFlight: this.config.actorCommitsInFlight,
        maxActive: this.config.queueMaxActive,
        activeTtlMs: this.config.queueActiveTtlMs,
        now: Date.now,
        newToken: () => newToken(owned.queueId),
        newSeed: () => randomBytes(DRAW_SEED_BYTES).toString("base64url"),
      },
    });
    actor.subscribe({
      error: (error) => {
        log.error("queue admission actor crashed; restarting from the database", { queue: owned.queueId, error: String(error) });
        if (owned.actor === actor) owned.actor = undefined;
      },
    });
    owned.actor = actor;
    actor.start();
    return actor;
  }

  private ask(owned: Owned, command: QueueRequest): Promise<Reply<unknown>> {
    if (this.owned.get(owned.queueId) !== owned || !owned.lease.valid()) return Promise.resolve(fail("service_unavailable"));
    owned.pending++;
    return new Promise<Reply<unknown>>((resolve) => {
      tagWithSpan(resolve);
      owned.mailbox.post({ ...command, replyTo: resolve });
    }).finally(() => {
      owned.pending--;
    });
  }

  async acquire(entity: Entity, lease: Lease): Promise<void> {
    const queueId = queueIdOf(entity)!;
    const owned: Owned = {
      queueId,
      lease,
      // Commands posted just before the queue was handed over are refused rather than starting an actor for it.
      mailbox: new Mailbox((commands) => {
        if (this.owned.get(queueId) !== owned) return commands.forEach((c) => c.replyTo?.(fail("service_unavailable")));
        this.actorOf(owned).send({ type: "commands", commands });
      }),
      pending: 0,
    };
    this.owned.set(queueId, owned);
    this.actorOf(owned);
    const api = Api["queue-admission"];
    // The actor answers each command with its endpoint's response (the end-to-end tests check it against the schema).
    const ask = (command: QueueRequest) => this.ask(owned, command) as Promise<Reply<never>>;
    owned.service = await addService(
      this.nc,
      "queue-admission",
      queueId === GLOBAL_QUEUE ? "전체 대기열: 토큰 발급과 입장" : `콘서트 ${queueId}의 대기열과 예매 기간`,
      [
        endpoint({ name: "enter", subject: queueSubject(queueId, "enter"), messages: api.enter, handle: (r) => ask({ type: "enter", ...r }) }),
        endpoint({ name: "status", subject: queueSubject(queueId, "status"), messages: api.status, handle: (r) => ask({ type: "status", ...r }) }),
        endpoint({ name: "leave", subject: queueSubject(queueId, "leave"), messages: api.leave, handle: (r) => ask({ type: "leave", ...r }) }),
        endpoint({ name: "update", subject: queueSubject(queueId, "update"), messages: api.update, handle: (r) => ask({ type: "update", ...r }) }),
        endpoint({ name: "view", subject: queueSubject(queueId, "view"), messages: api.view, handle: (r) => this.viewOf(owned, r) }),
      ],
      { queue: String(queueId), instance: this.instance, epoch: String(lease.epoch) },
    );
  }

  /** Stops serving a queue; gracefully, once every accepted command has been answered. */
  async relinquish(entity: Entity, graceful: boolean): Promise<void> {
    const queueId = queueIdOf(entity)!;
    const owned = this.owned.get(queueId);
    if (!owned) return;
    if (graceful) {
      await owned.service?.stop();
      await settled(() => owned.pending === 0, this.config.requestTimeoutMs);
    } else {
      void owned.service?.stop();
    }
    if (this.owned.get(queueId) === owned) this.owned.delete(queueId);
    owned.actor?.stop();
  }

  private observeQueues(): void {
    const live = () => [...this.owned.values()].flatMap(({ queueId, actor }) => (actor ? [{ queueId, context: actor.getSnapshot().context }] : []));
    observe("queue_tokens", "Live queue tokens by queue and state", ["queue", "status"], () =>
      live().flatMap(({ queueId, context }) => {
        const counts = context.model?.counts();
        if (!counts) return [];
        return [
          { labels: { queue: queueId, status: "waiting" }, value: counts.waiting },
          { labels: { queue: queueId, status: "active" }, value: counts.active },
        ];
      }),
    );
    observe("queue_mailbox_depth", "Commands a queue actor has accepted and not yet answered", ["queue"], () =>
      live().map(({ queueId, context }) => ({ labels: { queue: queueId }, value: mailboxDepth(context) })),
    );
  }

  /** Last resort at shutdown, after the coordinator has handed the queues over. */
  stop(): void {
    clearInterval(this.heartbeat);
    this.payments.unsubscribe();
    for (const queueId of [...this.owned.keys()]) void this.relinquish(queueEntity(queueId), false);
  }
}
