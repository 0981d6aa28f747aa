// `bun run monitor` — watch a sale without the NATS CLI.
//   bun run monitor                  a readable line per domain event (time, subject, event, seats, user)
//   bun run monitor -- --event 3     only concert event 3 (and the queue)
//   bun run monitor -- --summary     per event: seats available/held/reserved/sold, and the queue; every second
//   add --once to print one summary and exit, --count N to stop after N events.
// It needs only the read access of deploy/nats-server.conf's `monitor` user (NATS_USER/NATS_PASSWORD or NATS_CREDS):
// it subscribes to rsv.evt.> and takes the summary from the catalog service's stats.
import type { ServiceStats } from "nats";
import { parseArgs } from "node:util";
import { ConfigError, loadNatsConfig, type NatsConfig } from "../shared/config";
import { decode } from "../shared/codec";
import { connectNats } from "../shared/nats-connection";
import { CATALOG_SERVICE, Requests, type SaleSummary } from "../shared/subjects";

const { values } = parseArgs({
  options: {
    event: { type: "string" },
    summary: { type: "boolean", default: false },
    once: { type: "boolean", default: false },
    count: { type: "string" },
  },
});

function natsConfig(): NatsConfig {
  try {
    return loadNatsConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`configuration error: ${error.message}`);
    process.exit(2);
  }
}

const nats = natsConfig();
const nc = await connectNats(nats, { name: "concert-monitor" });

/** One line for one event: the fields operators look for first, then whatever else it carries. */
function describe(subject: string, body: Record<string, unknown>): string {
  const what = subject.replace(/^rsv\.evt\.(event\.\d+\.)?/, "");
  const parts = [new Date().toISOString().slice(11, 23), subject.padEnd(44), what.padEnd(22)];
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

async function streamLoop(): Promise<void> {
  const subjects = values.event ? [`rsv.evt.event.${values.event}.>`, "rsv.evt.queue.>", "rsv.evt.wallet.>"] : ["rsv.evt.>"];
  let left = values.count ? Number(values.count) : Infinity;
  await new Promise<void>((resolve) => {
    for (const subject of subjects) {
      nc.subscribe(subject, {
        callback: (error, msg) => {
          if (error) return;
          console.log(describe(msg.subject, decode<Record<string, unknown>>(msg.data)));
          if (--left <= 0) resolve();
        },
      });
    }
    void nc.flush().then(() => console.error(`watching ${subjects.join(" ")} on ${nats.servers.join(",")} (Ctrl-C to stop)`));
  });
}

await (values.summary ? summaryLoop() : streamLoop());
await nc.close();
