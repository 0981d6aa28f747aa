// `GET /api/v1/queue/status` under load, for the waiting-room benchmark (bench/sale.ts). Two modes:
//   enter  — users F..F+N-1 enter concert C's queue once (128 connections); their bearer and queue tokens go to --tokens
//   status — --requests polls, each by a random one of those users, over --connections keep-alive connections
// Prints one JSON line: requests, seconds, req/s, p50 and p99 in ms, and the statuses seen.
import { parseArgs } from "node:util";
import { signUserToken } from "../src/http/auth";
import { KeepAliveClient } from "./keep-alive-client";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    mode: { type: "string" },
    secret: { type: "string" },
    concert: { type: "string" },
    "first-user": { type: "string", default: "1" },
    users: { type: "string", default: "20000" },
    requests: { type: "string", default: "60000" },
    connections: { type: "string", default: "128" },
    tokens: { type: "string" },
  },
});

const base = new URL(values.base!);
const connections = Number(values.connections);

async function drive(count: number, job: (index: number, client: KeepAliveClient) => Promise<{ status: number; ms: number }>) {
  const results: { status: number; ms: number }[] = new Array(count);
  let next = 0;
  const clients = Array.from({ length: Math.min(connections, count) }, () => new KeepAliveClient(base));
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next < count) {
        const index = next++;
        results[index] = await job(index, client);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const client of clients) client.close();
  const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
  const at = (q: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2));
  const statuses: Record<string, number> = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  return { requests: count, seconds: Number(seconds.toFixed(2)), rps: Math.round(count / seconds), p50: at(0.5), p99: at(0.99), statuses };
}

async function timed(client: KeepAliveClient, method: string, path: string, headers: Record<string, string>, body?: string) {
  const started = performance.now();
  const reply = await client.request(method, path, headers, body);
  return { status: reply.status, ms: performance.now() - started, body: reply.body };
}

if (values.mode === "enter") {
  const firstUser = Number(values["first-user"]);
  const users = Number(values.users);
  const bearers = await Promise.all(Array.from({ length: users }, (_, i) => signUserToken(firstUser + i, values.secret!, 7200)));
  const pairs: [string, string][] = new Array(users);
  const body = JSON.stringify({ concertId: Number(values.concert) });
  const figures = await drive(users, async (i, client) => {
    const reply = await timed(client, "POST", "/api/v1/queue/tokens", { authorization: `Bearer ${bearers[i]}` }, body);
    pairs[i] = [`Bearer ${bearers[i]}`, reply.status === 200 ? JSON.parse(reply.body).data.token : ""];
    return reply;
  });
  await Bun.write(values.tokens!, JSON.stringify(pairs));
  console.log(JSON.stringify(figures));
} else {
  const pairs = JSON.parse(await Bun.file(values.tokens!).text()) as [string, string][];
  const figures = await drive(Number(values.requests), (i, client) => {
    const [authorization, token] = pairs[(i * 7919) % pairs.length]!;
    return timed(client, "GET", "/api/v1/queue/status", { authorization, "user-token": token });
  });
  console.log(JSON.stringify(figures));
}
