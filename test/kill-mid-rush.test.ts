// SIGKILL in the middle of a rush, while batches are committing, three times over on the same data: every 200 the
// clients got is in the database, no seat is double-booked, and every balance equals its ledger (`verify`).
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { loadConfig } from "../src/shared/config";
import { openDatabase } from "../src/shared/db";
import { verify } from "../src/cli/verify";
import { processDatabaseCases } from "./support/databases";
import { freePort, portOpen, startNatsServer, waitFor, type NatsServer } from "./support/nats-server";
import { TEST_SECRET, UserClient } from "./support/service";

const cases = await processDatabaseCases();
const USERS = 40;

for (const db of cases) {
  describe(`SIGKILL mid-rush on ${db.name}`, () => {
    let nats: NatsServer;
    const cleanup: (() => Promise<void> | void)[] = [];
    afterAll(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    test("three kills while committing lose nothing acknowledged", async () => {
      nats = await startNatsServer();
      cleanup.push(() => nats.stop());
      const port = await freePort();
      const opened = await db.open();
      cleanup.push(opened.drop);
      const env: Record<string, string> = { PORT: String(port), NATS_URL: nats.url, AUTH_SECRET: TEST_SECRET, LOG_LEVEL: "error", ...opened.env };
      const base = `http://127.0.0.1:${port}`;
      const users = Array.from({ length: USERS }, (_, i) => new UserClient(base, 100 + i));
      const holds = new Map<number, number>();
      const charged = new Map<number, number>();
      let child: ChildProcess | undefined;
      cleanup.push(() => void child?.kill("SIGKILL"));

      for (let round = 0; round < 3; round++) {
        child = spawn(process.execPath, ["src/main.ts"], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
        await waitFor(() => portOpen(port), "the service to listen", 30_000);
        for (const u of users) await u.enterQueue();
        let stop = false;
        const rush = users.map(async (u, i) => {
          for (let n = 0; !stop; n++) {
            const seatId = 1 + ((i * 7 + n * 13 + round * 3) % 150);
            const occupy = u.call("POST", `/api/v1/concert-events/${1 + (seatId - 1) / 50 | 0}/occupy`, { seatId }).catch(() => undefined);
            const charge = u.call("PATCH", `/api/v1/users/${u.userId}/wallet/charge`, { amount: 10 }).catch(() => undefined);
            const [held, paid] = await Promise.all([occupy, charge]);
            if (held?.status === 200) holds.set(seatId, u.userId);
            if (paid?.status === 200) charged.set(u.userId, (charged.get(u.userId) ?? 0) + 10);
          }
        });
        await Bun.sleep(400 + round * 150);
        const exited = new Promise((resolve) => child!.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
        stop = true;
        await Promise.all(rush);
      }

      expect(holds.size).toBeGreaterThan(0);
      const database = await openDatabase(loadConfig({ ...env }).database);
      try {
        expect(await verify(database)).toEqual([]);
        for (const [seatId, userId] of holds) {
          const [row] = await database.query(`SELECT status, user_id FROM seats WHERE id = $1`, [seatId]);
          expect([seatId, row!.status, Number(row!.user_id)]).toEqual([seatId, "HELD", userId]);
        }
        for (const [userId, amount] of charged) {
          const [row] = await database.query(`SELECT balance FROM wallets WHERE user_id = $1`, [userId]);
          // A charge whose reply was lost in the kill may have committed too, so at least what was acknowledged.
          expect(Number(row!.balance)).toBeGreaterThanOrEqual(amount);
        }
      } finally {
        await database.close();
      }
    }, 120_000);
  });
}
