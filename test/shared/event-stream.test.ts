// The RSV_EVENTS stream: created as defined, left alone when it is right, corrected where it must be, and no reason
// for the service to stop serving when the server has no JetStream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, nanos, type NatsConnection } from "nats";
import { ensureEventStream, EVENT_STREAM, keepEventStream } from "../../src/shared/event-stream";
import { startNatsServer, type NatsServer } from "../support/nats-server";
import { startTestService, UserClient } from "../support/service";

const MINUTE = nanos(60_000);

describe("RSV_EVENTS on a server with JetStream", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  test("is created once, keeping every rsv.evt. publish", async () => {
    await ensureEventStream(nc);
    const jsm = await nc.jetstreamManager();
    const created = await jsm.streams.info(EVENT_STREAM);
    expect(created.config).toMatchObject({ subjects: ["rsv.evt.>"], storage: "file", retention: "limits", duplicate_window: 5 * MINUTE, max_age: 7 * 24 * 60 * MINUTE });
    await ensureEventStream(nc);
    expect((await jsm.streams.info(EVENT_STREAM)).created).toBe(created.created);

    nc.publish("rsv.evt.wallet.charged", JSON.stringify({ userId: 1, amount: 5, balance: 5 }));
    nc.publish("rsv.wallet.charge", JSON.stringify({ userId: 1, amount: 5 }));
    await nc.flush();
    const kept = await jsm.streams.info(EVENT_STREAM);
    expect(kept.state.messages).toBe(1);
    expect((await jsm.streams.getMessage(EVENT_STREAM, { seq: kept.state.last_seq })).subject).toBe("rsv.evt.wallet.charged");
  });

  test("gets its subjects and duplicate window back, and keeps what an operator tuned", async () => {
    const jsm = await nc.jetstreamManager();
    const { config } = await jsm.streams.info(EVENT_STREAM);
    await jsm.streams.update(EVENT_STREAM, { ...config, subjects: ["rsv.evt.event.>"], duplicate_window: MINUTE / 2, max_age: 30 * 24 * 60 * MINUTE });
    await ensureEventStream(nc);
    expect((await jsm.streams.info(EVENT_STREAM)).config).toMatchObject({ subjects: ["rsv.evt.>"], duplicate_window: 5 * MINUTE, max_age: 30 * 24 * 60 * MINUTE });

    await jsm.streams.update(EVENT_STREAM, { ...config, duplicate_window: 10 * MINUTE });
    await ensureEventStream(nc);
    expect((await jsm.streams.info(EVENT_STREAM)).config.duplicate_window).toBe(10 * MINUTE);
  });

  test("is retried until it can be made", async () => {
    await (await nc.jetstreamManager()).streams.delete(EVENT_STREAM);
    let attempts = 0;
    const flaky = new Proxy(nc, {
      get: (target, key) =>
        key === "jetstreamManager"
          ? () => (++attempts < 3 ? Promise.reject(new Error("jetstream not ready")) : target.jetstreamManager())
          : Reflect.get(target, key),
    });
    const jsm = await nc.jetstreamManager();
    const stop = await keepEventStream(flaky, 1, 50);
    const exists = () => jsm.streams.info(EVENT_STREAM).then(() => true, () => false);
    const until = Date.now() + 5000;
    while (!(await exists()) && Date.now() < until) await Bun.sleep(20);
    await Bun.sleep(200);
    stop();
    expect(await exists()).toBe(true);
    expect(attempts).toBe(3);
  });
});

test("a server without JetStream: the service serves all the same", async () => {
  const t = await startTestService({ kind: "pglite-memory" }, {}, await startNatsServer({ jetstream: false }));
  try {
    await expect(ensureEventStream(t.service.bus.nc)).rejects.toThrow();
    const user = new UserClient(t.base, 11);
    expect((await user.call("PATCH", "/api/v1/users/11/wallet/charge", { amount: 500 })).body).toEqual({ data: { balance: 500 } });
  } finally {
    await t.stop();
  }
}, 60_000);
