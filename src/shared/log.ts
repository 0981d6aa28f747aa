// Structured logs: one JSON line per entry at or above LOG_LEVEL (default info); a readable line instead when a
// person is watching a terminal.
type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const wanted = (process.env.LOG_LEVEL ?? "info").toLowerCase();
  return wanted in RANK ? RANK[wanted as Level] : RANK.info;
}

const minimum = threshold();
const pretty = Boolean(process.stdout.isTTY) && process.env.LOG_FORMAT !== "json";

function format(level: Level, message: string, fields: Record<string, unknown>): string {
  const time = new Date().toISOString();
  if (!pretty) return JSON.stringify({ time, level, message, ...fields });
  const details = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  return `${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${message}${details ? `  ${details}` : ""}`;
}

function write(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  if (RANK[level] < minimum) return;
  const line = format(level, message, fields);
  if (RANK[level] >= RANK.warn) console.error(line);
  else console.log(line);
}

export const log = {
  /** Whether entries of this level are written: the request log's fields are not even gathered when they are not. */
  enabled: (level: Level) => RANK[level] >= minimum,
  debug: (message: string, fields?: Record<string, unknown>) => write("debug", message, fields),
  info: (message: string, fields?: Record<string, unknown>) => write("info", message, fields),
  warn: (message: string, fields?: Record<string, unknown>) => write("warn", message, fields),
  error: (message: string, fields?: Record<string, unknown>) => write("error", message, fields),
};
