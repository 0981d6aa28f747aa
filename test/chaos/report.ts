// The report of a chaos run, in Markdown: what was run, the faults with the availability under each, the invariants.
import type { Availability } from "./availability";
import type { InvariantResult } from "./checker";
import type { Op } from "./history";
import type { FaultRecord } from "./nemesis";

export interface RunFacts {
  seed: number;
  quick: boolean;
  saleSeconds: number;
  fans: number;
  seats: number;
  wallSeconds: number;
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);
const share = (part: number, whole: number) => (whole === 0 ? "–" : `${Math.round((100 * part) / whole)} %`);

export function report(facts: RunFacts, ops: Op[], faults: FaultRecord[], served: Availability[], results: InvariantResult[], openedAt: number): string {
  const ok = (kind: Op["kind"]) => ops.filter((op) => op.kind === kind && op.outcome === "ok").length;
  const lines = [
    `Seed ${facts.seed}${facts.quick ? " (--quick)" : ""}: ${facts.fans} fans, ${facts.seats} seats, a ${facts.saleSeconds} s sale on three instances, a three-node NATS cluster and PostgreSQL; ${facts.wallSeconds} s in all.`,
    `${ops.length} requests: ${ok("charge")} charges, ${ok("enter")} queue entries, ${ok("occupy")} holds, ${ok("reserve")} reservations, ${ok("pay")} payments, ${ok("refund")} refunds, ${ok("cancel")} cancellations acknowledged; ${ops.filter((op) => op.outcome === "unknown").length} with an unknown outcome.`,
    "",
    "| # | at (s) | fault | target | lasted (s) | requests | failed | 503 + Retry-After | timeouts | failing for (s) | overlaps |",
    "| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  faults.forEach((fault, i) => {
    const a = served.find((s) => s.fault === fault);
    const at = seconds(fault.start - openedAt);
    if (!a) return lines.push(`| ${i + 1} | ${at} | ${fault.kind} | skipped: ${fault.skipped} | | | | | | | |`);
    const overlaps = a.overlapping.map((other) => `#${faults.indexOf(other) + 1}`).join(" ");
    lines.push(
      `| ${i + 1} | ${at} | ${fault.kind} | ${fault.target} | ${seconds(fault.healed - fault.start)} | ${a.requests} | ${a.failed} | ${share(a.unavailable, a.failed)} | ${a.timeouts} | ${seconds(a.failingMs)} | ${overlaps} |`,
    );
  });
  lines.push("", ...byKind(served));
  lines.push("", "| invariant | checked | violations |", "| --- | ---: | ---: |");
  for (const r of results) lines.push(`| ${r.name} | ${r.checked} | ${r.violations.length === 0 ? "0" : `**${r.violations.length}**`} |`);
  const failed = results.filter((r) => r.violations.length > 0);
  for (const r of failed) lines.push("", `**${r.name}**`, ...r.violations.slice(0, 20).map((v) => `- ${v}`));
  return lines.join("\n") + "\n";
}

/** The faults summed up by kind: how often, and how the requests under them fared. */
function byKind(served: Availability[]): string[] {
  const lines = [
    "| fault | times | requests | failed | 503 + Retry-After | timeouts | failing for, longest (s) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const kinds = [...new Set(served.map((a) => a.fault.kind))];
  for (const kind of kinds) {
    const of = served.filter((a) => a.fault.kind === kind);
    const sum = (pick: (a: Availability) => number) => of.reduce((n, a) => n + pick(a), 0);
    const failed = sum((a) => a.failed);
    lines.push(
      `| ${kind} | ${of.length} | ${sum((a) => a.requests)} | ${failed} | ${share(sum((a) => a.unavailable), failed)} | ${sum((a) => a.timeouts)} | ${seconds(Math.max(...of.map((a) => a.failingMs)))} |`,
    );
  }
  return lines;
}
