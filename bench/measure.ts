// What the benchmarks read off processes and histograms: CPU from /proc (a process's, or its JavaScript thread's),
// resident memory, and percentiles of the crowd's latency histograms.
import { readFileSync } from "node:fs";

export type Histogram = Record<string, number>;

/** The value at quantile `q` of a histogram keyed by bucket (ms); null when it is empty. */
export function percentile(histogram: Histogram, q: number): number | null {
  const entries = Object.entries(histogram).map(([k, n]) => [Number(k), n] as const).sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  let seen = 0;
  for (const [ms, n] of entries) {
    seen += n;
    if (seen >= q * total) return ms;
  }
  return entries.at(-1)![0];
}

/** Counts (or histograms) summed key by key. */
export function merge(maps: Record<string, number>[]): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const m of maps) for (const [k, n] of Object.entries(m)) merged[k] = (merged[k] ?? 0) + n;
  return merged;
}

/** CPU seconds a process has used so far (user + system), from /proc; what it had last for one that has ended. */
const lastCpu = new Map<string, number>();
export function cpuSeconds(pid: number, thread?: number): number {
  const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
  const key = `${pid}/${thread ?? "all"}`;
  try {
    const fields = readFileSync(path, "utf8").split(") ")[1]!.split(" ");
    lastCpu.set(key, (Number(fields[11]) + Number(fields[12])) / 100);
  } catch {
    // Ended: a crowd whose users are all done exits by itself.
  }
  return lastCpu.get(key) ?? 0;
}

/** The JavaScript thread's CPU alone (its thread id is the process id): what one event loop can give is one core. */
export const mainThreadSeconds = (pid: number) => cpuSeconds(pid, pid);

/** Resident memory in MB; 0 for a process that has just ended. */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}
