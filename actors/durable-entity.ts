// The shape every actor of this service shares: an entity that owns its state in memory, rebuilds it from the
// database on start, serialises its commands, and commits their changes in groups. While one transaction is in
// flight the next one fills up; a reply leaves only after the transaction holding its change has committed.
// A failed commit fails every command waiting on it and reloads the entity, so memory never drifts from the database.
//
// With `maxCommitsInFlight: 2` (pipelining) the next group is handed to `commit` while the previous one is still in
// flight, marked `after`: the host starts it only once the previous one has committed (see `pipelined`), so the
// database gets it without waiting for this actor's turn to come round. Its replies wait until it and every group
// before it have committed; a failure fails that group and every later one, and the reload waits until no commit
// is in flight any more, so it reads everything that did land.
//
// No I/O in here. The database comes in as the `load` and `commit` actors the host provides, time as `input.now`
// plus the actor's clock (which tests replace with SimulatedClock), and replies as the `replyTo` each command carries.
// The host may also provide `gather`, which settles once the commands that arrived together have all been delivered
// (the end of the event loop's turn), so that a burst goes into one transaction rather than its first command alone.
import { assign, enqueueActions, fromPromise, setup, type EventObject } from "xstate";
import { fail, type Reply } from "../src/shared/codec";
import { isErrorCode, type ErrorCode } from "../src/shared/errors";

export type ReplyTo = (reply: Reply<any>) => void;

/** What a model decides for one command: refuse it, or accept it with the ops to record and how to answer. */
export type Decision<Op> =
  | { ok: false; code: ErrorCode }
  | { ok: true; ops: Op[]; answer: () => Reply<unknown> };

/** The domain half of an entity: plain in-memory rules, no I/O, time passed in. */
export interface EntityModel<Command, Op, Result> {
  decide(command: Command, now: number): Decision<Op>;
  /** Ops for whatever has lapsed by `now` (holds, tokens, deadlines). */
  expire(now: number): Op[];
  /** When `expire` next has something to do. */
  nextDeadline(): number | undefined;
  /** Applies what the database answered for each op of a committed batch (ids it assigned, refusals). */
  settle(ops: Op[], results: Result[]): void;
  /** Whether the entity may stop when idle: nothing is waiting on its timer. */
  dormant(): boolean;
}

export interface EntityInput {
  /** Which entity this is (the concert event id; 0 for a singleton). */
  key: number;
  /** Stop after this long idle and dormant (Akka-style passivation); the next command starts it again. */
  idleMs: number;
  now: () => number;
  /** Groups committing at once: 1 (the default) or 2, pipelined. */
  maxCommitsInFlight?: number;
}

export interface CommitInput<Op> {
  key: number;
  ops: Op[];
  /** The previous group is still in flight: this one may commit only after it has (see `pipelined`). */
  after: boolean;
  /** The commands this group serves, by their replies, in order: the host's trace of the commit links to them. */
  waiting: readonly { replyTo: ReplyTo | undefined }[];
}

interface Waiter {
  replyTo: ReplyTo | undefined;
  answer: () => Reply<unknown>;
}

interface Batch<Op> {
  ops: Op[];
  waiters: Waiter[];
}

/** A group handed to `commit`, and what became of it. */
interface Flight<Op> extends Batch<Op> {
  /** The child actor committing it (an id is free again once its flight has landed). */
  slot: Slot;
  /** What the commit returned: held until every earlier flight has landed too. */
  results?: unknown[];
  failed?: unknown;
}

const SLOTS = ["commit0", "commit1"] as const;
type Slot = (typeof SLOTS)[number];

type Command = EventObject & { replyTo?: ReplyTo };
type Tick = { type: "tick" };
/**
 * Several commands as one event: a host delivers everything that reached an actor in one turn together, because
 * XState's cost is per event and a rush brings dozens of commands per turn. Handled exactly as if sent one by one.
 */
type Commands<Cmd> = { type: "commands"; commands: Cmd[] };
const commandsOf = <Cmd>(event: EventObject): Cmd[] => (event.type === "commands" ? (event as Commands<Cmd>).commands : [event as Cmd]);

interface Context<Input, Model, Op> {
  input: Input;
  model: Model | undefined;
  /** Changes applied in memory that the next transaction will carry. */
  next: Batch<Op>;
  /** The groups being committed right now, oldest first. */
  flights: Flight<Op>[];
  /** Commands that arrived while the entity was loading. */
  stash: Command[];
  /** When the expiry timer is set to fire, so commands only touch the timer when they move it earlier. */
  timerAt: number | undefined;
}

export interface EntitySpec<Input extends EntityInput, Snapshot, Model, Cmd extends Command> {
  id: string;
  /** The command event types the entity accepts. */
  commands: readonly Cmd["type"][];
  create(snapshot: Snapshot, input: Input): Model;
  /** The answer to every command when `load` found no such entity. */
  missingCode?: ErrorCode;
}

/** The `gather` a host provides: settles after the event loop has delivered everything that arrived in this turn. */
export const endOfTurn = fromPromise<void>(() => new Promise((resolve) => setImmediate(resolve)));

/** The longest delay a timer takes (2^31 − 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const emptyBatch = <Op>(): Batch<Op> => ({ ops: [], waiters: [] });

/** Commands accepted but not yet answered: the actor's mailbox depth, for monitoring. */
export function mailboxDepth(context: { next: Batch<unknown>; flights: Batch<unknown>[]; stash: unknown[] }): number {
  return context.next.waiters.length + context.flights.reduce((n, f) => n + f.waiters.length, 0) + context.stash.length;
}

/**
 * The host's side of pipelining: wraps its commit so that one marked `after` starts only once the commit before it
 * has succeeded, and fails with that commit's error if it did not. Commits then reach the database in the order the
 * actor decided them, and a group never lands without the one it was decided after.
 */
export function pipelined<Input extends { after: boolean }, Output>(commit: (input: Input) => Promise<Output>) {
  let previous: Promise<unknown> = Promise.resolve();
  return (input: Input): Promise<Output> => {
    const run = input.after ? previous.then(() => commit(input)) : commit(input);
    previous = run;
    return run;
  };
}

function errorCodeOf(error: unknown): ErrorCode {
  const code = (error as { code?: unknown } | undefined)?.code;
  return isErrorCode(code) ? code : "service_unavailable";
}

const notProvided = (name: string) =>
  fromPromise<never>(async () => {
    throw new Error(`the host must provide the '${name}' actor`);
  });

export function durableEntity<
  Input extends EntityInput,
  Snapshot,
  Cmd extends Command,
  Op,
  Result,
  Model extends EntityModel<Cmd, Op, Result>,
>(spec: EntitySpec<Input, Snapshot, Model, Cmd>) {
  type Ctx = Context<Input, Model, Op>;

  /** A reply may not reveal a change that is not durable yet, so it waits behind anything uncommitted. */
  const hasUncommitted = (c: Ctx) => c.flights.length > 0 || c.next.ops.length > 0 || c.next.waiters.length > 0;
  const landed = (f: Flight<Op>) => f.results !== undefined || f.failed !== undefined;
  /** Replies to send: the waiters of the flights at the front that committed (settled in order), then followers. */
  function settleLanded(context: Ctx): Waiter[] {
    const replies: Waiter[] = [];
    while (context.flights[0]?.results) {
      const flight = context.flights.shift()!;
      context.model!.settle(flight.ops, flight.results as Result[]);
      replies.push(...flight.waiters);
    }
    // Replies that only waited for the commits (no change of their own) go out with the last of them.
    if (context.flights.length === 0 && context.next.ops.length === 0) {
      replies.push(...context.next.waiters);
      context.next = emptyBatch<Op>();
    }
    return replies;
  }
  // The command list is data, so XState cannot type these transitions; the action names are checked at runtime.
  /** The slice of XState's enqueue that timer scheduling uses. */
  type Enqueue = {
    cancel(id: string): void;
    raise(event: Tick, options: { id: string; delay: number }): void;
    assign(values: Partial<Ctx>): void;
  };

  /** Moves the single expiry timer earlier when a change brought the next deadline forward. */
  function schedule(context: Ctx, enqueue: Enqueue): void {
    const deadline = context.model?.nextDeadline();
    if (deadline === undefined || (context.timerAt !== undefined && context.timerAt <= deadline)) return;
    enqueue.cancel("expiry");
    // A deadline beyond what a timer can wait (an opening months away) is reached in steps: the early tick expires
    // nothing and sets the next step. Unclamped, the runtime would fire it after 1 ms, and again, and again.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, deadline - context.input.now()));
    enqueue.raise({ type: "tick" }, { id: "expiry", delay });
    enqueue.assign({ timerAt: deadline });
  }

  const on = (actions: unknown): Record<string, { actions: any }> =>
    Object.fromEntries([...spec.commands, "commands"].map((type) => [type, { actions }]));
  const refuseAll = (code: ErrorCode) => on({ type: "refuse", params: { code } });
  /** Transitions for the done and error events of every commit slot; a failure is always recorded first. */
  const commitOutcomes = (handlers: { done: { actions: unknown }; error: { target?: string } }) =>
    Object.fromEntries(
      SLOTS.flatMap((slot) => {
        const withSlot = (actions: unknown) => [actions].flat().map((a) => (a === "scheduleExpiry" ? a : { type: a, params: { slot } }));
        return [
          [`xstate.done.actor.${slot}`, { actions: withSlot(handlers.done.actions) }],
          [`xstate.error.actor.${slot}`, { ...handlers.error, actions: { type: "commitFailed", params: { slot } } }],
        ];
      }),
    );

  return setup({
    types: {
      context: {} as Ctx,
      events: {} as Cmd | Commands<Cmd> | Tick,
      input: {} as Input,
    },
    actors: {
      gather: fromPromise<void>(async () => {}),
      load: notProvided("load") as unknown as ReturnType<typeof fromPromise<Snapshot | null, { key: number }>>,
      commit: notProvided("commit") as unknown as ReturnType<typeof fromPromise<Result[], CommitInput<Op>>>,
    },
    delays: {
      idle: ({ context }) => context.input.idleMs,
      retry: 1000,
    },
    guards: {
      found: ({ event }) => (event as unknown as { output: Snapshot | null }).output !== null,
      canStartCommit: ({ context }) =>
        context.next.ops.length > 0 && context.flights.length < Math.min(SLOTS.length, context.input.maxCommitsInFlight ?? 1),
      canPassivate: ({ context }) => !hasUncommitted(context) && context.model?.dormant() !== false,
      allLanded: ({ context }) => context.flights.every(landed),
    },
    actions: {
      handleCommand: enqueueActions(({ context, event, enqueue }) => {
        let changed = false;
        for (const command of commandsOf<Cmd>(event)) {
          const decision = context.model!.decide(command, context.input.now());
          if (!decision.ok) {
            enqueue(() => command.replyTo?.(fail(decision.code)));
            continue;
          }
          if (decision.ops.length === 0 && !hasUncommitted(context)) {
            enqueue(() => command.replyTo?.(decision.answer()));
            continue;
          }
          // The batch belongs to this actor alone; appending in place keeps a large batch O(1) per command.
          context.next.ops.push(...decision.ops);
          context.next.waiters.push({ replyTo: command.replyTo, answer: decision.answer });
          changed ||= decision.ops.length > 0;
        }
        // Only a change can bring a deadline forward; refusals and reads skip the timer entirely.
        if (changed) schedule(context, enqueue as unknown as Enqueue);
      }),
      expireLapsed: ({ context }) => {
        context.next.ops.push(...context.model!.expire(context.input.now()));
      },
      scheduleExpiry: enqueueActions(({ context, enqueue }) => schedule(context, enqueue as unknown as Enqueue)),
      timerFired: assign({ timerAt: undefined }),
      startCommit: enqueueActions(({ context, enqueue }) => {
        const slot = SLOTS.find((id) => !context.flights.some((f) => f.slot === id))!;
        const input: CommitInput<Op> = {
          key: context.input.key,
          ops: context.next.ops,
          after: context.flights.length > 0,
          // The batch's own list (no copy on every commit): the next batch is a new one.
          waiting: context.next.waiters,
        };
        enqueue.spawnChild("commit", { id: slot, input });
        enqueue.assign({ flights: [...context.flights, { ...context.next, slot }], next: emptyBatch<Op>() });
      }),
      commitDone: enqueueActions(({ context, event, enqueue }, params: { slot: Slot }) => {
        // Flights belong to this actor alone, as batches do; recording and settling in place keeps this O(1).
        context.flights.find((f) => f.slot === params.slot)!.results = (event as unknown as { output: Result[] }).output;
        const replies = settleLanded(context);
        enqueue(() => replies.forEach((w) => w.replyTo?.(w.answer())));
        enqueue.assign({ flights: context.flights, next: context.next });
      }),
      recordDone: ({ context, event }, params: { slot: Slot }) => {
        context.flights.find((f) => f.slot === params.slot)!.results = (event as unknown as { output: Result[] }).output;
      },
      commitFailed: ({ context, event }, params: { slot: Slot }) => {
        context.flights.find((f) => f.slot === params.slot)!.failed = (event as { error?: unknown }).error ?? new Error("commit failed");
      },
      failEverything: enqueueActions(({ context, enqueue }) => {
        // The flights ahead of the first failure committed: their replies are due. The failed one and every later one
        // fail (a later one never committed without it), and so does everything not yet committed.
        const replies = settleLanded(context);
        const code = errorCodeOf(context.flights[0]?.failed);
        const failed = [...context.flights.flatMap((f) => f.waiters), ...context.next.waiters];
        enqueue(() => {
          replies.forEach((w) => w.replyTo?.(w.answer()));
          failed.forEach((w) => w.replyTo?.(fail(code)));
        });
        // Memory is thrown away: the reload makes it what the database holds.
        enqueue.cancel("expiry");
        enqueue.assign({ model: undefined, flights: [], next: emptyBatch<Op>(), timerAt: undefined });
      }),
      createModel: assign({
        model: ({ context, event }) => spec.create((event as unknown as { output: Snapshot }).output, context.input),
      }),
      stashCommand: assign({ stash: ({ context, event }) => [...context.stash, ...commandsOf<Cmd>(event)] }),
      replayStash: enqueueActions(({ context, enqueue }) => {
        for (const command of context.stash) enqueue.raise(command as Cmd);
        enqueue.assign({ stash: [] });
      }),
      refuseStash: enqueueActions(({ context, enqueue }, params: { code: ErrorCode }) => {
        const stash = context.stash;
        enqueue(() => stash.forEach((c) => c.replyTo?.(fail(params.code))));
        enqueue.assign({ stash: [] });
      }),
      refuse: ({ event }, params: { code: ErrorCode }) => commandsOf<Command>(event).forEach((c) => c.replyTo?.(fail(params.code))),
    },
  }).createMachine({
    id: spec.id,
    context: ({ input }) => ({
      input,
      model: undefined,
      next: emptyBatch<Op>(),
      flights: [],
      stash: [],
      timerAt: undefined,
    }),
    initial: "loading",
    states: {
      loading: {
        id: "loading",
        invoke: {
          src: "load",
          input: ({ context }) => ({ key: context.input.key }),
          onDone: [
            { guard: "found", target: "ready", actions: ["createModel", "replayStash"] },
            { target: "missing" },
          ],
          onError: { target: "unavailable" },
        },
        on: on("stashCommand"),
      },
      unavailable: {
        entry: { type: "refuseStash", params: { code: "service_unavailable" } },
        on: refuseAll("service_unavailable"),
        after: { retry: "loading" },
      },
      missing: {
        entry: { type: "refuseStash", params: { code: spec.missingCode ?? "internal_server_error" } },
        on: refuseAll(spec.missingCode ?? "internal_server_error"),
        after: { idle: "stopped" },
      },
      ready: {
        // Whatever lapsed while the entity was down goes at once: the timer fires with no delay.
        entry: "scheduleExpiry",
        on: {
          ...on("handleCommand"),
          tick: { actions: ["timerFired", "expireLapsed", "scheduleExpiry"] },
          ...commitOutcomes({ done: { actions: ["commitDone", "scheduleExpiry"] }, error: { target: "draining" } }),
        } as Record<string, any>,
        initial: "idle",
        states: {
          idle: {
            always: { guard: "canStartCommit", target: "gathering" },
            // Commits land without leaving this state, so an entity not yet idle long enough looks again later.
            after: { idle: [{ guard: "canPassivate", target: "#stopped" }, { target: "idle", reenter: true }] },
          },
          // Commands keep arriving into `next` while the burst is delivered; then one transaction takes them all.
          gathering: {
            invoke: { src: "gather", onDone: { target: "idle", actions: "startCommit" } },
          },
        },
      },
      // A commit failed: commands wait, as while loading, until every commit still in flight has landed.
      draining: {
        always: { guard: "allLanded", target: "loading", actions: "failEverything" },
        on: { ...on("stashCommand"), ...commitOutcomes({ done: { actions: "recordDone" }, error: {} }) } as Record<string, any>,
      },
      stopped: { id: "stopped", type: "final" },
    },
  });
}
