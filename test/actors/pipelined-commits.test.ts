// Pipelined commits (maxCommitsInFlight: 2), driven with SimulatedClock and a scripted commit adapter whose
// transactions land (or fail) when the test says: the next group goes to the database while the previous one is in
// flight, yet no reply leaves before its own change and every earlier one has committed, and a failure fails every
// group from it on and reloads only once nothing is in flight any more.
import { describe, expect, test } from "bun:test";
import { createActor, fromPromise, SimulatedClock } from "xstate";
import { concertEventMachine, type CommitInput, type EventCommand, type EventRequest } from "../../actors/concert-event";
import { pipelined } from "../../actors/durable-entity";
import type { InventorySnapshot, OpResult, SaleFacts, Seat } from "../../actors/seat-inventory";
import type { Reply } from "../../src/shared/codec";

const TTL = 300_000;
const T0 = 1_700_000_000_000;
const DAY = 86_400_000;
/** An event of concert 1, a month away, on sale since long ago. */
const SALE: SaleFacts = { concertId: 1, startsAt: T0 + 30 * DAY, opensAt: 0 };
/** One section for the whole hall, as events loaded without sections have. */
const HALL = [{ name: "전체", price: 50_000 }];

function seats(n: number): Seat[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, seatNumber: String(i + 1), price: 50_000, section: 0, status: "AVAILABLE" as const }));
}

interface Transaction {
  input: CommitInput;
  state: "pending" | "committed" | "failed";
  commit(): void;
  fail(code?: string): void;
}

/** The actor with a commit adapter that holds every transaction until the test commits or fails it. */
function harness(snapshot: InventorySnapshot = { sale: SALE, sections: HALL, seats: seats(20), reservations: [] }) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const transactions: Transaction[] = [];
  /** What happened, in order: `commit n` when transaction n landed, `reply <tag>` when a reply left. */
  const log: string[] = [];
  let loads = 0;
  let current: InventorySnapshot | null = snapshot;
  const machine = concertEventMachine.provide({
    actors: {
      load: fromPromise(async () => {
        loads++;
        return current;
      }),
      commit: fromPromise(({ input }: { input: CommitInput }) => {
        const n = transactions.length + 1;
        return new Promise<OpResult[]>((resolve, reject) => {
          const tx: Transaction = {
            input,
            state: "pending",
            commit() {
              tx.state = "committed";
              log.push(`commit ${n}`);
              resolve(input.ops.map(() => null));
            },
            fail(code = "service_unavailable") {
              tx.state = "failed";
              log.push(`fail ${n}`);
              reject(Object.assign(new Error("commit failed"), { code }));
            },
          };
          transactions.push(tx);
        });
      }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { key: 7, holdTtlMs: TTL, maxSeatsPerUser: 4, refundCutoffMs: DAY, idleMs: 3_600_000, now: () => clock.now(), maxCommitsInFlight: 2 },
  }).start();
  const replies = new Map<string, Reply<any>>();
  /** Sends a command tagged for the log; its reply is recorded under the tag. */
  const send = (tag: string, command: EventRequest) =>
    actor.send({
      ...command,
      replyTo: (reply: Reply<unknown>) => {
        log.push(`reply ${tag}`);
        replies.set(tag, reply);
      },
    } as EventCommand);
  const settle = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0));
  };
  return {
    actor,
    transactions,
    log,
    replies,
    send,
    settle,
    get loads() {
      return loads;
    },
    setSnapshot(s: InventorySnapshot) {
      current = s;
    },
  };
}

describe("pipelined commits", () => {
  test("the next group is committed while the previous one is in flight, marked to follow it; a third waits", async () => {
    const h = harness();
    await h.settle();
    h.send("a", { type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    await h.settle();
    h.send("b", { type: "occupy", admittedTo: 0, userId: 2, seatId: 2 });
    await h.settle();
    expect(h.transactions.map((t) => [t.input.ops.length, t.input.after])).toEqual([
      [1, false],
      [1, true],
    ]);
    h.send("c", { type: "occupy", admittedTo: 0, userId: 3, seatId: 3 });
    await h.settle();
    expect(h.transactions.length).toBe(2);
    h.transactions[0]!.commit();
    await h.settle();
    // The first has landed: the third group goes out behind the second, which is still in flight.
    expect(h.transactions.map((t) => t.input.after)).toEqual([false, true, true]);
    expect(h.log).toEqual(["commit 1", "reply a"]);
  });

  test("the second group's replies wait for the first, even when the second lands first", async () => {
    const h = harness();
    await h.settle();
    h.send("a", { type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    await h.settle();
    h.send("b", { type: "occupy", admittedTo: 0, userId: 2, seatId: 2 });
    h.send("read", { type: "warm" });
    await h.settle();
    h.transactions[1]!.commit();
    await h.settle();
    expect(h.replies.size).toBe(0);
    h.transactions[0]!.commit();
    await h.settle();
    expect(h.log).toEqual(["commit 2", "commit 1", "reply a", "reply b", "reply read"]);
    expect(h.replies.get("b")?.ok).toBe(true);
  });

  test("no reply leaves before its own change and every earlier one has committed", async () => {
    const h = harness({ sale: SALE, sections: HALL, seats: seats(40), reservations: [] });
    await h.settle();
    /** Which transaction carried each tagged command. */
    const carriedBy = new Map<string, number>();
    let user = 0;
    const burst = async (size: number) => {
      for (let i = 0; i < size; i++) {
        user++;
        h.send(`u${user}`, { type: "occupy", admittedTo: 0, userId: user, seatId: user });
      }
      await h.settle();
      h.transactions.forEach((t, i) => t.input.ops.forEach((op) => "userId" in op && carriedBy.set(`u${op.userId}`, carriedBy.get(`u${op.userId}`) ?? i + 1)));
    };
    // Transactions land in a scripted order that is not the order they were started in.
    await burst(3);
    await burst(2);
    h.transactions[1]!.commit();
    await burst(4);
    h.transactions[0]!.commit();
    await burst(1);
    h.transactions[2]!.commit();
    await burst(2);
    for (const t of h.transactions) if (t.state === "pending") t.commit();
    await h.settle();
    for (const t of h.transactions) if (t.state === "pending") t.commit();
    await h.settle();
    expect(h.replies.size).toBe(user);
    for (const [at, entry] of h.log.entries()) {
      if (!entry.startsWith("reply ")) continue;
      const mine = carriedBy.get(entry.slice(6))!;
      const landed = new Set(h.log.slice(0, at).filter((e) => e.startsWith("commit ")).map((e) => Number(e.slice(7))));
      for (let n = 1; n <= mine; n++) expect(landed.has(n)).toBe(true);
    }
  });

  test("a failure of the first group fails both groups, and the reload waits until the second has landed", async () => {
    const h = harness();
    await h.settle();
    h.send("a", { type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    await h.settle();
    h.send("b", { type: "occupy", admittedTo: 0, userId: 2, seatId: 2 });
    await h.settle();
    // What the database holds after the first failed and the second, which needed it, was refused.
    h.setSnapshot({ sale: SALE, sections: HALL, seats: seats(20).map((s) => (s.id === 5 ? { ...s, status: "SOLD", userId: 9, reservationKey: "db1" } : s)), reservations: [] });
    h.transactions[0]!.fail();
    await h.settle();
    expect(h.loads).toBe(1);
    // A command arriving meanwhile waits for the reload rather than meeting memory about to be thrown away.
    h.send("c", { type: "occupy", admittedTo: 0, userId: 3, seatId: 5 });
    await h.settle();
    expect(h.replies.has("c")).toBe(false);
    h.transactions[1]!.fail();
    await h.settle();
    expect(h.loads).toBe(2);
    expect(h.replies.get("a")).toEqual({ ok: false, code: "service_unavailable" });
    expect(h.replies.get("b")).toEqual({ ok: false, code: "service_unavailable" });
    expect(h.replies.get("c")).toEqual({ ok: false, code: "seat_unavailable" });
    // Memory is the database's again: seat 1 and seat 2 are free.
    h.send("d", { type: "occupy", admittedTo: 0, userId: 4, seatId: 1 });
    await h.settle();
    h.transactions.at(-1)!.commit();
    await h.settle();
    expect(h.replies.get("d")?.ok).toBe(true);
  });

  test("a failure of the second group keeps the first group's replies, which committed", async () => {
    const h = harness();
    await h.settle();
    h.send("a", { type: "occupy", admittedTo: 0, userId: 1, seatId: 1 });
    await h.settle();
    h.send("b", { type: "occupy", admittedTo: 0, userId: 2, seatId: 2 });
    await h.settle();
    h.transactions[1]!.fail();
    await h.settle();
    expect(h.replies.size).toBe(0);
    h.transactions[0]!.commit();
    await h.settle();
    expect(h.replies.get("a")?.ok).toBe(true);
    expect(h.replies.get("b")).toEqual({ ok: false, code: "service_unavailable" });
    expect(h.loads).toBe(2);
  });
});

describe("the host's pipelined commit", () => {
  const deferred = () => {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    return { promise, resolve, reject };
  };

  test("a commit marked after starts only once the one before it has committed", async () => {
    const started: number[] = [];
    const gates = [deferred(), deferred()];
    const commit = pipelined(async (input: { after: boolean; n: number }) => {
      started.push(input.n);
      await gates[input.n - 1]!.promise;
      return input.n;
    });
    const first = commit({ after: false, n: 1 });
    const second = commit({ after: true, n: 2 });
    await Bun.sleep(1);
    expect(started).toEqual([1]);
    gates[0]!.resolve();
    await first;
    await Bun.sleep(1);
    expect(started).toEqual([1, 2]);
    gates[1]!.resolve();
    expect(await second).toBe(2);
  });

  test("a commit marked after never starts when the one before it failed, and fails with its error", async () => {
    const started: number[] = [];
    const commit = pipelined(async (input: { after: boolean; n: number }) => {
      started.push(input.n);
      if (input.n === 1) throw new Error("first failed");
      return input.n;
    });
    const first = commit({ after: false, n: 1 }).catch((e: Error) => e.message);
    const second = commit({ after: true, n: 2 }).catch((e: Error) => e.message);
    expect(await first).toBe("first failed");
    expect(await second).toBe("first failed");
    expect(started).toEqual([1]);
    // A commit not marked after (the next one after the reload) runs whatever came before.
    expect(await commit({ after: false, n: 3 })).toBe(3);
  });
});
