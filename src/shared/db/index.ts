import type { DatabaseTarget } from "../config";
import { migrate } from "./migrations";
import { openPglite } from "./pglite";
import { openPostgres } from "./postgres";
import type { Database } from "./port";

/** `idleInTransactionMs` applies to a PostgreSQL server (see openPostgres). */
export async function openDatabase(target: DatabaseTarget, idleInTransactionMs?: number): Promise<Database> {
  const db =
    target.kind === "postgres"
      ? await openPostgres(target.url, idleInTransactionMs)
      : await openPglite(target.kind === "pglite-disk" ? target.dir : undefined);
  await migrate(db);
  return db;
}

export type { Database, Queryable } from "./port";
