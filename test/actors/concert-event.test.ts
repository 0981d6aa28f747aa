import { describe, expect, test } from "bun:test";
import { createActor, fromPromise, SimulatedClock } from "xstate";
import { concertEventMachine, type CommitInput, type EventCommand, type EventRequest } from "../../actors/concert-event";
import type { EventOp, InventorySnapshot, OpResult, SaleFacts, Seat } from "../../actors/seat-inventory";
import type { Reply } from "../../src/shared/codec";

const TTL = 300_000;
const T0 = 1_700_000_000_000;
const DAY = 86_400_000;
/** An event of concert 1, a month away, on sale since long ago. */
const SALE: SaleFacts = { concertId: 1, startsAt: T0 + 30 * DAY, opensAt: 0 };
/** One section for the whole hall, as events loaded without sections have. */
const HALL = [{ name: "전체", price: 50_000 }];

function seats(n: number, price = 50_000): Seat[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, seatNumber: String(i + 1), price, section: 0, status: "AVAILABLE" as const }));
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A fake database: hands out ids, debits a wallet map, and can be paused or made to fail. */
function harness(snapshot: InventorySnapshot | null = { sale: SALE, sections: HALL, seats: seats(10), reservations: [] }, options: { maxSeatsPerUser?: number; idleMs?: number } = {}) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const batches: EventOp[][] = [];
  const balances = new Map<number, number>();
  let nextReservationId = 100;
  let nextPaymentId = 500;
  let gate: Promise<void> | undefined;
  let failNext: Error | undefined;
  let loads = 0;
  let current = snapshot;

  const machine = concertEventMachine.provide({
    actors: {
      load: fromPromise(async () => {
        loads++;
        return current;
      }),
      commit: fromPromise(async ({ input }: { input: CommitInput }) => {
        batches.push(input.ops);
        if (gate) await gate;
        if (failNext) {
          const error = failNext;
          failNext = undefined;
          throw error;
        }
        return input.ops.map((op): OpResult => {
          if (op.type === "reserved") return { reservationId: nextReservationId++ };
          if (op.type !== "paid") return null;
          const balance = balances.get(op.userId) ?? 0;
          if (balance < op.amount) return { rejected: "insufficient_balance" };
          balances.set(op.userId, balance - op.amount);
          return { paymentId: nextPaymentId++ };
        });
      }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: {
      key: 7,
      holdTtlMs: TTL,
      maxSeatsPerUser: options.maxSeatsPerUser ?? 4,
      refundCutoffMs: DAY,
      idleMs: options.idleMs ?? 3_600_000,
      now: () => clock.now(),
    },
  }).start();

  const ask = <T = any>(command: EventRequest) =>
    new Promise<Reply<T>>((resolve) => actor.send({ ...command, replyTo: resolve as (r: Reply<unknown>) => void } as EventCommand));
  const settle = () => new Promise((r) => setTimeout(r, 0));

  return {
    actor,
    clock,
    batches,
    balances,
    ask,
    settle,
    get loads() {
      return loads;
    },
    pause() {
      const d = deferred<void>();
      gate = d.promise;
      return () => {
        gate = undefined;
        d.resolve();
      };
    },
    failNextCommit(error: Error) {
      failNext = error;
    },
    setSnapshot(s: InventorySnapshot | null) {
      current = s;
    },
  };
}

describe("concert-event actor: holds", () => {
  test("occupy holds the seat for the TTL and a second user gets seat_unavailable", async () => {
    const h = harness();
    const first = await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 3 });
    expect(first).toEqual({
      ok: true,
      data: { id: 3, seatNumber: "3", price: 50_000, expirationTime: new Date(h.clock.now() + TTL).toISOString() },
    });
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 3 })).toEqual({ ok: false, code: "seat_unavailable" });
    expect(h.batches).toEqual([[{ type: "held", seatId: 3, userId: 1, expiresAt: h.clock.now() + TTL }]]);
  });

  test("occupying your own hold again returns it unchanged and writes nothing", async () => {
    const h = harness();
    const first = await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 3 });
    h.clock.increment(10_000);
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 3 })).toEqual(first);
    expect(h.batches.length).toBe(1);
  });

  test("unknown seat is not_found_seat; a held seat is unavailable to everyone else", async () => {
    const h = harness();
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 99 })).toEqual({ ok: false, code: "not_found_seat" });
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 1 })).toEqual({ ok: false, code: "seat_unavailable" });
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 2 })).ok).toBe(true);
  });

  test("a user may hold or reserve at most maxSeatsPerUser seats", async () => {
    const h = harness(undefined, { maxSeatsPerUser: 2 });
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 })).ok).toBe(true);
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 2 })).ok).toBe(true);
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 3 })).toEqual({ ok: false, code: "hold_limit_exceeded" });
    // Reserving does not free a place under the limit.
    await h.ask({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [1] });
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 3 })).toEqual({ ok: false, code: "hold_limit_exceeded" });
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 3 })).ok).toBe(true);
  });

  test("a hold lapses after the TTL on the actor's clock and the seat is free again", async () => {
    const h = harness();
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 5 });
    h.clock.increment(TTL - 1);
    await h.settle();
    expect(h.batches.length).toBe(1);
    h.clock.increment(1);
    await h.settle();
    expect(h.batches[1]).toEqual([{ type: "released", seatId: 5, userId: 1, reason: "expired" }]);
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 5 })).ok).toBe(true);
  });
});

describe("concert-event actor: reservations and payment", () => {
  test("reserve turns holds into a reservation due at the earliest hold expiry", async () => {
    const h = harness();
    const start = h.clock.now();
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    h.clock.increment(5_000);
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 2 });
    const reply = await h.ask({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [1, 2] });
    expect(reply).toEqual({
      ok: true,
      data: {
        id: 100,
        concertEventId: 7,
        totalSeats: 2,
        totalAmount: 100_000,
        createdAt: new Date(start + 5_000).toISOString(),
        status: "PENDING",
        expiresAt: new Date(start + TTL).toISOString(),
        seatIds: [1, 2],
      },
    });
  });

  test("reserving the same seats again (the first answer lost) gives the same pending reservation and changes nothing", async () => {
    const h = harness();
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 2 });
    const [first, again] = await Promise.all([
      h.ask({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [1, 2] }),
      h.ask({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [2, 1] }),
    ]);
    expect(first.ok).toBe(true);
    expect(again).toEqual(first);
    expect(await h.ask({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [1, 2] })).toEqual(first);
    expect(h.batches.flat().filter((op) => op.type === "reserved")).toHaveLength(1);
    // Part of it, or someone else asking, is still refused.
    expect(await h.ask({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [1] })).toEqual({ ok: false, code: "seat_not_held" });
    expect(await h.ask({ type: "reserve", admittedTo: 0, userId: 2, seatIds: [1, 2] })).toEqual({ ok: false, code: "seat_not_held" });
  });

  test("reserving a seat not held by you, or whose hold lapsed, is seat_not_held", async () => {
    const h = harness();
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    expect(await h.ask({ type: "reserve", admittedTo: 0, userId: 2, seatIds: [1] })).toEqual({ ok: false, code: "seat_not_held" });
    expect(await h.ask({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [1, 2] })).toEqual({ ok: false, code: "seat_not_held" });
    h.clock.increment(TTL);
    await h.settle();
    expect(await h.ask({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [1] })).toEqual({ ok: false, code: "seat_not_held" });
  });

  test("an unpaid reservation expires at its deadline, releasing its seats; paying then is reservation_expired", async () => {
    const h = harness();
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 4 });
    const reserved = await h.ask<{ id: number }>({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [4] });
    const id = reserved.ok ? reserved.data.id : -1;
    h.clock.increment(TTL);
    await h.settle();
    expect(h.batches.at(-1)).toEqual([{ type: "reservationEnded", reservationId: id, userId: 1, seatIds: [4], status: "EXPIRED" }]);
    h.balances.set(1, 1_000_000);
    expect(await h.ask({ type: "pay", userId: 1, reservationId: id })).toEqual({ ok: false, code: "reservation_expired" });
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 4 })).ok).toBe(true);
  });

  test("payment sells the seats, paying again returns the same payment, others cannot pay it", async () => {
    const h = harness();
    h.balances.set(1, 60_000);
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 4 });
    const reserved = await h.ask<{ id: number }>({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [4] });
    const id = reserved.ok ? reserved.data.id : -1;
    expect(await h.ask({ type: "pay", userId: 2, reservationId: id })).toEqual({ ok: false, code: "not_found_reservation" });
    const paid = await h.ask({ type: "pay", userId: 1, reservationId: id });
    expect(paid).toEqual({
      ok: true,
      data: { id: 500, reservationId: id, amount: 50_000, status: "success", paidAt: new Date(h.clock.now()).toISOString() },
    });
    expect(await h.ask({ type: "pay", userId: 1, reservationId: id })).toEqual(paid);
    expect(h.balances.get(1)).toBe(10_000);
    // Sold seats never lapse.
    h.clock.increment(TTL * 2);
    await h.settle();
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 4 })).toEqual({ ok: false, code: "seat_unavailable" });
  });

  test("two concurrent payments of one reservation charge once and both get the same payment", async () => {
    const h = harness();
    h.balances.set(1, 100_000);
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 4 });
    const reserved = await h.ask<{ id: number }>({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [4] });
    const id = reserved.ok ? reserved.data.id : -1;
    const [a, b] = await Promise.all([h.ask({ type: "pay", userId: 1, reservationId: id }), h.ask({ type: "pay", userId: 1, reservationId: id })]);
    expect(a).toEqual(b);
    expect(a.ok).toBe(true);
    expect(h.balances.get(1)).toBe(50_000);
    expect(h.batches.flat().filter((op) => op.type === "paid").length).toBe(1);
  });

  test("insufficient balance leaves the reservation payable", async () => {
    const h = harness();
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 4 });
    const reserved = await h.ask<{ id: number }>({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [4] });
    const id = reserved.ok ? reserved.data.id : -1;
    expect(await h.ask({ type: "pay", userId: 1, reservationId: id })).toEqual({ ok: false, code: "insufficient_balance" });
    h.balances.set(1, 50_000);
    expect((await h.ask({ type: "pay", userId: 1, reservationId: id })).ok).toBe(true);
  });

  test("cancel releases the seats of an unpaid reservation", async () => {
    const h = harness();
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 4 });
    const reserved = await h.ask<{ id: number }>({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [4] });
    const id = reserved.ok ? reserved.data.id : -1;
    const cancelled = await h.ask<{ status: string }>({ type: "cancel", userId: 1, reservationId: id });
    expect(cancelled.ok && cancelled.data.status).toBe("CANCELLED");
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 4 })).ok).toBe(true);
  });
});

describe("concert-event actor: group commit and recovery", () => {
  test("no reply before commit; commands arriving meanwhile share the next single transaction", async () => {
    const h = harness({ sale: SALE, sections: HALL, seats: seats(50), reservations: [] }, { maxSeatsPerUser: 1 });
    const release = h.pause();
    const replies: Reply<unknown>[] = [];
    const occupy = (user: number) => void h.ask({ type: "occupy", admittedTo: 0, userId: user, seatId: user }).then((r) => replies.push(r));
    occupy(1);
    await h.settle();
    for (let user = 2; user <= 5; user++) occupy(user);
    await h.settle();
    expect(replies).toEqual([]);
    expect(h.batches.map((b) => b.length)).toEqual([1]);
    release();
    await h.settle();
    await h.settle();
    expect(replies.length).toBe(5);
    expect(h.batches.map((b) => b.length)).toEqual([1, 4]);
  });

  test("commands that arrive together go into one transaction, the first one included", async () => {
    const h = harness({ sale: SALE, sections: HALL, seats: seats(50), reservations: [] }, { maxSeatsPerUser: 1 });
    const replies = await Promise.all([1, 2, 3, 4, 5].map((user) => h.ask({ type: "occupy", admittedTo: 0, userId: user, seatId: user })));
    expect(replies.every((r) => r.ok)).toBe(true);
    expect(h.batches.map((b) => b.length)).toEqual([5]);
  });

  test("a failed commit fails every waiting command and reloads memory from the database", async () => {
    const h = harness();
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    const committed = { sale: SALE, sections: HALL, seats: seats(10).map((s) => (s.id === 1 ? { ...s, status: "HELD" as const, userId: 1, holdExpiresAt: h.clock.now() + TTL } : s)), reservations: [] };
    h.setSnapshot(committed);
    h.failNextCommit(Object.assign(new Error("connection lost"), { code: "service_unavailable" }));
    const release = h.pause();
    const a = h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 2 });
    const b = h.ask({ type: "occupy", admittedTo: 0, userId: 3, seatId: 3 });
    release();
    expect(await a).toEqual({ ok: false, code: "service_unavailable" });
    expect(await b).toEqual({ ok: false, code: "service_unavailable" });
    expect(h.loads).toBe(2);
    // Memory is what the database holds: seat 1 held, seats 2 and 3 free.
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 4, seatId: 1 })).toEqual({ ok: false, code: "seat_unavailable" });
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 4, seatId: 2 })).ok).toBe(true);
  });

  test("on load, lapsed holds and overdue reservations are released and live ones keep their timers", async () => {
    const clock0 = 1_700_000_000_000;
    const list = seats(4);
    list[0] = { ...list[0]!, status: "HELD", userId: 1, holdExpiresAt: clock0 - 1 };
    list[1] = { ...list[1]!, status: "HELD", userId: 1, holdExpiresAt: clock0 + 1_000 };
    list[2] = { ...list[2]!, status: "RESERVED", userId: 2, reservationKey: "db9" };
    const h = harness({
      sale: SALE,
      sections: HALL,
      seats: list,
      reservations: [{ key: "db9", id: 9, userId: 2, seatIds: [3], totalAmount: 50_000, createdAt: clock0 - TTL, expiresAt: clock0 - 5, status: "PENDING" }],
    });
    await h.settle();
    // The simulated clock runs even a zero delay only when it is advanced.
    h.clock.increment(0);
    await h.settle();
    // Earliest deadline first: the reservation was due at −5 ms, the hold at −1 ms.
    expect(h.batches[0]).toEqual([
      { type: "reservationEnded", reservationId: 9, userId: 2, seatIds: [3], status: "EXPIRED" },
      { type: "released", seatId: 1, userId: 1, reason: "expired" },
    ]);
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 5, seatId: 2 })).toEqual({ ok: false, code: "seat_unavailable" });
    h.clock.increment(1_000);
    await h.settle();
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 5, seatId: 2 })).ok).toBe(true);
  });

  test("an event that does not exist answers not_found_concert_event", async () => {
    const h = harness(null);
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 })).toEqual({ ok: false, code: "not_found_concert_event" });
  });

  test("an idle actor with no live holds stops itself (passivation)", async () => {
    const h = harness(undefined, { idleMs: 60_000 });
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    h.clock.increment(60_000);
    await h.settle();
    expect(h.actor.getSnapshot().status).toBe("active");
    h.clock.increment(TTL);
    await h.settle();
    h.clock.increment(60_000);
    await h.settle();
    expect(h.actor.getSnapshot().status).toBe("done");
  });
});

describe("concert-event actor: commands delivered together", () => {
  const collect = () => {
    const replies = new Map<string, Reply<any>>();
    const as = (name: string, command: EventRequest) => ({ ...command, replyTo: (r: Reply<unknown>) => replies.set(name, r) }) as EventCommand;
    return { replies, as };
  };

  test("one commands event is handled as its commands one by one, in order, in one transaction", async () => {
    const h = harness();
    await h.settle();
    const { replies, as } = collect();
    h.actor.send({
      type: "commands",
      commands: [
        as("first", { type: "occupy", admittedTo: 0, userId: 1, seatId: 1 }),
        as("second on the same seat", { type: "occupy", admittedTo: 0, userId: 2, seatId: 1 }),
        as("another seat", { type: "occupy", admittedTo: 0, userId: 2, seatId: 2 }),
        as("after both", { type: "occupy", admittedTo: 0, userId: 3, seatId: 2 }),
      ],
    });
    await h.settle();
    await h.settle();
    expect(replies.get("first")?.ok).toBe(true);
    expect(replies.get("second on the same seat")).toEqual({ ok: false, code: "seat_unavailable" });
    expect(replies.get("another seat")?.ok).toBe(true);
    expect(replies.get("after both")).toEqual({ ok: false, code: "seat_unavailable" });
    expect(h.batches.map((b) => b.map((op) => op.type))).toEqual([["held", "held"]]);
  });

  test("commands that arrive while the event loads wait for it, and an unknown event refuses each of them", async () => {
    const loading = harness();
    const early = collect();
    loading.actor.send({ type: "commands", commands: [early.as("a", { type: "occupy", admittedTo: 0, userId: 1, seatId: 3 }), early.as("b", { type: "occupy", admittedTo: 0, userId: 2, seatId: 3 })] });
    await loading.settle();
    await loading.settle();
    expect(early.replies.get("a")?.ok).toBe(true);
    expect(early.replies.get("b")).toEqual({ ok: false, code: "seat_unavailable" });

    const missing = harness(null);
    await missing.settle();
    const late = collect();
    missing.actor.send({ type: "commands", commands: [late.as("a", { type: "occupy", admittedTo: 0, userId: 1, seatId: 1 }), late.as("b", { type: "warm" })] });
    expect(late.replies.get("a")).toEqual({ ok: false, code: "not_found_concert_event" });
    expect(late.replies.get("b")).toEqual({ ok: false, code: "not_found_concert_event" });
  });
});

describe("concert-event actor: the sale window, who may enter, giving seats back", () => {
  const OPENS = T0 + 60_000;
  const CLOSES = T0 + 120_000;
  const windowed = () => harness({ sale: { ...SALE, opensAt: OPENS, closesAt: CLOSES }, sections: HALL, seats: seats(10), reservations: [] });

  test("seat commands answer sale_not_open before the opening and sale_closed from the close, to the millisecond", async () => {
    const h = windowed();
    const seatCommands = (seatId: number): EventRequest[] => [
      { type: "occupy", admittedTo: 0, userId: 1, seatId },
      { type: "reserve", admittedTo: 0, userId: 1, seatIds: [seatId] },
      { type: "release", admittedTo: 0, userId: 1, seatId },
    ];
    for (const command of seatCommands(1)) expect(await h.ask(command)).toEqual({ ok: false, code: "sale_not_open" });
    h.clock.set(OPENS - 1);
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 })).toEqual({ ok: false, code: "sale_not_open" });
    h.clock.set(OPENS);
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 })).ok).toBe(true);
    h.clock.set(CLOSES - 1);
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 2 })).ok).toBe(true);
    h.clock.set(CLOSES);
    for (const command of seatCommands(3)) expect(await h.ask(command)).toEqual({ ok: false, code: "sale_closed" });
    expect(h.batches.flat().map((op) => op.type)).toEqual(["held", "held"]);
  });

  test("a reservation made in time can still be paid after the sale closes", async () => {
    const h = windowed();
    h.balances.set(1, 100_000);
    h.clock.set(CLOSES - 10);
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 5 });
    const reserved = await h.ask<{ id: number }>({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [5] });
    h.clock.set(CLOSES + 10);
    const paid = await h.ask({ type: "pay", userId: 1, reservationId: reserved.ok ? reserved.data.id : -1 });
    expect(paid).toMatchObject({ ok: true, data: { status: "success" } });
  });

  test("the window follows the concert's edits; another concert's edit changes nothing", async () => {
    const h = windowed();
    await h.ask({ type: "window", concertId: 2, opensAt: 0 });
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 })).toEqual({ ok: false, code: "sale_not_open" });
    await h.ask({ type: "window", concertId: 1, opensAt: T0 - 1 });
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 1 })).ok).toBe(true);
    await h.ask({ type: "window", concertId: 1, opensAt: T0 - 1, closesAt: T0 });
    expect(await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 2 })).toEqual({ ok: false, code: "sale_closed" });
  });

  test("a concert's queue admits to its own events only; the global queue to every one", async () => {
    const h = harness();
    expect(await h.ask({ type: "occupy", admittedTo: 2, userId: 1, seatId: 1 })).toEqual({ ok: false, code: "invalid_token" });
    expect(await h.ask({ type: "release", admittedTo: 2, userId: 1, seatId: 1 })).toEqual({ ok: false, code: "invalid_token" });
    expect((await h.ask({ type: "occupy", admittedTo: 1, userId: 1, seatId: 1 })).ok).toBe(true);
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 2 })).ok).toBe(true);
  });

  test("a hold given back early frees the seat at once and counts no more against the limit", async () => {
    const h = harness(undefined, { maxSeatsPerUser: 1 });
    await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 3 });
    expect(await h.ask({ type: "release", admittedTo: 0, userId: 2, seatId: 3 })).toEqual({ ok: false, code: "seat_not_held" });
    expect(await h.ask({ type: "release", admittedTo: 0, userId: 1, seatId: 4 })).toEqual({ ok: false, code: "seat_not_held" });
    expect(await h.ask({ type: "release", admittedTo: 0, userId: 1, seatId: 99 })).toEqual({ ok: false, code: "seat_not_held" });
    expect(await h.ask({ type: "release", admittedTo: 0, userId: 1, seatId: 3 })).toEqual({ ok: true, data: { id: 3, seatNumber: "3", status: "AVAILABLE" } });
    expect(h.batches.at(-1)).toEqual([{ type: "released", seatId: 3, userId: 1, reason: "released" }]);
    expect(await h.ask({ type: "release", admittedTo: 0, userId: 1, seatId: 3 })).toEqual({ ok: false, code: "seat_not_held" });
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 2, seatId: 3 })).ok).toBe(true);
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId: 4 })).ok).toBe(true);
  });

  test("a paid reservation is refunded until the cutoff before the event, once; from the cutoff on it is refused", async () => {
    const h = harness();
    h.balances.set(1, 200_000);
    const buy = async (seatId: number) => {
      await h.ask({ type: "occupy", admittedTo: 0, userId: 1, seatId });
      const reserved = await h.ask<{ id: number }>({ type: "reserve", admittedTo: 0, userId: 1, seatIds: [seatId] });
      const id = reserved.ok ? reserved.data.id : -1;
      const paid = await h.ask<{ id: number }>({ type: "pay", userId: 1, reservationId: id });
      return { id, paymentId: paid.ok ? paid.data.id : -1 };
    };
    const first = await buy(1);
    const second = await buy(2);
    const refunded = await h.ask({ type: "cancel", userId: 1, reservationId: first.id });
    expect(refunded).toMatchObject({ ok: true, data: { id: first.id, status: "REFUNDED" } });
    expect(h.batches.at(-1)).toEqual([
      { type: "refunded", reservationId: first.id, paymentId: first.paymentId, userId: 1, amount: 50_000, seatIds: [1], at: T0 },
    ]);
    const before = h.batches.length;
    expect(await h.ask({ type: "cancel", userId: 1, reservationId: first.id })).toEqual(refunded);
    expect(h.batches.length).toBe(before);
    expect(await h.ask({ type: "cancel", userId: 2, reservationId: first.id })).toEqual({ ok: false, code: "not_found_reservation" });
    // The seat is on sale again, and the refunded reservation cannot be paid again.
    expect((await h.ask({ type: "occupy", admittedTo: 0, userId: 3, seatId: 1 })).ok).toBe(true);
    expect(await h.ask({ type: "pay", userId: 1, reservationId: first.id })).toEqual({ ok: false, code: "reservation_expired" });
    // The cutoff is one day before the event, which starts 30 days after T0.
    const third = await buy(3);
    h.clock.set(SALE.startsAt - DAY - 1);
    expect(await h.ask({ type: "cancel", userId: 1, reservationId: second.id })).toMatchObject({ ok: true, data: { status: "REFUNDED" } });
    h.clock.set(SALE.startsAt - DAY);
    expect(await h.ask({ type: "cancel", userId: 1, reservationId: third.id })).toEqual({ ok: false, code: "refund_period_over" });
  });
});
