// The waiting room answered at the edge: two instances on one NATS and one PostgreSQL server each keep a copy of every
// queue. After random enters, leaves, admissions and expiries, in the global queue and through a concert's opening,
// every token's status from either instance equals what the queue actor itself answers. A pushed status stream gets
// its admission. When the queue's owner is killed, the survivor answers 503 rather than a position it cannot vouch
// for, and the same positions again once it has taken the queue over.
import { afterAll, describe, expect, test } from "bun:test";
import { connect, type NatsConnection } from "nats";
import { preferredOwner } from "../src/cluster/ownership";
import { QUEUE_ENTITY, queueEntity } from "../src/cluster/ownership-store";
import { decode, encode, type Reply } from "../src/shared/codec";
import { queueSubject } from "../src/shared/subjects";
import { queueOfToken } from "../src/shared/queue-tokens";
import { postgresAvailable } from "./support/databases";
import { instanceNames, instances, sharedBackends, type Instance } from "./support/instances";
import { waitFor } from "./support/nats-server";
import { UserClient, type Response } from "./support/service";

/** A deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return (bound: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % bound;
  };
}

/** What the queue's actor itself says about a token, asked over NATS as the HTTP edge used to. */
async function truth(nc: NatsConnection, token: string, userId: number): Promise<Reply<any>> {
  const msg = await nc.request(queueSubject(queueOfToken(token), "status"), encode({ userId, token }), { timeout: 5000 });
  return decode<Reply<any>>(msg.data);
}

/** The parts of a status that must be exact (the estimate depends on the moment each side computes it). */
const exact = (r: Response | Reply<any>) => {
  const body = "status" in r && typeof r.status === "number" ? (r as Response).body : undefined;
  if (body) return body.data ? { ok: true, ...pick(body.data) } : { ok: false, code: body.error.code };
  const reply = r as Reply<any>;
  return reply.ok ? { ok: true, ...pick(reply.data) } : { ok: false, code: reply.code };
};
const pick = ({ queuePosition, status, expiresAt, opensAt }: Record<string, unknown>) => ({ queuePosition, status, expiresAt, opensAt });

describe.skipIf(!(await postgresAvailable()))("the queues' copies on every instance", () => {
  const cleanup: (() => unknown)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  test("answer as the actor does, push admissions, and say 503 rather than guess when the owner is gone", async () => {
    const backends = await sharedBackends(cleanup);
    // The first instance owns the global queue and the concert's, which the test kills at the end.
    const ids = instanceNames(2, (ids) => preferredOwner(QUEUE_ENTITY, ids) === ids[0] && preferredOwner(queueEntity(4), ids) === ids[0]);
    const env = {
      DATABASE_URL: backends.url,
      NATS_URL: backends.natsUrl,
      QUEUE_MAX_ACTIVE: "5",
      QUEUE_ACTIVE_TTL_SECONDS: "3",
      OWNERSHIP_LEASE_SECONDS: "2",
      RATE_LIMIT_QUEUE_PER_SECOND: "0",
    };
    const all = await instances(ids, env, cleanup);
    await Promise.all(all.map((i) => i.launch()));
    const natsUrl = backends.natsUrl;
    const nc = await connect({ servers: natsUrl });
    cleanup.push(() => nc.close());
    const [owner, other] = all as [Instance, Instance];
    const rnd = random(42);
    const pickInstance = () => all[rnd(2)]!.base;
    const users = Array.from({ length: 30 }, (_, i) => new UserClient(owner.base, 300 + i));
    const tokens = new Map<string, UserClient>();

    const compareAll = async () => {
      // The copies are at most 250 ms behind the actor; give them that, then every answer must match.
      await Bun.sleep(300);
      for (const [token, user] of tokens) {
        const expected = exact(await truth(nc, token, user.userId));
        for (const instance of all) {
          user.base = instance.base;
          const seen = exact(await user.call("GET", "/api/v1/queue/status", undefined, { "user-token": token }));
          expect({ instance: instance.id, token, seen }).toEqual({ instance: instance.id, token, seen: expected });
        }
        if (!expected.ok) tokens.delete(token);
      }
    };

    // The global queue: random enters and leaves through either instance; turns lapse after 3 s.
    for (let round = 0; round < 6; round++) {
      await Promise.all(
        Array.from({ length: 12 }, async () => {
          const user = users[rnd(users.length)]!;
          user.base = pickInstance();
          if (rnd(3) > 0 || !user.queueToken) {
            const entered = await user.enterQueue();
            if (entered.status === 200) tokens.set(entered.body.data.token, user);
          } else {
            await user.call("DELETE", "/api/v1/queue/tokens");
          }
        }),
      );
      await compareAll();
      if (round === 3) await Bun.sleep(3000);
    }

    // A concert's queue through its opening: a pre-queue, the draw, and those who come after.
    const admin = new UserClient(owner.base, 1, true);
    const opensAt = Date.now() + 2500;
    const concert = await admin.call("POST", "/api/v1/admin/concerts", { title: "복제 콘서트", venue: "잠실", saleOpensAt: new Date(opensAt).toISOString() });
    expect(concert.body.data.id).toBe(4);
    const fans = Array.from({ length: 12 }, (_, i) => new UserClient(all[i % 2]!.base, 500 + i));
    for (const fan of fans) tokens.set((await fan.enterQueue(4)).body.data.token, fan);
    await compareAll();

    // A stream opened before the opening, on the instance that does not own the queue.
    const lastFan = fans.at(-1)!;
    const stream = await fetch(`${other.base}/api/v1/queue/stream?token=${encodeURIComponent(lastFan.queueToken!)}`);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const events: any[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let text = "";
      for await (const chunk of stream.body!) {
        text += decoder.decode(chunk);
        for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const data = block.split("\n").find((line) => line.startsWith("data: "));
          if (data) events.push(JSON.parse(data.slice(6)));
        }
      }
    })();
    await Bun.sleep(Math.max(0, opensAt - Date.now()) + 300);
    await compareAll();
    const late = new UserClient(other.base, 600);
    tokens.set((await late.enterQueue(4)).body.data.token, late);
    await compareAll();

    // Turns end until the streamed fan is admitted: the stream says so at once and ends.
    while (!events.some((e) => e.status === "ACTIVE")) {
      for (const fan of fans.filter((f) => f !== lastFan)) await fan.call("DELETE", "/api/v1/queue/tokens");
      await Bun.sleep(200);
    }
    await reading;
    expect(events[0]).toMatchObject({ status: "WAITING", opensAt: new Date(opensAt).toISOString() });
    expect(events.at(-1)).toMatchObject({ status: "ACTIVE", queuePosition: 0 });

    // The owner of both queues is killed: the survivor refuses to guess, then answers again once it owns them.
    const waiting = [...tokens].find(([token]) => queueOfToken(token) === 0);
    expect(waiting).toBeDefined();
    const [token, user] = waiting!;
    user.base = other.base;
    owner.child!.kill("SIGKILL");
    await owner.exited;
    await Bun.sleep(300);
    const refused = await user.call("GET", "/api/v1/queue/status", undefined, { "user-token": token });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    let after: Response | undefined;
    const answered = async () => (after = await user.call("GET", "/api/v1/queue/status", undefined, { "user-token": token })).status !== 503;
    await waitFor(answered, "the survivor to own the queue", 15_000);
    // Whatever became of the token meanwhile (its turn may have lapsed), the survivor's copy says what the actor says.
    expect(exact(after!)).toEqual(exact(await truth(nc, token, user.userId)));
  }, 120_000);
});
