// Hosts the concert-event actors: starts one on the first command for its event, gives it the database and NATS as
// its load/commit adapters, and forgets it once it has stopped (passivated or crashed) so the next command starts a
// fresh one rebuilt from the database.
import type { NatsConnection, Service } from "nats";
import { createActor, fromPromise, type Actor } from "xstate";
import { concertEventMachine, EVENT_COMMAND_TYPES, type CommitInput, type EventCommand, type EventRequest } from "../actors/concert-event";
import { mailboxDepth } from "../actors/durable-entity";
import type { EventOp, OpResult } from "../actors/seat-inventory";
import type { Publisher } from "./bus";
import { fail, type Reply } from "./codec";
import { commitConcertEvent, loadConcertEvent } from "./concert-event-store";
import type { Config } from "./config";
import type { Database } from "./db";
import { storeCall } from "./db/port";
import { AppError } from "./errors";
import { log } from "./log";
import { holdsExpired, observe, paidAmount, payments, timedCommit } from "./metrics";
import { addService, idOf, idsOf } from "./nats-service";
import { Events, type EventCommandName } from "./subjects";

type EventActor = Actor<typeof concertEventMachine>;

/** A running actor and the replies it still owes, so a crash can answer them at once instead of leaving them to time out. */
interface Running {
  actor: EventActor;
  owed: Set<(reply: Reply<unknown>) => void>;
}


/** The domain events one committed op stands for. */
function domainEvents(eventId: number, op: EventOp, result: OpResult): [string, unknown][] {
  switch (op.type) {
    case "held":
      return [[Events.seat(eventId, "held"), { eventId, seatIds: [op.seatId], userId: op.userId, expiresAt: new Date(op.expiresAt).toISOString() }]];
    case "released":
      return [[Events.seat(eventId, "released"), { eventId, seatIds: [op.seatId], userId: op.userId, reason: op.reason }]];
    case "reserved": {
      const reservationId = result && "reservationId" in result ? result.reservationId : undefined;
      const body = { eventId, reservationId, userId: op.userId, seatIds: op.seatIds };
      return [
        [Events.seat(eventId, "reserved"), body],
        [Events.reservation(eventId, "created"), { ...body, totalAmount: op.totalAmount, expiresAt: new Date(op.expiresAt).toISOString() }],
      ];
    }
    case "reservationEnded": {
      const what = op.status === "EXPIRED" ? "expired" : "cancelled";
      const body = { eventId, reservationId: op.reservationId, userId: op.userId, seatIds: op.seatIds };
      return [
        [Events.reservation(eventId, what), body],
        [Events.seat(eventId, "released"), { ...body, reason: `reservation_${what}` }],
      ];
    }
    case "paid": {
      if (!result || !("paymentId" in result)) return [];
      const body = { eventId, reservationId: op.reservationId, userId: op.userId, seatIds: op.seatIds };
      return [
        [Events.seat(eventId, "sold"), body],
        [Events.paymentCompleted(eventId), { ...body, paymentId: result.paymentId, amount: op.amount }],
      ];
    }
  }
}

/** Counts what a committed op means for the operators' metrics. */
function count(op: EventOp, result: OpResult): void {
  if (op.type === "released") holdsExpired.inc({ kind: "hold" });
  if (op.type === "reservationEnded" && op.status === "EXPIRED") holdsExpired.inc({ kind: "reservation" });
  if (op.type !== "paid") return;
  const paid = Boolean(result && "paymentId" in result);
  payments.inc({ outcome: paid ? "success" : "insufficient_balance" });
  if (paid) paidAmount.inc(op.amount);
}

export class ConcertEventHost {
  private readonly actors = new Map<number, Running>();
  private readonly logic;

  constructor(
    private readonly db: Database,
    private readonly bus: Publisher,
    private readonly config: Config,
  ) {
    this.logic = concertEventMachine.provide({
      actors: {
        load: fromPromise(({ input }: { input: { key: number } }) => storeCall("concert-event", loadConcertEvent(db, input.key))),
        commit: fromPromise(async ({ input }: { input: CommitInput }) => {
          const results = await timedCommit("concert-event", input.ops.length, () =>
            storeCall("concert-event", commitConcertEvent(db, input.key, input.ops)),
          );
          input.ops.forEach((op, i) => {
            const result = results[i] ?? null;
            count(op, result);
            for (const [subject, body] of domainEvents(input.key, op, result)) bus.publish(subject, body);
          });
          return results;
        }),
      },
    });
  }

  private actorFor(eventId: number): Running {
    const existing = this.actors.get(eventId);
    if (existing && existing.actor.getSnapshot().status === "active") return existing;
    const actor = createActor(this.logic, {
      input: {
        key: eventId,
        holdTtlMs: this.config.seatHoldTtlMs,
        maxSeatsPerUser: this.config.maxSeatsPerUser,
        idleMs: this.config.actorIdleMs,
        now: Date.now,
      },
    });
    const running: Running = { actor, owed: new Set() };
    actor.subscribe({
      complete: () => this.forget(eventId, running),
      error: (error) => {
        // Like a supervisor's restart: drop the broken actor, answer what it owed, and let the next command rebuild
        // the event from the database. Other events' actors are untouched.
        log.error("concert event actor crashed", { eventId, error: String(error) });
        this.forget(eventId, running);
        for (const reply of running.owed) reply(fail("service_unavailable"));
      },
    });
    this.actors.set(eventId, running);
    actor.start();
    return running;
  }

  private forget(eventId: number, running: Running): void {
    if (this.actors.get(eventId) === running) this.actors.delete(eventId);
  }

  ask(eventId: number, command: EventRequest): Promise<Reply<unknown>> {
    return new Promise((resolve) => {
      const running = this.actorFor(eventId);
      const replyTo = (reply: Reply<unknown>) => {
        running.owed.delete(replyTo);
        resolve(reply);
      };
      running.owed.add(replyTo);
      running.actor.send({ ...command, replyTo } as EventCommand);
    });
  }

  /** Per live event: commands waiting for an answer, and seats by state. */
  private observeActors(): void {
    const live = () => [...this.actors.entries()].map(([eventId, { actor }]) => ({ eventId, context: actor.getSnapshot().context }));
    observe("actor_mailbox_depth", "Commands an event actor has accepted and not yet answered", ["event"], () =>
      live().map(({ eventId, context }) => ({ labels: { event: eventId }, value: mailboxDepth(context) })),
    );
    observe("event_seats", "Seats of each live event actor by state", ["event", "status"], () =>
      live().flatMap(({ eventId, context }) =>
        Object.entries(context.model?.counts() ?? {}).map(([status, value]) => ({ labels: { event: eventId, status }, value })),
      ),
    );
  }

  async start(nc: NatsConnection): Promise<Service> {
    this.observeActors();
    return addService(
      nc,
      "concert-events",
      "콘서트 이벤트 액터: 좌석 점유, 예약, 결제",
      EVENT_COMMAND_TYPES.map((name) => ({
        name,
        subject: `rsv.event.*.${name}`,
        handle: (request, subject) => this.ask(eventIdOf(subject), commandOf(name, request)),
      })),
    );
  }

  stop(): void {
    for (const { actor } of this.actors.values()) actor.stop();
    this.actors.clear();
  }
}

function eventIdOf(subject: string): number {
  const id = Number(subject.split(".")[2]);
  if (!Number.isSafeInteger(id) || id < 1) throw new AppError("not_found_concert_event");
  return id;
}

function commandOf(name: EventCommandName, request: Record<string, unknown>): EventRequest {
  const userId = idOf(request, "userId");
  switch (name) {
    case "seats":
      return { type: name, userId };
    case "occupy":
      return { type: name, userId, seatId: idOf(request, "seatId") };
    case "reserve":
      return { type: name, userId, seatIds: idsOf(request, "seatIds") };
    case "pay":
    case "cancel":
      return { type: name, userId, reservationId: idOf(request, "reservationId") };
  }
}
