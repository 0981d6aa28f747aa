// Random and malformed input on every endpoint: never a 500, never a crash, always a catalog error body, and the
// fuzzing user's balance is exactly the sum of the charges that were acknowledged.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signUserToken } from "../../src/http/auth";
import { CATALOG } from "../../src/shared/errors";
import { Seeded } from "../support/seeded";
import { startTestService, TEST_SECRET, UserClient, type TestService } from "../support/service";

const ROUTES = [
  ["GET", "/api/v1/users/{user}/wallet"],
  ["PATCH", "/api/v1/users/{user}/wallet/charge"],
  ["POST", "/api/v1/queue/tokens"],
  ["GET", "/api/v1/queue/status"],
  ["DELETE", "/api/v1/queue/tokens"],
  ["GET", "/api/v1/concerts"],
  ["GET", "/api/v1/concerts/{id}/events"],
  ["GET", "/api/v1/concert-events/{id}/available-seats"],
  ["POST", "/api/v1/concert-events/{id}/occupy"],
  ["POST", "/api/v1/concert-events/{id}/reserve"],
  ["POST", "/api/v1/payments"],
  ["GET", "/api/v1/users/{user}/payments"],
  ["GET", "/api/v1/users/{user}/reservations"],
  ["DELETE", "/api/v1/reservations/{id}"],
] as const;

const IDS = ["1", "2", "0", "-1", "1.5", "abc", "9007199254740991", "9007199254740993", "1e3", "%20", "한글", "1;DROP TABLE seats", "00001"];
const VALUES: unknown[] = [
  1000, 50000, 100_000_000, 100_000_001, 0, 1, -1, 1.5, 2 ** 53, 2 ** 53 + 2, 1e308, -0, "1", "", "좌석", null, true, [], [1, 2], {}, { a: 1 }, "\u0000", "x".repeat(300),
];
const FIELDS = ["amount", "amount", "seatId", "seatIds", "reservationId", "__proto__", "constructor", "extra"];

describe("fuzzing every endpoint", () => {
  let t: TestService;
  let authorization: string;
  const userId = 4242;
  beforeAll(async () => {
    t = await startTestService({ kind: "pglite-memory" }, { RATE_LIMIT_OCCUPY_PER_SECOND: "0", RATE_LIMIT_QUEUE_PER_SECOND: "0" });
    authorization = `Bearer ${await signUserToken(userId, TEST_SECRET)}`;
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
  });

  test("800 random requests: only catalog answers, money stays exact", async () => {
    const user = new UserClient(t.base, userId);
    await user.enterQueue();
    const random = new Seeded(20261128);
    let charged = 0;
    for (let i = 0; i < 800; i++) {
      const [method, template] = random.pick(ROUTES);
      const path = template
        .replace("{user}", random.next() < 0.7 ? String(userId) : random.pick(IDS))
        .replace("{id}", random.pick(IDS));
      const body =
        template.endsWith("/charge") && random.next() < 0.5
          ? JSON.stringify({ amount: random.pick(VALUES) })
          : random.next() < 0.15
          ? random.pick(["{", "[]", "null", '"x"', "{\"amount\":}", "\u0000", "{\"amount\": 1e999}"])
          : JSON.stringify(Object.fromEntries(Array.from({ length: Math.floor(random.next() * 3) }, () => [random.pick(FIELDS), random.pick(VALUES)])));
      const headers: Record<string, string> = { "content-type": random.next() < 0.9 ? "application/json" : "text/plain" };
      if (random.next() < 0.3) headers["user-token"] = random.pick(["", "short", "A".repeat(22), "\u00ff".repeat(22), user.queueToken!]);
      const raw = await fetch(`${t.base}${path}`, { method, headers: { ...headers, authorization }, body: method === "GET" ? undefined : body });
      const text = await raw.text();
      const status = raw.status;
      expect([i, method, path, status < 500]).toEqual([i, method, path, true]);
      if (status >= 400) {
        const parsed = JSON.parse(text) as { error: { code: keyof typeof CATALOG; message: string } };
        expect(CATALOG[parsed.error.code]?.message as string).toBe(parsed.error.message);
        expect(text).not.toMatch(/at .*\.ts|SELECT|INSERT|UPDATE|stack/i);
      }
      if (status === 200 && method === "PATCH" && path === `/api/v1/users/${userId}/wallet/charge`) {
        charged += (JSON.parse(body) as { amount: number }).amount;
      }
    }
    expect(charged).toBeGreaterThan(0);
    expect((await user.call("GET", `/api/v1/users/${userId}/wallet`)).body).toEqual({ data: { balance: charged } });
    expect((await fetch(`${t.base}/health`)).status).toBe(200);
  }, 120_000);

  test("huge, deeply nested and oversized bodies", async () => {
    const user = new UserClient(t.base, userId);
    await user.enterQueue();
    const post = (path: string, body: string) =>
      fetch(`${t.base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization, "user-token": user.queueToken! },
        body,
      });
    const big = await post("/api/v1/concert-events/1/occupy", JSON.stringify({ seatId: 1, pad: "x".repeat(200_000) }));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
    const deep = await post("/api/v1/concert-events/1/occupy", "[".repeat(30_000) + "]".repeat(30_000));
    expect(deep.status).toBe(400);
    const nestedObject = await post("/api/v1/concert-events/1/occupy", '{"seatId":' + '{"a":'.repeat(10_000) + "1" + "}".repeat(10_001));
    expect(nestedObject.status).toBe(400);
    expect((await user.call("POST", "/api/v1/payments", { reservationId: 2 ** 53 + 2 })).status).toBe(400);
    expect((await fetch(`${t.base}/health`)).status).toBe(200);
  });
});
