import type { DatabaseTarget } from "../config";
import { migrate } from "./migrations";
import { openPglite } from "./pglite";
import { openPostgres } from "./postgres";
import type { Database } from "./port";

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  const db =
    target.kind === "postgres"
      ? await openPostgres(target.url)
      : await openPglite(target.kind === "pglite-disk" ? target.dir : undefined);
  await migrate(db);
  return db;
}

export type { Database, Queryable } from "./port";
