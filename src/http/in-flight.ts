// Bounded work per instance: the HTTP side refuses at once (503 with Retry-After) a request to the actors it has no room
// for, instead of letting it queue behind thousands of others and time out two seconds later. The crowd that enters
// and leaves the queue may use half the room; buyers (seat routes, payments) always find the other half.
import { AppError } from "../shared/errors";

export type Lane = "crowd" | "buyers" | "other";

/** Which lane a request to the actors travels in, by its subject. */
export function laneOf(subject: string): Lane {
  if (subject.startsWith("rsv.queue.")) return "crowd";
  if (subject.startsWith("rsv.event.") || subject.startsWith("rsv.payment.") || subject.startsWith("rsv.reservation.")) return "buyers";
  return "other";
}

export class InFlight {
  private total = 0;
  private crowd = 0;

  constructor(private readonly limit: number) {}

  async run<T>(lane: Lane, work: () => Promise<T>): Promise<T> {
    const isCrowd = lane === "crowd";
    if (this.total >= this.limit || (isCrowd && this.crowd >= this.limit / 2)) throw new AppError("service_unavailable");
    this.total++;
    if (isCrowd) this.crowd++;
    try {
      return await work();
    } finally {
      this.total--;
      if (isCrowd) this.crowd--;
    }
  }
}
