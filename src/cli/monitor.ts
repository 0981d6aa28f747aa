// `bun run monitor` — watch a sale without the NATS CLI.
//   bun run monitor                  a readable line per domain event (time, subject, event, seats, user)
//   bun run monitor -- --event 3     only concert event 3 (and the queue)
//   bun run monitor -- --summary     per event: seats available/held/reserved/sold, and the queue; every second
//   add --once to print one summary and exit, --count N to stop after N events.
import { parseArgs } from "node:util";
import { connectNats } from "../shared/nats-connection";
import { decode, unwrap, type Reply } from "../shared/codec";
import { loadNatsConfig } from "../shared/config";
import { Requests, type SaleSummary } from "../shared/subjects";

const { values } = parseArgs({
  options: {
    event: { type: "string" },
    summary: { type: "boolean", default: false },
    once: { type: "boolean", default: false },
    count: { type: "string" },
  },
});

const nats = loadNatsConfig();
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

async function summaryLoop(): Promise<void> {
  for (;;) {
    const msg = await nc.request(Requests.saleSummary, new Uint8Array(), { timeout: 2000 });
    const text = table(unwrap(decode<Reply<SaleSummary>>(msg.data)));
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
