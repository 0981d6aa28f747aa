// Wires the service together: database, NATS, the actor hosts and their NATS endpoints, and the HTTP edge.
// main.ts runs it as a process; the end-to-end tests start it in-process the same way.
import type { Service } from "nats";
import { connectBus, type Bus } from "./bus";
import { startCatalogService } from "./catalog";
import { ConcertEventHost } from "./concert-event-host";
import { releaseLapsed } from "./concert-event-store";
import type { Config } from "./config";
import { openDatabase, type Database } from "./db";
import { seedDemo } from "./demo-data";
import { createApp, instrumented, SERVER_BODY_LIMIT } from "./http/app";
import { log } from "./log";
import { startPaymentService } from "./payments";
import { QueueAdmissionHost } from "./queue-admission-host";
import { QueueGate } from "./queue-gate";
import { startWalletService } from "./wallet";

export interface RunningService {
  port: number;
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

export async function startService(config: Config): Promise<RunningService> {
  if (config.authSecretIsDevelopment) log.warn("AUTH_SECRET is not set: using the development secret");
  const db = await openDatabase(config.database);
  if (config.seedDemo && (await seedDemo(db))) log.info("demo concerts loaded");
  const released = await releaseLapsed(db, Date.now());
  if (released > 0) log.info("released lapsed holds and reservations on start", { released });

  const bus = await connectBus(config.natsServers, config.requestTimeoutMs);
  const events = new ConcertEventHost(db, bus, config);
  const queue = new QueueAdmissionHost(db, bus, config);
  const services: Service[] = [
    await events.start(bus.nc),
    await queue.start(bus.nc),
    await startWalletService(bus.nc, db, bus),
    await startPaymentService(bus.nc, db, bus),
    await startCatalogService(bus.nc, db),
  ];
  const queueGate = new QueueGate(bus);
  const app = createApp({
    config,
    bus,
    queueGate,
    ready: async () => bus.connected() && (await databaseReachable(db)),
  });
  const server = Bun.serve({ port: config.port, fetch: instrumented(app.fetch), maxRequestBodySize: SERVER_BODY_LIMIT });
  log.info("listening", { port: server.port, database: config.database.kind, nats: config.natsServers });

  return {
    port: server.port!,
    db,
    bus,
    async stop() {
      // Stop taking requests, let in-flight ones finish, then the actors, NATS and the database, in that order.
      await server.stop();
      queueGate.close();
      await Promise.all(services.map((s) => s.stop()));
      events.stop();
      queue.stop();
      await bus.close();
      await db.close();
    },
  };
}
