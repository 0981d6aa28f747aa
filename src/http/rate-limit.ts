// Per-user request budgets for the routes a bot would hammer in a rush (queue entry, occupy): a token bucket per
// user that refills at `perSecond` and holds at most twice that, so short bursts pass and floods get 429.

export class RateLimiter {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();
  private readonly capacity: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.capacity = Math.max(1, perSecond * 2);
  }

  /** Spends one request of the user's budget; false when it is used up. A rate of 0 means no limit. */
  take(userId: number): boolean {
    if (this.perSecond === 0) return true;
    const now = this.now();
    const bucket = this.buckets.get(userId) ?? { tokens: this.capacity, at: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(userId, bucket);
      return false;
    }
    bucket.tokens -= 1;
    this.buckets.set(userId, bucket);
    if (this.buckets.size > 200_000) this.forgetFull(now);
    return true;
  }

  /** Drops users whose bucket has refilled completely: they are indistinguishable from new ones. */
  private forgetFull(now: number): void {
    for (const [userId, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.capacity) this.buckets.delete(userId);
    }
  }
}
