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
import { createApp, SERVER_BODY_LIMIT } from "./http/app";
import { log } from "./shared/log";
import { startPaymentService } from "./payments/payments";
import { QueueAdmissionHost } from "./queue/queue-admission-host";
import { Ownership, requestOwner } from "./cluster/ownership";
import { QueueGate } from "./queue/queue-gate";
import { QueueStreams } from "./queue/queue-streams";
import { QueueViews } from "./queue/queue-views";
import { hostname } from "node:os";
import { startWalletService } from "./wallet/wallet";

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
  const db = await openDatabase(config.database, config.ownershipLeaseMs);
  if (config.seedDemo && (await seedDemo(db))) log.info("demo concerts loaded");
  const bus = await connectBus(config.nats, config.requestTimeoutMs, { whenNoResponder: requestOwner });
  // Before any actor starts, so the stream keeps the first event too.
  const stopEventStream = await keepEventStream(bus.nc);
  const instance = instanceName(config);
  const relay = new OutboxRelay(bus.nc, db, () => bus.connected(), { instance });
  await relay.start();
  const events = new ConcertEventHost(bus.nc, db, relay, config, instance);
  const queue = new QueueAdmissionHost(bus.nc, db, bus, relay, config, instance);
  const ownership = new Ownership(db, bus.nc, bus, { instance, leaseMs: config.ownershipLeaseMs, exclusive: db.engine === "pglite" }, { events, queue });
  const services: Service[] = [
    await startWalletService(bus.nc, db, relay),
    await startPaymentService(bus.nc, db, bus),
    await startCatalogService(bus.nc, db),
    await startCatalogAdminService(bus.nc, db),
  ];
  await ownership.start();
  const views = new QueueViews(bus, { maxActive: config.queueMaxActive, activeTtlMs: config.queueActiveTtlMs }, queue);
  views.start();
  const streams = new QueueStreams(views);
  const { fetch } = createApp({
    config,
    bus,
    queueGate: new QueueGate(bus, views),
    queues: {
      status: (token, userId) => views.status(token, userId),
      statusNow: (token, userId) => views.statusNow(token, userId),
      stream: (token) => streams.connect(token),
    },
    ready: async () => bus.connected() && (await databaseReachable(db)),
  });
  // Bun closes a connection idle for 10 s by default; a status stream is quiet for up to 15 s between pings.
  const server = Bun.serve({ port: config.port, fetch, maxRequestBodySize: SERVER_BODY_LIMIT, idleTimeout: 60 });
  log.info("listening", { port: server.port, instance, database: config.database.kind, nats: config.nats.servers });

  return {
    port: server.port!,
    instance,
    db,
    bus,
    async stop() {
      // Stop taking requests, let in-flight ones finish, then the actors, NATS and the database, in that order.
      streams.close();
      await server.stop();
      views.close();
      await ownership.stop();
      await Promise.all(services.map((s) => s.stop()));
      events.stop();
      queue.stop();
      await relay.stop();
      stopEventStream();
      await bus.close();
      await db.close();
    },
  };
}
