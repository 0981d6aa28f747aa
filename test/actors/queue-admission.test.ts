import { describe, expect, test } from "bun:test";
import { createActor, fromPromise, SimulatedClock } from "xstate";
import { MAX_TIMER_MS, type CommitInput } from "../../actors/durable-entity";
import { queueAdmissionMachine, type QueueOp, type QueueRequest, type QueueSnapshot } from "../../actors/queue-admission";
import type { Reply } from "../../src/shared/codec";
import { drawKey } from "../../src/shared/draw-order";

const TTL = 600_000;
const T0 = 1_700_000_000_000;
/** The opening's seed in these tests, and the order it gives a pre-queue: by draw key, then seq (src/shared/draw-order.ts). */
const SEED = Buffer.alloc(32, 7).toString("base64url");
const inDrawnOrder = <T>(items: T[], seqOf: (item: T) => number, seed = SEED) => {
  const bytes = new Uint8Array(Buffer.from(seed, "base64url"));
  return [...items].sort((a, b) => drawKey(bytes, seqOf(a)) - drawKey(bytes, seqOf(b)) || seqOf(a) - seqOf(b));
};

function harness(options: { maxActive?: number; snapshot?: QueueSnapshot; seed?: string } = {}) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const batches: QueueOp[][] = [];
  let gate: Promise<void> | undefined;
  let failNext = false;
  let loads = 0;
  let snapshot: QueueSnapshot = options.snapshot ?? { tokens: [], nextSeq: 1 };
  let counter = 0;
  const machine = queueAdmissionMachine.provide({
    actors: {
      load: fromPromise<QueueSnapshot | null, { key: number }>(async () => {
        loads++;
        return snapshot;
      }),
      commit: fromPromise(async ({ input }: { input: CommitInput<QueueOp> }) => {
        batches.push(input.ops);
        if (gate) await gate;
        if (failNext) {
          failNext = false;
          throw Object.assign(new Error("database gone"), { code: "service_unavailable" });
        }
        return input.ops.map(() => null);
      }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: {
      key: 0,
      idleMs: 86_400_000,
      maxActive: options.maxActive ?? 2,
      activeTtlMs: TTL,
      now: () => clock.now(),
      newToken: () => `token-${String(++counter).padStart(16, "0")}`,
      newSeed: () => options.seed ?? SEED,
    },
  }).start();
  const ask = <T = any>(command: QueueRequest) =>
    new Promise<Reply<T>>((resolve) => actor.send({ ...command, replyTo: resolve }));
  const data = async <T = any>(command: QueueRequest): Promise<T> => {
    const reply = await ask<T>(command);
    if (!reply.ok) throw new Error(`refused: ${reply.code}`);
    return reply.data;
  };
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return {
    actor,
    clock,
    batches,
    ask,
    data,
    settle,
    get loads() {
      return loads;
    },
    pause() {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
    failNextCommit() {
      failNext = true;
    },
    setSnapshot(s: QueueSnapshot) {
      snapshot = s;
    },
  };
}

describe("queue-admission actor", () => {
  test("the first maxActive users are admitted at once, the rest wait in arrival order", async () => {
    const h = harness({ maxActive: 2 });
    const tickets = [];
    for (let user = 1; user <= 5; user++) tickets.push(await h.data({ type: "enter", userId: user }));
    expect(tickets.map((t) => [t.status, t.queuePosition])).toEqual([
      ["ACTIVE", 0],
      ["ACTIVE", 0],
      ["WAITING", 1],
      ["WAITING", 2],
      ["WAITING", 3],
    ]);
    expect(tickets[0].expiresAt).toBe(new Date(T0 + TTL).toISOString());
    expect(new Set(tickets.map((t) => t.token)).size).toBe(5);
  });

  test("entering again returns the same token and place", async () => {
    const h = harness({ maxActive: 1 });
    await h.data({ type: "enter", userId: 1 });
    const first = await h.data({ type: "enter", userId: 2 });
    await h.data({ type: "enter", userId: 3 });
    expect(await h.data({ type: "enter", userId: 2 })).toEqual(first);
    expect(h.batches.flat().filter((op) => op.type === "issued").length).toBe(3);
  });

  test("positions move up when someone ahead leaves, and leaving an ACTIVE token admits the next", async () => {
    const h = harness({ maxActive: 1 });
    const a = await h.data({ type: "enter", userId: 1 });
    const b = await h.data({ type: "enter", userId: 2 });
    const c = await h.data({ type: "enter", userId: 3 });
    const d = await h.data({ type: "enter", userId: 4 });
    expect(await h.data({ type: "leave", userId: 3, token: c.token })).toEqual({ status: "EXPIRED" });
    expect((await h.data({ type: "status", userId: 4, token: d.token })).queuePosition).toBe(2);
    await h.data({ type: "leave", userId: 1, token: a.token });
    expect((await h.data({ type: "status", userId: 2, token: b.token })).status).toBe("ACTIVE");
    expect(await h.data({ type: "status", userId: 4, token: d.token })).toMatchObject({ status: "WAITING", queuePosition: 1 });
    expect(await h.ask({ type: "status", userId: 3, token: c.token })).toEqual({ ok: false, code: "not_found_in_queue" });
  });

  test("an ACTIVE token lapses after its TTL on the actor's clock and the next in line is admitted", async () => {
    const h = harness({ maxActive: 1 });
    const a = await h.data({ type: "enter", userId: 1 });
    const b = await h.data({ type: "enter", userId: 2 });
    h.clock.increment(TTL - 1);
    await h.settle();
    expect((await h.data({ type: "status", userId: 1, token: a.token })).status).toBe("ACTIVE");
    h.clock.increment(1);
    await h.settle();
    expect(await h.ask({ type: "status", userId: 1, token: a.token })).toEqual({ ok: false, code: "not_found_in_queue" });
    expect(await h.data({ type: "status", userId: 2, token: b.token })).toEqual({
      queuePosition: 0,
      estimatedWaitingTime: 0,
      status: "ACTIVE",
      expiresAt: new Date(T0 + 2 * TTL).toISOString(),
    });
    expect(h.batches.at(-1)).toEqual([
      { type: "expired", token: a.token, userId: 1, at: T0 + TTL, reason: "ttl" },
      { type: "activated", token: b.token, userId: 2, activatedAt: T0 + TTL, expiresAt: T0 + 2 * TTL },
    ]);
  });

  test("a payment ends the user's turn and frees the place", async () => {
    const h = harness({ maxActive: 1 });
    await h.data({ type: "enter", userId: 1 });
    const b = await h.data({ type: "enter", userId: 2 });
    await h.ask({ type: "paid", userId: 1 });
    expect((await h.data({ type: "status", userId: 2, token: b.token })).status).toBe("ACTIVE");
    const fresh = await h.data({ type: "enter", userId: 1 });
    expect(fresh.status).toBe("WAITING");
  });

  test("status refuses unknown tokens and other users' tokens", async () => {
    const h = harness();
    const a = await h.data({ type: "enter", userId: 1 });
    expect(await h.ask({ type: "status", userId: 1, token: "nope-nope-nope-nope" })).toEqual({ ok: false, code: "not_found_in_queue" });
    expect(await h.ask({ type: "status", userId: 2, token: a.token })).toEqual({ ok: false, code: "invalid_token" });
    expect(await h.ask({ type: "leave", userId: 2, token: a.token })).toEqual({ ok: false, code: "invalid_token" });
  });

  test("replies wait for the commit, and commands arriving meanwhile share the next transaction", async () => {
    const h = harness({ maxActive: 100 });
    const release = h.pause();
    const replies: Reply<unknown>[] = [];
    const enter = (user: number) => void h.ask({ type: "enter", userId: user }).then((r) => replies.push(r));
    enter(1);
    await h.settle();
    for (let user = 2; user <= 6; user++) enter(user);
    await h.settle();
    expect(replies).toEqual([]);
    release();
    await h.settle();
    await h.settle();
    expect(replies.length).toBe(6);
    expect(h.batches.map((b) => b.length)).toEqual([1, 5]);
  });

  test("entries that arrive together go into one transaction, the first one included", async () => {
    const h = harness({ maxActive: 100 });
    const replies = await Promise.all([1, 2, 3, 4, 5, 6].map((user) => h.ask({ type: "enter", userId: user })));
    expect(replies.every((r) => r.ok)).toBe(true);
    expect(h.batches.map((b) => b.length)).toEqual([6]);
  });

  test("a failed commit fails its commands and reloads the queue from the database", async () => {
    const h = harness({ maxActive: 1 });
    const a = await h.data({ type: "enter", userId: 1 });
    h.setSnapshot({ tokens: [{ token: a.token, userId: 1, seq: 1, status: "ACTIVE", expiresAt: T0 + TTL }], nextSeq: 2 });
    h.failNextCommit();
    expect(await h.ask({ type: "enter", userId: 2 })).toEqual({ ok: false, code: "service_unavailable" });
    expect(h.loads).toBe(2);
    const again = await h.data({ type: "enter", userId: 2 });
    expect(again).toMatchObject({ status: "WAITING", queuePosition: 1 });
    expect(h.batches.at(-1)).toEqual([{ type: "issued", token: again.token, userId: 2, seq: 2, status: "WAITING", issuedAt: T0 }]);
  });

  test("after a restart positions resume in arrival order and a lapsed ACTIVE token is expired at once", async () => {
    const h = harness({
      maxActive: 1,
      snapshot: {
        nextSeq: 10,
        tokens: [
          { token: "w-9", userId: 9, seq: 9, status: "WAITING" },
          { token: "a-3", userId: 3, seq: 3, status: "ACTIVE", expiresAt: T0 - 1 },
          { token: "w-5", userId: 5, seq: 5, status: "WAITING" },
        ],
      },
    });
    await h.settle();
    h.clock.increment(0);
    await h.settle();
    expect(h.batches[0]).toEqual([
      { type: "expired", token: "a-3", userId: 3, at: T0, reason: "ttl" },
      { type: "activated", token: "w-5", userId: 5, activatedAt: T0, expiresAt: T0 + TTL },
    ]);
    expect(await h.data({ type: "status", userId: 9, token: "w-9" })).toMatchObject({ status: "WAITING", queuePosition: 1 });
    const next = await h.data({ type: "enter", userId: 11 });
    expect(next.queuePosition).toBe(2);
    expect(h.batches.at(-1)![0]).toMatchObject({ type: "issued", seq: 10 });
  });

  test("the estimate comes from the observed admission rate", async () => {
    const h = harness({ maxActive: 1 });
    // Before any admission from the queue: one place turning over per TTL → 600 s per position.
    await h.data({ type: "enter", userId: 1 });
    const second = await h.data({ type: "enter", userId: 2 });
    expect(second.estimatedWaitingTime).toBe(600);
    for (let user = 3; user <= 12; user++) await h.data({ type: "enter", userId: user });
    // Admit one user every 2 seconds by having the active user leave.
    let active = await h.data({ type: "enter", userId: 1 });
    for (let user = 2; user <= 6; user++) {
      h.clock.increment(2_000);
      await h.data({ type: "leave", userId: user - 1, token: active.token });
      active = await h.data({ type: "enter", userId: user });
      expect(active.status).toBe("ACTIVE");
    }
    // 5 admissions over 8 s since the first one → 0.625/s; position 6 → ceil(6 / 0.625) = 10 s.
    const last = await h.data({ type: "enter", userId: 12 });
    expect(last.queuePosition).toBe(6);
    expect(last.estimatedWaitingTime).toBe(10);
  });
});

describe("a concert's queue: the pre-queue and a fair opening", () => {
  const OPENS = T0 + 60_000;
  const concertQueue = (sale: Partial<QueueSnapshot["sale"]> = {}, tokens: QueueSnapshot["tokens"] = []): QueueSnapshot => ({
    tokens,
    nextSeq: tokens.length + 1,
    sale: { opensAt: OPENS, ...sale },
  });
  /** Users 1..5 entering in that order (seqs 1..5), in the order the seed draws them. */
  const drawnUsers = () => inDrawnOrder([1, 2, 3, 4, 5], (user) => user);
  const enterAll = async (h: ReturnType<typeof harness>, users: number[]) => {
    const tickets: Record<number, any> = {};
    for (const user of users) tickets[user] = await h.data({ type: "enter", userId: user });
    return tickets;
  };

  test("before the opening everyone waits in the pre-queue: its size is the position, the time to the opening the estimate", async () => {
    const h = harness({ maxActive: 2, snapshot: concertQueue() });
    const tickets = await enterAll(h, [1, 2, 3]);
    expect(tickets[3]).toMatchObject({ status: "WAITING", queuePosition: 3, estimatedWaitingTime: 60, opensAt: new Date(OPENS).toISOString() });
    h.clock.increment(30_500);
    await h.settle();
    expect(await h.data({ type: "status", userId: 1, token: tickets[1].token })).toEqual({
      queuePosition: 3,
      estimatedWaitingTime: 30,
      status: "WAITING",
      opensAt: new Date(OPENS).toISOString(),
    });
    expect(h.batches.flat().map((op) => op.type)).toEqual(["issued", "issued", "issued"]);
  });

  test("the opening comes at its exact tick, and the drawn order is committed before anyone is admitted", async () => {
    const h = harness({ maxActive: 2, snapshot: concertQueue() });
    const tickets = await enterAll(h, [1, 2, 3, 4, 5]);
    h.clock.increment(OPENS - T0 - 1);
    await h.settle();
    expect(h.batches.flat().some((op) => op.type === "drawn")).toBe(false);
    const release = h.pause();
    h.clock.increment(1);
    await h.settle();
    const order = drawnUsers();
    expect(order).not.toEqual([1, 2, 3, 4, 5]);
    // One seed, whatever the size of the pre-queue.
    expect(h.batches.at(-1)).toEqual([{ type: "drawn", at: OPENS, seed: SEED, drawn: 5 }]);
    // While the draw is being stored nobody is admitted, and nobody learns a drawn place either.
    const asked = h.ask({ type: "status", userId: order[0]!, token: tickets[order[0]!].token });
    let answered = false;
    void asked.then(() => (answered = true));
    await h.settle();
    expect(answered).toBe(false);
    expect(h.batches.flat().some((op) => op.type === "activated")).toBe(false);
    release();
    await h.settle();
    h.clock.increment(0);
    await h.settle();
    expect(h.batches.at(-1)).toEqual(
      order.slice(0, 2).map((user) => ({ type: "activated", token: tickets[user].token, userId: user, activatedAt: OPENS, expiresAt: OPENS + TTL })),
    );
    expect((await asked).ok).toBe(true);
  });

  test("an opening months away is waited for in steps a timer can take, and comes at its exact tick", async () => {
    const far = T0 + 90 * 86_400_000;
    const h = harness({ maxActive: 2, snapshot: concertQueue({ opensAt: far }) });
    const delays: number[] = [];
    const setTimeout = h.clock.setTimeout.bind(h.clock);
    h.clock.setTimeout = (fn, delay) => (delays.push(delay), setTimeout(fn, delay));
    await enterAll(h, [1, 2, 3]);
    for (let step = 0; step < 3; step++) {
      h.clock.increment(MAX_TIMER_MS);
      await h.settle();
    }
    expect(h.batches.flat().some((op) => op.type === "drawn")).toBe(false);
    h.clock.increment(far - h.clock.now() - 1);
    await h.settle();
    expect(h.batches.flat().some((op) => op.type === "drawn")).toBe(false);
    h.clock.increment(1);
    await h.settle();
    expect(h.batches.flat().filter((op) => op.type === "drawn")).toEqual([{ type: "drawn", at: far, seed: SEED, drawn: 3 }]);
    // Every timer fits in 32 bits (a runtime fires a longer one after 1 ms), and the wait took a handful of them.
    expect(delays.length).toBeGreaterThan(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_MS);
    expect(delays.length).toBeLessThan(20);
  });

  test("admission follows the draw; whoever comes after the opening queues behind the whole pre-queue, in arrival order", async () => {
    const h = harness({ maxActive: 2, snapshot: concertQueue() });
    const tickets = await enterAll(h, [1, 2, 3, 4, 5]);
    const order = drawnUsers();
    const release = h.pause();
    h.clock.increment(OPENS - T0);
    await h.settle();
    // Arriving while the draw is still being stored: already behind all five.
    const late = h.ask<any>({ type: "enter", userId: 6 });
    release();
    await h.settle();
    h.clock.increment(0);
    await h.settle();
    // Five drawn places ahead of it when it was answered; two of them have been admitted since.
    const lateTicket = await late;
    expect(lateTicket).toMatchObject({ ok: true, data: { status: "WAITING", queuePosition: 6 } });
    expect((await h.data({ type: "status", userId: 6, token: lateTicket.ok ? lateTicket.data.token : "" })).queuePosition).toBe(4);
    const later = await h.data({ type: "enter", userId: 7 });
    expect(later.queuePosition).toBe(5);
    const positions = async () => {
      const result: number[] = [];
      for (const user of order.slice(2)) result.push((await h.data({ type: "status", userId: user, token: tickets[user].token })).queuePosition);
      return result;
    };
    expect(await positions()).toEqual([1, 2, 3]);
    const admitted: number[] = [];
    for (const leaving of order) {
      await h.data({ type: "leave", userId: leaving, token: tickets[leaving].token });
      const batch = h.batches.at(-1)!;
      admitted.push(...batch.filter((op) => op.type === "activated").map((op) => op.userId));
    }
    expect(admitted).toEqual([...order.slice(2), 6, 7]);
  });

  test("a restart keeps the drawn order, and a queue that missed its opening draws at once when it loads", async () => {
    const token = (user: number) => `token-of-user-${String(user).padStart(4, "0")}`;
    const waiting = (user: number, seq: number, draw?: number) => ({
      token: token(user),
      userId: user,
      seq,
      status: "WAITING" as const,
      prequeue: true,
      ...(draw === undefined ? {} : { draw }),
    });
    // Places stored one per token, as queues drawn before seeds were stored keep them.
    const drawn = harness({
      maxActive: 1,
      snapshot: concertQueue({ openedAt: OPENS - 5 }, [
        { token: token(9), userId: 9, seq: 9, status: "ACTIVE", expiresAt: OPENS + TTL },
        waiting(1, 1, 3),
        waiting(2, 2, 1),
        waiting(3, 3, 2),
        { ...waiting(4, 4), prequeue: false },
      ]),
    });
    const place = async (h: ReturnType<typeof harness>, user: number) => (await h.data({ type: "status", userId: user, token: token(user) })).queuePosition;
    expect([await place(drawn, 2), await place(drawn, 3), await place(drawn, 1), await place(drawn, 4)]).toEqual([1, 2, 3, 4]);

    const beforeOpening = (user: number) => waiting(user, user);
    const missed = harness({ maxActive: 1, snapshot: concertQueue({ opensAt: T0 - 1 }, [beforeOpening(1), beforeOpening(2)]) });
    await missed.settle();
    missed.clock.increment(0);
    await missed.settle();
    expect(missed.batches[0]).toEqual([{ type: "drawn", at: T0, seed: SEED, drawn: 2 }]);
  });

  test("a queue opened with a seed loads its pre-queue in the seed's order, and those who entered after the opening behind it", async () => {
    const seed = Buffer.alloc(32, 42).toString("base64url");
    const users = Array.from({ length: 40 }, (_, i) => i + 1);
    const tokens = users.map((user) => ({ token: `token-of-user-${String(user).padStart(4, "0")}`, userId: user, seq: user, status: "WAITING" as const, prequeue: true }));
    const late = { token: "token-late-arrival-0", userId: 99, seq: 41, status: "WAITING" as const };
    const h = harness({ maxActive: 0, snapshot: concertQueue({ openedAt: OPENS, seed }, [...tokens, late]) });
    const expected = inDrawnOrder(users, (user) => user, seed);
    const places = new Map<number, number>();
    for (const t of [...tokens, late]) places.set(t.userId, (await h.data({ type: "status", userId: t.userId, token: t.token })).queuePosition);
    expect(expected.map((user) => places.get(user))).toEqual(users);
    expect(places.get(99)).toBe(41);
  });

  test("a queue that loads open, with places free and people waiting, admits at once (a crash cut in after the draw)", async () => {
    const seed = Buffer.alloc(32, 5).toString("base64url");
    const users = [1, 2, 3, 4, 5];
    const tokens = users.map((user) => ({ token: `token-of-user-${String(user).padStart(4, "0")}`, userId: user, seq: user, status: "WAITING" as const, prequeue: true }));
    const h = harness({ maxActive: 2, snapshot: concertQueue({ opensAt: T0 - 1000, openedAt: T0 - 1000, seed }, tokens) });
    await h.settle();
    h.clock.increment(0);
    await h.settle();
    const first = inDrawnOrder(users, (user) => user, seed).slice(0, 2);
    expect(h.batches[0]!.map((op) => op.type === "activated" && op.userId)).toEqual(first);
    const global = harness({ maxActive: 1, snapshot: { tokens: [{ token: "w-1", userId: 1, seq: 1, status: "WAITING" }], nextSeq: 2 } });
    await global.settle();
    global.clock.increment(0);
    await global.settle();
    expect(global.batches[0]).toEqual([{ type: "activated", token: "w-1", userId: 1, activatedAt: T0, expiresAt: T0 + TTL }]);
  });

  test("operators move the opening until it has come; after the close nobody enters", async () => {
    const h = harness({ maxActive: 1, snapshot: concertQueue({ closesAt: OPENS + 60_000 }) });
    await h.data({ type: "enter", userId: 1 });
    expect(await h.ask({ type: "update", opensAt: OPENS + 30_000 })).toEqual({ ok: true, data: null });
    expect(h.batches.at(-1)).toEqual([{ type: "concertUpdated", opensAt: OPENS + 30_000, closesAt: OPENS + 60_000 }]);
    h.clock.increment(OPENS - T0);
    await h.settle();
    expect(h.batches.flat().some((op) => op.type === "drawn")).toBe(false);
    expect(await h.ask({ type: "update", closesAt: OPENS + 30_000 })).toEqual({ ok: false, code: "invalid_request" });
    h.clock.increment(30_000);
    await h.settle();
    expect(h.batches.flat().filter((op) => op.type === "drawn").length).toBe(1);
    expect(await h.ask({ type: "update", opensAt: OPENS + 90_000 })).toEqual({ ok: false, code: "sale_already_open" });
    expect(await h.ask({ type: "update", opensAt: OPENS + 30_000, title: "새 제목" })).toEqual({ ok: true, data: null });
    expect(await h.ask({ type: "update", closesAt: null })).toEqual({ ok: true, data: null });
    expect(await h.ask({ type: "update", closesAt: OPENS + 40_000 })).toEqual({ ok: true, data: null });
    h.clock.increment(10_000);
    await h.settle();
    expect(await h.ask({ type: "enter", userId: 2 })).toEqual({ ok: false, code: "sale_closed" });
    // The one who was already in keeps their place.
    expect((await h.data({ type: "enter", userId: 1 })).status).toBe("ACTIVE");
  });

  test("an opening set in the past opens the sale now; the global queue has no sale to edit", async () => {
    const h = harness({ maxActive: 1, snapshot: concertQueue() });
    expect(await h.ask({ type: "update", opensAt: T0 - 3_600_000 })).toEqual({ ok: true, data: null });
    expect(h.batches.at(-1)).toEqual([{ type: "concertUpdated", opensAt: T0 }]);
    const global = harness();
    expect(await global.ask({ type: "update", title: "x" })).toEqual({ ok: false, code: "invalid_request" });
  });
});
