// Availability under each fault: of the requests fans started while it lasted (and for five seconds after it healed),
// how many failed, for how long, and what share of the failures were a 503 with Retry-After (the service saying "not
// now") rather than a timeout or a dropped connection. A connection refused is not counted: a load balancer sends the
// request to another instance at once, and the fan's client does.
import type { Op } from "./history";
import type { FaultRecord } from "./nemesis";

export interface Availability {
  fault: FaultRecord;
  requests: number;
  failed: number;
  /** Of the failures: answered 503 with Retry-After. */
  unavailable: number;
  timeouts: number;
  /** From the fault's start to the end of its last failed request (0 when none failed). */
  failingMs: number;
  /** Other faults whose windows overlap this one's: its failures may be theirs too. */
  overlapping: FaultRecord[];
}

const AFTER_HEAL_MS = 5_000;

export function availability(ops: Op[], faults: FaultRecord[]): Availability[] {
  const injected = faults.filter((fault) => !fault.skipped);
  return injected
    .map((fault) => {
      const until = fault.healed + AFTER_HEAL_MS;
      const during = ops.filter((op) => op.start >= fault.start && op.start <= until && op.error !== "refused");
      const failed = during.filter((op) => op.outcome === "unknown");
      return {
        fault,
        requests: during.length,
        failed: failed.length,
        unavailable: failed.filter((op) => op.status === 503 && op.retryAfter).length,
        timeouts: failed.filter((op) => op.error === "timeout").length,
        failingMs: failed.length === 0 ? 0 : Math.max(...failed.map((op) => op.end)) - fault.start,
        overlapping: injected.filter((other) => other !== fault && other.start <= until && other.healed + AFTER_HEAL_MS >= fault.start),
      };
    });
}
