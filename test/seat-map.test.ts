// The live seat map from two instances: each keeps a copy of every event's seat map and serves the stream, the seat
// list and the sections from it. After a random run of holds, releases, reservations, payments, cancellations and
// lapsed holds through either instance, every stream's snapshot plus its changes equals a fresh `available-seats`
// from either instance, and the sections' counts agree. The stream keeps to its contract (versions increase, at most a
// message every 250 ms) and ends when the token that opened it stops being ACTIVE; errors come as JSON before it.
import { afterAll, describe, expect, test } from "bun:test";
import { preferredOwner } from "../src/cluster/ownership";
import { eventEntity } from "../src/cluster/ownership-store";
import { postgresAvailable } from "./support/databases";
import { instanceNames, instances, sharedBackends, type Instance } from "./support/instances";
import { UserClient } from "./support/service";

function random(seed: number) {
  let state = seed;
  return (bound: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % bound;
  };
}

interface Watched {
  events: { name: string; data: any; at: number }[];
  /** The seats on sale as the stream tells it: the snapshot, with every change applied in order. */
  available: Set<number>;
  ended: Promise<void>;
}

/** Opens a seat map stream and follows it. */
async function watch(base: string, eventId: number, token: string): Promise<Watched> {
  const response = await fetch(`${base}/api/v1/concert-events/${eventId}/seats/stream?token=${encodeURIComponent(token)}`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  const watched: Watched = { events: [], available: new Set(), ended: Promise.resolve() };
  watched.ended = (async () => {
    const decoder = new TextDecoder();
    let text = "";
    // The instances are killed at the end with their streams open: a cut stream just ends here.
    for await (const chunk of (response.body as AsyncIterable<Uint8Array>)) {
      text += decoder.decode(chunk);
      for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const name = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!name || data === undefined) continue;
        const parsed = JSON.parse(data);
        watched.events.push({ name, data: parsed, at: performance.now() });
        if (name === "snapshot") watched.available = new Set(parsed.available);
        if (name === "changes") {
          for (const id of parsed.taken) watched.available.delete(id);
          for (const id of parsed.freed) watched.available.add(id);
        }
      }
    }
  })().catch(() => {});
  return watched;
}

describe.skipIf(!(await postgresAvailable()))("the live seat map on every instance", () => {
  const cleanup: (() => unknown)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  test("snapshot plus changes equals a fresh seat list from either instance, after a random run", async () => {
    const backends = await sharedBackends(cleanup);
    // Event 10 (the first an operator adds after the demo's nine) is owned by the first instance: the second follows it.
    const ids = instanceNames(2, (ids) => preferredOwner(eventEntity(10), ids) === ids[0]);
    const env = { DATABASE_URL: backends.url, NATS_URL: backends.natsUrl, SEAT_HOLD_TTL_SECONDS: "2", RATE_LIMIT_OCCUPY_PER_SECOND: "0", QUEUE_MAX_ACTIVE: "100" };
    const all = await instances(ids, env, cleanup);
    await Promise.all(all.map((i) => i.launch()));
    const [owner, other] = all as [Instance, Instance];

    const admin = new UserClient(owner.base, 1, true);
    const concert = (await admin.call("POST", "/api/v1/admin/concerts", { title: "좌석 배치도", venue: "KSPO DOME", saleOpensAt: new Date(Date.now() - 1000).toISOString() })).body.data;
    const created = await admin.call("POST", `/api/v1/admin/concerts/${concert.id}/events`, {
      startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      sections: [
        { name: "VIP", price: 200_000, seats: 10 },
        { name: "R", price: 150_000, seats: 15 },
        { name: "S", price: 100_000, seats: 15 },
      ],
    });
    const eventId: number = created.body.data.id;
    expect(eventId).toBe(10);
    const seats = `/api/v1/concert-events/${eventId}`;

    // Buyers on both instances, each in the concert's queue; a watcher on each instance.
    const buyers = Array.from({ length: 10 }, (_, i) => new UserClient(all[i % 2]!.base, 100 + i));
    for (const buyer of buyers) {
      expect((await buyer.enterQueue(concert.id)).body.data.status).toBe("ACTIVE");
      await buyer.call("PATCH", `/api/v1/users/${buyer.userId}/wallet/charge`, { amount: 2_000_000 });
    }
    const watchers = [new UserClient(owner.base, 900), new UserClient(other.base, 901)];
    for (const w of watchers) await w.enterQueue(concert.id);
    const streams = await Promise.all(watchers.map((w) => watch(w.base, eventId, w.queueToken!)));

    // The sections, from either instance, as the operator gave them.
    for (const instance of all) {
      watchers[0]!.base = instance.base;
      const sections = await watchers[0]!.call("GET", `${seats}/sections`);
      expect(sections.body.list).toEqual([
        { name: "VIP", price: 200_000, seats: 10, available: 10 },
        { name: "R", price: 150_000, seats: 15, available: 15 },
        { name: "S", price: 100_000, seats: 15, available: 15 },
      ]);
    }

    const hall = (await watchers[0]!.call("GET", `${seats}/available-seats`)).body.list.map((s: { id: number }) => s.id) as number[];
    expect(hall.length).toBe(40);
    const rnd = random(7);
    const held = new Map<UserClient, number[]>();
    const done: Record<string, number> = {};
    const did = (what: string, status: number) => status === 200 && (done[what] = (done[what] ?? 0) + 1);
    const reservations: { buyer: UserClient; id: number }[] = [];
    for (let step = 0; step < 200; step++) {
      const buyer = buyers[rnd(buyers.length)]!;
      buyer.base = all[rnd(2)]!.base;
      const mine = held.get(buyer) ?? [];
      held.set(buyer, mine);
      const roll = rnd(100);
      if (roll < 45) {
        const seatId = hall[rnd(hall.length)]!;
        const occupied = await buyer.call("POST", `${seats}/occupy`, { seatId });
        if (did("held", occupied.status)) mine.push(seatId);
      } else if (roll < 55 && mine.length > 0) {
        did("released", (await buyer.call("DELETE", `${seats}/holds/${mine.pop()}`)).status);
      } else if (roll < 72 && mine.length > 0) {
        const reserved = await buyer.call("POST", `${seats}/reserve`, { seatIds: mine.splice(0) });
        if (did("reserved", reserved.status)) reservations.push({ buyer, id: reserved.body.data.id });
      } else if (roll < 84 && reservations.length > 0) {
        const r = reservations.splice(rnd(reservations.length), 1)[0]!;
        if (rnd(3) === 0) did("cancelled", (await r.buyer.call("DELETE", `/api/v1/reservations/${r.id}`)).status);
        else did("paid", (await r.buyer.call("POST", "/api/v1/payments", { reservationId: r.id })).status);
        // Paying ended the buyer's turn: a new one, to keep buying.
        if ((await r.buyer.enterQueue(concert.id)).status !== 200) throw new Error("could not enter again");
      } else if (roll >= 95) {
        // Holds lapse after 2 s.
        await Bun.sleep(2100);
        done.lapsed = (done.lapsed ?? 0) + [...held.values()].reduce((n, seats) => n + seats.length, 0);
        held.clear();
      }
    }
    // The run went through every kind of change.
    const kinds = ["held", "released", "reserved", "cancelled", "paid", "lapsed"];
    expect(Object.fromEntries(kinds.map((what) => [what, (done[what] ?? 0) > 0]))).toEqual(Object.fromEntries(kinds.map((what) => [what, true])));
    await Bun.sleep(2500);

    // Every stream, on either instance, says what a fresh list says, on either instance; and the sections agree.
    await Bun.sleep(600);
    const fresh: number[][] = [];
    for (const instance of all) {
      watchers[0]!.base = instance.base;
      const list = await watchers[0]!.call("GET", `${seats}/available-seats`);
      fresh.push(list.body.list.map((s: { id: number }) => s.id));
      const sections = (await watchers[0]!.call("GET", `${seats}/sections`)).body.list as { name: string; available: number }[];
      expect(sections.reduce((n, s) => n + s.available, 0)).toBe(list.body.list.length);
      for (const section of sections) {
        const only = await watchers[0]!.call("GET", `${seats}/available-seats?section=${section.name}`);
        expect(only.body.list.length).toBe(section.available);
        expect(only.body.list.every((s: { seatNumber: string }) => s.seatNumber.startsWith(`${section.name}-`))).toBe(true);
      }
    }
    expect(fresh[0]).toEqual(fresh[1]);
    expect(fresh[0]!.length).toBeLessThan(40);
    for (const stream of streams) {
      expect([...stream.available].sort((a, b) => a - b)).toEqual(fresh[0]!);
      const [first, ...changes] = stream.events;
      expect(first!.name).toBe("snapshot");
      expect(changes.length).toBeGreaterThan(5);
      let last = first!;
      for (const change of changes) {
        expect(change.name).toBe("changes");
        expect(change.data.version).toBeGreaterThan(last.data.version);
        last = change;
      }
      // At most one message per 250 ms (counted over the stream's life: arrival times jitter on a busy machine).
      expect(changes.length).toBeLessThanOrEqual(Math.ceil((last.at - first!.at) / 250) + 1);
    }

    // Errors come as JSON, before any stream.
    const probe = await fetch(`${other.base}${seats}/seats/stream?token=nope`);
    expect([probe.status, ((await probe.json()) as any).error.code]).toEqual([400, "invalid_token"]);
    const unknown = await fetch(`${other.base}/api/v1/concert-events/999/seats/stream?token=${encodeURIComponent(watchers[1]!.queueToken!)}`);
    expect([unknown.status, ((await unknown.json()) as any).error.code]).toEqual([404, "not_found_concert_event"]);
    const section = await watchers[1]!.call("GET", `${seats}/available-seats?section=VVIP`);
    expect([section.status, section.body.error.code]).toEqual([400, "invalid_request"]);

    // A watcher whose turn ends (it leaves the queue) is told so, and its stream ends.
    await watchers[1]!.call("DELETE", "/api/v1/queue/tokens");
    await streams[1]!.ended;
    expect(streams[1]!.events.at(-1)).toMatchObject({ name: "error", data: { code: "invalid_token" } });
  }, 120_000);
});
