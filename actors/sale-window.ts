// Who may touch an event's seats, and when: a concert's queue admits to that concert's events only (the global queue
// to every one), and only while its sale is open. The event's actor applies this to every seat command, and every
// instance's copy of the seat map to what it answers by itself.
import type { ErrorCode } from "../src/shared/errors";
import { GLOBAL_QUEUE } from "../src/shared/queue-tokens";

export interface SaleWindow {
  concertId: number;
  opensAt: number;
  /** undefined: the sale stays open. */
  closesAt?: number;
}

export function saleRefusal(sale: SaleWindow, admittedTo: number, now: number): ErrorCode | undefined {
  if (admittedTo !== GLOBAL_QUEUE && admittedTo !== sale.concertId) return "invalid_token";
  if (now < sale.opensAt) return "sale_not_open";
  if (sale.closesAt !== undefined && now >= sale.closesAt) return "sale_closed";
  return undefined;
}
