// Caches and memories of recent things, bounded in size. The oldest go a generation at a time: two maps, the newer
// taking every write, the older dropped whole once the newer is full. Deleting a Map's oldest entry one at a time, the
// obvious way, costs JavaScriptCore a scan past every entry deleted before it: 13–22 µs each at 100,000 entries, which
// a stadium's line of 200,000 turned into a tenth of a core.

/** Keeps at least the last `capacity / 2` keys set, and at most `capacity`. */
export class BoundedMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    return this.young.get(key) ?? this.old.get(key);
  }

  has(key: K): boolean {
    return this.young.has(key) || this.old.has(key);
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.capacity / 2) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}

/** The same for a set: remembers at least the last `capacity / 2` keys added. */
export class BoundedSet<K> {
  private readonly map: BoundedMap<K, true>;

  constructor(capacity: number) {
    this.map = new BoundedMap(capacity);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  add(key: K): void {
    this.map.set(key, true);
  }
}
