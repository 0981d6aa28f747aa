// A seeded random source, so a run (a chaos sale's faults and fans, a fuzzer's requests) follows from its seed alone and a
// failure can be replayed.

/** sfc32 from a 32-bit seed: small, fast, and good enough to draw schedules and choices (not for anything secret). */
export class Seeded {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A number in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A source of its own for one part of the run (one fan, the nemesis), independent of how much the others draw. */
  fork(salt: number): Seeded {
    return new Seeded(Math.imul(this.int(0, 2 ** 31), 2654435761) ^ salt);
  }
}
