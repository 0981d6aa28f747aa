// SIGTERM: the service stops accepting, finishes what it accepted, and exits 0 promptly; nothing it acknowledged is
// missing when it starts again on the same data.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, portOpen, startNatsServer, waitFor, type NatsServer } from "./support/nats-server";
import { TEST_SECRET, UserClient } from "./support/service";

describe("SIGTERM", () => {
  let nats: NatsServer;
  const dir = mkdtempSync(join(tmpdir(), "shutdown-"));
  afterAll(async () => {
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("drains in-flight requests and exits 0; every acknowledged charge is durable", async () => {
    nats = await startNatsServer();
    const port = await freePort();
    const env = { ...process.env, PORT: String(port), NATS_URL: nats.url, DATA_DIR: dir, AUTH_SECRET: TEST_SECRET, LOG_LEVEL: "warn" };
    const start = () => spawn(process.execPath, ["src/main.ts"], { env, stdio: ["ignore", "ignore", "inherit"] });
    let child = start();
    await waitFor(() => portOpen(port), "the service to listen", 20_000);
    const user = new UserClient(`http://127.0.0.1:${port}`, 9);
    await user.call("GET", "/api/v1/users/9/wallet");

    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const charges = Array.from({ length: 40 }, () =>
      user.call("PATCH", "/api/v1/users/9/wallet/charge", { amount: 100 }).then(
        (r) => r.status,
        () => 0,
      ),
    );
    await Bun.sleep(5);
    const signalled = Date.now();
    child.kill("SIGTERM");
    // Requests sent while it stops are answered (200 before the stop took hold, 503 after) or refused at the socket,
    // never left hanging and never 500; once it has exited, every one is refused.
    let gone = false;
    void exited.then(() => (gone = true));
    const late: number[] = [];
    while (!gone) {
      late.push(await user.call("PATCH", "/api/v1/users/9/wallet/charge", { amount: 100 }).then((r) => r.status, () => 0));
      await Bun.sleep(20);
    }
    expect(late.filter((s) => ![0, 200, 503].includes(s))).toEqual([]);
    expect(await user.call("GET", "/api/v1/users/9/wallet").then((r) => r.status, () => 0)).toBe(0);
    const statuses = await Promise.all(charges);
    expect(await exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    const acknowledged = statuses.filter((s) => s === 200).length;
    expect(acknowledged).toBeGreaterThan(0);
    // Whatever was not acknowledged was refused or never reached the service; nothing answered 500.
    expect(statuses.filter((s) => s !== 200 && s !== 503 && s !== 0)).toEqual([]);

    child = start();
    await waitFor(() => portOpen(port), "the service to listen again", 20_000);
    const balance = (await user.call("GET", "/api/v1/users/9/wallet")).body.data.balance;
    const lateAcknowledged = late.filter((s) => s === 200).length;
    expect(balance).toBeGreaterThanOrEqual((acknowledged + lateAcknowledged) * 100);
    expect(balance).toBeLessThanOrEqual((40 + late.length) * 100);
    expect(balance % 100).toBe(0);
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }, 60_000);
});
