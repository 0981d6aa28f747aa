// Bounded memories: the newest half of the bound is always kept, never more than the bound, and the oldest go a
// generation at a time (deleting a Map's oldest entries one by one cost JavaScriptCore a scan each).
import { describe, expect, test } from "bun:test";
import { BoundedMap, BoundedSet } from "../../src/shared/bounded";

describe("bounded maps and sets", () => {
  test("keep at least the last half of their bound, and forget what is older than the whole bound", () => {
    const map = new BoundedMap<number, string>(1_000);
    for (let i = 1; i <= 10_000; i++) {
      map.set(i, `v${i}`);
      // The last 500 are always there; anything 1,000 or more writes old is gone.
      expect(map.get(i)).toBe(`v${i}`);
      if (i > 500) expect(map.has(i - 499)).toBe(true);
      if (i > 1_000) expect(map.has(i - 1_000)).toBe(false);
    }
  });

  test("a key set again is found with its newest value", () => {
    const map = new BoundedMap<string, number>(4);
    map.set("a", 1);
    map.set("b", 2);
    map.set("a", 3);
    expect(map.get("a")).toBe(3);
    const set = new BoundedSet<number>(4);
    for (const n of [1, 2, 3, 4, 5]) set.add(n);
    expect([1, 2, 3, 4, 5, 6].map((n) => set.has(n))).toEqual([false, false, true, true, true, false]);
  });
});
