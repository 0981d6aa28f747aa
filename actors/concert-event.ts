// The concert-event actor: one per event, the single writer of its seats. It serialises every command, applies it to
// memory at once so the next command sees it, and commits changes in groups: while one transaction is in flight the
// next one fills up. A reply leaves only after the transaction holding its change has committed.
//
// No I/O in here. The database comes in as the `load` and `commit` actors the host provides, time as `input.now`
// plus the actor's clock (which tests replace with SimulatedClock), and replies as the `replyTo` each command carries.
import { assign, enqueueActions, fromPromise, setup } from "xstate";
import { fail, ok, type Reply } from "../src/codec";
import { isErrorCode, type ErrorCode } from "../src/errors";
import { SeatInventory, type Decision, type EventOp, type InventorySnapshot, type OpResult } from "./seat-inventory";

type ReplyTo = (reply: Reply<unknown>) => void;

export type EventCommand =
  | { type: "seats"; userId: number; replyTo: ReplyTo }
  | { type: "occupy"; userId: number; seatId: number; replyTo: ReplyTo }
  | { type: "reserve"; userId: number; seatIds: number[]; replyTo: ReplyTo }
  | { type: "pay"; userId: number; reservationId: number; replyTo: ReplyTo }
  | { type: "cancel"; userId: number; reservationId: number; replyTo: ReplyTo };

type MachineEvent = EventCommand | { type: "tick" };

const COMMANDS = ["seats", "occupy", "reserve", "pay", "cancel"] as const;

/** A reply waiting for the commit that makes its answer durable; `answer` reads memory once that commit is done. */
interface Waiter {
  replyTo: ReplyTo;
  answer: () => Reply<unknown>;
}

interface Batch {
  ops: EventOp[];
  waiters: Waiter[];
}

export interface ConcertEventInput {
  eventId: number;
  holdTtlMs: number;
  maxSeatsPerUser: number;
  /** Stop after this long idle with no live holds (Akka-style passivation); the next command starts it again. */
  idleMs: number;
  now: () => number;
}

export interface CommitInput {
  eventId: number;
  ops: EventOp[];
}

interface Context extends ConcertEventInput {
  inventory: SeatInventory | undefined;
  /** Changes applied in memory that the next transaction will carry. */
  next: Batch;
  /** The transaction being committed right now. */
  inflight: Batch;
  /** Commands that arrived while the state was loading. */
  stash: EventCommand[];
  /** When the expiry timer is set to fire, so commands only touch the timer when they move it earlier. */
  timerAt: number | undefined;
}

const emptyBatch = (): Batch => ({ ops: [], waiters: [] });

function errorCodeOf(error: unknown): ErrorCode {
  const code = (error as { code?: unknown } | undefined)?.code;
  return isErrorCode(code) ? code : "service_unavailable";
}

/** Whether a reply must wait: it may not reveal a change that is not durable yet. */
function hasUncommitted(context: Context): boolean {
  return context.inflight.ops.length > 0 || context.next.ops.length > 0 || context.next.waiters.length > 0;
}

function decide(inventory: SeatInventory, command: EventCommand, now: number): Decision<() => Reply<unknown>> {
  const wrap = <T>(decision: Decision<T>, answer: (value: T) => () => Reply<unknown>): Decision<() => Reply<unknown>> =>
    decision.ok ? { ok: true, value: answer(decision.value), ops: decision.ops } : decision;
  switch (command.type) {
    case "seats":
      return { ok: true, value: () => ok(inventory.availableSeats()), ops: [] };
    case "occupy":
      return wrap(inventory.occupy(command.userId, command.seatId, now), ({ seatId }) => () => ok(inventory.holdView(seatId)));
    case "reserve":
      return wrap(inventory.reserve(command.userId, command.seatIds, now), ({ key }) => () => ok(inventory.reservationView(key)));
    case "pay":
      return wrap(inventory.pay(command.userId, command.reservationId, now), ({ key }) => () => {
        const payment = inventory.paymentView(key);
        return payment ? ok(payment) : fail("insufficient_balance");
      });
    case "cancel":
      return wrap(inventory.cancel(command.userId, command.reservationId), ({ key }) => () => ok(inventory.reservationView(key)));
  }
}

function refuseAll(code: ErrorCode) {
  return Object.fromEntries(COMMANDS.map((c) => [c, { actions: { type: "refuse" as const, params: { code } } }]));
}

const notProvided = (name: string) =>
  fromPromise<never>(async () => {
    throw new Error(`concert-event: the host must provide the '${name}' actor`);
  });

export const concertEventMachine = setup({
  types: {
    context: {} as Context,
    events: {} as MachineEvent,
    input: {} as ConcertEventInput,
  },
  actors: {
    load: notProvided("load") as unknown as ReturnType<typeof fromPromise<InventorySnapshot | null, { eventId: number }>>,
    commit: notProvided("commit") as unknown as ReturnType<typeof fromPromise<OpResult[], CommitInput>>,
  },
  delays: {
    idle: ({ context }) => context.idleMs,
    retry: 1000,
  },
  guards: {
    hasOpsToCommit: ({ context }) => context.next.ops.length > 0,
    canPassivate: ({ context }) => !hasUncommitted(context) && !context.inventory?.hasLiveHolds(),
  },
  actions: {
    handleCommand: enqueueActions(({ context, event, enqueue }) => {
      const command = event as EventCommand;
      const decision = decide(context.inventory!, command, context.now());
      if (!decision.ok) {
        enqueue(() => command.replyTo(fail(decision.code)));
        return;
      }
      if (decision.ops.length === 0 && !hasUncommitted(context)) {
        const answer = decision.value;
        enqueue(() => command.replyTo(answer()));
        return;
      }
      // The batch is owned by this actor alone; appending in place keeps a large batch O(1) per command.
      context.next.ops.push(...decision.ops);
      context.next.waiters.push({ replyTo: command.replyTo, answer: decision.value });
    }),
    expireLapsed: ({ context }) => {
      context.next.ops.push(...context.inventory!.expire(context.now()));
    },
    scheduleExpiry: enqueueActions(({ context, enqueue }) => {
      const deadline = context.inventory?.nextDeadline();
      if (deadline === undefined || (context.timerAt !== undefined && context.timerAt <= deadline)) return;
      enqueue.cancel("expiry");
      enqueue.raise({ type: "tick" }, { id: "expiry", delay: Math.max(0, deadline - context.now()) });
      enqueue.assign({ timerAt: deadline });
    }),
    timerFired: assign({ timerAt: undefined }),
    startCommit: assign(({ context }) => ({ inflight: context.next, next: emptyBatch() })),
    settleCommit: enqueueActions(({ context, event, enqueue }) => {
      const results = (event as unknown as { output: OpResult[] }).output;
      context.inventory!.settle(context.inflight.ops, results);
      const waiters = context.inflight.waiters;
      // Replies that only waited for this commit (no change of their own) can go out with it.
      const followers = context.next.ops.length === 0 ? context.next.waiters : [];
      enqueue(() => {
        for (const w of waiters) w.replyTo(w.answer());
        for (const w of followers) w.replyTo(w.answer());
      });
      enqueue.assign({ inflight: emptyBatch(), next: followers.length > 0 ? emptyBatch() : context.next });
    }),
    failEverything: enqueueActions(({ context, event, enqueue }) => {
      const code = errorCodeOf((event as { error?: unknown }).error);
      const waiters = [...context.inflight.waiters, ...context.next.waiters];
      enqueue(() => waiters.forEach((w) => w.replyTo(fail(code))));
      // Memory is thrown away: the reload makes it what the database holds.
      enqueue.cancel("expiry");
      enqueue.assign({ inventory: undefined, inflight: emptyBatch(), next: emptyBatch(), timerAt: undefined });
    }),
    stashCommand: assign({ stash: ({ context, event }) => [...context.stash, event as EventCommand] }),
    replayStash: enqueueActions(({ context, enqueue }) => {
      for (const command of context.stash) enqueue.raise(command);
      enqueue.assign({ stash: [] });
    }),
    refuseStash: enqueueActions(({ context, enqueue }, params: { code: ErrorCode }) => {
      const stash = context.stash;
      enqueue(() => stash.forEach((c) => c.replyTo(fail(params.code))));
      enqueue.assign({ stash: [] });
    }),
    refuse: ({ event }, params: { code: ErrorCode }) => (event as EventCommand).replyTo(fail(params.code)),
  },
}).createMachine({
  id: "concertEvent",
  context: ({ input }) => ({
    ...input,
    inventory: undefined,
    next: emptyBatch(),
    inflight: emptyBatch(),
    stash: [],
    timerAt: undefined,
  }),
  initial: "loading",
  states: {
    loading: {
      id: "loading",
      invoke: {
        src: "load",
        input: ({ context }) => ({ eventId: context.eventId }),
        onDone: [
          { guard: ({ event }) => event.output === null, target: "missing" },
          {
            target: "ready",
            actions: [
              assign({
                inventory: ({ context, event }) =>
                  new SeatInventory(context.eventId, context, event.output as InventorySnapshot),
              }),
              "replayStash",
            ],
          },
        ],
        onError: { target: "unavailable" },
      },
      on: Object.fromEntries(COMMANDS.map((c) => [c, { actions: "stashCommand" }])),
    },
    unavailable: {
      entry: { type: "refuseStash", params: { code: "service_unavailable" } },
      on: refuseAll("service_unavailable"),
      after: { retry: "loading" },
    },
    missing: {
      entry: { type: "refuseStash", params: { code: "not_found_concert_event" } },
      on: refuseAll("not_found_concert_event"),
      after: { idle: "stopped" },
    },
    ready: {
      // Lapsed holds found on load go at once: the timer fires with no delay.
      entry: "scheduleExpiry",
      on: {
        ...Object.fromEntries(COMMANDS.map((c) => [c, { actions: ["handleCommand", "scheduleExpiry"] }])),
        tick: { actions: ["timerFired", "expireLapsed", "scheduleExpiry"] },
      },
      initial: "idle",
      states: {
        idle: {
          always: { guard: "hasOpsToCommit", target: "committing" },
          after: { idle: { guard: "canPassivate", target: "#stopped" } },
        },
        committing: {
          entry: "startCommit",
          invoke: {
            src: "commit",
            input: ({ context }) => ({ eventId: context.eventId, ops: context.inflight.ops }),
            onDone: { target: "idle", actions: ["settleCommit", "scheduleExpiry"] },
            onError: { target: "#loading", actions: "failEverything" },
          },
        },
      },
    },
    stopped: { id: "stopped", type: "final" },
  },
});

export type ConcertEventActorLogic = typeof concertEventMachine;
