// The prepaid wallet: balances and charges. A charge is one atomic UPDATE, so concurrent charges all count, and
// every charge is written to the ledger, and its event to the outbox, in the same transaction.
import type { NatsConnection, Service } from "nats";
import { ok } from "../shared/codec";
import type { Database } from "../shared/db";
import { AppError } from "../shared/errors";
import { addService, endpoint } from "../shared/nats-service";
import { Events, message, Requests } from "../shared/subjects";
import { Api, type Balance } from "../shared/messages";
import { outboxEntry, recordEvents, type OutboxEntry, type OutboxRelay } from "../shared/outbox";

export const MAX_BALANCE = 1_000_000_000_000;

export async function balanceOf(db: Database, userId: number): Promise<Balance> {
  const [row] = await db.query(`SELECT balance FROM wallets WHERE user_id = $1`, [userId]);
  return { balance: row ? Number(row.balance) : 0 };
}

/**
 * `amount` is the schema's (1 to MAX_CHARGE); that the balance stays within MAX_BALANCE is the one rule left here.
 * The charge's event is recorded in its transaction and handed back for the relay to publish.
 */
export async function charge(db: Database, userId: number, amount: number): Promise<{ balance: Balance; events: OutboxEntry }> {
  return db.transaction(async (tx) => {
    const rows = await tx.query(
      `INSERT INTO wallets (user_id, balance) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET balance = wallets.balance + EXCLUDED.balance
       WHERE wallets.balance + EXCLUDED.balance <= $3
       RETURNING balance`,
      [userId, amount, MAX_BALANCE],
    );
    if (rows.length === 0) throw new AppError("invalid_amount");
    const balance = Number(rows[0]!.balance);
    const events = outboxEntry([message(Events.walletCharged, { userId, amount, balance })]);
    await tx.query(`INSERT INTO wallet_ledger (user_id, amount, kind) VALUES ($1, $2, 'charge')`, [userId, amount]);
    await recordEvents(tx, events);
    return { balance: { balance }, events };
  });
}

export function startWalletService(nc: NatsConnection, db: Database, relay: OutboxRelay): Promise<Service> {
  return addService(nc, "wallet", "잔액 조회와 충전", [
    endpoint({
      name: "balance",
      subject: Requests.walletBalance,
      messages: Api.wallet.balance,
      handle: async ({ userId }) => ok(await balanceOf(db, userId)),
    }),
    endpoint({
      name: "charge",
      subject: Requests.walletCharge,
      messages: Api.wallet.charge,
      handle: async ({ userId, amount }) => {
        const { balance, events } = await charge(db, userId, amount);
        relay.publish(events);
        return ok(balance);
      },
    }),
  ]);
}
