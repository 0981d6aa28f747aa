// A sale's opening, as fans live it: 200 of them wait in a concert's pre-queue; at the opening their order is drawn.
// The places they get form a permutation that is not their arrival order, the drawn order survives a SIGKILL and a
// restart, admission follows it, and those who came after the opening are let in after the whole pre-queue.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { processDatabaseCases } from "./support/databases";
import { freePort, portOpen, startNatsServer, waitFor } from "./support/nats-server";
import { TEST_SECRET, UserClient } from "./support/service";

const cases = await processDatabaseCases();
const FANS = 200;
const MAX_ACTIVE = 10;

function startProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["src/main.ts"], {
    env: { ...process.env, ...env, AUTH_SECRET: TEST_SECRET, QUEUE_MAX_ACTIVE: String(MAX_ACTIVE), LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

async function stop(child: ChildProcess, signal: "SIGKILL" | "SIGTERM"): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

/** A fan's status, asked again while the instance answers 503 (it is still copying the queue, after a restart). */
async function statusOf(fan: UserClient): Promise<{ queuePosition: number; status: string }> {
  for (;;) {
    const response = await fan.call("GET", "/api/v1/queue/status");
    if (response.status !== 503) return response.body.data;
    await Bun.sleep(100);
  }
}

/** Each fan's place: 0 when admitted, otherwise the queue position. */
async function places(fans: UserClient[]): Promise<Map<number, number>> {
  const statuses = await Promise.all(fans.map(statusOf));
  return new Map(statuses.map((status, i) => [fans[i]!.userId, status.queuePosition]));
}

for (const db of cases) {
  describe(`a fair opening on ${db.name}`, () => {
    const cleanup: (() => unknown)[] = [];
    afterAll(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    test("the drawn order is a permutation, not the arrival order, survives SIGKILL, and admission follows it", async () => {
      const nats = await startNatsServer();
      cleanup.push(() => nats.stop());
      const opened = await db.open();
      cleanup.push(opened.drop);
      const port = await freePort();
      const env: Record<string, string> = { PORT: String(port), NATS_URL: nats.url, ...opened.env };
      let child = startProcess(env);
      cleanup.push(() => void child.kill("SIGKILL"));
      await waitFor(() => portOpen(port), "the service to listen", 20_000);
      const base = `http://127.0.0.1:${port}`;
      const admin = new UserClient(base, 1, true);

      const opensAt = Date.now() + 5_000;
      const concert = (await admin.call("POST", "/api/v1/admin/concerts", { title: "추첨 콘서트", venue: "KSPO DOME", saleOpensAt: new Date(opensAt).toISOString() })).body.data;
      const fans = Array.from({ length: FANS }, (_, i) => new UserClient(base, 100 + i));
      for (const [i, fan] of fans.entries()) {
        const ticket = (await fan.enterQueue(concert.id)).body.data;
        expect(ticket).toMatchObject({ status: "WAITING", queuePosition: i + 1 });
      }
      expect(Date.now()).toBeLessThan(opensAt);
      await Bun.sleep(opensAt - Date.now() + 300);

      const drawn = await places(fans);
      const admitted = fans.filter((fan) => drawn.get(fan.userId) === 0);
      expect(admitted.length).toBe(MAX_ACTIVE);
      const waitingPlaces = [...drawn.values()].filter((p) => p > 0).sort((a, b) => a - b);
      expect(waitingPlaces).toEqual(Array.from({ length: FANS - MAX_ACTIVE }, (_, i) => i + 1));
      const byPlace = fans.filter((fan) => drawn.get(fan.userId)! > 0).sort((a, b) => drawn.get(a.userId)! - drawn.get(b.userId)!);
      const arrival = fans.filter((fan) => drawn.get(fan.userId)! > 0);
      expect(byPlace.map((f) => f.userId)).not.toEqual(arrival.map((f) => f.userId));

      const late = [new UserClient(base, 900), new UserClient(base, 901), new UserClient(base, 902)];
      for (const [i, fan] of late.entries()) expect((await fan.enterQueue(concert.id)).body.data.queuePosition).toBe(FANS - MAX_ACTIVE + i + 1);

      await stop(child, "SIGKILL");
      child = startProcess(env);
      await waitFor(() => portOpen(port), "the service to listen again", 20_000);
      const afterRestart = await places([...fans, ...late]);
      for (const fan of fans) expect([fan.userId, afterRestart.get(fan.userId)]).toEqual([fan.userId, drawn.get(fan.userId)]);

      // Turn by turn, the admitted leave and the next ten in the drawn order are let in; the late come last.
      let inside = admitted;
      const order = [...byPlace, ...late];
      while (order.length > 0) {
        for (const fan of inside) expect((await fan.call("DELETE", "/api/v1/queue/tokens")).status).toBe(200);
        inside = order.splice(0, MAX_ACTIVE);
        const now = await places(inside);
        expect([...now.values()]).toEqual(inside.map(() => 0));
        if (order.length > 0) expect((await statusOf(order[0]!)).queuePosition).toBe(1);
      }

      await stop(child, "SIGTERM");
      const audit = spawnSync(process.execPath, ["src/cli/verify.ts"], { env: { ...process.env, ...env }, encoding: "utf8" });
      expect(audit.stdout).toContain("ok    admissions followed each queue's order");
      expect(audit.status).toBe(0);
    }, 90_000);
  });
}
