// Hosts the queue-admission actor while this instance owns the queue (one owner across all instances, see
// ownership.ts): gives it the database and NATS as adapters, fences its commits with the ownership epoch, feeds it
// the payments that end a user's turn, and restarts it from the database if it ever crashes.
import { createHash, randomBytes } from "node:crypto";
import type { NatsConnection, Service, Subscription } from "nats";
import { createActor, fromPromise, type Actor } from "xstate";
import { endOfTurn, mailboxDepth, pipelined, type CommitInput } from "../../actors/durable-entity";
import { queueAdmissionMachine, type QueueCommand, type QueueOp, type QueueRequest, type QueueSnapshot } from "../../actors/queue-admission";
import type { Publisher } from "../shared/bus";
import { decode, fail, type Reply } from "../shared/codec";
import type { Config } from "../shared/config";
import type { Database } from "../shared/db";
import { storeCall } from "../shared/db/port";
import { AppError } from "../shared/errors";
import { log } from "../shared/log";
import { Mailbox } from "../shared/mailbox";
import { observe, queueAdmissions, timedCommit } from "../shared/metrics";
import { addService, idOf } from "../shared/nats-service";
import { settled, whenFenced, type Lease, type OwnerHost } from "../cluster/ownership";
import { QUEUE_ENTITY, type Entity } from "../cluster/ownership-store";
import { commitQueue, loadQueue } from "./queue-store";
import { Events, Requests } from "../shared/subjects";

type QueueActor = Actor<typeof queueAdmissionMachine>;

/** Tokens are secrets: events carry a fingerprint that identifies a token without revealing it. */
export function tokenFingerprint(token: string): string {
  return createHash("sha256").update(token).digest("base64url").slice(0, 16);
}

function domainEvent(op: QueueOp): [string, unknown] {
  const tokenId = tokenFingerprint(op.token);
  switch (op.type) {
    case "issued":
      return [Events.token("issued"), { tokenId, userId: op.userId, seq: op.seq, status: op.status }];
    case "activated":
      return [Events.token("activated"), { tokenId, userId: op.userId, expiresAt: new Date(op.expiresAt).toISOString() }];
    case "expired":
      return [Events.token("expired"), { tokenId, userId: op.userId, reason: op.reason }];
  }
}

/** The queue while this instance owns it: the lease (and epoch) it serves under, and what serves it. */
interface Owned {
  lease: Lease;
  logic: typeof queueAdmissionMachine;
  actor?: QueueActor;
  service?: Service;
  payments?: Subscription;
  mailbox: Mailbox<QueueCommand>;
  /** Commands sent to the actor and not answered yet. */
  pending: number;
}

export class QueueAdmissionHost implements OwnerHost {
  private owned: Owned | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly db: Database,
    private readonly bus: Publisher,
    private readonly config: Config,
    private readonly instance: string,
  ) {
    this.observeQueue();
  }

  private logicFor(lease: Lease) {
    const { db, bus } = this;
    const commit = pipelined(async (input: CommitInput<QueueOp>) => {
      await timedCommit("queue", input.ops.length, () => storeCall("queue", commitQueue(db, lease.epoch, input.ops))).catch(
        whenFenced(lease, "queue", QUEUE_ENTITY),
      );
      for (const op of input.ops) {
        if (op.type === "activated" || (op.type === "issued" && op.status === "ACTIVE")) queueAdmissions.inc();
        bus.publish(...domainEvent(op));
      }
      return input.ops.map(() => null);
    });
    return queueAdmissionMachine.provide({
      actors: {
        gather: endOfTurn,
        load: fromPromise<QueueSnapshot | null, { key: number }>(() => storeCall("queue", loadQueue(db))),
        commit: fromPromise(({ input }: { input: CommitInput<QueueOp> }) => commit(input)),
      },
    });
  }

  private actorOf(owned: Owned): QueueActor {
    if (owned.actor && owned.actor.getSnapshot().status === "active") return owned.actor;
    const actor = createActor(owned.logic, {
      input: {
        key: 0,
        // The queue never passivates; the idle timer only needs a finite value.
        idleMs: 86_400_000,
        maxCommitsInFlight: this.config.actorCommitsInFlight,
        maxActive: this.config.queueMaxActive,
        activeTtlMs: this.config.queueActiveTtlMs,
        now: Date.now,
        newToken: () => randomBytes(16).toString("base64url"),
      },
    });
    actor.subscribe({
      error: (error) => {
        log.error("queue admission actor crashed; restarting from the database", { error: String(error) });
        if (owned.actor === actor) owned.actor = undefined;
      },
    });
    owned.actor = actor;
    actor.start();
    return actor;
  }

  private ask(command: QueueRequest): Promise<Reply<unknown>> {
    const owned = this.owned;
    if (!owned || !owned.lease.valid()) return Promise.resolve(fail("service_unavailable"));
    owned.pending++;
    return new Promise<Reply<unknown>>((resolve) => owned.mailbox.post({ ...command, replyTo: resolve })).finally(() => {
      owned.pending--;
    });
  }

  async acquire(_entity: Entity, lease: Lease): Promise<void> {
    const owned: Owned = {
      lease,
      logic: this.logicFor(lease),
      // Commands posted just before the queue was handed over are refused rather than starting an actor for it.
      mailbox: new Mailbox((commands) => {
        if (this.owned !== owned) return commands.forEach((c) => c.replyTo?.(fail("service_unavailable")));
        this.actorOf(owned).send({ type: "commands", commands });
      }),
      pending: 0,
    };
    this.owned = owned;
    // Started at once: loading the queue also expires the turns that ran out while nobody owned it.
    this.actorOf(owned);
    // A payment ends its user's turn: the payment's transaction already expired the token, the actor frees the place.
    owned.payments = this.nc.subscribe(Events.allPayments, {
      callback: (error, msg) => {
        if (error || this.owned !== owned) return;
        const { userId } = decode<{ userId: number }>(msg.data);
        owned.mailbox.post({ type: "paid", userId });
      },
    });
    owned.service = await addService(
      this.nc,
      "queue-admission",
      "대기열 토큰 발급과 입장",
      [
        { name: "enter", subject: Requests.queueEnter, handle: (r) => this.ask({ type: "enter", userId: idOf(r, "userId") }) },
        { name: "status", subject: Requests.queueStatus, handle: (r) => this.ask({ type: "status", userId: idOf(r, "userId"), token: tokenOf(r) }) },
        { name: "leave", subject: Requests.queueLeave, handle: (r) => this.ask({ type: "leave", userId: idOf(r, "userId"), token: tokenOf(r) }) },
      ],
      { instance: this.instance, epoch: String(lease.epoch) },
    );
  }

  /** Stops serving the queue; gracefully, once every accepted command has been answered. */
  async relinquish(_entity: Entity, graceful: boolean): Promise<void> {
    const owned = this.owned;
    if (!owned) return;
    owned.payments?.unsubscribe();
    if (graceful) {
      await owned.service?.stop();
      await settled(() => owned.pending === 0, this.config.requestTimeoutMs);
    } else {
      void owned.service?.stop();
    }
    if (this.owned === owned) this.owned = undefined;
    owned.actor?.stop();
  }

  private observeQueue(): void {
    const context = () => this.owned?.actor?.getSnapshot().context;
    observe("queue_tokens", "Live queue tokens by state", ["status"], () => {
      const counts = context()?.model?.counts();
      if (!counts) return [];
      return [
        { labels: { status: "waiting" }, value: counts.waiting },
        { labels: { status: "active" }, value: counts.active },
      ];
    });
    observe("queue_mailbox_depth", "Commands the queue actor has accepted and not yet answered", [], () => {
      const current = context();
      return current ? [{ labels: {}, value: mailboxDepth(current) }] : [];
    });
  }

  /** Last resort at shutdown, after the coordinator has handed the queue over. */
  stop(): void {
    if (this.owned) void this.relinquish(QUEUE_ENTITY, false);
  }
}

function tokenOf(request: Record<string, unknown>): string {
  const token = request.token;
  if (typeof token !== "string" || token.length === 0 || token.length > 128) throw new AppError("invalid_token");
  return token;
}
