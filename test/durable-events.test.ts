// Domain events are never lost: buyers check out and get refunds in a loop while the service is SIGKILLed, again and
// again, or while NATS is down for 10 s. Afterwards every payment the database holds has exactly one payment.completed
// in RSV_EVENTS, every charge its wallet.charged, no Nats-Msg-Id is stored twice, and the outbox is empty.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { connect, type NatsConnection } from "nats";
import { loadConfig } from "../src/shared/config";
import { openDatabase, type Database } from "../src/shared/db";
import { verify } from "../src/cli/verify";
import { ownershipMsgId } from "../src/cluster/ownership";
import { processDatabaseCases } from "./support/databases";
import { repeatedIds, storedEvents, type StoredEvent } from "./support/event-stream";
import { freePort, portOpen, startNatsServer, waitFor, type NatsServer } from "./support/nats-server";
import { TEST_SECRET, UserClient } from "./support/service";

const cases = await processDatabaseCases();
const USERS = 30;
/** The demo data: three events of 50 seats, ids 1 to 150. */
const SEATS = 150;

/** One buyer's loop: hold a seat, reserve it, pay, get the money back (the seat goes back on sale), and again. */
async function shop(u: UserClient, stopped: () => boolean): Promise<void> {
  for (let n = 0; !stopped(); n++) {
    try {
      if (n % 5 === 0) await u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount: 100_000 });
      if (!u.queueToken || n % 7 === 0) await u.enterQueue();
      const seatId = 1 + Math.floor(Math.random() * SEATS);
      const eventId = 1 + Math.floor((seatId - 1) / 50);
      const held = await u.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId });
      if (held.status === 403) u.queueToken = undefined;
      if (held.status !== 200) continue;
      const reserved = await u.call("POST", `/api/v1/concert-events/${eventId}/reserve`, { seatId });
      if (reserved.status !== 200) continue;
      const paid = await u.call("POST", "/api/v1/payments", { reservationId: reserved.body.data.id });
      if (paid.status !== 200) continue;
      u.queueToken = undefined;
      await u.call("DELETE", `/api/v1/reservations/${reserved.body.data.id}`);
    } catch {
      await Bun.sleep(20);
    }
  }
}

/** Every committed change has its event in the stream once, and the stream holds no event of a change never made. */
async function expectEveryChangeOnce(db: Database, stored: StoredEvent[]): Promise<{ payments: number; charges: number }> {
  expect(repeatedIds(stored)).toEqual([]);
  expect(stored.filter((e) => e.msgId === undefined)).toEqual([]);
  // The restarts took the event actors again and again: each tenure is named by its entity, epoch and kind.
  const notices = stored.filter((e) => e.subject.startsWith("rsv.evt.ownership."));
  expect(notices.length).toBeGreaterThan(0);
  for (const e of notices) expect(e.msgId).toBe(ownershipMsgId(e.body.entity, e.body.epoch, e.subject.split(".").at(-1) as "acquired"));
  expect(Number((await db.query(`SELECT count(*) AS n FROM event_outbox`))[0]!.n)).toBe(0);

  const payments = (await db.query(`SELECT id FROM payments ORDER BY id`)).map((r) => Number(r.id));
  const completed = stored.filter((e) => e.subject.endsWith(".payment.completed")).map((e) => Number(e.body.paymentId));
  expect(completed.sort((a, b) => a - b)).toEqual(payments);
  const refunded = (await db.query(`SELECT id FROM payments WHERE status = 'refunded' ORDER BY id`)).map((r) => Number(r.id));
  const refundEvents = stored.filter((e) => e.subject.endsWith(".payment.refunded")).map((e) => Number(e.body.paymentId));
  expect(refundEvents.sort((a, b) => a - b)).toEqual(refunded);

  // A charge's event names the balance it left, and a wallet's balance after each charge is unique to that charge.
  const ledger = await db.query(`SELECT user_id, count(*) AS n FROM wallet_ledger WHERE kind = 'charge' GROUP BY user_id ORDER BY user_id`);
  const chargedEvents = new Map<number, number>();
  for (const e of stored.filter((e) => e.subject === "rsv.evt.wallet.charged")) chargedEvents.set(e.body.userId, (chargedEvents.get(e.body.userId) ?? 0) + 1);
  expect(Object.fromEntries(chargedEvents)).toEqual(Object.fromEntries(ledger.map((r) => [Number(r.user_id), Number(r.n)])));
  expect(await verify(db)).toEqual([]);
  return { payments: payments.length, charges: ledger.reduce((n, r) => n + Number(r.n), 0) };
}

for (const dbCase of cases) {
  describe(`durable domain events on ${dbCase.name}`, () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    afterAll(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    async function setUp(nats: NatsServer) {
      const port = await freePort();
      const opened = await dbCase.open();
      cleanup.push(opened.drop);
      const env: Record<string, string> = { PORT: String(port), NATS_URL: nats.url, AUTH_SECRET: TEST_SECRET, LOG_LEVEL: "error", ...opened.env };
      const base = `http://127.0.0.1:${port}`;
      let child: ChildProcess | undefined;
      cleanup.push(() => void child?.kill("SIGKILL"));
      return {
        env,
        users: Array.from({ length: USERS }, (_, i) => new UserClient(base, 300 + i)),
        async start() {
          child = spawn(process.execPath, ["src/main.ts"], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
          await waitFor(() => portOpen(port), "the service to listen", 30_000);
        },
        async stop(signal: "SIGKILL" | "SIGTERM") {
          const exited = new Promise((resolve) => child!.once("exit", resolve));
          child!.kill(signal);
          await exited;
        },
        open: () => openDatabase(loadConfig(env).database),
      };
    }

    test("SIGKILL between commit and publish: after the restart every committed payment's event is in the stream once", async () => {
      const nats = await startNatsServer();
      cleanup.push(() => nats.stop());
      const nc: NatsConnection = await connect({ servers: nats.url });
      cleanup.push(() => nc.close());
      const service = await setUp(nats);
      // Rows the stream never got before the kill: committed, never published. Kills go on until some were left.
      let unpublished = 0;
      for (let round = 0; round < 8 && (round < 3 || unpublished === 0); round++) {
        await service.start();
        let stop = false;
        const rush = service.users.map((u) => shop(u, () => stop));
        await Bun.sleep(700 + round * 200);
        await service.stop("SIGKILL");
        stop = true;
        await Promise.all(rush);
        const db = await service.open();
        const rows = await db.query(`SELECT id::text AS id, events FROM event_outbox`);
        await db.close();
        const left = rows.flatMap((r) => (JSON.parse(String(r.events)) as unknown[]).map((_, i) => `${r.id}:${i}`));
        const inStream = new Set((await storedEvents(nc)).map((e) => e.msgId));
        unpublished += left.filter((id) => !inStream.has(id)).length;
      }
      expect(unpublished).toBeGreaterThan(0);

      await service.start();
      // The sweep takes rows a few seconds old; then a graceful stop, so the database can be read here.
      await Bun.sleep(5000);
      await service.stop("SIGTERM");
      const db = await service.open();
      try {
        const counted = await expectEveryChangeOnce(db, await storedEvents(nc));
        expect(counted.payments).toBeGreaterThan(0);
        console.log(`SIGKILL: ${counted.payments} payments and ${counted.charges} charges, ${unpublished} events committed but unpublished at a kill; each in the stream once`);
      } finally {
        await db.close();
      }
    }, 180_000);

    test("NATS down for 10 s during a rush: every event arrives once it is back", async () => {
      const nats = await startNatsServer();
      cleanup.push(() => nats.stop());
      const service = await setUp(nats);
      await service.start();
      let stop = false;
      const rush = service.users.map((u) => shop(u, () => stop));
      await Bun.sleep(1500);
      await nats.stop();
      await Bun.sleep(10_000);
      await nats.restart();
      await Bun.sleep(2000);
      stop = true;
      await Promise.all(rush);
      await Bun.sleep(4000);
      await service.stop("SIGTERM");
      const nc = await connect({ servers: nats.url });
      const db = await service.open();
      try {
        const counted = await expectEveryChangeOnce(db, await storedEvents(nc));
        expect(counted.payments).toBeGreaterThan(0);
        console.log(`NATS outage: ${counted.payments} payments and ${counted.charges} charges, each in the stream once`);
      } finally {
        await db.close();
        await nc.close();
      }
    }, 120_000);
  });
}
