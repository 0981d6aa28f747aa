// The seat map every instance keeps of an event must say what the event's actor has committed: random holds, releases,
// reservations, payments, refunds and lapses are run through the real machine (SimulatedClock); every committed batch
// feeds a SeatMap through seatMapChangesOf, and after each step the map's seats on sale are exactly the actor's.
import { describe, expect, test } from "bun:test";
import { createActor, fromPromise, SimulatedClock } from "xstate";
import { concertEventMachine, type CommitInput, type EventRequest } from "../../actors/concert-event";
import { SeatMap, seatMapChangesOf, seatMapCodec, seatMapStateOf } from "../../actors/seat-map";
import type { EventOp, InventorySnapshot, OpResult, Seat } from "../../actors/seat-inventory";
import type { Reply } from "../../src/shared/codec";

const T0 = 1_700_000_000_000;
const TTL = 60_000;
const DAY = 86_400_000;
const SECTIONS = [
  { name: "VIP", price: 200_000 },
  { name: "R", price: 150_000 },
  { name: "S", price: 100_000 },
];

function hall(perSection: number): InventorySnapshot {
  const seats: Seat[] = [];
  SECTIONS.forEach((section, index) => {
    for (let n = 1; n <= perSection; n++) {
      seats.push({ id: seats.length + 1, seatNumber: `${section.name}-${n}`, price: section.price, section: index, status: "AVAILABLE" });
    }
  });
  return { sale: { concertId: 1, startsAt: T0 + 30 * DAY, opensAt: 0 }, sections: SECTIONS, seats, reservations: [] };
}

function random(seed: number) {
  let state = seed >>> 0 || 1;
  return (bound: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % bound;
  };
}

/** The real actor over a fake database that funds every payment but one in five; its commits feed a seat map. */
function run(snapshot: InventorySnapshot) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const map = new SeatMap(seatMapStateOf(snapshot));
  let ids = 100;
  const machine = concertEventMachine.provide({
    actors: {
      load: fromPromise<InventorySnapshot | null, { key: number }>(async () => snapshot),
      commit: fromPromise(async ({ input }: { input: CommitInput }) => {
        const results: OpResult[] = input.ops.map((op: EventOp) => {
          if (op.type === "reserved") return { reservationId: ids++ };
          if (op.type === "paid") return op.userId % 5 === 0 ? { rejected: "insufficient_balance" } : { paymentId: ids++ };
          return null;
        });
        for (const change of seatMapChangesOf(input.ops)) map.apply(change);
        return results;
      }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { key: 1, idleMs: 86_400_000, holdTtlMs: TTL, maxSeatsPerUser: 4, refundCutoffMs: DAY, now: () => clock.now() },
  }).start();
  const ask = (command: EventRequest) => new Promise<Reply<any>>((resolve) => actor.send({ ...command, replyTo: resolve } as never));
  const settle = () => new Promise((r) => setTimeout(r, 0));
  /** The seats on sale as the actor has them (its model is the only one that knows). */
  const truth = () => {
    const inventory = actor.getSnapshot().context.model!;
    return snapshot.seats.map((s) => s.id).filter((id) => (inventory as unknown as { seats: Map<number, Seat> }).seats.get(id)!.status === "AVAILABLE");
  };
  return { clock, map, ask, settle, truth };
}

describe("an event's seat map follows what its actor committed", () => {
  test("over random holds, releases, reservations, payments, refunds and lapses, its seats on sale are the actor's", async () => {
    for (const seed of [1, 2, 3]) {
      const rnd = random(seed);
      const snapshot = hall(8);
      const h = run(snapshot);
      await h.settle();
      const reservations: { id: number; userId: number }[] = [];
      /** What each user was last told it holds (a hold may have lapsed since). */
      const holding = new Map<number, Set<number>>();
      const counts: Record<string, number> = {};
      for (let step = 0; step < 300; step++) {
        const userId = 1 + rnd(12);
        const seatId = 1 + rnd(snapshot.seats.length);
        const held = holding.get(userId) ?? new Set<number>();
        holding.set(userId, held);
        const roll = rnd(100);
        if (roll < 45) {
          if ((await h.ask({ type: "occupy", admittedTo: 0, userId, seatId })).ok) held.add(seatId);
        } else if (roll < 52 && held.size > 0) {
          const [first] = held;
          held.delete(first!);
          await h.ask({ type: "release", admittedTo: 0, userId, seatId: first! });
        } else if (roll < 70 && held.size > 0) {
          const reply = await h.ask({ type: "reserve", admittedTo: 0, userId, seatIds: [...held] });
          held.clear();
          if (reply.ok) reservations.push({ id: reply.data.id, userId });
        } else if (roll < 82 && reservations.length > 0) {
          const r = reservations[rnd(reservations.length)]!;
          const reply = await h.ask({ type: "pay", userId: r.userId, reservationId: r.id });
          counts[reply.ok ? "paid" : reply.code] = (counts[reply.ok ? "paid" : reply.code] ?? 0) + 1;
        } else if (roll < 88 && reservations.length > 0) {
          const r = reservations[rnd(reservations.length)]!;
          const reply = await h.ask({ type: "cancel", userId: r.userId, reservationId: r.id });
          if (reply.ok) counts[reply.data.status] = (counts[reply.data.status] ?? 0) + 1;
        } else {
          h.clock.increment(rnd(TTL / 2));
          await h.settle();
        }
        await h.settle();
        expect(h.map.availableIds()).toEqual(h.truth());
      }
      // The walk went through every kind of change.
      expect(reservations.length).toBeGreaterThan(10);
      expect(counts.paid).toBeGreaterThan(0);
      expect(counts.REFUNDED).toBeGreaterThan(0);
      expect(counts.CANCELLED).toBeGreaterThan(0);
    }
  });

  test("sections count their seats on sale, and a section's list is only its seats", () => {
    const snapshot = hall(3);
    const map = new SeatMap(seatMapStateOf(snapshot));
    map.apply({ type: "seats", taken: [1, 4, 5], freed: [] });
    expect(map.sectionList()).toEqual([
      { name: "VIP", price: 200_000, seats: 3, available: 2 },
      { name: "R", price: 150_000, seats: 3, available: 1 },
      { name: "S", price: 100_000, seats: 3, available: 3 },
    ]);
    expect(JSON.parse(map.availableJson(map.sectionIndex("R")))).toEqual([{ id: 6, seatNumber: "R-3", price: 150_000 }]);
    expect(JSON.parse(map.availableJson()).map((s: { id: number }) => s.id)).toEqual([2, 3, 6, 7, 8, 9]);
    expect(map.sectionIndex("VVIP")).toBe(-1);
    map.apply({ type: "seats", taken: [], freed: [4] });
    expect(map.sectionList()[1]!.available).toBe(2);
    // A seat freed twice, or taken while taken, counts once.
    map.apply({ type: "seats", taken: [1], freed: [4] });
    expect(map.sectionList().map((s) => s.available)).toEqual([2, 2, 3]);
  });

  test("a copy rebuilt from pages tells its listeners what it differs by from the copy it replaces", () => {
    const old = new SeatMap(seatMapStateOf(hall(4)));
    old.apply({ type: "seats", taken: [1, 2], freed: [] });
    const rebuilt = new SeatMap(seatMapStateOf(hall(4)));
    rebuilt.apply({ type: "seats", taken: [2, 5, 7], freed: [] });
    const missed = seatMapCodec.diff!(old, rebuilt);
    expect(missed).toEqual([{ type: "seats", taken: [5, 7], freed: [1] }]);
    for (const change of missed) old.apply(change);
    expect(old.availableIds()).toEqual(rebuilt.availableIds());
    expect(seatMapCodec.diff!(rebuilt, rebuilt)).toEqual([]);
  });

  test("a commit's changes name each seat once, by its last state", () => {
    const ops: EventOp[] = [
      { type: "held", seatId: 1, userId: 1, expiresAt: 5 },
      { type: "released", seatId: 1, userId: 1, reason: "released" },
      { type: "held", seatId: 2, userId: 1, expiresAt: 5 },
      { type: "reservationEnded", reservationId: 9, userId: 2, seatIds: [3, 4], status: "EXPIRED" },
      { type: "held", seatId: 3, userId: 3, expiresAt: 5 },
      { type: "paid", reservationId: 8, userId: 2, concertId: 1, amount: 1, seatIds: [7], paidAt: 1 },
    ];
    expect(seatMapChangesOf(ops)).toEqual([{ type: "seats", taken: [2, 3], freed: [1, 4] }]);
    expect(seatMapChangesOf([{ type: "paid", reservationId: 8, userId: 2, concertId: 1, amount: 1, seatIds: [7], paidAt: 1 }])).toEqual([]);
  });

  test("a copy built from pages answers alike, and a window change moves its gate", () => {
    const map = new SeatMap(seatMapStateOf({ ...hall(700), sale: { concertId: 4, startsAt: T0 + DAY, opensAt: T0, closesAt: T0 + 1000 } }));
    map.apply({ type: "seats", taken: [5, 900, 2100], freed: [] });
    const { state, rest } = seatMapCodec.cut(map, 500);
    expect(rest.length).toBe(4);
    const copy = seatMapCodec.build(JSON.parse(JSON.stringify(state)));
    for (const page of rest) seatMapCodec.absorb(copy, JSON.parse(JSON.stringify(page)));
    expect(copy.availableIds()).toEqual(map.availableIds());
    expect(copy.sectionList()).toEqual(map.sectionList());
    expect(copy.refusal(4, T0 - 1)).toBe("sale_not_open");
    expect(copy.refusal(5, T0)).toBe("invalid_token");
    expect(copy.refusal(0, T0)).toBeUndefined();
    copy.apply({ type: "window", opensAt: T0 - 10, closesAt: T0 - 5 });
    expect(copy.refusal(4, T0)).toBe("sale_closed");
  });
});
