// Hosts the actors of the concert events this instance owns. Owning an event means serving its NATS subjects (as a
// `concert-event` NATS service of its own, so `nats micro info` shows who owns what) and fencing every commit with the
// ownership epoch. The actor starts on the first command, gets the database and NATS as its load/commit adapters, and
// is forgotten once it stops (passivated or crashed) so the next command starts a fresh one rebuilt from the database.
import type { NatsConnection, Service, Subscription } from "nats";
import { createActor, fromPromise, type Actor } from "xstate";
import { concertEventMachine, EVENT_COMMAND_TYPES, type CommitInput, type EventCommand, type EventRequest } from "../../actors/concert-event";
import { endOfTurn, mailboxDepth, pipelined } from "../../actors/durable-entity";
import type { EventOp, OpResult } from "../../actors/seat-inventory";
import { SeatMap, seatMapChangesOf, seatMapCodec, seatMapStateOf } from "../../actors/seat-map";
import type { Publisher } from "../shared/bus";
import { CommittedView, HEARTBEAT_MS } from "../shared/replicas";
import { fail, type Reply } from "../shared/codec";
import { commitConcertEvent, loadConcertEvent, releaseLapsed } from "./concert-event-store";
import type { Config } from "../shared/config";
import type { Database, Queryable } from "../shared/db";
import { storeCall } from "../shared/db/port";
import { log } from "../shared/log";
import { Mailbox } from "../shared/mailbox";
import { holdsExpired, observe, paidAmount, payments, refunds, timedCommit } from "../shared/metrics";
import { addService, endpoint, listen } from "../shared/nats-service";
import { eventEntity, eventIdOf as eventOfEntity, type Entity } from "../cluster/ownership-store";
import { settled, whenFenced, type Lease, type OwnerHost } from "../cluster/ownership";
import type { TObject } from "typebox";
import { Api, ConcertUpdated, type Exchange, type SeatMapChange, type SeatMapSeats, type SeatMapState, type ViewHeartbeat, type ViewPageRequest } from "../shared/messages";
import { eventSubject, Events, message, SeatMaps, type Outgoing } from "../shared/subjects";
import { outboxEntry, type OutboxEntry, type OutboxRelay } from "../shared/outbox";
import { tagWithSpan, traceCommit } from "../shared/tracing";

type EventActor = Actor<typeof concertEventMachine>;

/** A running actor and the replies it still owes, so a crash can answer them at once instead of leaving them to time out. */
interface Running {
  actor: EventActor;
  mailbox: Mailbox<EventCommand>;
  owed: Set<(reply: Reply<unknown>) => void>;
}

/** What the event's actor has committed of its seat map, as every instance's copy takes it (see shared/replicas.ts). */
type CommittedMap = CommittedView<SeatMap, SeatMapChange, SeatMapState, SeatMapSeats>;

/** An event this instance owns: the lease (and epoch) it serves under, the NATS service that routes its commands here. */
interface Owned {
  eventId: number;
  lease: Lease;
  logic?: typeof concertEventMachine;
  service?: Service;
  running?: Running;
  /** Kept while the actor rests (passivated): nothing changes the seats without it. */
  committed?: CommittedMap;
}

/** The domain events one committed op stands for. */
function domainEvents(eventId: number, op: EventOp, result: OpResult): Outgoing[] {
  const iso = (ms: number) => new Date(ms).toISOString();
  switch (op.type) {
    case "held":
      return [message(Events.seat(eventId, "held"), { eventId, seatIds: [op.seatId], userId: op.userId, expiresAt: iso(op.expiresAt) })];
    case "released":
      return [message(Events.seat(eventId, "released"), { eventId, seatIds: [op.seatId], userId: op.userId, reason: op.reason })];
    case "reserved": {
      if (!result || !("reservationId" in result)) return [];
      const body = { eventId, reservationId: result.reservationId, userId: op.userId, seatIds: op.seatIds };
      return [
        message(Events.seat(eventId, "reserved"), body),
        message(Events.reservation(eventId, "created"), { ...body, totalAmount: op.totalAmount, expiresAt: iso(op.expiresAt) }),
      ];
    }
    case "reservationEnded": {
      const what = op.status === "EXPIRED" ? "expired" : "cancelled";
      const body = { eventId, reservationId: op.reservationId, userId: op.userId, seatIds: op.seatIds };
      return [
        message(Events.reservation(eventId, what), body),
        message(Events.seat(eventId, "released"), { ...body, reason: `reservation_${what}` }),
      ];
    }
    case "paid": {
      if (!result || !("paymentId" in result)) return [];
      const body = { eventId, reservationId: op.reservationId, userId: op.userId, seatIds: op.seatIds };
      return [
        message(Events.seat(eventId, "sold"), body),
        message(Events.payment(eventId, "completed"), { ...body, concertId: op.concertId, paymentId: result.paymentId, amount: op.amount }),
      ];
    }
    case "refunded": {
      const body = { eventId, reservationId: op.reservationId, userId: op.userId, seatIds: op.seatIds };
      return [
        message(Events.reservation(eventId, "refunded"), body),
        message(Events.payment(eventId, "refunded"), { ...body, paymentId: op.paymentId, amount: op.amount }),
        message(Events.seat(eventId, "released"), { ...body, reason: "reservation_refunded" }),
      ];
    }
  }
}

/** One commit's ops as the outbox entry of their domain events; `results` are what the database answered for each. */
function eventsEntry(eventId: number, ops: EventOp[], results: OpResult[] = []): OutboxEntry {
  return outboxEntry(ops.flatMap((op, i) => domainEvents(eventId, op, results[i] ?? null)));
}

/** Counts what a committed op means for the operators' metrics. */
function count(op: EventOp, result: OpResult): void {
  if (op.type === "released" && op.reason === "expired") holdsExpired.inc({ kind: "hold" });
  if (op.type === "refunded") refunds.inc();
  if (op.type === "reservationEnded" && op.status === "EXPIRED") holdsExpired.inc({ kind: "reservation" });
  if (op.type !== "paid") return;
  const paid = Boolean(result && "paymentId" in result);
  payments.inc({ outcome: paid ? "success" : "insufficient_balance" });
  if (paid) paidAmount.inc(op.amount);
}

/** Seats per page of a seat map's copy (about 30 bytes each as JSON). */
const MAP_PAGE = 20_000;

export class ConcertEventHost implements OwnerHost {
  private readonly owned = new Map<number, Owned>();
  private readonly windows: Subscription;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  /** Events of what a claim released, until the claim's transaction has committed and the event is acquired. */
  private readonly claimedEvents = new Map<number, OutboxEntry>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly db: Database,
    private readonly bus: Publisher,
    private readonly relay: OutboxRelay,
    private readonly config: Config,
    private readonly instance: string,
  ) {
    this.observeActors();
    this.windows = listen(nc, Events.allConcertUpdates, ConcertUpdated, (update) => void this.windowChanged(update));
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
  }

  /**
   * A concert's sale window moved: its events' live actors learn it now (one that is loading gets it once loaded), and
   * so do the seat maps that every instance gates its answers with; a stopped actor reads it from the database when it
   * starts again. The window is read from the database, not taken from the event: an event can arrive twice (see
   * shared/outbox.ts), and a late repeat must not undo a later edit.
   */
  private async windowChanged({ concertId }: ConcertUpdated): Promise<void> {
    if (![...this.owned.values()].some((owned) => owned.running || owned.committed)) return;
    const [row] = await this.db.query(`SELECT sale_opens_at, sale_closes_at FROM concerts WHERE id = $1`, [concertId]).catch(() => []);
    if (!row) return;
    const opensAt = new Date(row.sale_opens_at as string).getTime();
    const closesAt = row.sale_closes_at === null ? undefined : new Date(row.sale_closes_at as string).getTime();
    for (const owned of this.owned.values()) {
      owned.running?.mailbox.post({ type: "window", concertId, opensAt, closesAt });
      if (owned.committed?.view.concertId === concertId) this.publishMap(owned, [{ type: "window", opensAt, closesAt }]);
    }
  }

  /** The actor logic for one ownership: every commit it makes is fenced by the lease's epoch. */
  private logicFor(owned: Owned) {
    const { db, relay } = this;
    const { eventId, lease } = owned;
    const commit = pipelined(async (input: CommitInput) => {
      const eventsOf = (results: OpResult[]) => eventsEntry(eventId, input.ops, results);
      const { results, events } = await traceCommit("concert-event", input.ops.length, input.waiting, () =>
        timedCommit("concert-event", input.ops.length, () => storeCall("concert-event", commitConcertEvent(db, input.key, lease.epoch, input.ops, eventsOf))),
      ).catch(whenFenced(lease, "concert-event", eventEntity(eventId)));
      this.publishMap(owned, seatMapChangesOf(input.ops));
      relay.publish(events);
      input.ops.forEach((op, i) => count(op, results[i] ?? null));
      return results;
    });
    return concertEventMachine.provide({
      actors: {
        gather: endOfTurn,
        load: fromPromise(async ({ input }: { input: { key: number } }) => {
          const snapshot = await storeCall("concert-event", loadConcertEvent(db, input.key));
          owned.committed = snapshot ? new CommittedView(new SeatMap(seatMapStateOf(snapshot)), seatMapCodec, MAP_PAGE) : undefined;
          return snapshot;
        }),
        commit: fromPromise(({ input }: { input: CommitInput }) => commit(input)),
      },
    });
  }

  /** After a commit, before its replies: whoever hears of a hold finds the seat taken in every instance's seat map. */
  private publishMap(owned: Owned, changes: SeatMapChange[]): void {
    if (!owned.committed || changes.length === 0) return;
    for (const message of owned.committed.commit(changes, 1)) this.bus.publish(SeatMaps.changes(owned.eventId), { eventId: owned.eventId, ...message });
  }

  /** Which version of each seat map this instance has committed: copies notice what they missed, or that it is alive. */
  private beat(): void {
    const views: ViewHeartbeat["views"] = [];
    for (const { eventId, committed, lease } of this.owned.values()) {
      if (committed && lease.valid()) views.push([eventId, committed.incarnation, committed.version]);
    }
    if (views.length > 0) this.bus.publish(SeatMaps.heartbeat, { views });
  }

  /** The committed seat map of an event this instance serves now: what its instance's read side answers from. */
  committedMap(eventId: number): SeatMap | undefined {
    const owned = this.owned.get(eventId);
    return owned?.committed && owned.lease.valid() ? owned.committed.view : undefined;
  }

  /** The committed seat map of an event this instance owns, its actor woken to load it if it rests. */
  async loadMap(eventId: number): Promise<SeatMap | undefined> {
    const owned = this.owned.get(eventId);
    if (!owned || !owned.lease.valid()) return undefined;
    if (!owned.committed) await this.ask(eventId, { type: "warm" });
    return this.committedMap(eventId);
  }

  /** A page of the committed seat map for an instance building its copy; an actor that rests is woken to load it first. */
  private async mapOf(owned: Owned, request: ViewPageRequest): Promise<Reply<unknown>> {
    if (!owned.committed) {
      const warmed = await this.ask(owned.eventId, { type: "warm" });
      if (!warmed.ok) return warmed;
    }
    if (!owned.committed || this.owned.get(owned.eventId) !== owned || !owned.lease.valid()) return fail("service_unavailable");
    return owned.committed.page(request);
  }

  /** Whatever lapsed while no actor owned the event (after a crash, say) is released before its new owner loads it. */
  async onClaim(entity: Entity, tx: Queryable): Promise<void> {
    const eventId = eventOfEntity(entity)!;
    const { released, events } = await releaseLapsed(tx, eventId, Date.now(), (ops) => eventsEntry(eventId, ops));
    if (released.length === 0) return;
    log.info("released lapsed holds and reservations on taking the event", { eventId, released: released.length });
    // Published once the claim has committed (acquire follows it); a claim that fails leaves nothing to publish.
    this.claimedEvents.set(eventId, events);
  }

  async acquire(entity: Entity, lease: Lease): Promise<void> {
    const eventId = eventOfEntity(entity)!;
    const owned: Owned = { eventId, lease };
    owned.logic = this.logicFor(owned);
    this.owned.set(eventId, owned);
    const released = this.claimedEvents.get(eventId);
    if (released) this.relay.publish(released);
    this.claimedEvents.delete(eventId);
    owned.service = await addService(
      this.nc,
      "concert-event",
      "콘서트 이벤트 액터: 좌석 점유, 예약, 결제",
      [
        ...EVENT_COMMAND_TYPES.map((name) =>
          endpoint({
            name,
            subject: eventSubject(eventId, name),
            // One handler for the actor's commands: each request's fields are its command's, and the actor answers with
            // the endpoint's response (the end-to-end tests check both against the schemas).
            messages: Api["concert-event"][name] as Exchange<TObject>,
            handle: (request) => this.ask(eventId, { type: name, ...request } as EventRequest),
          }),
        ),
        endpoint({
          name: "map",
          subject: eventSubject(eventId, "map"),
          messages: Api["concert-event"].map,
          handle: (request) => this.mapOf(owned, request) as Promise<Reply<never>>,
        }),
      ],
      { event: String(eventId), instance: this.instance, epoch: String(lease.epoch) },
    );
  }

  /**
   * Stops serving an event. Gracefully: no new commands arrive, the ones already accepted are answered (their
   * commits land), then the actor stops. Otherwise (ownership lost): at once, owed replies answered 503.
   */
  async relinquish(entity: Entity, graceful: boolean): Promise<void> {
    const eventId = eventOfEntity(entity)!;
    const owned = this.owned.get(eventId);
    if (!owned) return;
    if (graceful) {
      await owned.service?.stop();
      await settled(() => !owned.running || owned.running.owed.size === 0, this.config.requestTimeoutMs);
    } else {
      void owned.service?.stop();
    }
    if (this.owned.get(eventId) === owned) this.owned.delete(eventId);
    this.stopActor(owned);
  }

  private stopActor(owned: Owned): void {
    const running = owned.running;
    if (!running) return;
    owned.running = undefined;
    running.actor.stop();
    for (const reply of running.owed) reply(fail("service_unavailable"));
  }

  private actorFor(eventId: number, owned: Owned): Running {
    const existing = owned.running;
    if (existing && existing.actor.getSnapshot().status === "active") return existing;
    const actor = createActor(owned.logic!, {
      input: {
        key: eventId,
        holdTtlMs: this.config.seatHoldTtlMs,
        maxSeatsPerUser: this.config.maxSeatsPerUser,
        refundCutoffMs: this.config.refundCutoffMs,
        idleMs: this.config.actorIdleMs,
        maxCommitsInFlight: this.config.actorCommitsInFlight,
        now: Date.now,
      },
    });
    const running: Running = { actor, mailbox: new Mailbox((commands) => actor.send({ type: "commands", commands })), owed: new Set() };
    actor.subscribe({
      complete: () => this.forget(owned, running),
      error: (error) => {
        // Like a supervisor's restart: drop the broken actor, answer what it owed, and let the next command rebuild
        // the event from the database. Other events' actors are untouched.
        log.error("concert event actor crashed", { eventId, error: String(error) });
        this.forget(owned, running);
        for (const reply of running.owed) reply(fail("service_unavailable"));
      },
    });
    owned.running = running;
    actor.start();
    return running;
  }

  private forget(owned: Owned, running: Running): void {
    if (owned.running === running) owned.running = undefined;
  }

  ask(eventId: number, command: EventRequest): Promise<Reply<unknown>> {
    return new Promise((resolve) => {
      const owned = this.owned.get(eventId);
      if (!owned || !owned.lease.valid()) return resolve(fail("service_unavailable"));
      const running = this.actorFor(eventId, owned);
      const replyTo = (reply: Reply<unknown>) => {
        running.owed.delete(replyTo);
        resolve(reply);
      };
      running.owed.add(replyTo);
      tagWithSpan(replyTo);
      running.mailbox.post({ ...command, replyTo } as EventCommand);
    });
  }

  /** Per live event: commands waiting for an answer, and seats by state. */
  private observeActors(): void {
    const live = () =>
      [...this.owned.entries()].flatMap(([eventId, { running }]) => (running ? [{ eventId, context: running.actor.getSnapshot().context }] : []));
    observe("actor_mailbox_depth", "Commands an event actor has accepted and not yet answered", ["event"], () =>
      live().map(({ eventId, context }) => ({ labels: { event: eventId }, value: mailboxDepth(context) })),
    );
    observe("event_seats", "Seats of each live event actor by state", ["event", "status"], () =>
      live().flatMap(({ eventId, context }) =>
        Object.entries(context.model?.counts() ?? {}).map(([status, value]) => ({ labels: { event: eventId, status }, value })),
      ),
    );
  }

  /** Last resort at shutdown, after the coordinator has handed everything over. */
  stop(): void {
    clearInterval(this.heartbeat);
    this.windows.unsubscribe();
    for (const owned of this.owned.values()) {
      void owned.service?.stop();
      this.stopActor(owned);
    }
    this.owned.clear();
  }
}
