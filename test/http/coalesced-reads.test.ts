// Coalesced reads: readers that arrive together share requests, and none gets an answer older than its arrival.
import { describe, expect, test } from "bun:test";
import { CoalescedReads } from "../../src/http/coalesced-reads";

/** A source whose answers are released by hand; each answer is the source's state when the request was sent. */
function source() {
  let state = 0;
  const pending: { release: () => void; fail: (error: Error) => void }[] = [];
  const read = () =>
    new Promise<number>((resolve, reject) => {
      const seen = state;
      pending.push({ release: () => resolve(seen), fail: reject });
    });
  return {
    read,
    write: () => ++state,
    get sent() {
      return pending.length;
    },
    answer: (i: number) => pending[i]!.release(),
    fail: (i: number) => pending[i]!.fail(new Error("refused")),
  };
}

const settle = () => Bun.sleep(0);

describe("coalesced reads", () => {
  test("a hundred readers arriving together cost two requests: the one in flight and one for all who came after", async () => {
    const reads = new CoalescedReads<number>();
    const s = source();
    const first = reads.read("seats", s.read);
    const later = Array.from({ length: 99 }, () => reads.read("seats", s.read));
    expect(s.sent).toBe(1);
    s.answer(0);
    expect(await first).toBe(0);
    await settle();
    expect(s.sent).toBe(2);
    s.answer(1);
    expect(await Promise.all(later)).toEqual(Array(99).fill(0));
    await settle();
    expect(s.sent).toBe(2);
    expect(reads.inFlight).toBe(0);
  });

  test("a reader who wrote while a request was in flight gets an answer sent after its arrival, with its write", async () => {
    const reads = new CoalescedReads<number>();
    const s = source();
    const before = reads.read("seats", s.read);
    s.write();
    const after = reads.read("seats", s.read);
    s.answer(0);
    expect(await before).toBe(0);
    await settle();
    s.answer(1);
    expect(await after).toBe(1);
  });

  test("keys do not share requests", async () => {
    const reads = new CoalescedReads<number>();
    const s = source();
    const a = reads.read("event 1", s.read);
    const b = reads.read("event 2", s.read);
    expect(s.sent).toBe(2);
    s.answer(0);
    s.answer(1);
    expect(await Promise.all([a, b])).toEqual([0, 0]);
  });

  test("a refusal reaches the readers of its request only, and the next batch is still sent", async () => {
    const reads = new CoalescedReads<number>();
    const s = source();
    const first = reads.read("seats", s.read);
    const second = reads.read("seats", s.read);
    s.write();
    s.fail(0);
    await expect(first).rejects.toThrow("refused");
    await settle();
    expect(s.sent).toBe(2);
    s.answer(1);
    expect(await second).toBe(1);
    s.write();
    const third = reads.read("seats", s.read);
    expect(s.sent).toBe(3);
    s.answer(2);
    expect(await third).toBe(2);
  });

  test("a refused batch rejects every reader in it", async () => {
    const reads = new CoalescedReads<number>();
    const s = source();
    const first = reads.read("seats", s.read);
    const batch = [reads.read("seats", s.read), reads.read("seats", s.read)];
    s.answer(0);
    await first;
    await settle();
    s.fail(1);
    for (const reader of batch) await expect(reader).rejects.toThrow("refused");
    await settle();
    expect(reads.inFlight).toBe(0);
  });
});
