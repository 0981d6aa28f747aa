// The crowd of a sale opening, as a load-generator process (`bench/sale.ts` runs one or two of them): users
// F..F+N-1 enter a concert's queue before the opening, wait for their turn (polling GET /queue/status every second,
// or on a pushed status stream), and once admitted buy: list the seats, occupy 1–4 random available ones (another on
// 409, the list fetched again after three), reserve them and pay; a user who finds the hall sold out leaves the
// queue. Runs until SIGTERM (or until every user is done), then prints one JSON line of figures.
import { parseArgs } from "node:util";
import type { Socket } from "bun";
import { signUserToken } from "../src/http/auth";
import { KeepAliveClient } from "./keep-alive-client";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    secret: { type: "string" },
    concert: { type: "string" },
    event: { type: "string" },
    "first-user": { type: "string" },
    users: { type: "string" },
    /** How the waiting learn of their turn: poll (every second), sse (a stream each), mixed (sse for the first --streams). */
    wait: { type: "string", default: "poll" },
    streams: { type: "string", default: "0" },
    connections: { type: "string", default: "128" },
    /** Epoch ms: entries are spread over the time before it, in arrival order. */
    "opens-at": { type: "string" },
  },
});

const base = new URL(values.base!);
const concertId = Number(values.concert);
const eventId = Number(values.event);
const firstUser = Number(values["first-user"]);
const userCount = Number(values.users);
const streamsWanted = values.wait === "sse" ? userCount : values.wait === "mixed" ? Number(values.streams) : 0;
const opensAt = Number(values["opens-at"]);

/**
 * Latencies of each step as histograms (0.1 ms buckets below 10 ms, 1 ms below 100 ms, 10 ms above), so the runner can
 * merge processes and a run of a million polls stays small.
 */
type Histogram = Record<string, number>;
const latencies: Record<string, Histogram> = { enter: {}, status: {}, list: {}, occupy: {}, reserve: {}, pay: {}, leave: {} };
const bucket = (ms: number) => (ms < 10 ? Math.ceil(ms * 10) / 10 : ms < 100 ? Math.ceil(ms) : Math.ceil(ms / 10) * 10);
function record(histogram: Histogram, ms: number): void {
  const key = String(bucket(ms));
  histogram[key] = (histogram[key] ?? 0) + 1;
}
const counts: Record<string, number> = {
  polls: 0,
  polls503: 0,
  occupy409: 0,
  soldOutLeaves: 0,
  paid: 0,
  seatsBought: 0,
  streamsOpen: 0,
  maxStreamsOpen: 0,
  /** Streams that ended without the admission (cut off or a 503 answer), and connects that failed. */
  streamsCut: 0,
  streamsRefused: 0,
  errors: 0,
};
/** For each admitted user: ms from the actor's admission to the user learning of it, by how the user waited. */
const admissionDelays: Record<"stream" | "poll", Histogram> = { stream: {}, poll: {} };
let firstPollAt = 0;
let lastPollAt = 0;
let stopping = false;

interface User {
  id: number;
  bearer: string;
  token?: string;
  done: boolean;
}

const users: User[] = await Promise.all(
  Array.from({ length: userCount }, async (_, i) => ({ id: firstUser + i, bearer: `Bearer ${await signUserToken(firstUser + i, values.secret!, 7200)}`, done: false })),
);

// ---- a pool of keep-alive connections for the crowd's requests --------------------------------------------------

const pool = Array.from({ length: Number(values.connections) }, () => new KeepAliveClient(base));
const idle: KeepAliveClient[] = [...pool];
const waitingForConnection: ((client: KeepAliveClient) => void)[] = [];

async function withPooled<T>(work: (client: KeepAliveClient) => Promise<T>): Promise<T> {
  const client = idle.pop() ?? (await new Promise<KeepAliveClient>((resolve) => waitingForConnection.push(resolve)));
  try {
    return await work(client);
  } finally {
    const next = waitingForConnection.shift();
    if (next) next(client);
    else idle.push(client);
  }
}

async function timed(step: string, client: KeepAliveClient, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const started = performance.now();
  const reply = await client.request(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
  record(latencies[step]!, performance.now() - started);
  return { status: reply.status, body: reply.body ? JSON.parse(reply.body) : undefined };
}

// ---- waiting ----------------------------------------------------------------------------------------------------

/** Resolves with the status that said ACTIVE (carrying expiresAt, from which the admission time is known). */
async function pollUntilAdmitted(user: User): Promise<{ expiresAt: string } | undefined> {
  const headers = { authorization: user.bearer, "user-token": user.token! };
  for (;;) {
    if (stopping) return undefined;
    const reply = await withPooled((client) => timed("status", client, "GET", "/api/v1/queue/status", headers));
    const now = performance.now();
    firstPollAt ||= now;
    lastPollAt = now;
    counts.polls!++;
    if (reply.status === 503) counts.polls503!++;
    if (reply.status === 200 && reply.body.data.status === "ACTIVE") return reply.body.data;
    if (reply.status !== 200 && reply.status !== 503) return undefined;
    await Bun.sleep(1000);
  }
}

/** A minimal Server-Sent Events reader on its own socket: resolves with the ACTIVE status, or undefined if cut off. */
function streamUntilAdmitted(user: User): Promise<{ expiresAt: string } | undefined> {
  return new Promise((resolve) => {
    let text = "";
    let settled = false;
    let opened = false;
    const finish = (status: { expiresAt: string } | undefined, socket?: Socket) => {
      if (settled) return;
      settled = true;
      if (opened) counts.streamsOpen!--;
      if (!status) counts[opened ? "streamsCut" : "streamsRefused"]!++;
      socket?.end();
      resolve(status);
    };
    void Bun.connect({
      hostname: base.hostname,
      port: Number(base.port),
      socket: {
        open(socket) {
          opened = true;
          counts.streamsOpen!++;
          counts.maxStreamsOpen = Math.max(counts.maxStreamsOpen!, counts.streamsOpen!);
          socket.write(`GET /api/v1/queue/stream?token=${encodeURIComponent(user.token!)} HTTP/1.1\r\nhost: ${base.host}\r\naccept: text/event-stream\r\n\r\n`);
        },
        data(socket, chunk) {
          text += chunk.toString("utf8");
          for (let at = text.indexOf("data: "); at >= 0; at = text.indexOf("data: ")) {
            const end = text.indexOf("\n", at);
            if (end < 0) break;
            const status = JSON.parse(text.slice(at + 6, end));
            text = text.slice(end + 1);
            if (status.status === "ACTIVE") return finish(status, socket);
          }
        },
        close: () => finish(undefined),
        error: () => finish(undefined),
      },
    }).catch(() => finish(undefined));
  });
}

// ---- buying -----------------------------------------------------------------------------------------------------

const TAKEN_BEFORE_REFRESH = 3;

async function buy(user: User): Promise<void> {
  const client = new KeepAliveClient(base);
  const headers = { authorization: user.bearer, "user-token": user.token! };
  try {
    const want = 1 + Math.floor(Math.random() * 4);
    const held: number[] = [];
    let seats: { id: number }[] = [];
    let taken = 0;
    while (held.length < want && !stopping) {
      if (seats.length === 0) {
        const listed = await timed("list", client, "GET", `/api/v1/concert-events/${eventId}/available-seats`, headers);
        if (listed.status !== 200) return void counts.errors!++;
        seats = listed.body.list;
        if (seats.length === 0) break;
      }
      const [seat] = seats.splice(Math.floor(Math.random() * seats.length), 1);
      const occupied = await timed("occupy", client, "POST", `/api/v1/concert-events/${eventId}/occupy`, headers, { seatId: seat!.id });
      if (occupied.status === 200) {
        held.push(seat!.id);
        taken = 0;
      } else if (occupied.status === 409) {
        counts.occupy409!++;
        // A seat map that keeps offering taken seats is refreshed, as a booking page does after a few "already taken".
        if (++taken === TAKEN_BEFORE_REFRESH) [seats, taken] = [[], 0];
      } else return void counts.errors!++;
    }
    if (held.length === 0) {
      counts.soldOutLeaves!++;
      await timed("leave", client, "DELETE", "/api/v1/queue/tokens", headers);
      return;
    }
    const reserved = await timed("reserve", client, "POST", `/api/v1/concert-events/${eventId}/reserve`, headers, { seatIds: held });
    if (reserved.status !== 200) return void counts.errors!++;
    const paid = await timed("pay", client, "POST", "/api/v1/payments", { authorization: user.bearer }, { reservationId: reserved.body.data.id });
    if (paid.status !== 200) return void counts.errors!++;
    counts.paid!++;
    counts.seatsBought! += held.length;
  } finally {
    client.close();
  }
}

/** A stream cut off or refused (503 while the instance copies the queue) is opened again a second later. */
async function streamWhileWaiting(user: User): Promise<{ expiresAt: string } | undefined> {
  for (;;) {
    const admitted = await streamUntilAdmitted(user);
    if (admitted || stopping) return admitted;
    await Bun.sleep(1000);
  }
}

async function live(user: User, stream: boolean, activeTtlMs: number): Promise<void> {
  try {
    const admitted = stream ? await streamWhileWaiting(user) : await pollUntilAdmitted(user);
    if (!admitted || stopping) return;
    record(admissionDelays[stream ? "stream" : "poll"], Date.now() - (Date.parse(admitted.expiresAt) - activeTtlMs));
    await buy(user);
    user.done = true;
  } catch {
    // A connection the service closed mid-request: counted, so the report shows it, rather than ending the crowd.
    counts.errors!++;
  }
}

// ---- the run ----------------------------------------------------------------------------------------------------

function report(): string {
  const pollSeconds = (lastPollAt - firstPollAt) / 1000;
  return JSON.stringify({ latencies, admissionDelays, counts, pollSeconds });
}

process.on("SIGTERM", () => {
  stopping = true;
  console.log(report());
  process.exit(0);
});

// Enter before the opening, spread evenly over the time left (at most as fast as the pool allows), and from then on
// wait as a browser's waiting page would: the stream opened, or polling, right after entering.
const activeTtlMs = Number(process.env.QUEUE_ACTIVE_TTL_SECONDS ?? 600) * 1000;
const enterBy = opensAt - 2000;
const gap = Math.max(0, (enterBy - Date.now()) / userCount);
const start = Date.now();
await Promise.all(
  users.map(async (user, i) => {
    await Bun.sleep(Math.max(0, start + i * gap - Date.now()));
    const reply = await withPooled((client) => timed("enter", client, "POST", "/api/v1/queue/tokens", { authorization: user.bearer }, { concertId }));
    if (reply.status !== 200) return void counts.errors!++;
    user.token = reply.body.data.token;
    if (i === userCount - 1) console.error(`crowd ${firstUser}..${firstUser + userCount - 1}: entered in ${((Date.now() - start) / 1000).toFixed(1)} s; waiting (${values.wait})`);
    await live(user, i < streamsWanted, activeTtlMs);
  }),
);
for (const client of pool) client.close();
console.log(report());
