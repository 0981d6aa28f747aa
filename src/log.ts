// Structured logs: one JSON line per entry, at or above LOG_LEVEL (default info).
type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const wanted = (process.env.LOG_LEVEL ?? "info").toLowerCase();
  return wanted in RANK ? RANK[wanted as Level] : RANK.info;
}

const minimum = threshold();

function write(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  if (RANK[level] < minimum) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
  if (RANK[level] >= RANK.warn) console.error(line);
  else console.log(line);
}

export const log = {
  debug: (message: string, fields?: Record<string, unknown>) => write("debug", message, fields),
  info: (message: string, fields?: Record<string, unknown>) => write("info", message, fields),
  warn: (message: string, fields?: Record<string, unknown>) => write("warn", message, fields),
  error: (message: string, fields?: Record<string, unknown>) => write("error", message, fields),
};
