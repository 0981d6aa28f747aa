// Several service processes on one NATS and one PostgreSQL server, and a ticket rush driven through them as a load
// balancer would: what the scale-out and paused-owner tests share.
import { expect } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import type { Database } from "../../src/shared/db";
import { preferredOwner } from "../../src/cluster/ownership";
import { eventEntity, QUEUE_ENTITY, queueEntity } from "../../src/cluster/ownership-store";
import { freshPostgres } from "./databases";
import { freePort, portOpen, startNatsServer, waitFor } from "./nats-server";
import { TEST_SECRET, UserClient, type Response } from "./service";

/** A private nats-server and a fresh database on the PostgreSQL server, both removed by `cleanup`. */
export async function sharedBackends(cleanup: (() => unknown)[], nats: { pingSeconds?: number } = {}) {
  const server = await startNatsServer(nats);
  cleanup.push(() => server.stop());
  const database = await freshPostgres();
  cleanup.push(() => database.drop());
  return { natsUrl: server.url, target: database.target, url: (database.target as { url: string }).url };
}

/** Every entity that needs an owner when the demo's three concerts and events 1..lastEvent exist. */
export const entitiesUpTo = (lastEvent: number): string[] => [
  QUEUE_ENTITY,
  ...[1, 2, 3].map(queueEntity),
  ...Array.from({ length: lastEvent }, (_, i) => eventEntity(i + 1)),
];

export interface Instance {
  id: string;
  port: number;
  base: string;
  child?: ChildProcess;
  exited?: Promise<number | null>;
  launch(): Promise<void>;
}

/** Instances named so that `fits` holds for their preferred placement (tests pick who owns what this way). */
export function instanceNames(count: number, fits: (ids: string[]) => boolean): string[] {
  for (let n = 0; ; n++) {
    const ids = Array.from({ length: count }, (_, i) => `node-${String.fromCharCode(97 + i)}${n}`);
    if (fits(ids)) return ids;
  }
}

export async function instances(ids: string[], env: Record<string, string>, cleanup: (() => unknown)[]): Promise<Instance[]> {
  return Promise.all(
    ids.map(async (id) => {
      const port = await freePort();
      const instance: Instance = {
        id,
        port,
        base: `http://127.0.0.1:${port}`,
        async launch() {
          const child = spawn(process.execPath, ["src/main.ts"], {
            env: { ...process.env, AUTH_SECRET: TEST_SECRET, LOG_LEVEL: "error", ...env, PORT: String(port), INSTANCE_ID: id },
            stdio: ["ignore", "ignore", "inherit"],
          });
          instance.child = child;
          instance.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
          cleanup.push(() => {
            child.kill("SIGCONT");
            child.kill("SIGKILL");
          });
          await waitFor(() => portOpen(port), `${id} to listen`, 30_000);
        },
      };
      return instance;
    }),
  );
}

/** Which instance holds each entity's lease now. */
export async function owners(db: Database): Promise<Map<string, string>> {
  const rows = await db.query(`SELECT entity, instance FROM ownerships WHERE lease_until > now() AND instance IS NOT NULL`);
  return new Map(rows.map((row) => [String(row.entity), String(row.instance)]));
}

export async function placedAsPreferred(db: Database, entities: string[], live: Instance[]): Promise<boolean> {
  const now = await owners(db);
  return entities.every((e) => now.get(e) === preferredOwner(e, live.map((i) => i.id)));
}

/**
 * Users buying seats of one event as fast as they can: occupy, reserve, pay, back into the queue. Records every
 * answer, which seat each 200 gave to whom, and every acknowledged payment, to be checked against the database.
 */
export class Rush {
  readonly statuses = new Map<number, number>();
  readonly unavailable: Response[] = [];
  readonly holds = new Map<number, number>();
  readonly doubleBooked: number[] = [];
  readonly paid = new Map<number, { userId: number; amount: number }>();
  /** Users whose queue token was refused as used up: a payment whose answer they lost went through. */
  readonly tokenUsedUp = new Set<number>();
  private stopped = false;
  private running: Promise<unknown> | undefined;
  /** Called for every 200 hold with when it was asked for and when it was answered. */
  onHold: (sentAt: number, at: number) => void = () => {};

  constructor(
    private readonly users: UserClient[],
    private readonly eventId: number,
    private readonly seats: { first: number; count: number },
    private readonly pick: (n: number) => string,
  ) {}

  static async users(count: number, firstUserId: number, base: string): Promise<UserClient[]> {
    const users = Array.from({ length: count }, (_, i) => new UserClient(base, firstUserId + i));
    for (const u of users) {
      expect((await u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount: 10_000_000 })).status).toBe(200);
      expect((await u.enterQueue()).status).toBe(200);
    }
    return users;
  }

  start(): void {
    this.running = Promise.all(this.users.map((u, i) => this.buy(u, i)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private tally(r: Response | undefined): Response | undefined {
    if (!r || (r.status === 400 && r.body.error.code === "invalid_token")) return r;
    this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
    if (r.status === 503) this.unavailable.push(r);
    return r;
  }

  private async reenter(u: UserClient): Promise<void> {
    while (!this.stopped && this.tally(await u.enterQueue().catch(() => undefined))?.status !== 200) await Bun.sleep(50);
  }

  /** A call, and back into the queue first if the token turned out to be used up. */
  private async step(u: UserClient, method: string, path: string, body: unknown): Promise<Response | undefined> {
    const r = await u.call(method, path, body).catch(() => undefined);
    if (r?.status === 400 && r.body.error.code === "invalid_token") {
      this.tokenUsedUp.add(u.userId);
      await this.reenter(u);
    }
    return this.tally(r);
  }

  private async buy(u: UserClient, i: number): Promise<void> {
    for (let n = i; !this.stopped; n++) {
      u.base = this.pick(n);
      const seatId = this.seats.first + ((i * 37 + n * 11) % this.seats.count);
      const sentAt = Date.now();
      const held = await this.step(u, "POST", `/api/v1/concert-events/${this.eventId}/occupy`, { seatId });
      if (held?.status !== 200) continue;
      this.onHold(sentAt, Date.now());
      const holder = this.holds.get(seatId);
      if (holder !== undefined && holder !== u.userId) this.doubleBooked.push(seatId);
      this.holds.set(seatId, u.userId);
      const reserved = await this.step(u, "POST", `/api/v1/concert-events/${this.eventId}/reserve`, { seatId });
      if (reserved?.status !== 200) continue;
      const payment = await this.step(u, "POST", "/api/v1/payments", { reservationId: reserved.body.data.id });
      if (payment?.status !== 200) continue;
      this.paid.set(payment.body.data.id, { userId: u.userId, amount: payment.body.data.amount });
      // Paying ends the user's turn; back into the queue for the next seat.
      await this.reenter(u);
    }
  }

  summary(): string {
    return `statuses ${JSON.stringify(Object.fromEntries(this.statuses))}; ${this.paid.size} payments; ${this.tokenUsedUp.size} users paid without hearing so`;
  }

  /** Only 200, 409 and 503 (with Retry-After); no seat acknowledged to two users; everything acknowledged is stored. */
  async expectConsistentWith(db: Database): Promise<void> {
    expect([...this.statuses.keys()].filter((s) => ![200, 409, 503].includes(s))).toEqual([]);
    for (const r of this.unavailable) expect(r.headers.get("retry-after")).toBe("1");
    expect(this.doubleBooked).toEqual([]);
    for (const [seatId, userId] of this.holds) {
      const [row] = await db.query(`SELECT status, user_id FROM seats WHERE id = $1`, [seatId]);
      expect([seatId, Number(row!.user_id)]).toEqual([seatId, userId]);
      expect(["HELD", "RESERVED", "SOLD"]).toContain(String(row!.status));
    }
    for (const [paymentId, { userId, amount }] of this.paid) {
      const [row] = await db.query(`SELECT user_id, amount FROM payments WHERE id = $1`, [paymentId]);
      expect([paymentId, Number(row!.user_id), Number(row!.amount)]).toEqual([paymentId, userId, amount]);
    }
    for (const userId of this.tokenUsedUp) {
      const payments = await db.query(`SELECT id FROM payments WHERE user_id = $1`, [userId]);
      expect(payments.some((row) => !this.paid.has(Number(row.id)))).toBe(true);
    }
  }
}

/** `bun run verify` against the database: exits 0 and reports no violation. */
export function verifyPasses(url: string): void {
  const audit = spawnSync(process.execPath, ["run", "verify"], { env: { ...process.env, DATABASE_URL: url }, encoding: "utf8" });
  expect(audit.stdout + audit.stderr).not.toContain("FAIL");
  expect(audit.status).toBe(0);
}
