// The two baselines the benchmark compares against, served through the service's own HTTP edge and NATS path:
//   ceiling — the occupy responder does no work and touches no database: the most the HTTP + NATS path can carry;
//   naive   — occupy is one database transaction per request with a row lock (SELECT … FOR UPDATE), no actors.
// Queue requests are answered ACTIVE at once so the same load generator drives all three servers.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { connectBus } from "../src/shared/bus";
import { fail, ok } from "../src/shared/codec";
import { loadConfig } from "../src/shared/config";
import { openDatabase, type Database } from "../src/shared/db";
import { createApp, SERVER_BODY_LIMIT } from "../src/http/app";
import { Api } from "../src/shared/messages";
import { addService, endpoint } from "../src/shared/nats-service";
import { queueSubject } from "../src/shared/subjects";
import { GLOBAL_QUEUE } from "../src/shared/queue-tokens";

const { values } = parseArgs({ options: { mode: { type: "string" } } });
const mode = values.mode;
if (mode !== "ceiling" && mode !== "naive") {
  console.error("usage: bun bench/baseline-server.ts --mode ceiling|naive");
  process.exit(2);
}

const config = loadConfig();
const bus = await connectBus(config.nats, config.requestTimeoutMs);
const db = mode === "naive" ? await openDatabase(config.database) : undefined;
const farFuture = new Date(Date.now() + 3_600_000).toISOString();
const active = { queuePosition: 0, estimatedWaitingTime: 0, status: "ACTIVE" as const, expiresAt: farFuture };

async function naiveOccupy(db: Database, eventId: number, userId: number, seatId: number) {
  return db.transaction(async (tx) => {
    const [seat] = await tx.query(`SELECT seat_number, price, status FROM seats WHERE id = $1 AND concert_event_id = $2 FOR UPDATE`, [seatId, eventId]);
    if (!seat) return fail("not_found_seat");
    if (seat.status !== "AVAILABLE") return fail("seat_unavailable");
    const [mine] = await tx.query(
      `SELECT count(*) AS n FROM seats WHERE concert_event_id = $1 AND user_id = $2 AND status IN ('HELD', 'RESERVED')`,
      [eventId, userId],
    );
    if (Number(mine!.n) >= config.maxSeatsPerUser) return fail("hold_limit_exceeded");
    const expiresAt = new Date(Date.now() + config.seatHoldTtlMs).toISOString();
    await tx.query(`UPDATE seats SET status = 'HELD', user_id = $2, hold_expires_at = $3 WHERE id = $1`, [seatId, userId, expiresAt]);
    return ok({ id: seatId, seatNumber: String(seat.seat_number), price: Number(seat.price), expirationTime: expiresAt });
  });
}

// The same boundary as the service's: every request is checked against its schema before it is served.
await addService(bus.nc, `baseline-${mode}`, "benchmark baseline", [
  endpoint({
    name: "enter",
    // Every queue's: the stadium benchmark enters a concert's.
    subject: "rsv.queue.*.enter",
    messages: Api["queue-admission"].enter,
    handle: () => ok({ token: randomBytes(16).toString("base64url"), ...active }),
  }),
  endpoint({ name: "status", subject: queueSubject(GLOBAL_QUEUE, "status"), messages: Api["queue-admission"].status, handle: () => ok(active) }),
  endpoint({
    name: "occupy",
    subject: "rsv.event.*.occupy",
    messages: Api["concert-event"].occupy,
    handle: ({ userId, seatId }, subject) => {
      const eventId = Number(subject.split(".")[2]);
      if (!db) return ok({ id: seatId, seatNumber: String(seatId), price: 50000, expirationTime: farFuture });
      return naiveOccupy(db, eventId, userId, seatId);
    },
  }),
]);

// Every token is admitted at once and everywhere: the baselines measure the path, not the queue.
const { fetch } = createApp({
  config,
  bus,
  queueGate: { requireActive: async () => GLOBAL_QUEUE },
  queues: { status: async () => active, statusNow: () => active, stream: async () => new Response(`event: status\ndata: ${JSON.stringify(active)}\n\n`) },
  seatMaps: {
    sections: async () => [],
    availableList: async () => `{"list":[]}`,
    stream: async () => new Response(`event: snapshot\ndata: {"version":0,"available":[]}\n\n`),
  },
  ready: async () => true,
});
const server = Bun.serve({ port: config.port, fetch, maxRequestBodySize: SERVER_BODY_LIMIT });
console.error(`baseline ${mode} listening on ${server.port}`);
process.on("SIGTERM", async () => {
  await server.stop();
  await bus.close();
  await db?.close();
  process.exit(0);
});
