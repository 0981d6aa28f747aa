// What every fan view is given: who is signed in, the headers their calls carry, the queue tokens this browser keeps,
// and a way to move to another view without a reload.
import type { Session } from "../shared/session";

export interface FanContext {
  session: Session;
  /** The bearer header, plus the queue token when a route needs one. */
  headers(queueToken?: string): Record<string, string>;
  tokens: QueueTokens;
  go(hash: string): void;
  /** Shows the wallet's balance again after a charge or a payment. */
  refreshWallet(): void;
}

/** A view's teardown: streams closed, timers stopped. */
export type Dispose = () => void;

/**
 * The queue token of each concert this user entered, kept in the browser so a reload (or a closed tab) keeps the
 * place: entering again would return the same token anyway, but the page must not need the network to know it.
 */
export class QueueTokens {
  constructor(private readonly userId: number) {}

  private key(concertId: number): string {
    return `rsv.queue.${this.userId}.${concertId}`;
  }

  get(concertId: number): string | undefined {
    return localStorage.getItem(this.key(concertId)) ?? undefined;
  }

  set(concertId: number, token: string): void {
    localStorage.setItem(this.key(concertId), token);
  }

  forget(concertId: number): void {
    localStorage.removeItem(this.key(concertId));
  }
}
