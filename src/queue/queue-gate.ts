// Checks the User-Token of seat requests and says which queue admitted the caller. The instance's copy of the queue
// (queue-views.ts) answers at once for every token it holds: the hot path (occupy) costs no NATS round trip. Anything it
// cannot settle (a token it does not have, a copy not trusted right now, an admission whose time is up) goes to the
// token's queue actor, which stays the authority.
import type { Bus } from "../shared/bus";
import { AppError } from "../shared/errors";
import { queueSubject } from "../shared/subjects";
import { QUEUE_TOKEN_FORMAT, queueOfToken, type FingerprintKey } from "../shared/queue-tokens";
import type { QueueStatus } from "../shared/messages";
import type { QueueViews } from "./queue-views";

export class QueueGate {
  constructor(
    private readonly bus: Bus,
    private readonly views: QueueViews,
  ) {}

  /** Resolves to the queue that admitted the caller: 0 for the global queue, or the concert whose queue it is. */
  async requireActive(token: string | undefined, userId: number): Promise<number> {
    if (!token || !QUEUE_TOKEN_FORMAT.test(token)) throw new AppError("invalid_token");
    const queueId = queueOfToken(token);
    const found = await this.views.lookup(token, false);
    if (found.kind === "found") {
      const { view, slot } = found;
      if (view.userOf(slot) !== userId) throw new AppError("invalid_token");
      if (!view.isActive(slot)) throw new AppError("queue_token_not_active");
      if (view.expiresAtOf(slot) > Date.now()) return queueId;
    }
    const status = await this.ask(queueId, token, userId);
    if (status.status !== "ACTIVE") throw new AppError("queue_token_not_active");
    return queueId;
  }

  /**
   * For what a queue token alone authenticates (a stream): the token's queue and fingerprint when it is ACTIVE in this
   * instance's copy; invalid_token when it is not in the queue, queue_token_not_active while it waits, 503 without a
   * copy to vouch for it.
   */
  async activeToken(token: string): Promise<{ queueId: number; key: FingerprintKey }> {
    const found = await this.views.lookup(token);
    if (found.kind === "unready") throw new AppError("service_unavailable");
    if (found.kind === "absent") throw new AppError("invalid_token");
    if (!found.view.isActive(found.slot)) throw new AppError("queue_token_not_active");
    return { queueId: found.queueId, key: found.key };
  }

  /** Whether a token is still ACTIVE in this instance's copy (an unready copy gives it the benefit of the doubt). */
  stillActive(key: FingerprintKey, queueId: number): boolean {
    const view = this.views.viewOf(queueId);
    return !view || view.lookup(key, Date.now()) >= 0;
  }

  private async ask(queueId: number, token: string, userId: number): Promise<QueueStatus> {
    try {
      return await this.bus.request<QueueStatus>(queueSubject(queueId, "status"), { userId, token });
    } catch (error) {
      // On seat routes an unknown or used-up token is simply not a valid token.
      if (error instanceof AppError && error.code === "not_found_in_queue") throw new AppError("invalid_token");
      throw error;
    }
  }
}
