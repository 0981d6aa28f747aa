// The crowd of a chaos run: fans who charge their wallets, enter the concert's pre-queue before the opening, wait for
// their turn, and then check out as people do (pick a section, hold one or two seats, sometimes give one back or walk
// away, reserve, sometimes cancel, pay, sometimes ask for a refund, and queue again for another turn). An answer that
// may not have taken effect (a 503, a timeout) is asked again, as Retry-After says; every attempt is in the history.
import type { FanClient, Op, OpKind } from "./history";
import type { Seeded } from "../support/seeded";

export interface SaleUnderTest {
  concertId: number;
  /** Milliseconds since the epoch. */
  opensAt: number;
  events: { id: number; sections: string[] }[];
}

export interface FanSettings {
  /** When fans stop starting anything new. */
  stopAt: number;
  /** Fans enter the pre-queue spread over this long before the opening. */
  arrivalSpreadMs: number;
  /** Turns a fan takes at most (a turn ends with a payment). */
  turns: number;
}

/** A charge's amount names it: the k-th charge a fan asks for is 500,000 + k, so every charge in the ledger is one request. */
export const chargeAmount = (k: number) => 500_000 + k;

const RETRIES = 10;

type Visit = "bought" | "again" | "leave";

export class Fan {
  private charges = 0;
  private turnsTaken = 0;

  constructor(
    private readonly client: FanClient,
    private readonly random: Seeded,
    private readonly sale: SaleUnderTest,
    private readonly settings: FanSettings,
  ) {}

  private get over(): boolean {
    return Date.now() >= this.settings.stopAt;
  }

  async run(): Promise<void> {
    if (!(await this.charge())) return;
    await Bun.sleep(Math.max(0, this.sale.opensAt - this.settings.arrivalSpreadMs * this.random.next() - Date.now()));
    while (!this.over && this.turnsTaken < this.settings.turns) {
      if (!this.client.queueToken && !(await this.enter())) return;
      const status = await this.ask("status", {});
      if (!status) continue;
      if (status.outcome === "fail") {
        this.client.queueToken = undefined;
        continue;
      }
      if (status.data.status !== "ACTIVE") {
        await Bun.sleep(this.random.int(1_000, 2_500));
        continue;
      }
      const visit = await this.shop();
      if (visit === "leave") return;
      // Nothing bought this time (sold out here, or beaten to the seats): a breath before looking again.
      if (visit === "again") await Bun.sleep(this.random.int(500, 1_500));
    }
  }

  /** A request sent again while its outcome is unknown (a 503 after its Retry-After), up to RETRIES times. */
  private async ask(kind: OpKind, args: Record<string, unknown> | (() => Record<string, unknown>)): Promise<Op | undefined> {
    for (let i = 0; i < RETRIES && !this.over; i++) {
      const op = await this.client.send(kind, typeof args === "function" ? args() : args);
      if (op.outcome !== "unknown" && op.error !== "refused") return op;
      await Bun.sleep(op.retryAfter ? Number(op.retryAfter) * 1000 : this.random.int(300, 900));
    }
    return undefined;
  }

  private async charge(): Promise<boolean> {
    const op = await this.ask("charge", () => ({ amount: chargeAmount(++this.charges) }));
    return op?.outcome === "ok";
  }

  private async enter(): Promise<boolean> {
    const op = await this.ask("enter", { concertId: this.sale.concertId });
    if (op?.outcome !== "ok") return false;
    this.client.queueToken = op.data.token;
    return true;
  }

  /** One visit to the seat map while admitted: "bought", "again" when nothing was, "leave" when the fan walks away. */
  private async shop(): Promise<Visit> {
    const event = this.random.pick(this.sale.events);
    const section = this.random.pick(event.sections);
    const seats = await this.ask("seats", { eventId: event.id, section });
    if (seats?.outcome !== "ok") return this.tokenLost(seats);
    const free = (seats.data as { id: number }[]).map((s) => s.id);
    if (free.length === 0) return "again";
    const held: number[] = [];
    for (let n = this.random.int(1, 2); n > 0 && free.length > 0; n--) {
      const seatId = free.splice(this.random.int(0, free.length - 1), 1)[0]!;
      const op = await this.ask("occupy", { eventId: event.id, seatId });
      if (op?.outcome === "ok") held.push(seatId);
      else if (op?.code === "invalid_token" || op?.code === "queue_token_not_active") return this.tokenLost(op);
    }
    if (held.length === 0) return "again";
    // Some walk away and leave their holds to lapse.
    if (this.random.chance(0.05)) return "leave";
    if (held.length > 1 && this.random.chance(0.15)) await this.ask("release", { eventId: event.id, seatId: held.pop()! });
    return this.checkOut(event.id, held);
  }

  private async checkOut(eventId: number, seatIds: number[]): Promise<Visit> {
    const reserved = await this.ask("reserve", { eventId, seatIds });
    if (reserved?.outcome !== "ok") return this.tokenLost(reserved);
    const reservationId = reserved.data.id as number;
    if (this.random.chance(0.08)) {
      await this.ask("cancel", { reservationId });
      return "again";
    }
    let paid = await this.ask("pay", { reservationId });
    if (paid?.code === "insufficient_balance" && (await this.charge())) paid = await this.ask("pay", { reservationId });
    if (paid?.outcome !== "ok") return "again";
    this.turnsTaken++;
    // Paying ends the turn: the queue token is spent.
    this.client.queueToken = undefined;
    if (this.random.chance(0.15)) await this.ask("refund", { reservationId });
    return "bought";
  }

  /** A refusal that says the queue token is no longer good: queue again. Anything else: try again. */
  private tokenLost(op: Op | undefined): "again" {
    if (op?.code === "invalid_token" || op?.code === "queue_token_not_active" || op?.code === "not_found_in_queue") this.client.queueToken = undefined;
    return "again";
  }
}
