// How a place in a queue is told to its holder, and the observed admission rate the estimate comes from. Shared by the
// queue actor (waiting-line.ts) and the read models every instance keeps (queue-view.ts), so both answer alike.
import type { QueueStatus } from "../src/shared/messages";

/** How far back admissions count towards the observed rate. */
const RATE_WINDOW_MS = 60_000;
/** Admission times kept: enough for any window of a minute at the rates a queue reaches. */
const KEPT_ADMISSIONS = 4096;

/** Admissions per second over the last minute; before any was seen, the rate a full turnover would give. */
export class AdmissionRate {
  /** Times of recent admissions, oldest first (they are observed in time order). */
  private times: number[];
  private first: number | undefined;

  constructor(
    private readonly rules: { maxActive: number; activeTtlMs: number },
    seen: { times: number[]; first?: number } = { times: [] },
  ) {
    this.times = [...seen.times];
    this.first = seen.first;
  }

  observe(at: number): void {
    this.first ??= at;
    this.times.push(at);
    if (this.times.length > 2 * KEPT_ADMISSIONS) this.times = this.times.slice(-KEPT_ADMISSIONS);
  }

  perSecond(now: number): number {
    const recent = this.times.length - firstAfter(this.times, now - RATE_WINDOW_MS);
    if (recent === 0 || this.first === undefined) return this.rules.maxActive / (this.rules.activeTtlMs / 1000);
    const observedMs = Math.min(RATE_WINDOW_MS, Math.max(1000, now - this.first));
    return recent / (observedMs / 1000);
  }

  seen(): { times: number[]; first?: number } {
    return { times: this.times.slice(-KEPT_ADMISSIONS), first: this.first };
  }
}

/** The index of the first time later than `since` (binary search: the times are sorted). */
function firstAfter(times: number[], since: number): number {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (times[mid]! > since) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** Where a token stands: admitted, waiting for the opening in the pre-queue, or waiting in line. */
export type Place =
  | { kind: "active"; expiresAt: number }
  | { kind: "pre"; size: number; opensAt: number }
  | { kind: "line"; position: number };

const iso = (ms: number) => new Date(ms).toISOString();

export function statusOf(place: Place, rate: AdmissionRate, now: number): QueueStatus {
  switch (place.kind) {
    case "active":
      return { queuePosition: 0, estimatedWaitingTime: 0, status: "ACTIVE", expiresAt: iso(place.expiresAt) };
    case "pre":
      return {
        queuePosition: place.size,
        estimatedWaitingTime: Math.max(0, Math.ceil((place.opensAt - now) / 1000)),
        status: "WAITING",
        opensAt: iso(place.opensAt),
      };
    case "line":
      return { queuePosition: place.position, estimatedWaitingTime: Math.ceil(place.position / rate.perSecond(now)), status: "WAITING" };
  }
}
