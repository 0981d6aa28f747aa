import { PGlite, parse, protocol, type messages } from "@electric-sql/pglite";
import type { Database, Queryable, Row } from "./port";

// PGlite runs Postgres as WebAssembly on the service's own thread, so every statement's CPU is the event loop's.
// `PGlite.query` spends six calls into the engine per statement (parse, describe, bind, describe, execute, sync), and
// parses and plans the text every time. Measured under a queue rush, parsing and binding were over half the engine's
// time. This adapter does what the server's client does: each distinct statement is prepared once under a name, and
// every later execution is one call (bind, execute, sync) that reuses the plan and the column description.

const { serialize } = protocol;
/** Enough for every statement this service writes; a statement past it runs unprepared rather than evicting. */
const MAX_PREPARED = 500;
const CHECKPOINT_EVERY_MS = 30_000;

interface Prepared {
  name: string;
  paramTypes: number[];
  /** The statement's columns, described once: each execution then skips the describe step. */
  columns: messages.BackendMessage[];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** One PGlite backend: a single session, so statements and transactions take turns through `turn`. */
class Session {
  readonly #pg: PGlite;
  readonly #prepared = new Map<string, Prepared>();
  readonly #parser = new protocol.Parser();
  #turn: Promise<void> = Promise.resolve();

  constructor(pg: PGlite) {
    this.#pg = pg;
  }

  /** Runs `work` when every earlier turn has finished; the turns never overlap. */
  take<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#turn.then(work);
    this.#turn = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Sends wire-protocol messages in one call and returns the replies, throwing the first error Postgres raised. */
  #exchange(parts: Uint8Array[]): messages.BackendMessage[] {
    const replies: messages.BackendMessage[] = [];
    this.#parser.parse(this.#pg.execProtocolRawSync(concat(parts)), (message) => replies.push(message));
    const error = replies.find((m) => m instanceof protocol.messages.DatabaseError);
    if (error) throw error;
    return replies;
  }

  #prepare(sql: string): Prepared {
    const known = this.#prepared.get(sql);
    if (known) return known;
    const name = this.#prepared.size < MAX_PREPARED ? `s${this.#prepared.size + 1}` : "";
    const replies = this.#exchange([serialize.parse({ name, text: sql }), serialize.describe({ type: "S", name }), serialize.sync()]);
    const description = replies.find((m) => m instanceof protocol.messages.ParameterDescriptionMessage);
    const columns = replies.filter((m) => m instanceof protocol.messages.RowDescriptionMessage);
    const prepared = { name, paramTypes: description?.dataTypeIDs ?? [], columns };
    if (name) this.#prepared.set(sql, prepared);
    return prepared;
  }

  /** One statement, synchronously: nothing else can run on the backend in between. */
  run<T extends Row>(sql: string, params: unknown[]): T[] {
    const { name, paramTypes, columns } = this.#prepare(sql);
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = this.#pg.serializers[paramTypes[i]!];
      return serializer ? serializer(value) : String(value);
    });
    const replies = this.#exchange([serialize.bind({ statement: name, values }), serialize.execute({}), serialize.sync()]);
    return (parse.parseResults([...columns, ...replies], this.#pg.parsers)[0]?.rows ?? []) as T[];
  }

  /** A statement with no parameters and no rows, sent as a simple query (BEGIN, COMMIT, ROLLBACK). */
  command(sql: string): string | undefined {
    const replies = this.#exchange([serialize.query(sql)]);
    return replies.find((m) => m instanceof protocol.messages.CommandCompleteMessage)?.text;
  }
}

async function inTransaction<T>(session: Session, work: (tx: Queryable) => Promise<T>): Promise<T> {
  let open = true;
  const tx: Queryable = {
    async query<R extends Row>(sql: string, params: unknown[] = []) {
      if (!open) throw new Error("query on a finished transaction");
      return session.run<R>(sql, params);
    },
  };
  session.command("BEGIN");
  try {
    const result = await work(tx);
    // A transaction that an error aborted (and `work` swallowed) answers COMMIT with ROLLBACK, not an error.
    if (session.command("COMMIT") === "ROLLBACK") throw new Error("transaction aborted by an earlier error; rolled back");
    return result;
  } catch (error) {
    session.command("ROLLBACK");
    throw error;
  } finally {
    open = false;
  }
}

/** PGlite, on disk under `dir`, or in memory when `dir` is undefined. */
export async function openPglite(dir?: string): Promise<Database> {
  const pg = dir ? new PGlite(dir) : new PGlite();
  await pg.waitReady;
  const session = new Session(pg);
  // Every page PGlite reads is already in memory, so a random read costs what a sequential one does. At the server's
  // default (4), a batch of key lookups looked dearer than reading a whole table: the planner chose to scan every live
  // queue token, a few milliseconds, instead of a lookup per token.
  session.command("SET random_page_cost = 1.1");
  // PGlite runs Postgres as a single backend with no checkpointer: without a checkpoint now and then, a process killed
  // hours into a sale replays every change since it started before it can answer anything. One costs a few tens of ms.
  const checkpoints = setInterval(() => void session.take(async () => session.command("CHECKPOINT")).catch(() => {}), CHECKPOINT_EVERY_MS);
  checkpoints.unref();
  return {
    engine: "pglite",
    query: (sql, params = []) => session.take(async () => session.run(sql, params)),
    transaction: (work) => session.take(() => inTransaction(session, work)),
    close: () => {
      clearInterval(checkpoints);
      return session.take(() => pg.close());
    },
  };
}
