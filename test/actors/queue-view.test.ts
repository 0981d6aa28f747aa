// The read model every instance keeps of a queue must answer exactly as the queue actor does. Random enters, leaves,
// payments, TTL expiries and a drawn opening are run through the real machine (SimulatedClock); every committed batch
// feeds a QueueView; after each step every token's status from the view equals the actor's own answer.
import { describe, expect, test } from "bun:test";
import { createActor, fromPromise, SimulatedClock } from "xstate";
import type { CommitInput } from "../../actors/durable-entity";
import { queueAdmissionMachine, type QueueOp, type QueueRequest, type QueueSnapshot } from "../../actors/queue-admission";
import { OrderedCounter, QueueView, viewChangesOf } from "../../actors/queue-view";
import type { Reply } from "../../src/shared/codec";
import { tokenKey } from "../../src/shared/queue-tokens";

const T0 = 1_700_000_000_000;
const TTL = 60_000;

/** A small deterministic generator, so a failure can be replayed from its seed. */
function random(seed: number) {
  let state = seed >>> 0 || 1;
  return (bound: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % bound;
  };
}

function run(seed: number, snapshot: QueueSnapshot) {
  const rnd = random(seed);
  const clock = new SimulatedClock();
  clock.set(T0);
  const rules = { maxActive: 5, activeTtlMs: TTL };
  const view = QueueView.of(rules, snapshot);
  let counter = 0;
  let gate: Promise<void> | undefined;
  const machine = queueAdmissionMachine.provide({
    actors: {
      load: fromPromise<QueueSnapshot | null, { key: number }>(async () => snapshot),
      commit: fromPromise(async ({ input }: { input: CommitInput<QueueOp> }) => {
        if (gate) await gate;
        for (const change of viewChangesOf(input.ops)) view.apply(change);
        return input.ops.map(() => null);
      }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: {
      key: 1,
      idleMs: 86_400_000,
      ...rules,
      now: () => clock.now(),
      newToken: () => `token-${++counter}`,
      newSeed: () => Buffer.from(Array.from({ length: 32 }, () => rnd(256))).toString("base64url"),
    },
  }).start();
  const ask = (command: QueueRequest) => new Promise<Reply<any>>((resolve) => actor.send({ ...command, replyTo: resolve }));
  const settle = () => new Promise((r) => setTimeout(r, 0));
  /** Holds every commit until the returned function is called: commands meanwhile pile up behind the one in flight. */
  const pause = () => {
    let release!: () => void;
    gate = new Promise((r) => (release = r));
    return () => {
      gate = undefined;
      release();
    };
  };
  return { rnd, clock, view, ask, settle, pause };
}

async function compareAll(h: ReturnType<typeof run>, tokens: Map<string, number>) {
  for (const [token, userId] of tokens) {
    const truth = await h.ask({ type: "status", userId, token });
    const seen = h.view.status(tokenKey(token), userId, h.clock.now());
    const fromView = seen === undefined ? { ok: false, code: "not_found_in_queue" } : seen.ok ? { ok: true, data: seen.status } : { ok: false, code: seen.code };
    expect({ token, answer: fromView }).toEqual({ token, answer: truth });
    if (!truth.ok) tokens.delete(token);
  }
}

async function randomWalk(seed: number, snapshot: QueueSnapshot, steps: number) {
  const h = run(seed, snapshot);
  const tokens = new Map<string, number>();
  for (const t of snapshot.tokens) tokens.set(t.token, t.userId);
  await h.settle();
  for (let step = 0; step < steps; step++) {
    const roll = h.rnd(100);
    const user = 1 + h.rnd(40);
    if (roll < 45) {
      const ticket = await h.ask({ type: "enter", userId: user });
      if (ticket.ok) tokens.set(ticket.data.token, user);
    } else if (roll < 60 && tokens.size > 0) {
      const [token, userId] = [...tokens][h.rnd(tokens.size)]!;
      await h.ask({ type: "leave", userId, token });
    } else if (roll < 70) {
      await h.ask({ type: "paid", userId: user });
    } else if (roll < 78) {
      // Time passes while a commit is in flight (the opening's draw, say), and users arrive meanwhile.
      const release = h.pause();
      const first = h.ask({ type: "enter", userId: user });
      await h.settle();
      h.clock.increment(h.rnd(TTL / 2));
      await h.settle();
      const more = [1, 2, 3].map((n) => h.ask({ type: "enter", userId: 1 + ((user + n * 7) % 40) }));
      await h.settle();
      release();
      for (const [i, reply] of (await Promise.all([first, ...more])).entries()) {
        if (reply.ok) tokens.set(reply.data.token, i === 0 ? user : 1 + ((user + i * 7) % 40));
      }
      h.clock.increment(0);
      await h.settle();
    } else {
      h.clock.increment(h.rnd(TTL / 3));
      await h.settle();
      h.clock.increment(0);
      await h.settle();
    }
    await compareAll(h, tokens);
  }
  return { h, tokens };
}

describe("the queue's read model answers as the actor does", () => {
  test("the global queue, over random enters, leaves, payments and expiries", async () => {
    for (const seed of [1, 2, 3]) await randomWalk(seed, { tokens: [], nextSeq: 1 }, 250);
  });

  test("a concert's queue through its opening: the pre-queue, the draw, and those who come after", async () => {
    for (const seed of [11, 12, 13]) {
      const { h } = await randomWalk(seed, { tokens: [], nextSeq: 1, sale: { opensAt: T0 + 3 * TTL } }, 300);
      expect(h.clock.now()).toBeGreaterThan(T0 + 3 * TTL);
    }
  });

  test("someone who arrives after the opening but before the draw is behind the whole pre-queue, in both", async () => {
    const waiting = (n: number) => ({ token: `early-${n}`, userId: 100 + n, seq: n, status: "WAITING" as const, prequeue: true });
    const snapshot: QueueSnapshot = { tokens: [1, 2, 3].map(waiting), nextSeq: 4, sale: { opensAt: T0 - 1 } };
    const h = run(5, snapshot);
    await h.settle();
    // The opening is due, but its timer has not fired yet: this arrival is committed before the draw is.
    const late = await h.ask({ type: "enter", userId: 7 });
    expect(late).toMatchObject({ ok: true, data: { status: "WAITING", queuePosition: 4 } });
    const tokens = new Map([...snapshot.tokens.map((t): [string, number] => [t.token, t.userId]), [late.ok ? late.data.token : "", 7]]);
    await compareAll(h, tokens);
    h.clock.increment(0);
    await h.settle();
    h.clock.increment(0);
    await h.settle();
    await compareAll(h, tokens);
  });

  test("a view rebuilt from another's pages answers alike", async () => {
    const { h, tokens } = await randomWalk(21, { tokens: [], nextSeq: 1, sale: { opensAt: T0 + TTL } }, 150);
    const { state, rest } = h.view.pages(7);
    expect(rest.length).toBeGreaterThan(1);
    const copy = new QueueView({ maxActive: 5, activeTtlMs: TTL }, JSON.parse(JSON.stringify(state)));
    for (const page of rest) copy.absorb(JSON.parse(JSON.stringify(page)));
    expect(copy.size).toBe(h.view.size);
    for (const [token, userId] of tokens) {
      const answer = (view: QueueView) => {
        const seen = view.status(tokenKey(token), userId, h.clock.now());
        return seen?.ok ? seen.status : seen;
      };
      expect(answer(copy)).toEqual(answer(h.view));
    }
  });
});

describe("the order-statistic counter", () => {
  test("counts the keys below any key like a sorted list does, as keys come and go and its window moves", () => {
    const rnd = random(7);
    const counter = new OrderedCounter();
    const naive = new Set<number>();
    let top = 1;
    for (let i = 0; i < 20_000; i++) {
      if (rnd(3) > 0) {
        top += 1 + rnd(3);
        counter.add(top);
        naive.add(top);
      } else if (naive.size > 0) {
        const key = rnd(2) === 0 ? Math.min(...naive) : [...naive][rnd(naive.size)]!;
        counter.remove(key);
        naive.delete(key);
      }
      if (i % 97 === 0) {
        const probe = 1 + rnd(top + 10);
        expect(counter.countBelow(probe)).toBe([...naive].filter((k) => k < probe).length);
        expect(counter.size).toBe(naive.size);
      }
    }
  });
});
