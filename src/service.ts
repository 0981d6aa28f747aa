// Wires the service together: database, NATS, the actor hosts and their NATS endpoints, and the HTTP edge.
// main.ts runs it as a process; the end-to-end tests start it in-process the same way.
import type { Service } from "nats";
import { connectBus, type Bus } from "./shared/bus";
import { keepEventStream } from "./shared/event-stream";
import { OutboxRelay } from "./shared/outbox";
import { startCatalogService } from "./catalog/catalog";
import { startCatalogAdminService } from "./catalog/catalog-admin";
import { ConcertEventHost } from "./concert-event/concert-event-host";
import type { Config } from "./shared/config";
import { openDatabase, type Database } from "./shared/db";
import { seedDemo } from "./catalog/demo-data";
import { pages } from "./pages/pages";
import { createApp, SERVER_BODY_LIMIT } from "./http/app";
import { log } from "./shared/log";
import { startPaymentService } from "./payments/payments";
import { QueueAdmissionHost } from "./queue/queue-admission-host";
import { Ownership, requestOwner } from "./cluster/ownership";
import { QueueGate } from "./queue/queue-gate";
import { QueueStreams } from "./queue/queue-streams";
import { QueueViews } from "./queue/queue-views";
import { SeatMapStreams } from "./seat-map/seat-map-streams";
import { SeatMapViews } from "./seat-map/seat-map-views";
import { fingerprintKey } from "./shared/queue-tokens";
import { hostname } from "node:os";
import { startWalletService } from "./wallet/wallet";
import { startTracing } from "./shared/tracing";

/** How long a starting instance waits for its queues to load before it listens anyway (and answers 503 until they have). */
const QUEUES_LOADED_WITHIN_MS = 10_000;

export interface RunningService {
  port: number;
  instance: string;
  db: Database;
  bus: Bus;
  stop(): Promise<void>;
}

async function databaseReachable(db: Database): Promise<boolean> {
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1000));
  const ping = db.query("SELECT 1").then(
    () => true,
    () => false,
  );
  return Promise.race([ping, timeout]);
}

/** Named after the address it serves, a restarted instance takes back at once what its previous run held. */
function instanceName(config: Config): string {
  return config.instanceId ?? `${hostname()}:${config.port === 0 ? `pid${process.pid}` : config.port}`;
}

export async function startService(config: Config): Promise<RunningService> {
  if (config.authSecretIsDevelopment) log.warn("AUTH_SECRET is not set: using the development secret");
  // How long each step of a start took (ms since the start): what a restart under a waiting crowd is made of.
  const startedAt = performance.now();
  const startup: Record<string, number> = {};
  const step = (name: string) => (startup[name] = Math.round(performance.now() - startedAt));
  const stopTracing = await startTracing(config.tracing);
  const db = await openDatabase(config.database, config.ownershipLeaseMs);
  if (config.seedDemo && (await seedDemo(db))) log.info("demo concerts loaded");
  step("database");
  const instance = instanceName(config);
  // Named after the instance, so a NATS server's connection list (/connz) tells which instance is on which node.
  const bus = await connectBus(config.nats, config.requestTimeoutMs, { whenNoResponder: requestOwner, name: `concert-reservation ${instance}` });
  // Before any actor starts, so the stream keeps the first event too.
  const stopEventStream = await keepEventStream(bus.nc, config.eventStreamReplicas);
  step("nats");
  const relay = new OutboxRelay(bus.nc, db, () => bus.connected(), { instance });
  await relay.start();
  const events = new ConcertEventHost(bus.nc, db, bus, relay, config, instance);
  const queue = new QueueAdmissionHost(bus.nc, db, bus, relay, config, instance);
  const ownership = new Ownership(db, bus.nc, bus, { instance, leaseMs: config.ownershipLeaseMs, exclusive: db.engine === "pglite" }, { events, queue });
  const services: Service[] = [
    await startWalletService(bus.nc, db, relay),
    await startPaymentService(bus.nc, db, bus),
    await startCatalogService(bus.nc, db),
    await startCatalogAdminService(bus.nc, db),
  ];
  await ownership.start();
  step("ownership");
  await queue.loaded(QUEUES_LOADED_WITHIN_MS);
  step("queues");
  const views = new QueueViews(bus, { maxActive: config.queueMaxActive, activeTtlMs: config.queueActiveTtlMs }, queue);
  views.start();
  const streams = new QueueStreams(views);
  const queueGate = new QueueGate(bus, views);
  const maps = new SeatMapViews(bus, events);
  maps.start();
  const mapStreams = new SeatMapStreams(maps, (key, queueId) => queueGate.stillActive(key, queueId));
  // A seat map stream ends with the turn of the token that opened it.
  views.onChange((_, changes) => {
    for (const change of changes) if (change.type === "expired") mapStreams.tokenEnded(fingerprintKey(change.fp)!);
  });
  const { fetch } = createApp({
    config,
    bus,
    queueGate,
    queues: {
      status: (token, userId) => views.status(token, userId),
      statusNow: (token, userId) => views.statusNow(token, userId),
      stream: (token) => streams.connect(token),
    },
    seatMaps: {
      sections: (eventId, admittedTo) => maps.sections(eventId, admittedTo),
      availableList: (eventId, admittedTo, section) => maps.availableList(eventId, admittedTo, section),
      stream: async (eventId, token) => {
        const { queueId, key } = await queueGate.activeToken(token);
        return mapStreams.connect(eventId, queueId, key);
      },
    },
    ready: async () => bus.connected() && (await databaseReachable(db)),
    pages,
  });
  // Bun closes a connection idle for 10 s by default; a status stream is quiet for up to 15 s between pings.
  const server = Bun.serve({ port: config.port, fetch, maxRequestBodySize: SERVER_BODY_LIMIT, idleTimeout: 60 });
  step("listening");
  log.info("listening", { port: server.port, instance, database: config.database.kind, nats: config.nats.servers, startupMs: startup });

  return {
    port: server.port!,
    instance,
    db,
    bus,
    async stop() {
      // Stop taking requests, let in-flight ones finish, then the actors, NATS and the database, in that order.
      streams.close();
      mapStreams.close();
      await server.stop();
      views.close();
      maps.close();
      await ownership.stop();
      await Promise.all(services.map((s) => s.stop()));
      events.stop();
      queue.stop();
      await relay.stop();
      stopEventStream();
      await bus.close();
      await db.close();
      await stopTracing();
    },
  };
}
