// The database targets the end-to-end tests run against: in-memory PGlite always, and a fresh database on the
// PostgreSQL server when TEST_DATABASE_URL is set or one answers on 127.0.0.1:5432.
import { SQL } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatabaseTarget } from "../../src/shared/config";
import { portOpen } from "./nats-server";

const SERVER = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export async function postgresAvailable(): Promise<boolean> {
  if (process.env.TEST_DATABASE_URL) return true;
  if (!(await portOpen(5432))) return false;
  try {
    const sql = new SQL(SERVER);
    await sql.unsafe("select 1");
    await sql.close();
    return true;
  } catch {
    return false;
  }
}

/** A new, empty database on the server, so each test file starts clean and runs can overlap. */
export async function freshPostgres(): Promise<{ target: DatabaseTarget; drop(): Promise<void> }> {
  const name = `concert_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new SQL(SERVER);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.close();
  const url = new URL(SERVER);
  url.pathname = `/${name}`;
  return {
    target: { kind: "postgres", url: url.toString() },
    async drop() {
      const sql = new SQL(SERVER);
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await sql.close();
    },
  };
}

export interface DatabaseCase {
  name: string;
  open(): Promise<{ target: DatabaseTarget; drop(): Promise<void> }>;
}

export async function databaseCases(): Promise<DatabaseCase[]> {
  const cases: DatabaseCase[] = [{ name: "pglite", open: async () => ({ target: { kind: "pglite-memory" }, drop: async () => {} }) }];
  if (await postgresAvailable()) cases.push({ name: "postgres", open: freshPostgres });
  return cases;
}

export interface ProcessDatabaseCase {
  name: string;
  /** The environment that points a service process at a new, empty database of this kind. */
  open(): Promise<{ env: Record<string, string>; drop(): Promise<void> }>;
}

/** Databases that outlive the process using them: PGlite in a temporary directory, and the server when reachable. */
export async function processDatabaseCases(): Promise<ProcessDatabaseCase[]> {
  const cases: ProcessDatabaseCase[] = [
    {
      name: "PGlite on disk",
      async open() {
        const dir = mkdtempSync(join(tmpdir(), "pglite-process-"));
        return { env: { DATA_DIR: dir, DATABASE_URL: "" }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    },
  ];
  if (await postgresAvailable()) {
    cases.push({
      name: "the PostgreSQL server",
      async open() {
        const db = await freshPostgres();
        return { env: { DATABASE_URL: (db.target as { url: string }).url }, drop: db.drop };
      },
    });
  }
  return cases;
}
