// NATS going away and coming back: requests answer 503 with Retry-After quickly instead of hanging, /ready says so,
// and the service recovers by itself once NATS is back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "./support/nats-server";
import { startTestService, UserClient, type TestService } from "./support/service";

describe("NATS outage", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ kind: "pglite-memory" });
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
  });

  test("503 with Retry-After within about two seconds, /ready reports it, recovery without a restart", async () => {
    const user = new UserClient(t.base, 77);
    expect((await user.call("PATCH", "/api/v1/users/77/wallet/charge", { amount: 1000 })).status).toBe(200);

    await t.nats.stop();
    const started = Date.now();
    const during = await user.call("PATCH", "/api/v1/users/77/wallet/charge", { amount: 1000 });
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(during.status).toBe(503);
    expect(during.headers.get("retry-after")).toBe("1");
    expect(during.body).toEqual({ error: { code: "service_unavailable", message: "일시적으로 서비스를 이용할 수 없습니다." } });
    const ready = await fetch(`${t.base}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get("retry-after")).toBe("1");

    await t.nats.restart();
    await waitFor(async () => (await fetch(`${t.base}/ready`)).status === 200, "the service to be ready again", 15_000);
    await waitFor(
      async () => (await user.call("PATCH", "/api/v1/users/77/wallet/charge", { amount: 1000 })).status === 200,
      "requests to succeed again",
      15_000,
    );
    // Every acknowledged charge counted, the refused one did not.
    const balance = (await user.call("GET", "/api/v1/users/77/wallet")).body.data.balance;
    expect(balance).toBe(2000);
  }, 40_000);
});
