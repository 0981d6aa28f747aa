// The outbox relay against a real JetStream and both databases: events recorded with their change reach RSV_EVENTS
// once each, with their place in the outbox as Nats-Msg-Id, whether the fast path sends them, the sweep finds them later, NATS
// was down meanwhile, or two instances sweep the same table.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type NatsConnection } from "nats";
import { ensureEventStream, EVENT_STREAM } from "../../src/shared/event-stream";
import { openDatabase, type Database } from "../../src/shared/db";
import { eventMsgId, OutboxRelay, outboxEntry, recordEvents, RecentIds, type OutboxEntry } from "../../src/shared/outbox";
import { Events, message } from "../../src/shared/subjects";
import { connectBus } from "../../src/shared/bus";
import { ownershipMsgId } from "../../src/cluster/ownership";
import { eventEntity } from "../../src/cluster/ownership-store";
import { databaseCases } from "../support/databases";
import { repeatedIds, storedEvents } from "../support/event-stream";
import { startNatsServer, waitFor, type NatsServer } from "../support/nats-server";

const FAST = { sweepEveryMs: 50, staleAfterMs: 300, ackTimeoutMs: 1000 };

/** `commits` commits of `each` charges, the users numbered from `from`. */
const charges = (from: number, commits: number, each = 5): OutboxEntry[] =>
  Array.from({ length: commits }, (_, c) =>
    outboxEntry(Array.from({ length: each }, (_, i) => message(Events.walletCharged, { userId: from + c * each + i, amount: 10, balance: 10 }))),
  );

async function record(db: Database, entries: OutboxEntry[]): Promise<void> {
  for (const entry of entries) await db.transaction((tx) => recordEvents(tx, entry));
}

const msgIds = (entries: OutboxEntry[]) => entries.flatMap((entry) => entry.events.map((_, i) => eventMsgId(entry, i)));
const payloads = (entries: OutboxEntry[]) => entries.flatMap((entry) => entry.events.map((e) => JSON.parse(e.payload)));
const publishAll = (relay: OutboxRelay, entries: OutboxEntry[]) => entries.forEach((entry) => relay.publish(entry));

const outboxSize = async (db: Database) => Number((await db.query(`SELECT count(*) AS n FROM event_outbox`))[0]!.n);

for (const target of await databaseCases()) {
  describe(`the outbox relay on ${target.name}`, () => {
    let nats: NatsServer;
    let nc: NatsConnection;
    let db: Database;
    let drop: () => Promise<void>;
    let up = true;
    const relays: OutboxRelay[] = [];
    const relay = (options = {}) => {
      const r = new OutboxRelay(nc, db, () => up && !nc.isClosed(), { ...FAST, ...options });
      relays.push(r);
      return r;
    };

    beforeAll(async () => {
      nats = await startNatsServer();
      nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      await ensureEventStream(nc);
      void (async () => {
        for await (const status of nc.status()) {
          if (status.type === "disconnect") up = false;
          if (status.type === "reconnect") up = true;
        }
      })();
      const opened = await target.open();
      drop = opened.drop;
      db = await openDatabase(opened.target);
    });
    afterAll(async () => {
      for (const r of relays) await r.stop();
      await nc?.close();
      await nats?.stop();
      await db?.close();
      await drop?.();
    });

    const purge = async () => {
      await (await nc.jetstreamManager()).streams.purge(EVENT_STREAM);
      await db.query(`DELETE FROM event_outbox`);
    };

    test("a commit's events go out at once, in order, each with its outbox row and place as Nats-Msg-Id, and leave the table", async () => {
      await purge();
      const events = charges(1, 10);
      await record(db, events);
      publishAll(relay({ sweepEveryMs: 60_000 }), events);
      await waitFor(async () => (await outboxSize(db)) === 0, "the outbox to empty");
      const stored = await storedEvents(nc);
      expect(stored.map((e) => e.msgId)).toEqual(msgIds(events));
      expect(stored.map((e) => e.body)).toEqual(payloads(events));
      expect(stored.every((e) => e.subject === "rsv.evt.wallet.charged")).toBe(true);
    });

    test("events nobody published (their process died after the commit) are swept, in id order", async () => {
      await purge();
      const events = charges(100, 6);
      await record(db, events);
      const sweeper = relay();
      await sweeper.start();
      await waitFor(async () => (await outboxSize(db)) === 0, "the sweep to empty the outbox");
      const stored = await storedEvents(nc);
      expect(stored.map((e) => e.msgId)).toEqual(msgIds(events));
      expect(stored.map((e) => e.body)).toEqual(payloads(events));
      await sweeper.stop();
    });

    test("during a NATS outage events stay in the table; once it is back they all arrive, once", async () => {
      await purge();
      const sweeper = relay();
      await sweeper.start();
      await nats.stop();
      const events = charges(200, 8);
      await record(db, events);
      publishAll(sweeper, events);
      await Bun.sleep(800);
      expect(await outboxSize(db)).toBe(8);
      await nats.restart();
      await waitFor(async () => (await outboxSize(db)) === 0, "the outbox to empty after the outage", 15_000);
      const stored = await storedEvents(nc);
      expect(stored.map((e) => e.msgId).sort()).toEqual(msgIds(events).sort());
      await sweeper.stop();
    }, 30_000);

    test("two instances sweeping one backlog publish each row once", async () => {
      await purge();
      const events = charges(1000, 600);
      await record(db, events);
      let published = 0;
      const counting = nc.subscribe("rsv.evt.wallet.charged", { callback: () => (published += 1) });
      const [a, b] = [relay({ pageSize: 40, instance: "a" }), relay({ pageSize: 40, instance: "b" })];
      await a!.start();
      await b!.start();
      await waitFor(async () => (await outboxSize(db)) === 0, "both sweepers to empty the outbox", 20_000);
      await nc.flush();
      counting.unsubscribe();
      // Every publish reaches a plain subscriber, repeats included: the stream's deduplication is not what made it once.
      expect(published).toBe(3000);
      const stored = await storedEvents(nc);
      expect(stored.length).toBe(3000);
      expect(repeatedIds(stored)).toEqual([]);
      await Promise.all([a!.stop(), b!.stop()]);
    }, 30_000);

    test("a restarted instance takes back at once the page it had claimed when it died", async () => {
      await purge();
      const events = charges(7000, 4);
      await record(db, events);
      await db.query(`UPDATE event_outbox SET claimed_until = now() + interval '1 hour', claimed_by = 'restarted'`);
      const other = relay({ instance: "other" });
      await other.start();
      await Bun.sleep(600);
      expect(await outboxSize(db)).toBe(4);
      const restarted = relay({ instance: "restarted" });
      await restarted.start();
      await waitFor(async () => (await outboxSize(db)) === 0, "the restarted instance to sweep its page");
      expect((await storedEvents(nc)).map((e) => e.msgId)).toEqual(msgIds(events));
      await Promise.all([other.stop(), restarted.stop()]);
    });

    test("a row published again (its delete was lost with the process) is stored once", async () => {
      await purge();
      const events = charges(5000, 2);
      await record(db, events);
      const fast = relay({ sweepEveryMs: 60_000 });
      publishAll(fast, events);
      await waitFor(async () => (await outboxSize(db)) === 0, "the outbox to empty");
      await record(db, events);
      const sweeper = relay();
      await sweeper.start();
      await waitFor(async () => (await outboxSize(db)) === 0, "the sweep to send them again");
      const stored = await storedEvents(nc);
      expect(stored.length).toBe(10);
      expect(repeatedIds(stored)).toEqual([]);
      await sweeper.stop();
    });

    test("an ownership notice carries its tenure and kind as Nats-Msg-Id, and sent again is stored once", async () => {
      await purge();
      const bus = await connectBus({ servers: [nats.url] }, 1000);
      const notice = { entity: eventEntity(7), instance: "a", epoch: 3 };
      bus.publish(Events.ownership("acquired"), notice, ownershipMsgId(notice.entity, notice.epoch, "acquired"));
      bus.publish(Events.ownership("acquired"), notice, ownershipMsgId(notice.entity, notice.epoch, "acquired"));
      bus.publish(Events.ownership("lost"), notice, ownershipMsgId(notice.entity, notice.epoch, "lost"));
      await bus.close();
      await waitFor(async () => (await storedEvents(nc)).length >= 2, "the notices to be stored");
      const stored = await storedEvents(nc);
      expect(stored.map((e) => [e.subject, e.msgId])).toEqual([
        ["rsv.evt.ownership.acquired", "ownership:event:7:3:acquired"],
        ["rsv.evt.ownership.lost", "ownership:event:7:3:lost"],
      ]);
    });
  });
}

test("RecentIds drops a repeat and forgets the oldest past its capacity", () => {
  const seen = new RecentIds(2);
  expect([seen.add(1), seen.add(1), seen.add(2), seen.add(3), seen.add(1), seen.add(3)]).toEqual([true, false, true, true, true, false]);
});
