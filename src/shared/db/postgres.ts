import { SQL } from "bun";
import type { Database, Queryable, Row } from "./port";

function wrap(sql: Pick<SQL, "unsafe">): Queryable {
  return {
    async query<T extends Row>(text: string, params: unknown[] = []) {
      return (await sql.unsafe(text, params)) as T[];
    },
  };
}

/** A PostgreSQL server through Bun's built-in client, so the server adapter needs no extra dependency. */
/**
 * `idleInTransactionMs`: the server ends a session whose transaction sits idle this long. A transaction left open by a
 * frozen process would hold its ownership row's lock, and so block the takeover that fences it, for as long as the
 * freeze lasts; an owner frozen for a whole lease has lost its lease anyway, so the ownership lease is the right bound.
 */
export async function openPostgres(url: string, idleInTransactionMs = 5000): Promise<Database> {
  const sql = new SQL({
    url,
    max: 10,
    idleTimeout: 30,
    connectionTimeout: 5,
    connection: { application_name: "concert-reservation", idle_in_transaction_session_timeout: idleInTransactionMs },
  });
  await sql.unsafe("select 1");
  const plain = wrap(sql);
  return {
    engine: "postgres",
    query: plain.query,
    transaction: (work) => sql.begin((tx) => work(wrap(tx))) as Promise<never>,
    close: () => sql.close(),
  };
}
