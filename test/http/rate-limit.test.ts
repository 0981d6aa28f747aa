import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RateLimiter } from "../../src/http/rate-limit";
import { startTestService, UserClient, type TestService } from "../support/service";

describe("per-user rate limits", () => {
  test("a bucket allows a burst of twice the rate, then refills at the rate", () => {
    let now = 0;
    const limiter = new RateLimiter(2, () => now);
    expect([1, 2, 3, 4, 5].map(() => limiter.take(1))).toEqual([true, true, true, true, false]);
    expect(limiter.take(2)).toBe(true);
    now += 500;
    expect([limiter.take(1), limiter.take(1)]).toEqual([true, false]);
    expect(new RateLimiter(0, () => now).take(1)).toBe(true);
  });

  describe("over HTTP", () => {
    let t: TestService;
    beforeAll(async () => {
      t = await startTestService({ kind: "pglite-memory" }, { RATE_LIMIT_OCCUPY_PER_SECOND: "2", RATE_LIMIT_QUEUE_PER_SECOND: "1" });
    }, 30_000);
    afterAll(async () => {
      await t?.stop();
    });

    test("flooding occupy or queue entry answers 429 too_many_requests with Retry-After; other users are unaffected", async () => {
      const bot = new UserClient(t.base, 500);
      await bot.enterQueue();
      const answers = [];
      for (let i = 0; i < 8; i++) answers.push(await bot.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 30 + i }));
      const limited = answers.filter((a) => a.status === 429);
      expect(limited.length).toBeGreaterThanOrEqual(4);
      expect(limited[0]!.body).toEqual({ error: { code: "too_many_requests", message: "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요." } });
      expect(limited[0]!.headers.get("retry-after")).toBe("1");
      const entries = [];
      for (let i = 0; i < 4; i++) entries.push((await bot.call("POST", "/api/v1/queue/tokens")).status);
      expect(entries).toContain(429);

      const fan = new UserClient(t.base, 501);
      await fan.enterQueue();
      expect((await fan.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 45 })).status).toBe(200);
    });
  });
});
