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

/** Errors the engine raises when it is unreachable, as opposed to a query being wrong. */
export function isConnectionError(error: unknown): boolean {
  const text = String((error as { code?: string })?.code ?? "") + " " + String((error as Error)?.message ?? "");
  return /ECONNREFUSED|ECONNRESET|ERR_POSTGRES_CONNECTION|CONNECTION_CLOSED|connection|terminat|57P0|08\d\d\d|closed/i.test(text);
}
