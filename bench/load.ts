// The load generator: a separate process that drives the HTTP API with a fixed number of concurrent connections and
// prints one JSON line of figures. `--base` may list several instances (comma-separated): jobs go round-robin over
// them, as behind a load balancer. Modes:
//   enter    — users F..F+N-1 (--first-user, --users) each take a queue token once (tokens are written to --state);
//              occupy and checkout act as users of the same range, with those tokens
//   occupy   — N occupy requests, each by a random user on a random seat (winners are written to --state)
//   hold     — users F..F+N-1 each hold two seats of their own (F's are the first two from --first-seat, and so on):
//              every request succeeds, so it measures the hold path alone (winners are written to --state)
//   checkout — every winner reserves their held seats and pays
// --tokens-from names the user whose token is first in the --state file (default: --first-user), so a run may act as
// users further into the block that `enter` admitted.
import { parseArgs } from "node:util";
import { signUserToken } from "../src/http/auth";
import { KeepAliveClient } from "./keep-alive-client";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    mode: { type: "string" },
    users: { type: "string", default: "5000" },
    "first-user": { type: "string", default: "1" },
    "tokens-from": { type: "string" },
    requests: { type: "string", default: "20000" },
    connections: { type: "string", default: "64" },
    event: { type: "string", default: "1" },
    "first-seat": { type: "string", default: "1" },
    "last-seat": { type: "string", default: "2000" },
    state: { type: "string", default: "bench-state.json" },
    secret: { type: "string" },
  },
});

const bases = values.base!.split(",");
const users = Number(values.users);
const firstUser = Number(values["first-user"]);
const tokensFrom = Number(values["tokens-from"] ?? firstUser);
const connections = Number(values.connections);
const secret = values.secret!;

interface Outcome {
  status: number;
  ms: number;
  body: any;
}

async function call(client: KeepAliveClient, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Outcome> {
  const started = performance.now();
  const reply = await client.request(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
  return { status: reply.status, ms: performance.now() - started, body: reply.body ? JSON.parse(reply.body) : undefined };
}

/**
 * Runs `count` jobs over `connections` concurrent keep-alive connections and returns every outcome with the wall
 * time. Connections are spread round-robin over the bases, as a load balancer would.
 */
async function drive(count: number, job: (index: number, client: KeepAliveClient) => Promise<Outcome>) {
  const outcomes: Outcome[] = new Array(count);
  let next = 0;
  const clients = Array.from({ length: Math.min(connections, count) }, (_, i) => new KeepAliveClient(new URL(bases[i % bases.length]!)));
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next < count) {
        const index = next++;
        outcomes[index] = await job(index, client);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const client of clients) client.close();
  return { outcomes, seconds };
}

function summary(outcomes: Outcome[], seconds: number) {
  const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  const at = (q: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2));
  const statuses: Record<string, number> = {};
  for (const o of outcomes) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
  return { requests: outcomes.length, seconds: Number(seconds.toFixed(2)), rps: Math.round(outcomes.length / seconds), p50: at(0.5), p99: at(0.99), statuses };
}

const bearers = await Promise.all(Array.from({ length: users }, (_, i) => signUserToken(firstUser + i, secret, 3600)));
const auth = (userId: number) => ({ authorization: `Bearer ${bearers[userId - firstUser]}` });

async function enter() {
  const { outcomes, seconds } = await drive(users, (i, client) => call(client, "POST", "/api/v1/queue/tokens", auth(firstUser + i)));
  const tokens = outcomes.map((o) => o.body?.data?.token ?? null);
  await Bun.write(values.state!, JSON.stringify({ tokens }));
  return summary(outcomes, seconds);
}

async function occupy() {
  const first = Number(values["first-seat"]);
  const span = Number(values["last-seat"]) - first + 1;
  return holdAll(
    Array.from({ length: Number(values.requests) }, () => ({
      userId: firstUser + Math.floor(Math.random() * users),
      seatId: first + Math.floor(Math.random() * span),
    })),
  );
}

async function hold() {
  const first = Number(values["first-seat"]);
  return holdAll(Array.from({ length: 2 * users }, (_, i) => ({ userId: firstUser + Math.floor(i / 2), seatId: first + i })));
}

/** Sends an occupy request for each pick, and writes the winners to --state for a checkout to follow. */
async function holdAll(picks: { userId: number; seatId: number }[]) {
  const { tokens } = (await Bun.file(values.state!).json()) as { tokens: (string | null)[] };
  const { outcomes, seconds } = await drive(picks.length, (i, client) => {
    const { userId, seatId } = picks[i]!;
    return call(client, "POST", `/api/v1/concert-events/${values.event}/occupy`, { ...auth(userId), "user-token": tokens[userId - tokensFrom] ?? "" }, { seatId });
  });
  const winners: Record<number, number[]> = {};
  outcomes.forEach((o, i) => {
    if (o.status !== 200) return;
    const { userId, seatId } = picks[i]!;
    (winners[userId] ??= []).includes(seatId) || winners[userId]!.push(seatId);
  });
  await Bun.write(values.state!, JSON.stringify({ tokens, winners }));
  return summary(outcomes, seconds);
}

async function checkout() {
  const { tokens, winners } = (await Bun.file(values.state!).json()) as { tokens: string[]; winners: Record<string, number[]> };
  const entries = Object.entries(winners).map(([user, seats]) => ({ userId: Number(user), seats }));
  let paid = 0;
  const { outcomes, seconds } = await drive(entries.length, async (i, client) => {
    const { userId, seats } = entries[i]!;
    const headers = { ...auth(userId), "user-token": tokens[userId - tokensFrom]! };
    const reserved = await call(client, "POST", `/api/v1/concert-events/${values.event}/reserve`, headers, { seatIds: seats });
    if (reserved.status !== 200) return reserved;
    const payment = await call(client, "POST", "/api/v1/payments", auth(userId), { reservationId: reserved.body.data.id });
    if (payment.status === 200) paid++;
    return { ...payment, ms: payment.ms + reserved.ms };
  });
  return { ...summary(outcomes, seconds), paid, seatsSold: entries.filter((_, i) => outcomes[i]!.status === 200).reduce((n, e) => n + e.seats.length, 0) };
}

const modes: Record<string, () => Promise<unknown>> = { enter, occupy, hold, checkout };
const run = modes[values.mode ?? ""];
if (!run) {
  console.error("usage: bun bench/load.ts --base URL --mode enter|occupy|hold|checkout --secret S [...]");
  process.exit(2);
}
console.log(JSON.stringify(await run()));
