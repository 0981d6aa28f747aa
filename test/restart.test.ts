// A hard stop: SIGKILL the service after paying, holding and reserving, start it again on the same data, and check
// that everything acknowledged is still there and the holds that lapsed meanwhile are free again.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { processDatabaseCases } from "./support/databases";
import { freePort, portOpen, startNatsServer, waitFor, type NatsServer } from "./support/nats-server";
import { TEST_SECRET, UserClient } from "./support/service";

const cases = await processDatabaseCases();
const HOLD_SECONDS = 3;

function startProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["src/main.ts"], {
    env: { ...process.env, ...env, AUTH_SECRET: TEST_SECRET, SEAT_HOLD_TTL_SECONDS: String(HOLD_SECONDS), LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

for (const db of cases) {
  describe(`restart after SIGKILL on ${db.name}`, () => {
    let nats: NatsServer;
    const cleanup: (() => Promise<void> | void)[] = [];
    afterAll(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    test("nothing acknowledged is lost and lapsed holds are released", async () => {
      nats = await startNatsServer();
      cleanup.push(() => nats.stop());
      const port = await freePort();
      const opened = await db.open();
      cleanup.push(opened.drop);
      const env: Record<string, string> = { PORT: String(port), NATS_URL: nats.url, ...opened.env };
      let child = startProcess(env);
      cleanup.push(() => void child.kill("SIGKILL"));
      await waitFor(() => portOpen(port), "the service to listen", 20_000);
      const base = `http://127.0.0.1:${port}`;

      const buyer = new UserClient(base, 42);
      await buyer.call("PATCH", "/api/v1/users/42/wallet/charge", { amount: 500_000 });
      await buyer.enterQueue();
      const seats = (await buyer.call("GET", "/api/v1/concert-events/1/available-seats")).body.list as { id: number }[];
      const [soldSeat, reservedSeat, heldSeat] = seats.map((s) => s.id) as [number, number, number];
      await buyer.call("POST", "/api/v1/concert-events/1/occupy", { seatId: soldSeat });
      const toPay = await buyer.call("POST", "/api/v1/concert-events/1/reserve", { seatId: soldSeat });
      const payment = await buyer.call("POST", "/api/v1/payments", { reservationId: toPay.body.data.id });
      expect(payment.status).toBe(200);

      const second = new UserClient(base, 43);
      await second.call("PATCH", "/api/v1/users/43/wallet/charge", { amount: 70_000 });
      await second.enterQueue();
      await second.call("POST", "/api/v1/concert-events/1/occupy", { seatId: reservedSeat });
      const pending = await second.call("POST", "/api/v1/concert-events/1/reserve", { seatId: reservedSeat });
      expect(pending.status).toBe(200);
      const hold = await second.call("POST", "/api/v1/concert-events/1/occupy", { seatId: heldSeat });
      expect(hold.status).toBe(200);

      await killHard(child);
      await Bun.sleep(HOLD_SECONDS * 1000 + 200);
      child = startProcess(env);
      await waitFor(() => portOpen(port), "the service to listen again", 20_000);

      expect((await buyer.call("GET", "/api/v1/users/42/wallet")).body).toEqual({ data: { balance: 350_000 } });
      expect((await buyer.call("GET", "/api/v1/users/42/payments")).body).toEqual({ list: [payment.body.data] });
      expect((await buyer.call("POST", "/api/v1/payments", { reservationId: toPay.body.data.id })).body).toEqual(payment.body);
      expect((await second.call("GET", "/api/v1/users/43/wallet")).body).toEqual({ data: { balance: 70_000 } });

      // The queue place survives the restart too.
      expect((await second.call("GET", "/api/v1/queue/status")).body.data.status).toBe("ACTIVE");

      const observer = new UserClient(base, 44);
      expect((await observer.enterQueue()).status).toBe(200);
      const free = ((await observer.call("GET", "/api/v1/concert-events/1/available-seats")).body.list as { id: number }[]).map((s) => s.id);
      expect(free).not.toContain(soldSeat);
      // The unpaid reservation and the hold both lapsed while the service was down.
      expect(free).toContain(reservedSeat);
      expect(free).toContain(heldSeat);
      const reservations = (await second.call("GET", "/api/v1/users/43/reservations")).body.list;
      expect(reservations[0]).toMatchObject({ id: pending.body.data.id, status: "EXPIRED" });
      const late = await second.call("POST", "/api/v1/payments", { reservationId: pending.body.data.id });
      expect(late.body).toEqual({ error: { code: "reservation_expired", message: "결제 기한이 만료된 예약입니다." } });
      expect((await second.call("GET", "/api/v1/users/43/wallet")).body).toEqual({ data: { balance: 70_000 } });
      await killHard(child);
    }, 60_000);
  });
}
