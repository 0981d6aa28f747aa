// Bounded work: past its room an instance answers 503 with Retry-After at once rather than after the request timeout,
// and the queue's crowd can never take the room buyers need.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { InFlight, laneOf } from "../../src/http/in-flight";
import { AppError } from "../../src/shared/errors";
import { startTestService, UserClient, type TestService } from "../support/service";

function held() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { done, release };
}

const outcome = (work: Promise<unknown>) =>
  work.then(
    () => "done",
    (error) => (error instanceof AppError ? error.code : String(error)),
  );

describe("the in-flight bound", () => {
  test("the crowd fills half the room, buyers the rest; past it the refusal is immediate", async () => {
    const inFlight = new InFlight(4);
    const gate = held();
    const crowd = [inFlight.run("crowd", () => gate.done), inFlight.run("crowd", () => gate.done)];
    expect(await outcome(inFlight.run("crowd", () => gate.done))).toBe("service_unavailable");
    const buyers = [inFlight.run("buyers", () => gate.done), inFlight.run("buyers", () => gate.done)];
    expect(await outcome(inFlight.run("buyers", () => gate.done))).toBe("service_unavailable");
    expect(await outcome(inFlight.run("other", () => gate.done))).toBe("service_unavailable");
    gate.release();
    await Promise.all([...crowd, ...buyers]);
    expect(await outcome(inFlight.run("crowd", async () => {}))).toBe("done");
  });

  test("requests are sorted into lanes by subject", () => {
    expect(laneOf("rsv.queue.0.enter")).toBe("crowd");
    expect(laneOf("rsv.event.3.occupy")).toBe("buyers");
    expect(laneOf("rsv.payment.pay")).toBe("buyers");
    expect(laneOf("rsv.wallet.charge")).toBe("other");
  });
});

describe("a flood of queue entries on a tiny bound", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ kind: "pglite-memory" }, { IN_FLIGHT_LIMIT: "4", RATE_LIMIT_QUEUE_PER_SECOND: "0", REQUEST_TIMEOUT_MS: "10000" });
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
  });

  test("what has no room gets 503 with Retry-After at once, the rest 200, nothing else", async () => {
    const users = Array.from({ length: 80 }, (_, i) => new UserClient(t.base, 7000 + i));
    await users[0]!.call("GET", "/api/v1/concerts");
    const answers = await Promise.all(
      users.map(async (user) => {
        const started = performance.now();
        const response = await user.enterQueue();
        return { status: response.status, retryAfter: response.headers.get("retry-after"), ms: performance.now() - started };
      }),
    );
    const refused = answers.filter((a) => a.status === 503);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
    expect(refused.length).toBeGreaterThan(0);
    expect(answers.some((a) => a.status === 200)).toBe(true);
    for (const a of refused) expect(a.retryAfter).toBe("1");
    // Refused without waiting on the actors: well inside the 10 s the request could otherwise have waited.
    expect(Math.max(...refused.map((a) => a.ms))).toBeLessThan(5_000);
  });
});
