// Hosts the single queue-admission actor: gives it the database and NATS as adapters, feeds it the payments that
// end a user's turn, and restarts it from the database if it ever crashes.
import { createHash, randomBytes } from "node:crypto";
import type { NatsConnection, Service, Subscription } from "nats";
import { createActor, fromPromise, type Actor } from "xstate";
import { mailboxDepth, type CommitInput } from "../actors/durable-entity";
import { queueAdmissionMachine, type QueueOp, type QueueRequest, type QueueSnapshot } from "../actors/queue-admission";
import type { Publisher } from "./bus";
import { decode, type Reply } from "./codec";
import type { Config } from "./config";
import type { Database } from "./db";
import { storeCall } from "./db/port";
import { AppError } from "./errors";
import { log } from "./log";
import { observe, queueAdmissions, timedCommit } from "./metrics";
import { addService, idOf } from "./nats-service";
import { commitQueue, loadQueue } from "./queue-store";
import { Events, Requests } from "./subjects";

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

export class QueueAdmissionHost {
  private actor: QueueActor | undefined;
  private readonly logic;
  private payments: Subscription | undefined;

  constructor(
    db: Database,
    bus: Publisher,
    private readonly config: Config,
  ) {
    this.logic = queueAdmissionMachine.provide({
      actors: {
        load: fromPromise<QueueSnapshot | null, { key: number }>(() => storeCall("queue", loadQueue(db))),
        commit: fromPromise(async ({ input }: { input: CommitInput<QueueOp> }) => {
          await timedCommit("queue", input.ops.length, () => storeCall("queue", commitQueue(db, input.ops)));
          for (const op of input.ops) {
            if (op.type === "activated" || (op.type === "issued" && op.status === "ACTIVE")) queueAdmissions.inc();
            bus.publish(...domainEvent(op));
          }
          return input.ops.map(() => null);
        }),
      },
    });
  }

  private current(): QueueActor {
    if (this.actor && this.actor.getSnapshot().status === "active") return this.actor;
    const actor = createActor(this.logic, {
      input: {
        key: 0,
        // The queue never passivates; the idle timer only needs a finite value.
        idleMs: 86_400_000,
        maxActive: this.config.queueMaxActive,
        activeTtlMs: this.config.queueActiveTtlMs,
        now: Date.now,
        newToken: () => randomBytes(16).toString("base64url"),
      },
    });
    actor.subscribe({
      error: (error) => {
        log.error("queue admission actor crashed; restarting from the database", { error: String(error) });
        if (this.actor === actor) this.actor = undefined;
      },
    });
    this.actor = actor;
    actor.start();
    return actor;
  }

  private ask(command: QueueRequest): Promise<Reply<unknown>> {
    return new Promise((resolve) => this.current().send({ ...command, replyTo: resolve }));
  }

  async start(nc: NatsConnection): Promise<Service> {
    this.current();
    const context = () => this.actor?.getSnapshot().context;
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
    // A payment ends its user's turn: the payment's transaction already expired the token, the actor frees the place.
    this.payments = nc.subscribe(Events.allPayments, {
      callback: (error, msg) => {
        if (error) return;
        const { userId } = decode<{ userId: number }>(msg.data);
        this.current().send({ type: "paid", userId });
      },
    });
    return addService(nc, "queue-admission", "대기열 토큰 발급과 입장", [
      { name: "enter", subject: Requests.queueEnter, handle: (r) => this.ask({ type: "enter", userId: idOf(r, "userId") }) },
      { name: "status", subject: Requests.queueStatus, handle: (r) => this.ask({ type: "status", userId: idOf(r, "userId"), token: tokenOf(r) }) },
      { name: "leave", subject: Requests.queueLeave, handle: (r) => this.ask({ type: "leave", userId: idOf(r, "userId"), token: tokenOf(r) }) },
    ]);
  }

  stop(): void {
    this.payments?.unsubscribe();
    this.actor?.stop();
  }
}

function tokenOf(request: Record<string, unknown>): string {
  const token = request.token;
  if (typeof token !== "string" || token.length === 0 || token.length > 128) throw new AppError("invalid_token");
  return token;
}
