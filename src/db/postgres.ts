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
export async function openPostgres(url: string): Promise<Database> {
  const sql = new SQL({
    url,
    max: 10,
    idleTimeout: 30,
    connectionTimeout: 5,
    // A transaction left open by a paused process would hold its ownership row's lock, and so block the takeover
    // that fences it, for as long as the pause lasts; the server ends such a session instead.
    connection: { application_name: "concert-reservation", idle_in_transaction_session_timeout: 5000 },
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
