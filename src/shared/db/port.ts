import { AppError } from "../errors";
import { log } from "../log";

// The database port: everything above it speaks SQL through these two calls, whichever engine is underneath.
// Integer columns come back as numbers from PGlite and as strings from the server; row mappers call Number().

export type Row = Record<string, unknown>;

export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Database extends Queryable {
  readonly engine: "pglite" | "postgres";
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * SQL for a timestamptz given as epoch milliseconds (a bigint parameter or column, possibly null). Hot batch writes pass
 * times this way: on PGlite, parsing an ISO timestamp costs about 3 µs of WebAssembly per value, this arithmetic less.
 */
export const fromEpochMs = (ms: string) => `(timestamptz 'epoch' + ${ms} * interval '1 millisecond')`;

/** The database disagrees with what an actor expected of its rows: the actor reloads rather than drift from it. */
export class StoreDriftError extends Error {}

/** Errors the engine raises when it is unreachable, as opposed to a query being wrong. */
export function isConnectionError(error: unknown): boolean {
  const text = String((error as { code?: string })?.code ?? "") + " " + String((error as Error)?.message ?? "");
  return /ECONNREFUSED|ECONNRESET|ERR_POSTGRES_CONNECTION|CONNECTION_CLOSED|connection|terminat|57P0|08\d\d\d|closed/i.test(text);
}

/**
 * Runs a store call for an actor: a database that cannot be reached becomes a 503 the client may retry; anything
 * else is a bug, logged here and answered 500 without details.
 */
export async function storeCall<T>(store: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (isConnectionError(error)) throw new AppError("service_unavailable");
    log.error("store failed", { store, error: String(error) });
    throw new AppError("internal_server_error");
  }
}
