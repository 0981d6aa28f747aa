// The system a chaos run drives: a private PostgreSQL server, a three-node NATS cluster from deploy/nats-cluster and
// three service instances on both, each with its own log. Every process can be killed, paused and started again; the
// nemesis finds its targets here (who owns an entity, which node an instance is connected to).
import { spawn, type ChildProcess } from "node:child_process";
import { openSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type Database } from "../../src/shared/db";
import { startNatsCluster, type ClusterNode, type NatsCluster } from "../support/nats-cluster";
import { freePort, portOpen, waitFor } from "../support/nats-server";
import { startPostgresServer, type PostgresServer } from "../support/postgres-server";

const ROOT = join(import.meta.dir, "../..");

export class ServiceInstance {
  child: ChildProcess | undefined;
  paused = false;

  constructor(
    readonly id: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
  ) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process, and starts it again while it exits before listening (its database may be restarting). */
  async start(): Promise<void> {
    const until = Date.now() + 90_000;
    for (;;) {
      const log = openSync(this.logFile, "a");
      const child = spawn(process.execPath, ["src/main.ts"], {
        cwd: ROOT,
        env: { ...process.env, ...this.env, PORT: String(this.port), INSTANCE_ID: this.id },
        stdio: ["ignore", log, log],
      });
      this.child = child;
      this.paused = false;
      await waitFor(async () => !this.running || (await portOpen(this.port)), `${this.id} to listen`, Math.max(1, until - Date.now()));
      if (this.running) return;
      if (Date.now() > until) throw new Error(`${this.id} kept exiting at start (see ${this.logFile})`);
      await Bun.sleep(1000);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGKILL");
    await exited;
    this.paused = false;
  }

  pause(): void {
    if (!this.running) return;
    this.child!.kill("SIGSTOP");
    this.paused = true;
  }

  resume(): void {
    if (!this.running) return;
    this.child!.kill("SIGCONT");
    this.paused = false;
  }
}

export interface SystemOptions {
  dir: string;
  secret: string;
  /** The services' settings beyond the connections (queue size, hold time, ...). */
  env: Record<string, string>;
}

export class System {
  private observerDb: Database | undefined;

  private constructor(
    readonly postgres: PostgresServer,
    readonly nats: NatsCluster,
    readonly instances: ServiceInstance[],
  ) {}

  static async start({ dir, secret, env }: SystemOptions): Promise<System> {
    const [postgres, nats] = await Promise.all([startPostgresServer(), startNatsCluster(3)]);
    const shared = { ...env, AUTH_SECRET: secret, DATABASE_URL: postgres.url, NATS_URL: nats.urls, EVENT_STREAM_REPLICAS: "3", SEED_DEMO: "false" };
    const ids = ["svc-a", "svc-b", "svc-c"];
    const instances = await Promise.all(ids.map(async (id) => new ServiceInstance(id, await freePort(), shared, join(dir, `${id}.log`))));
    // One at a time: the first applies the migrations, the others find them done.
    for (const instance of instances) await instance.start();
    return new System(postgres, nats, instances);
  }

  /** A connection of the run's own to the database, opened again after a restart of the server. */
  async db(): Promise<Database> {
    this.observerDb ??= await openDatabase({ kind: "postgres", url: this.postgres.url });
    return this.observerDb;
  }

  async query(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    for (let tries = 0; ; tries++) {
      try {
        return await (await this.db()).query(sql, params);
      } catch (error) {
        if (tries >= 40) throw error;
        await this.observerDb?.close().catch(() => {});
        this.observerDb = undefined;
        await Bun.sleep(250);
      }
    }
  }

  /** The instance holding an entity's lease now, if any. */
  async ownerOf(entity: string): Promise<ServiceInstance | undefined> {
    const [row] = await this.query(`SELECT instance FROM ownerships WHERE entity = $1 AND lease_until > now()`, [entity]);
    return this.instances.find((i) => i.id === row?.instance);
  }

  /** The NATS node an instance's connection is on, from the nodes' /connz (the service names its connection). */
  async nodeOf(instance: ServiceInstance): Promise<ClusterNode | undefined> {
    for (const node of this.nats.nodes) {
      const connz = (await fetch(`${node.monitor}/connz?limit=1024`, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.json())
        .catch(() => undefined)) as { connections?: { name?: string }[] } | undefined;
      if (connz?.connections?.some((c) => c.name === `concert-reservation ${instance.id}`)) return node;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    for (const instance of this.instances) {
      instance.resume();
      await instance.kill();
    }
    await this.observerDb?.close().catch(() => {});
    await this.nats.stop();
    await this.postgres.stop();
  }
}
