// The README's two walkthroughs, run as a reader would paste them: their shell blocks, unchanged but for the address,
// against a fresh service with its own PGlite directory and NATS. A walkthrough that rots (a date gone by, a route or
// a field renamed) fails here rather than in front of a reader.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startTestService, TEST_SECRET, type TestService } from "../support/service";

const ROOT = resolve(import.meta.dir, "../..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");

/** The ```sh blocks of the section under `## <heading>`, up to the next `## `. */
function shellBlocks(heading: string): string[] {
  const start = README.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "## ${heading}"`);
  const end = README.indexOf("\n## ", start + 1);
  return [...README.slice(start, end < 0 ? undefined : end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** curl -s prints each body with no newline after it, so the blocks' output is JSON documents back to back. */
function documents(output: string): { docs: any[]; rest: string } {
  const docs: any[] = [];
  let rest = "";
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < output.length; i++) {
    const c = output[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"' && depth > 0) inString = true;
    else if (c === "{" || c === "[") {
      if (depth++ === 0) start = i;
    } else if (c === "}" || c === "]") {
      if (--depth === 0) docs.push(JSON.parse(output.slice(start, i + 1)));
    } else if (depth === 0) rest += c;
  }
  return { docs, rest: rest.trim() };
}

describe("the README's walkthrough", () => {
  let service: TestService;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "walkthrough-"));
    service = await startTestService({ kind: "pglite-disk", dir: dataDir });
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function run(heading: string): Promise<any[]> {
    const blocks = shellBlocks(heading);
    expect(blocks.length).toBe(1);
    const script = blocks[0]!.replaceAll("localhost:8080", new URL(service.base).host);
    // `npm run -s token` signs with AUTH_SECRET, which must be the secret this service verifies with.
    const child = Bun.spawn(["bash", "-euo", "pipefail", "-c", script], {
      cwd: ROOT,
      env: { ...process.env, AUTH_SECRET: TEST_SECRET },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    // stderr only matters when the block failed, where it says why.
    expect({ code, stderr: code === 0 ? "" : err }).toEqual({ code: 0, stderr: "" });
    const { docs, rest } = documents(out);
    expect(rest).toBe("");
    for (const doc of docs) expect(doc).not.toHaveProperty("error");
    return docs;
  }

  test("Book a seat with curl: charge, queue, browse, occupy, reserve, pay", async () => {
    const [charged, status, concerts, events, seats, held, paid, payments] = await run("Book a seat with curl");
    expect(charged.data.balance).toBe(200_000);
    expect(status.data.status).toBe("ACTIVE");
    expect(concerts.list.length).toBeGreaterThan(0);
    expect(events.list.map((e: { id: number }) => e.id)).toContain(1);
    expect(seats.list.map((s: { id: number }) => s.id)).toContain(12);
    expect(held.data.id).toBe(12);
    expect(paid.data).toMatchObject({ status: "success", reservationId: expect.any(Number) });
    expect(payments.list.map((p: { id: number }) => p.id)).toContain(paid.data.id);
  }, 60_000);

  test("Put a show on sale with curl (operators): concert, event, moved opening, pre-queue, figures", async () => {
    const [moved, entered, queue, summary, ...more] = await run("Put a show on sale with curl (operators)");
    expect(more).toEqual([]);
    expect(moved.data).toMatchObject({ title: "아이유 콘서트 2030", saleOpensAt: "2030-01-10T12:00:00.000Z" });
    expect(entered.data).toMatchObject({ status: "WAITING", queuePosition: 1, opensAt: "2030-01-10T12:00:00.000Z" });
    expect(entered.data.token.startsWith(`${moved.data.id}.`)).toBe(true);
    expect(queue.data).toMatchObject({ concertId: moved.data.id, waiting: 1, active: 0, admittedTotal: 0 });
    expect(summary.data).toMatchObject({ totalSeats: 5000, available: 5000, held: 0, reserved: 0, sold: 0, revenue: 0 });
  }, 60_000);
});
