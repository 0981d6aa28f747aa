// Checks the User-Token of seat requests and says which queue admitted the caller. A token the queue actor has confirmed
// ACTIVE is remembered until it expires or an "expired" event for it arrives, so the hot path (occupy) costs no extra
// NATS round trip; anything else asks the token's queue actor, which stays the authority.
import type { Subscription } from "nats";
import type { Bus } from "../shared/bus";
import { decode } from "../shared/codec";
import { AppError } from "../shared/errors";
import { tokenFingerprint } from "./queue-admission-host";
import { Events, QUEUE_TOKEN_FORMAT, queueOfToken, queueSubject, type QueueStatus } from "../shared/subjects";

const MAX_REMEMBERED = 200_000;

interface Admitted {
  userId: number;
  expiresAt: number;
}

export class QueueGate {
  private readonly admitted = new Map<string, Admitted>();
  private readonly expirations: Subscription;

  constructor(private readonly bus: Bus) {
    this.expirations = bus.nc.subscribe(Events.allTokenExpiries, {
      callback: (error, msg) => {
        if (error) return;
        this.admitted.delete(decode<{ tokenId: string }>(msg.data).tokenId);
      },
    });
  }

  /** Resolves to the queue that admitted the caller: 0 for the global queue, or the concert whose queue it is. */
  async requireActive(token: string | undefined, userId: number): Promise<number> {
    if (!token || !QUEUE_TOKEN_FORMAT.test(token)) throw new AppError("invalid_token");
    const queueId = queueOfToken(token);
    const id = tokenFingerprint(token);
    const known = this.admitted.get(id);
    if (known && known.expiresAt > Date.now()) {
      if (known.userId !== userId) throw new AppError("invalid_token");
      return queueId;
    }
    const status = await this.ask(queueId, token, userId);
    if (status.status !== "ACTIVE") throw new AppError("queue_token_not_active");
    this.remember(id, { userId, expiresAt: Date.parse(status.expiresAt!) });
    return queueId;
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

  private remember(id: string, entry: Admitted): void {
    if (this.admitted.size >= MAX_REMEMBERED) this.admitted.delete(this.admitted.keys().next().value!);
    this.admitted.set(id, entry);
  }

  close(): void {
    this.expirations.unsubscribe();
  }
}
