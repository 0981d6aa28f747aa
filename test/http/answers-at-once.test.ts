// The status poll the front door answers before routing: only when memory gives the whole answer at once. Every other
// case comes back undefined, so the route answers it (and its errors) the long way.
import { describe, expect, test } from "bun:test";
import type { Api } from "../../src/http/api";
import { queueAnswersAtOnce } from "../../src/http/queue-routes";
import type { QueueStatus } from "../../src/shared/messages";

const KNOWN = "Bearer known";
const STATUS: QueueStatus = { queuePosition: 3, estimatedWaitingTime: 2, status: "WAITING" };

function answerer(statusNow: (token: string, userId: number) => QueueStatus | undefined) {
  const asked: [string, number][] = [];
  const verifyBearer = Object.assign(async () => ({ userId: 7, admin: false }), {
    atOnce: (header: string | null | undefined) => (header === KNOWN ? { userId: 7, admin: false } : undefined),
  });
  const queues = {
    statusNow: (token: string, userId: number) => {
      asked.push([token, userId]);
      return statusNow(token, userId);
    },
  };
  const api = { verifyBearer, deps: { queues } } as unknown as Api;
  const [[path, answer]] = queueAnswersAtOnce(api) as [[string, (request: Request) => object | undefined]];
  const poll = (headers: Record<string, string>) => answer(new Request(`http://localhost${path}`, { headers }));
  return { path, poll, asked };
}

describe("a status poll answered at once", () => {
  test("answers the caller's status from memory, for the caller's user id", () => {
    const { path, poll, asked } = answerer(() => STATUS);
    expect(path).toBe("/api/v1/queue/status");
    expect(poll({ authorization: KNOWN, "user-token": "5.abcdefghijklmnopqrstuv" })).toEqual({ data: STATUS });
    expect(asked).toEqual([["5.abcdefghijklmnopqrstuv", 7]]);
  });

  test("leaves to the route a bearer that does not verify, a missing queue token, and what memory cannot answer", () => {
    const { poll, asked } = answerer((token) => (token === "answerable-token-xyz" ? STATUS : undefined));
    expect(poll({ authorization: "Bearer other", "user-token": "answerable-token-xyz" })).toBeUndefined();
    expect(poll({ "user-token": "answerable-token-xyz" })).toBeUndefined();
    expect(asked).toEqual([]);
    expect(poll({ authorization: KNOWN })).toBeUndefined();
    expect(poll({ authorization: KNOWN, "user-token": "not-in-any-fresh-copy" })).toBeUndefined();
    expect(asked).toEqual([["not-in-any-fresh-copy", 7]]);
  });
});
