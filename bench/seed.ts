// `bun run seed -- --events N --seats M [--users U --balance KRW]`: loads a large concert (and funded wallets) into
// the database the service is configured for (DATABASE_URL / DATA_DIR). Prints what it created as one JSON line.
import { parseArgs } from "node:util";
import { loadConfig } from "../src/shared/config";
import { openDatabase } from "../src/shared/db";
import { createEvent } from "../src/catalog/demo-data";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "1" },
    seats: { type: "string", default: "2000" },
    users: { type: "string", default: "0" },
    balance: { type: "string", default: "0" },
  },
});
const events = Number(values.events);
const seats = Number(values.seats);
const users = Number(values.users);
const balance = Number(values.balance);
if (![events, seats, users, balance].every((n) => Number.isSafeInteger(n) && n >= 0)) {
  console.error("usage: bun run seed -- --events N --seats M [--users U --balance KRW]");
  process.exit(2);
}

const db = await openDatabase(loadConfig().database);
const eventIds = await db.transaction(async (tx) => {
  const [concert] = await tx.query<{ id: number }>(`INSERT INTO concerts (title, venue, sale_opens_at) VALUES ($1, $2, now()) RETURNING id`, [
    `벤치마크 콘서트 (${events}×${seats})`,
    "부하 시험장",
  ]);
  const ids: number[] = [];
  for (let i = 0; i < events; i++) ids.push(await createEvent(tx, Number(concert!.id), new Date(Date.UTC(2027, 0, 1 + i)), seats));
  return ids;
});
if (users > 0 && balance > 0) {
  // Wallets with their ledger entries, so `bun run verify` still finds balance = ledger.
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO wallets (user_id, balance) SELECT u, $2 FROM generate_series(1, $1::int) AS u
       ON CONFLICT (user_id) DO UPDATE SET balance = wallets.balance + EXCLUDED.balance`,
      [users, balance],
    );
    await tx.query(`INSERT INTO wallet_ledger (user_id, amount, kind) SELECT u, $2, 'charge' FROM generate_series(1, $1::int) AS u`, [
      users,
      balance,
    ]);
  });
}
// Fresh statistics, so the planner uses the primary key for the actors' batched seat updates from the first commit.
await db.query(`ANALYZE seats`);
await db.query(`ANALYZE wallets`);
const [range] = await db.query(`SELECT min(id) AS first, max(id) AS last FROM seats WHERE concert_event_id = ANY($1::bigint[])`, [eventIds]);
console.log(JSON.stringify({ eventIds, seats: { first: Number(range!.first), last: Number(range!.last) }, users, balance }));
await db.close();
