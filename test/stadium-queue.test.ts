// A stadium's line: 200,000 fans wait in a concert's pre-queue (written straight into the database, as entering them
// over HTTP would take a minute). The service is killed with SIGKILL in the middle of the opening; after the restart
// the draw is stored, exactly once, and admission has started in its order. Then turns end while the line is long,
// and each freed place goes to the next in the drawn order.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openDatabase } from "../src/shared/db";
import type { DatabaseTarget } from "../src/shared/config";
import { drawnOrder } from "../src/shared/draw-order";
import { verify } from "../src/cli/verify";
import { processDatabaseCases } from "./support/databases";
import { freePort, portOpen, startNatsServer, waitFor } from "./support/nats-server";
import { TEST_SECRET, UserClient } from "./support/service";

const WAITING = 200_000;
const MAX_ACTIVE = 50;
const cases = await processDatabaseCases();

function startProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["src/main.ts"], {
    env: { ...process.env, ...env, AUTH_SECRET: TEST_SECRET, QUEUE_MAX_ACTIVE: String(MAX_ACTIVE), SEED_DEMO: "false", LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

const targetOf = (env: Record<string, string>): DatabaseTarget =>
  env.DATABASE_URL ? { kind: "postgres", url: env.DATABASE_URL } : { kind: "pglite-disk", dir: env.DATA_DIR! };

for (const db of cases) {
  describe(`a stadium's line on ${db.name}`, () => {
    const cleanup: (() => unknown)[] = [];
    afterAll(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    test("200,000 drawn and stored once across a SIGKILL mid-opening; admission in the drawn order as turns end", async () => {
      const nats = await startNatsServer();
      cleanup.push(() => nats.stop());
      const opened = await db.open();
      cleanup.push(opened.drop);
      const port = await freePort();
      const env: Record<string, string> = { PORT: String(port), NATS_URL: nats.url, ...opened.env };

      // The concert's pre-queue is written before the service first starts; the opening is set once it listens.
      const tokens = Array.from({ length: WAITING }, () => `1.${randomBytes(16).toString("base64url")}`);
      const setup = await openDatabase(targetOf(env));
      await setup.query(`INSERT INTO concerts (title, venue, sale_opens_at) VALUES ('임영웅 IM HERO', 'KSPO DOME', now() + interval '1 hour')`);
      for (let from = 0; from < WAITING; from += 50_000) {
        const part = tokens.slice(from, from + 50_000);
        await setup.query(
          `INSERT INTO queue_tokens (queue_id, token, user_id, seq, status, issued_at)
           SELECT 1, t, $2::int + n, $2::int + n, 'WAITING', now() - interval '1 minute' FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n)`,
          [part, from],
        );
      }
      await setup.close();

      let child = startProcess(env);
      cleanup.push(() => void child.kill("SIGKILL"));
      const restart = async (signal: "SIGKILL") => {
        child.kill(signal);
        await new Promise((resolve) => child.once("exit", resolve));
        child = startProcess(env);
        await waitFor(() => portOpen(port), "the service to listen again", 60_000);
      };
      await waitFor(() => portOpen(port), "the service to listen", 60_000);
      const base = `http://127.0.0.1:${port}`;
      const admin = new UserClient(base, 1, true);
      const fan = (userId: number) => Object.assign(new UserClient(base, userId), { queueToken: tokens[userId - 1] });
      // Everyone waits in the pre-queue: its size is everyone's position.
      expect((await fan(123_456).call("GET", "/api/v1/queue/status")).body.data).toMatchObject({ status: "WAITING", queuePosition: WAITING });
      const opensAt = Date.now() + 2000;
      expect((await admin.call("PATCH", "/api/v1/admin/concerts/1", { saleOpensAt: new Date(opensAt).toISOString() })).status).toBe(200);

      // SIGKILL in the middle of the opening: a moment after it is due, while the draw and first admissions commit.
      await Bun.sleep(Math.max(0, opensAt - Date.now()) + 250);
      await restart("SIGKILL");
      const admitted = async () => (await admin.call("GET", "/api/v1/admin/concerts/1/queue")).body.data?.active;
      await waitFor(async () => (await admitted()) === MAX_ACTIVE, "admission to go on after the restart", 20_000);

      // The stored seed says who should be in; PGlite serves one process, so it is read with the service stopped.
      const seedOf = async () => {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
        const db = await openDatabase(targetOf(env));
        const [row] = await db.query(`SELECT encode(queue_draw_seed, 'hex') AS seed FROM concerts WHERE id = 1`);
        const violations = await verify(db);
        await db.close();
        expect(violations).toEqual([]);
        return String(row!.seed);
      };
      const seed = await seedOf();
      child = startProcess(env);
      await waitFor(() => portOpen(port), "the service to listen again", 60_000);
      const seqs = Float64Array.from({ length: WAITING }, (_, i) => i + 1);
      const order = Array.from(drawnOrder(new Uint8Array(Buffer.from(seed, "hex")), seqs), (i) => i + 1);
      expect(order.slice(0, 10)).not.toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      const statusOf = async (userId: number) => (await fan(userId).call("GET", "/api/v1/queue/status")).body.data;
      // The first MAX_ACTIVE of the drawn order are in; everyone else is told the place the seed gives them.
      for (const userId of order.slice(0, MAX_ACTIVE)) expect({ userId, status: (await statusOf(userId)).status }).toEqual({ userId, status: "ACTIVE" });
      for (const rank of [MAX_ACTIVE + 1, 1_000, 77_777, WAITING]) {
        const status = await statusOf(order[rank - 1]!);
        expect({ rank, status: status.status, position: status.queuePosition }).toEqual({ rank, status: "WAITING", position: rank - MAX_ACTIVE });
      }

      // Turns end with 199,950 still waiting: each freed place goes to the next in the drawn order.
      for (const userId of order.slice(0, 20)) expect((await fan(userId).call("DELETE", "/api/v1/queue/tokens")).status).toBe(200);
      await waitFor(async () => (await statusOf(order[MAX_ACTIVE + 19]!)).status === "ACTIVE", "the next twenty to be admitted", 10_000);
      for (const userId of order.slice(20, MAX_ACTIVE + 20)) expect({ userId, status: (await statusOf(userId)).status }).toEqual({ userId, status: "ACTIVE" });
      expect((await statusOf(order[MAX_ACTIVE + 20]!)).queuePosition).toBe(1);
      expect(await admitted()).toBe(MAX_ACTIVE);

      // The draw was stored once: the same seed, and every admission in its order (verify).
      expect(await seedOf()).toBe(seed);
    }, 180_000);
  });
}
