// The service on a three-node NATS cluster with RSV_EVENTS replicated three ways (deploy/nats-cluster/node.conf):
// the node the service is connected to is killed in the middle of a sale; the service reconnects to another node,
// the stream elects another leader, and a buyer's payment goes through within seconds, answered 200 or 503 with
// Retry-After meanwhile, never a 500. Every payment's event is in the stream once, read from a surviving node.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type NatsConnection } from "nats";
import { EVENT_STREAM } from "../../src/shared/event-stream";
import { storedEvents } from "../support/event-stream";
import { startNatsCluster, type NatsCluster } from "../support/nats-cluster";
import { waitFor } from "../support/nats-server";
import { startTestService, UserClient, type TestService } from "../support/service";

/** Sends a call again while it answers 503 (as Retry-After asks), for up to `withinMs`; any other answer is returned. */
async function untilServed(call: () => Promise<{ status: number; headers: Headers }>, seen: number[], withinMs = 20_000) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const answer = await call();
    seen.push(answer.status);
    if (answer.status !== 503 || Date.now() > deadline) return answer;
    expect(answer.headers.get("retry-after")).toBe("1");
    await Bun.sleep(250);
  }
}

async function buy(user: UserClient, seatId: number, seen: number[]): Promise<number> {
  const served = (call: () => Promise<any>) => untilServed(call, seen);
  expect((await served(() => user.call("PATCH", `/api/v1/users/${user.userId}/wallet/charge`, { amount: 500_000 }))).status).toBe(200);
  expect((await served(() => user.enterQueue())).status).toBe(200);
  expect((await served(() => user.call("POST", "/api/v1/concert-events/1/occupy", { seatId }))).status).toBe(200);
  const reserved: any = await served(() => user.call("POST", "/api/v1/concert-events/1/reserve", { seatId }));
  expect(reserved.status).toBe(200);
  const paid: any = await served(() => user.call("POST", "/api/v1/payments", { reservationId: reserved.body.data.id }));
  expect(paid.status).toBe(200);
  return paid.body.data.id;
}

describe("a three-node NATS cluster", () => {
  let cluster: NatsCluster;
  let service: TestService;
  let observer: NatsConnection | undefined;
  beforeAll(async () => {
    cluster = await startNatsCluster();
    service = await startTestService({ kind: "pglite-memory" }, { NATS_URL: cluster.urls, EVENT_STREAM_REPLICAS: "3" });
  }, 60_000);
  afterAll(async () => {
    await observer?.close();
    await service?.stop();
    await cluster?.stop();
  });

  test("losing the node the service is connected to: it reconnects, the replicated stream keeps every event", async () => {
    const jsm = async (nc: NatsConnection) => (await nc.jetstreamManager()).streams.info(EVENT_STREAM);
    await waitFor(async () => (await jsm(service.service.bus.nc).catch(() => undefined))?.config.num_replicas === 3, "RSV_EVENTS with 3 replicas");
    const seen: number[] = [];
    const before = await buy(new UserClient(service.base, 1), 1, seen);

    const connectedTo = service.service.bus.nc.getServer();
    const lost = cluster.nodes.find((node) => node.url.endsWith(connectedTo.replace(/^.*?:\/\//, "")))!;
    expect(lost).toBeDefined();
    await lost.stop();
    const after = await buy(new UserClient(service.base, 2), 2, seen);
    expect(service.service.bus.nc.getServer()).not.toBe(connectedTo);
    expect(seen.filter((status) => status !== 200 && status !== 503)).toEqual([]);

    observer = await connect({ servers: cluster.nodes.filter((node) => node !== lost).map((node) => node.url) });
    // While the stream elects a leader its API does not answer: asked again until it does.
    const completed = async () =>
      (await Promise.race([storedEvents(observer!), Bun.sleep(3000).then(() => [])]).catch(() => [])).filter((e) => e.subject.endsWith(".payment.completed")).map((e) => Number(e.body.paymentId));
    let found: number[] = [];
    await waitFor(async () => (found = await completed()).length >= 2, "both payments' events in the stream", 20_000);
    expect(found.sort((a, b) => a - b)).toEqual([before, after].sort((a, b) => a - b));

    // The node comes back and catches up: the stream has its three replicas again.
    await lost.start();
    await waitFor(async () => {
      const info = await jsm(observer!).catch(() => undefined);
      return (info?.cluster?.replicas ?? []).filter((r) => r.current).length === 2;
    }, "the returning node to catch up", 30_000);
  }, 90_000);
});
