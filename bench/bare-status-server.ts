// The status benchmark's yardstick: an Elysia route on the same path that reads the same two headers and answers
// from a Map in memory, with nothing else: no token check, no instrumentation, no queue. Its tokens come from the
// file bench/status-load.ts wrote, so both servers are asked the very same requests.
import { Elysia } from "elysia";

const pairs = JSON.parse(await Bun.file(process.env.TOKENS!).text()) as [string, string][];
const statuses = new Map(pairs.map(([, token], i) => [token, { queuePosition: i + 1, estimatedWaitingTime: i + 1, status: "WAITING" }]));
const app = new Elysia({ precompile: true }).get("/api/v1/queue/status", ({ headers, set }) => {
  const status = headers.authorization ? statuses.get(headers["user-token"] ?? "") : undefined;
  if (!status) {
    set.status = 404;
    return { error: { code: "not_found_in_queue" } };
  }
  return { data: status };
});
const server = Bun.serve({ port: Number(process.env.PORT), fetch: app.fetch });
console.error(`bare status server on ${server.port}`);
process.on("SIGTERM", () => process.exit(0));
