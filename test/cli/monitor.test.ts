// `bun run monitor`: a readable line per domain event, filtered by event id, the per-event summary, and a replay of
// the RSV_EVENTS stream; all with no more than the read access of deploy/nats-server.conf's `monitor` user.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { startNatsServer } from "../support/nats-server";
import { startTestService, UserClient, type TestService } from "../support/service";

function monitor(t: TestService, args: string[]) {
  const env = { ...process.env, NATS_URL: t.nats.url, NATS_USER: "monitor", NATS_PASSWORD: t.nats.passwords!.monitor };
  const child = spawn(process.execPath, ["src/cli/monitor.ts", ...args], { env });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, exited, out: () => out, err: () => err };
}

describe("bun run monitor", () => {
  let t: TestService;
  beforeAll(async () => {
    const nats = await startNatsServer({ secured: true });
    t = await startTestService({ kind: "pglite-memory" }, { NATS_USER: "service", NATS_PASSWORD: nats.passwords!.service }, nats);
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
  });

  test("prints one readable line per event of the chosen concert event", async () => {
    const watch = monitor(t, ["--event", "1", "--count", "2"]);
    const until = Date.now() + 10_000;
    while (!watch.err().includes("watching") && Date.now() < until) await Bun.sleep(20);
    const user = new UserClient(t.base, 71);
    await user.enterQueue();
    await user.call("POST", "/api/v1/concert-events/2/occupy", { seatId: 60 });
    await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 5 });
    expect(await watch.exited).toBe(0);
    const lines = watch.out().trim().split("\n");
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(/rsv\.evt\.queue\.0\.token\.issued\s+queue\.token\.issued\s+user=71/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3}\s+rsv\.evt\.event\.1\.seat\.held\s+seat\.held\s+event=1\s+seat=5\s+user=71\s+expiresAt=/);
    expect(watch.out()).not.toContain("event=2");
  });

  test("--summary shows seats by state per event and the queue", async () => {
    const summary = monitor(t, ["--summary", "--once"]);
    expect(await summary.exited).toBe(0);
    const text = summary.out();
    expect(text).toMatch(/queue: 0 waiting, 1 active/);
    expect(text).toMatch(/event\s+available\s+held\s+reserved\s+sold/);
    expect(text).toMatch(/\n\s+1\s+49\s+1\s+0\s+0/);
    expect(text).toMatch(/\n\s+2\s+49\s+1\s+0\s+0/);
    expect(text).toMatch(/\n\s+9\s+50\s+0\s+0\s+0/);
  });

  test("--since replays what RSV_EVENTS kept, stamped with when it was stored, then follows live events", async () => {
    const startedAt = new Date().toISOString().slice(11, 23);
    // The three demo concerts' queues opened when the service started: three `queue.<id>.opened` events come first.
    const watch = monitor(t, ["--since", "10m", "--event", "1", "--count", "6"]);
    const until = Date.now() + 10_000;
    while (!watch.err().includes("watching") && Date.now() < until) await Bun.sleep(20);
    const user = new UserClient(t.base, 71);
    await user.enterQueue();
    await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 6 });
    expect(await watch.exited).toBe(0);
    const all = watch.out().trim().split("\n");
    expect(all.filter((line) => /rsv\.evt\.queue\.[123]\.opened\s+queue\.opened/.test(line)).length).toBe(3);
    const lines = all.filter((line) => !line.includes(".opened"));
    expect(lines.length).toBe(3);
    expect(lines[0]).toMatch(/rsv\.evt\.queue\.0\.token\.issued\s+queue\.token\.issued\s+user=71/);
    expect(lines[1]).toMatch(/rsv\.evt\.event\.1\.seat\.held\s+seat\.held\s+event=1\s+seat=5\s+user=71/);
    expect(lines[2]).toMatch(/rsv\.evt\.event\.1\.seat\.held\s+seat\.held\s+event=1\s+seat=6\s+user=71/);
    expect(lines[1]!.slice(0, 12) < startedAt).toBe(true);
    expect(lines[2]!.slice(0, 12) >= startedAt).toBe(true);
  });

  test("--since takes seconds, minutes or hours", async () => {
    const refused = monitor(t, ["--since", "10d"]);
    expect(await refused.exited).toBe(2);
    expect(refused.err().trim()).toBe('--since must be a whole number of s, m or h (such as 90s, 10m, 2h), got "10d"');
  });
});
