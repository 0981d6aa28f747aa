// The PostgreSQL server goes away mid-sale and comes back: requests answer 503 with Retry-After in about two
// seconds, /ready says so, the actors recover by themselves, and memory matches the database afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { verify } from "../src/cli/verify";
import { waitFor } from "./support/nats-server";
import { canRunPostgres, startPostgresServer, type PostgresServer } from "./support/postgres-server";
import { startTestService, UserClient, type TestService } from "./support/service";

if (!canRunPostgres) console.warn("database-outage: skipped, no PostgreSQL server binaries (apt-get install postgresql)");

describe.skipIf(!canRunPostgres)("PostgreSQL outage", () => {
  let pg: PostgresServer;
  let t: TestService;
  beforeAll(async () => {
    pg = await startPostgresServer();
    t = await startTestService({ kind: "postgres", url: pg.url });
  }, 30_000);
  afterAll(async () => {
    await t?.stop().catch(() => {});
    await pg?.stop();
  });

  test("503 while it is down, recovery without a restart, no drift", async () => {
    const user = new UserClient(t.base, 61);
    await user.enterQueue();
    expect((await user.call("PATCH", "/api/v1/users/61/wallet/charge", { amount: 5000 })).status).toBe(200);
    expect((await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 7 })).status).toBe(200);

    await pg.stop();
    const started = Date.now();
    const during = await Promise.all([
      user.call("PATCH", "/api/v1/users/61/wallet/charge", { amount: 5000 }),
      user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 8 }),
    ]);
    expect(Date.now() - started).toBeLessThan(3_000);
    for (const response of during) {
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("1");
      expect(response.body.error.code).toBe("service_unavailable");
    }
    expect((await fetch(`${t.base}/ready`)).status).toBe(503);

    await pg.start();
    await waitFor(async () => (await fetch(`${t.base}/ready`)).status === 200, "ready again", 20_000);
    await waitFor(
      async () => (await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 9 })).status === 200,
      "occupy to work again",
      20_000,
    );
    // The hold made before the outage is still the user's; memory and database agree.
    const again = await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 7 });
    expect(again.status).toBe(200);
    expect((await user.call("GET", "/api/v1/users/61/wallet")).body.data.balance).toBe(5000);
    expect(await verify(t.service.db)).toEqual([]);
  }, 60_000);
});
