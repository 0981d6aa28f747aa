// The crowd of a stadium opening, as one load-generator process (bench/stadium.ts runs several): users F..F+N-1 enter a
// concert's pre-queue, 128 entries at a time across the crowd, and wait. The crowd is sampled as a real one behaves:
// the first --streams users keep a pushed status stream open, the next --pollers poll every second, and the rest wait
// without a connection, checking back now and then (first at a random moment in the minute after the opening, then
// after a third of the wait they were told, between 1 and 60 s). Whoever is admitted buys: picks an event with seats
// left and a section of it, watches the event's live seat map, holds 1–4 seats of the section that are free, reserves
// and pays. A buyer who finds nothing left leaves the queue.
//
// It talks to bench/stadium.ts by lines: it reads JSON commands on stdin ({"opensAt": ms}, {"buy": true}) and writes
// JSON lines to stdout ({"entered": …} once everyone is in, {"report": …} on SIGTERM or when every user is done).
import { parseArgs } from "node:util";
import type { Socket } from "bun";
import { signUserToken } from "../src/http/auth";
import { KeepAliveClient } from "./keep-alive-client";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    secret: { type: "string" },
    concert: { type: "string" },
    events: { type: "string", default: "" },
    "first-user": { type: "string" },
    users: { type: "string" },
    streams: { type: "string", default: "0" },
    pollers: { type: "string", default: "0" },
    /** Entries in flight at once from this process. */
    connections: { type: "string", default: "32" },
    /** Enter, report, exit: for measuring the entry path alone (against the echo ceiling, say). */
    "enter-only": { type: "boolean", default: false },
  },
});

const base = new URL(values.base!);
const concertId = Number(values.concert);
const firstUser = Number(values["first-user"]);
const userCount = Number(values.users);
const streamUsers = Number(values.streams);
const pollUsers = Number(values.pollers);
const ACTIVE_TTL_MS = Number(process.env.QUEUE_ACTIVE_TTL_SECONDS ?? 600) * 1000;

type Histogram = Record<string, number>;
const bucket = (ms: number) => (ms < 10 ? Math.ceil(ms * 10) / 10 : ms < 100 ? Math.ceil(ms) : Math.ceil(ms / 10) * 10);
const latencies: Record<string, Histogram> = {};
function record(step: string, ms: number): void {
  const histogram = (latencies[step] ??= {});
  const key = String(bucket(ms));
  histogram[key] = (histogram[key] ?? 0) + 1;
}
const counts: Record<string, number> = {};
const count = (name: string, n = 1) => void (counts[name] = (counts[name] ?? 0) + n);
/** Per second (epoch s): tickets sold, admissions heard of. */
const ticketsAt: Record<string, number> = {};
const admittedAt: Record<string, number> = {};
const tally = (series: Record<string, number>, n: number) => {
  const second = String(Math.floor(Date.now() / 1000));
  series[second] = (series[second] ?? 0) + n;
};

interface User {
  id: number;
  bearer: string;
  token?: string;
  waiting: "stream" | "poll" | "idle";
}

const users: User[] = [];
for (let i = 0; i < userCount; i++) {
  const id = firstUser + i;
  users.push({ id, bearer: `Bearer ${await signUserToken(id, values.secret!, 7200)}`, waiting: i < streamUsers ? "stream" : i < streamUsers + pollUsers ? "poll" : "idle" });
}

let opensAt = Infinity;
let buying = false;
let stopping = false;
let openingKnown: () => void;
const openingAnnounced = new Promise<void>((resolve) => (openingKnown = resolve));
let buyingAllowed: () => void;
const buyingStarted = new Promise<void>((resolve) => (buyingAllowed = resolve));

// ---- requests ---------------------------------------------------------------------------------------------------

/** A 503 says "again in a second" (Retry-After: 1): a client does as told, a few times, before it gives up. */
const RETRIES_ON_503 = 4;

async function timed(step: string, client: KeepAliveClient, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  for (let attempt = 0; ; attempt++) {
    const started = performance.now();
    const reply = await client.request(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
    record(step, performance.now() - started);
    if (reply.status >= 500) count(`${step}_${reply.status}`);
    if (reply.status === 503 && attempt < RETRIES_ON_503 && !stopping) {
      await Bun.sleep(1000);
      continue;
    }
    return { status: reply.status, body: reply.body ? JSON.parse(reply.body) : undefined };
  }
}

/**
 * Keep-alive connections shared by users who poll: a poll waits for a free one, so a poll queued here is a turn its
 * user hears of late, and holds meanwhile. The users polling every second (a browser tab each) have a pool of their
 * own, so the crowd that checks back now and then cannot queue ahead of them.
 */
class Pool {
  private readonly idle: KeepAliveClient[];
  private readonly queued: ((client: KeepAliveClient) => void)[] = [];

  constructor(size: number) {
    this.idle = Array.from({ length: size }, () => new KeepAliveClient(base));
  }

  async use<T>(work: (client: KeepAliveClient) => Promise<T>): Promise<T> {
    const client = this.idle.pop() ?? (await new Promise<KeepAliveClient>((resolve) => this.queued.push(resolve)));
    try {
      return await work(client);
    } catch (error) {
      client.close();
      throw error;
    } finally {
      const next = this.queued.shift();
      if (next) next(client);
      else this.idle.push(client);
    }
  }
}
const pollersPool = new Pool(64);
const checkersPool = new Pool(128);

// ---- waiting ----------------------------------------------------------------------------------------------------

type Status = { queuePosition: number; estimatedWaitingTime: number; status: "WAITING" | "ACTIVE"; expiresAt?: string };

async function poll(user: User): Promise<Status | undefined> {
  const pool = user.waiting === "poll" ? pollersPool : checkersPool;
  const reply = await pool.use((client) => timed("status", client, "GET", "/api/v1/queue/status", { authorization: user.bearer, "user-token": user.token! }));
  count("polls");
  if (reply.status === 200) return reply.body.data;
  if (reply.status !== 503) count(`poll_${reply.status}`);
  return undefined;
}

const admittedWhen = (status: Status) => Date.parse(status.expiresAt!) - ACTIVE_TTL_MS;

/** Polls every second (a waiting page with a timer), from entering until admitted. */
async function pollEverySecond(user: User): Promise<Status | undefined> {
  for (;;) {
    if (stopping) return undefined;
    const status = await poll(user).catch(() => undefined);
    if (status?.status === "ACTIVE") return status;
    await Bun.sleep(1000);
  }
}

/**
 * Checks back now and then, as a waiting page without a connection does: once in the minute after the opening (its
 * countdown ran out), then again after a third of the wait it was told, between 1 and 60 s: near the front, every
 * second.
 */
async function checkBack(user: User): Promise<Status | undefined> {
  await openingAnnounced;
  await Bun.sleep(Math.max(0, opensAt - Date.now()) + Math.random() * 60_000);
  for (;;) {
    if (stopping) return undefined;
    const status = await poll(user).catch(() => undefined);
    if (status?.status === "ACTIVE") return status;
    const wait = status ? Math.min(60, Math.max(1, status.estimatedWaitingTime / 3)) : 5;
    await Bun.sleep(wait * 1000);
  }
}

/** A minimal Server-Sent Events reader on its own socket, calling `onEvent` with each event's name and data. */
function sse(path: string, onEvent: (name: string, data: string, socket: Socket) => void): Promise<"closed" | "refused"> {
  return new Promise((resolve) => {
    let text = "";
    let opened = false;
    void Bun.connect({
      hostname: base.hostname,
      port: Number(base.port),
      socket: {
        open(socket) {
          opened = true;
          socket.write(`GET ${path} HTTP/1.1\r\nhost: ${base.host}\r\naccept: text/event-stream\r\n\r\n`);
        },
        data(socket, chunk) {
          text += chunk.toString("utf8");
          for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
            const block = text.slice(0, end);
            text = text.slice(end + 2);
            const name = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (name && data !== undefined) onEvent(name, data, socket);
          }
        },
        close: () => resolve(opened ? "closed" : "refused"),
        error: () => resolve(opened ? "closed" : "refused"),
      },
    }).catch(() => resolve("refused"));
  });
}

/** A pushed status stream, opened again a second after it is cut (a restart, a 503 while the copy is built). */
async function streamUntilAdmitted(user: User): Promise<Status | undefined> {
  for (;;) {
    let admitted: Status | undefined;
    count("streamsOpened");
    const ended = await sse(`/api/v1/queue/stream?token=${encodeURIComponent(user.token!)}`, (name, data, socket) => {
      if (name !== "status") return;
      const status = JSON.parse(data) as Status;
      if (status.status === "ACTIVE") {
        admitted = status;
        socket.end();
      }
    });
    if (admitted || stopping) return admitted;
    count(ended === "refused" ? "streamsRefused" : "streamsCut");
    await Bun.sleep(1000);
  }
}

// ---- buying -----------------------------------------------------------------------------------------------------

const eventIds = values.events ? values.events.split(",").map(Number) : [];
/**
 * Events and sections found sold out by someone in this process, skipped by later buyers for a while: seats come back
 * when holds and unpaid reservations lapse, and a mark kept for good left them unsold at the end of the sale.
 */
const SOLD_OUT_FOR_MS = 5000;
const soldOutAt = new Map<string, number>();
const soldOut = {
  has: (key: string) => performance.now() - (soldOutAt.get(key) ?? -Infinity) < SOLD_OUT_FOR_MS,
  add: (key: string) => void soldOutAt.set(key, performance.now()),
};

async function buy(user: User): Promise<void> {
  const client = new KeepAliveClient(base);
  const headers = { authorization: user.bearer, "user-token": user.token! };
  try {
    for (const eventId of [...eventIds].sort(() => Math.random() - 0.5)) {
      if (soldOut.has(String(eventId))) continue;
      const sections = await timed("sections", client, "GET", `/api/v1/concert-events/${eventId}/sections`, headers);
      if (sections.status !== 200) return void count(`sections_${sections.status}`);
      const open = (sections.body.list as { name: string; available: number }[]).filter((s) => s.available > 0 && !soldOut.has(`${eventId}/${s.name}`));
      if (open.length === 0) {
        soldOut.add(String(eventId));
        continue;
      }
      const section = open[Math.floor(Math.random() * open.length)]!.name;
      const outcome = await buyIn(user, client, headers, eventId, section);
      if (outcome === "paid") return;
      // Given up after its retries: a buyer who walks away leaves the queue, or the turn stays taken until it lapses.
      if (outcome === "failed") return void (await timed("leave", client, "DELETE", "/api/v1/queue/tokens", headers));
      soldOut.add(`${eventId}/${section}`);
    }
    count("soldOutLeaves");
    await timed("leave", client, "DELETE", "/api/v1/queue/tokens", headers);
  } finally {
    client.close();
  }
}

/**
 * Which seats a section has: what a seat map page loads once from its CDN. The API's only way to learn it is the
 * section's list, which is whole before the opening; each crowd process asks once per section, at the first buyer who
 * needs it, and its later buyers look at the live seat map alone.
 */
const layouts = new Map<string, Promise<number[] | undefined>>();
function layoutOf(client: KeepAliveClient, headers: Record<string, string>, eventId: number, section: string): Promise<number[] | undefined> {
  const key = `${eventId}/${section}`;
  let layout = layouts.get(key);
  if (!layout) {
    layout = timed("list", client, "GET", `/api/v1/concert-events/${eventId}/available-seats?section=${encodeURIComponent(section)}`, headers).then((listed) =>
      listed.status === 200 ? (listed.body.list as { id: number }[]).map((s) => s.id) : undefined,
    );
    layouts.set(key, layout);
    void layout.then((ids) => ids ?? layouts.delete(key));
  }
  return layout;
}

/** Watches the event's seat map, holds what is free in the section, reserves and pays. */
async function buyIn(user: User, client: KeepAliveClient, headers: Record<string, string>, eventId: number, section: string): Promise<"paid" | "nothing" | "failed"> {
  const layout = await layoutOf(client, headers, eventId, section);
  if (!layout) return void count("list_failed"), "nothing";
  const mine = new Set(layout);
  /** Seats of the section on sale as last heard, picked at random (a slot taken is swapped out); `gone` are taken since. */
  const candidates: number[] = [];
  const gone = new Set<number>();
  let mapSocket: Socket | undefined;
  let snapshot: () => void;
  const firstSnapshot = new Promise<void>((resolve) => (snapshot = resolve));
  const started = performance.now();
  const watching = sse(`/api/v1/concert-events/${eventId}/seats/stream?token=${encodeURIComponent(user.token!)}`, (name, data, socket) => {
    mapSocket = socket;
    const message = JSON.parse(data) as { available?: number[]; taken?: number[]; freed?: number[] };
    if (name === "snapshot") {
      record("mapSnapshot", performance.now() - started);
      for (const id of message.available!) if (mine.has(id)) candidates.push(id);
      snapshot();
    } else if (name === "changes") {
      count("mapChanges");
      for (const id of message.taken ?? []) gone.add(id);
      for (const id of message.freed ?? []) {
        if (!mine.has(id)) continue;
        gone.delete(id);
        candidates.push(id);
      }
    }
  });
  void watching.then(() => snapshot());
  await firstSnapshot;
  const pick = () => {
    while (candidates.length > 0) {
      const at = Math.floor(Math.random() * candidates.length);
      const id = candidates[at]!;
      candidates[at] = candidates[candidates.length - 1]!;
      candidates.pop();
      if (!gone.has(id)) return id;
    }
    return undefined;
  };
  try {
    const want = 1 + Math.floor(Math.random() * 4);
    const held: number[] = [];
    for (let seat = pick(); seat !== undefined && held.length < want && !stopping; seat = held.length < want ? pick() : undefined) {
      const occupied = await timed("occupy", client, "POST", `/api/v1/concert-events/${eventId}/occupy`, headers, { seatId: seat });
      if (occupied.status === 200) held.push(seat);
      else if (occupied.status === 409) count("occupy409");
      else return void count(`occupy_failed_${occupied.status}`), "failed";
    }
    if (held.length === 0) return "nothing";
    const reserved = await timed("reserve", client, "POST", `/api/v1/concert-events/${eventId}/reserve`, headers, { seatIds: held });
    if (reserved.status !== 200) return void count(`reserve_failed_${reserved.status}`), "failed";
    const paid = await timed("pay", client, "POST", "/api/v1/payments", { authorization: user.bearer }, { reservationId: reserved.body.data.id });
    if (paid.status !== 200) return void count(`pay_failed_${paid.status}`), "failed";
    count("paid");
    count("tickets", held.length);
    tally(ticketsAt, held.length);
    return "paid";
  } finally {
    mapSocket?.end();
  }
}

// ---- the run ----------------------------------------------------------------------------------------------------

function report(): string {
  return JSON.stringify({ report: { latencies, counts, ticketsAt, admittedAt } });
}

function finish(): void {
  stopping = true;
  console.log(report());
  process.exit(0);
}
process.on("SIGTERM", finish);

let lines = "";
process.stdin.on("data", (chunk) => {
  lines += chunk.toString();
  for (let end = lines.indexOf("\n"); end >= 0; end = lines.indexOf("\n")) {
    const command = JSON.parse(lines.slice(0, end)) as { opensAt?: number; buy?: boolean };
    lines = lines.slice(end + 1);
    if (command.opensAt !== undefined) {
      opensAt = command.opensAt;
      openingKnown();
    }
    if (command.buy) {
      buying = true;
      buyingAllowed();
    }
  }
});

async function wait(user: User): Promise<void> {
  const admitted = user.waiting === "stream" ? await streamUntilAdmitted(user) : user.waiting === "poll" ? await pollEverySecond(user) : await checkBack(user);
  if (!admitted || stopping) return;
  count(`admitted_${user.waiting}`);
  tally(admittedAt, 1);
  record(`admission_${user.waiting}`, Date.now() - admittedWhen(admitted));
  await buyingStarted;
  if (buying) await buy(user);
}

// Enter as fast as the connections allow (in this process's share of the crowd's 128), then wait.
const entered: Promise<void>[] = [];
let next = 0;
const enterStarted = performance.now();
const entering = Array.from({ length: Number(values.connections) }, () => new KeepAliveClient(base));
await Promise.all(
  entering.map(async (client) => {
    while (next < users.length) {
      const user = users[next++]!;
      const reply = await timed("enter", client, "POST", "/api/v1/queue/tokens", { authorization: user.bearer }, { concertId }).catch(() => ({ status: 0, body: undefined }));
      if (reply.status !== 200) {
        count(`enter_${reply.status}`);
        continue;
      }
      user.token = reply.body.data.token;
      entered.push(values["enter-only"] ? Promise.resolve() : wait(user).catch(() => count("errors")));
    }
    client.close();
  }),
);
console.log(JSON.stringify({ entered: entered.length, seconds: (performance.now() - enterStarted) / 1000 }));
await Promise.all(entered);
finish();
