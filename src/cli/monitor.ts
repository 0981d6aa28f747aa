// `bun run monitor` — watch a sale without the NATS CLI.
//   bun run monitor                  a readable line per domain event (time, subject, event, seats, user)
//   bun run monitor -- --event 3     only concert event 3 (and the queue)
//   bun run monitor -- --since 10m   first the events of the last 10 minutes (s, m or h) kept in the RSV_EVENTS
//                                    stream, with the time each was stored, then the live ones
//   bun run monitor -- --summary     per event: seats available/held/reserved/sold, and the queue; every second
//   add --once to print one summary and exit, --count N to stop after N events.
// It needs only the read access of deploy/nats-server.conf's `monitor` user (NATS_USER/NATS_PASSWORD or NATS_CREDS):
// it subscribes to rsv.evt.>, reads the stream, and takes the summary from the catalog service's stats.
import { millis, type ServiceStats } from "nats";
import { parseArgs } from "node:util";
import { ConfigError, loadNatsConfig, type NatsConfig } from "../shared/config";
import { decode } from "../shared/codec";
import { EVENT_STREAM } from "../shared/event-stream";
import { connectNats } from "../shared/nats-connection";
import { CATALOG_SERVICE, Requests } from "../shared/subjects";
import type { SaleSummary } from "../shared/messages";

const { values } = parseArgs({
  options: {
    event: { type: "string" },
    summary: { type: "boolean", default: false },
    once: { type: "boolean", default: false },
    count: { type: "string" },
    since: { type: "string" },
  },
});

function refuse(message: string): never {
  console.error(message);
  process.exit(2);
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** `90s`, `10m`, `2h` in milliseconds. */
function duration(text: string): number {
  const match = /^(\d+)([smh])$/.exec(text.trim());
  if (!match) refuse(`--since must be a whole number of s, m or h (such as 90s, 10m, 2h), got "${text}"`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

function natsConfig(): NatsConfig {
  try {
    return loadNatsConfig();
  } catch (error) {
    if (error instanceof ConfigError) refuse(`configuration error: ${error.message}`);
    throw error;
  }
}

const sinceMs = values.since === undefined ? undefined : duration(values.since);
const nats = natsConfig();
const nc = await connectNats(nats, { name: "concert-monitor" });

/** One line for one event: the fields operators look for first, then whatever else it carries. */
function describe(subject: string, body: Record<string, unknown>, at: Date): string {
  const what = subject.replace(/^rsv\.evt\.(event\.\d+\.)?/, "").replace(/^queue\.\d+\./, "queue.");
  const parts = [at.toISOString().slice(11, 23), subject.padEnd(44), what.padEnd(22)];
  if (body.eventId !== undefined) parts.push(`event=${body.eventId}`);
  if (Array.isArray(body.seatIds)) parts.push(`seat=${body.seatIds.join(",")}`);
  if (body.userId !== undefined) parts.push(`user=${body.userId}`);
  for (const [key, value] of Object.entries(body)) {
    if (!["eventId", "seatIds", "userId"].includes(key)) parts.push(`${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
  return parts.join("  ");
}

function table(summary: SaleSummary): string {
  const rows = summary.events
    .filter((e) => values.event === undefined || String(e.eventId) === values.event)
    .map((e) => `${String(e.eventId).padStart(6)}  ${[e.available, e.held, e.reserved, e.sold].map((n) => String(n).padStart(9)).join("  ")}`);
  return [
    `${new Date().toISOString()}   queue: ${summary.queue.waiting} waiting, ${summary.queue.active} active`,
    ` event  available       held   reserved       sold`,
    ...rows,
  ].join("\n");
}

/** The summary as the catalog service reports it in its stats, which a user allowed no rsv. request may read. */
async function readSummary(): Promise<SaleSummary> {
  const msg = await nc.request(`$SRV.STATS.${CATALOG_SERVICE}`, new Uint8Array(), { timeout: 2000 });
  const summary = decode<ServiceStats>(msg.data).endpoints?.find((e) => e.subject === Requests.saleSummary)?.data;
  if (!summary) throw new Error("the catalog service reported no sale summary (is its database reachable?)");
  return summary as SaleSummary;
}

async function summaryLoop(): Promise<void> {
  for (;;) {
    const text = table(await readSummary());
    if (values.once) return console.log(text);
    console.log(`\x1b[2J\x1b[H${text}`);
    await Bun.sleep(1000);
  }
}

const subjects = values.event ? [`rsv.evt.event.${values.event}.>`, "rsv.evt.queue.>", "rsv.evt.wallet.>"] : ["rsv.evt.>"];
let left = values.count ? Number(values.count) : Infinity;

/** Prints one event; true once --count events have been printed. */
function print(subject: string, data: Uint8Array, at: Date): boolean {
  console.log(describe(subject, decode<Record<string, unknown>>(data), at));
  return --left <= 0;
}

async function streamLoop(): Promise<void> {
  await new Promise<void>((resolve) => {
    for (const subject of subjects) {
      nc.subscribe(subject, {
        callback: (error, msg) => {
          if (!error && print(msg.subject, msg.data, new Date())) resolve();
        },
      });
    }
    void nc.flush().then(() => console.error(`watching ${subjects.join(" ")} on ${nats.servers.join(",")} (Ctrl-C to stop)`));
  });
}

/**
 * One ordered consumer from the start time on: it delivers what the stream kept and then each new event as it is
 * stored, in order, without the gap or the repeats a replay followed by a separate live subscription would have.
 * The stream holds every event, so --event filters here (servers before 2.10 take only one filter subject).
 */
async function replayLoop(since: number): Promise<void> {
  const from = new Date(Date.now() - since);
  const messages = await nc
    .jetstream()
    .consumers.get(EVENT_STREAM, { opt_start_time: from.toISOString() })
    .then((consumer) => consumer.consume())
    .catch((error: Error) => refuse(`cannot replay ${EVENT_STREAM}: ${error.message}`));
  console.error(`watching ${subjects.join(" ")} on ${nats.servers.join(",")} from ${EVENT_STREAM} since ${from.toISOString()} (Ctrl-C to stop)`);
  const prefixes = subjects.map((subject) => subject.slice(0, -1));
  for await (const msg of messages) {
    if (!prefixes.some((prefix) => msg.subject.startsWith(prefix))) continue;
    if (print(msg.subject, msg.data, new Date(millis(msg.info.timestampNanos)))) break;
  }
}

if (values.summary) await summaryLoop();
else if (sinceMs !== undefined) await replayLoop(sinceMs);
else await streamLoop();
await nc.close();
