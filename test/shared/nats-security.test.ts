// deploy/nats-server.conf as shipped: nobody gets in without a password; the whole service works as `service` without
// a single permission refused; `monitor` watches events, the service API and the RSV_EVENTS stream, and can neither
// send a request, nor read one, nor change the stream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connect, createInbox, type NatsConnection, type ServiceStats } from "nats";
import { SERVICE_INBOX_PREFIX } from "../../src/shared/bus";
import { loadConfig, loadNatsConfig } from "../../src/shared/config";
import { EVENT_STREAM } from "../../src/shared/event-stream";
import { connectNats } from "../../src/shared/nats-connection";
import { startService, type RunningService } from "../../src/service";
import { freshPostgres, postgresAvailable } from "../support/databases";
import { startNatsServer, type NatsServer } from "../support/nats-server";
import { startTestService, TEST_SECRET, UserClient, type TestService } from "../support/service";

const codeOf = (error: unknown) => (error as { code?: string }).code;

/** What the server refused a user, from its log: `Publish Violation - User "monitor", Subject "rsv.wallet.charge"`. */
function refusals(server: NatsServer, user: "service" | "monitor"): string[] {
  const refused = new RegExp(`(\\w+) Violation - User "${user}", Subject "([^"]+)"`);
  return readFileSync(server.logFile, "utf8").split("\n").flatMap((line) => {
    const match = refused.exec(line);
    return match ? [`${match[1]} ${match[2]}`] : [];
  });
}

function asUser(server: NatsServer, user: "service" | "monitor"): Promise<NatsConnection> {
  return connectNats(loadNatsConfig({ NATS_URL: server.url, NATS_USER: user, NATS_PASSWORD: server.passwords![user] }), { reconnect: false });
}

/** Whether subscribing is refused: the server answers a refused subscription with a permissions error. */
async function subscribeRefused(nc: NatsConnection, subject: string): Promise<string | undefined> {
  const sub = nc.subscribe(subject);
  const ended = (async () => {
    for await (const _ of sub);
  })().then(
    () => "ended",
    (error) => codeOf(error),
  );
  await nc.flush();
  return Promise.race([ended, Bun.sleep(500).then(() => "allowed")]);
}

/** Every answer to one request, as `nats micro` gathers them: until `expected` came, or a second passed. */
async function answers(nc: NatsConnection, subject: string, expected: number): Promise<{ name: string }[]> {
  const inbox = createInbox();
  const got: { name: string }[] = [];
  const sub = nc.subscribe(inbox, { callback: (_, msg) => got.push(msg.json()) });
  nc.publish(subject, undefined, { reply: inbox });
  const until = Date.now() + 1000;
  while (got.length < expected && Date.now() < until) await Bun.sleep(20);
  await Bun.sleep(100);
  sub.unsubscribe();
  return got;
}

describe("deploy/nats-server.conf", () => {
  let nats: NatsServer;
  let t: TestService;
  let monitor: NatsConnection;
  const user = new UserClient("", 501);

  beforeAll(async () => {
    nats = await startNatsServer({ secured: true });
    t = await startTestService({ kind: "pglite-memory" }, { NATS_USER: "service", NATS_PASSWORD: nats.passwords!.service }, nats);
    user.base = t.base;
    monitor = await asUser(nats, "monitor");
  }, 30_000);
  afterAll(async () => {
    await monitor?.close();
    await t?.stop();
  });

  test("refuses anonymous connections, wrong passwords, and one user's password for the other", async () => {
    const attempt = (options: { user?: string; pass?: string }) =>
      connect({ servers: nats.url, reconnect: false, ...options }).then(
        (nc) => nc.close().then(() => "connected"),
        (error) => codeOf(error),
      );
    expect(await attempt({})).toBe("AUTHORIZATION_VIOLATION");
    expect(await attempt({ user: "service", pass: "wrong" })).toBe("AUTHORIZATION_VIOLATION");
    expect(await attempt({ user: "monitor", pass: nats.passwords!.service })).toBe("AUTHORIZATION_VIOLATION");
    expect(await attempt({ user: "monitor", pass: nats.passwords!.monitor })).toBe("connected");
  });

  test("the whole service works as `service`, and the server refuses it nothing", async () => {
    expect((await user.call("PATCH", `/api/v1/users/501/wallet/charge`, { amount: 200_000 })).body).toEqual({ data: { balance: 200_000 } });
    expect((await user.enterQueue()).body.data.status).toBe("ACTIVE");
    const held = await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 7 });
    expect(held.status).toBe(200);
    const reserved = await user.call("POST", "/api/v1/concert-events/1/reserve", { seatId: 7 });
    expect(reserved.body.data.status).toBe("PENDING");
    const paid = await user.call("POST", "/api/v1/payments", { reservationId: reserved.body.data.id });
    expect(paid.body.data.status).toBe("success");
    expect((await user.call("GET", "/api/v1/users/501/wallet")).body.data.balance).toBe(200_000 - paid.body.data.amount);
    expect(refusals(nats, "service")).toEqual([]);
  });

  test("monitor sees domain events live and reads the service API's stats", async () => {
    const seen: string[] = [];
    monitor.subscribe("rsv.evt.>", { callback: (_, msg) => seen.push(`${msg.subject} ${msg.string()}`) });
    await monitor.flush();
    await user.call("PATCH", `/api/v1/users/501/wallet/charge`, { amount: 1000 });
    const until = Date.now() + 5000;
    while (!seen.some((s) => s.startsWith("rsv.evt.wallet.charged")) && Date.now() < until) await Bun.sleep(20);
    expect(seen.find((s) => s.startsWith("rsv.evt.wallet.charged"))).toContain('"userId":501');

    const stats = (await monitor.request("$SRV.STATS.wallet", undefined, { timeout: 2000 })).json<ServiceStats>();
    expect(stats.name).toBe("wallet");
    expect(stats.endpoints?.find((e) => e.name === "charge")?.num_requests).toBeGreaterThanOrEqual(2);
    const ping = (await monitor.request("$SRV.PING.catalog", undefined, { timeout: 2000 })).json<{ name: string }>();
    expect(ping.name).toBe("catalog");

    // One connection hosts a service per owned event: each answers, as `nats micro ls|stats` expect.
    expect((await answers(monitor, "$SRV.STATS.concert-event", 9)).map((s) => s.name)).toEqual(Array(9).fill("concert-event"));
    const all = (await answers(monitor, "$SRV.PING", 14)).map((s) => s.name);
    expect(new Set(all)).toEqual(new Set(["concert-event", "queue-admission", "ownership", "wallet", "payments", "catalog", "catalog-admin"]));
    expect(refusals(nats, "service")).toEqual([]);
  });

  test("monitor reads RSV_EVENTS: its settings, and the events it kept, replayed from a start time", async () => {
    const jsm = await monitor.jetstreamManager();
    const { config, state } = await jsm.streams.info(EVENT_STREAM);
    expect(config).toMatchObject({ subjects: ["rsv.evt.>"], storage: "file" });
    expect(config.duplicate_window).toBeGreaterThanOrEqual(120 * 1e9);
    expect(state.messages).toBeGreaterThan(0);

    const consumer = await monitor.jetstream().consumers.get(EVENT_STREAM, { opt_start_time: new Date(Date.now() - 60_000).toISOString() });
    const replayed: string[] = [];
    for (let msg = await consumer.next({ expires: 2000 }); msg; msg = await consumer.next({ expires: 1000 })) {
      replayed.push(msg.subject);
      if (msg.subject === "rsv.evt.event.1.payment.completed") break;
    }
    expect(replayed).toContain("rsv.evt.wallet.charged");
    expect(replayed).toContain("rsv.evt.event.1.seat.held");
    expect(replayed.at(-1)).toBe("rsv.evt.event.1.payment.completed");
  });

  test("monitor cannot send a request: a charge is refused and changes nothing", async () => {
    const before = (await user.call("GET", "/api/v1/users/501/wallet")).body.data.balance;
    const charge = JSON.stringify({ userId: 501, amount: 1_000_000 });
    const refused = await monitor.request("rsv.wallet.charge", charge, { timeout: 2000 }).then(
      () => "answered",
      (error) => codeOf(error),
    );
    expect(refused).toBe("PERMISSIONS_VIOLATION");
    // Nor without waiting for an answer, nor by forging an event the service listens to.
    monitor.publish("rsv.wallet.charge", charge);
    monitor.publish("rsv.evt.queue.token.expired", JSON.stringify({ tokenId: "forged" }));
    await monitor.flush();
    await Bun.sleep(200);
    expect((await user.call("GET", "/api/v1/users/501/wallet")).body.data.balance).toBe(before);
    expect(refusals(nats, "monitor")).toEqual(["Publish rsv.wallet.charge", "Publish rsv.wallet.charge", "Publish rsv.evt.queue.token.expired"]);
  });

  test("monitor cannot read requests, the service's replies, or anything else", async () => {
    const reader = await asUser(nats, "monitor");
    for (const subject of ["rsv.event.>", "rsv.wallet.charge", "rsv.>", `${SERVICE_INBOX_PREFIX}.>`, ">"]) {
      expect([subject, await subscribeRefused(reader, subject)]).toEqual([subject, "PERMISSIONS_VIOLATION"]);
    }
    await reader.close();
  });

  test("monitor cannot change the stream", async () => {
    const jsm = await monitor.jetstreamManager();
    const refused = (work: Promise<unknown>) => work.then(() => "done", (error) => codeOf(error));
    expect(await refused(jsm.streams.purge(EVENT_STREAM))).toBe("PERMISSIONS_VIOLATION");
    expect(await refused(jsm.streams.delete(EVENT_STREAM))).toBe("PERMISSIONS_VIOLATION");
    expect(await refused(jsm.streams.update(EVENT_STREAM, { max_age: 1e9 }))).toBe("PERMISSIONS_VIOLATION");
    expect((await jsm.streams.info(EVENT_STREAM)).state.messages).toBeGreaterThan(0);
  });
});

describe.skipIf(!(await postgresAvailable()))("deploy/nats-server.conf with two instances", () => {
  let nats: NatsServer;
  const running: RunningService[] = [];
  let drop: () => Promise<void>;
  afterAll(async () => {
    for (const service of running) await service.stop();
    await nats?.stop();
    await drop?.();
  });

  test("instances serve each other's events and hand them over, all as `service`", async () => {
    nats = await startNatsServer({ secured: true });
    const database = await freshPostgres();
    drop = database.drop;
    const env = {
      PORT: "0",
      NATS_URL: nats.url,
      NATS_USER: "service",
      NATS_PASSWORD: nats.passwords!.service,
      AUTH_SECRET: TEST_SECRET,
      DATABASE_URL: (database.target as { url: string }).url,
      OWNERSHIP_LEASE_SECONDS: "2",
    };
    for (const id of ["secured-a", "secured-b"]) running.push(await startService(loadConfig({ ...env, INSTANCE_ID: id })));
    const [a, b] = running as [RunningService, RunningService];
    const owners = async () => new Set((await b.db.query(`SELECT instance FROM ownerships WHERE lease_until > now() AND instance IS NOT NULL`)).map((r) => r.instance));
    const until = Date.now() + 15_000;
    while ((await owners()).size < 2 && Date.now() < until) await Bun.sleep(100);
    expect(await owners()).toEqual(new Set(["secured-a", "secured-b"]));

    const buyer = new UserClient(`http://127.0.0.1:${a.port}`, 601);
    expect((await buyer.enterQueue()).status).toBe(200);
    const everyEvent = async (base: string) => {
      buyer.base = base;
      const statuses = [];
      for (let eventId = 1; eventId <= 9; eventId++) statuses.push((await buyer.call("GET", `/api/v1/concert-events/${eventId}/available-seats`)).status);
      return statuses;
    };
    expect(await everyEvent(`http://127.0.0.1:${a.port}`)).toEqual(Array(9).fill(200));
    expect(await everyEvent(`http://127.0.0.1:${b.port}`)).toEqual(Array(9).fill(200));

    await running.shift()!.stop();
    expect(await everyEvent(`http://127.0.0.1:${b.port}`)).toEqual(Array(9).fill(200));
    expect(await owners()).toEqual(new Set(["secured-b"]));
    expect(refusals(nats, "service")).toEqual([]);
  }, 60_000);
});
