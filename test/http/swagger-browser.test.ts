// Swagger UI in a real headless Chromium: authorize with a minted bearer token and book a seat end to end with
// "Try it out" — charge, queue token, occupy, reserve, pay. Needs the system Chromium (Debian's `chromium`, which
// .ci/run installs); without it the test is skipped with a message saying so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { signUserToken } from "../../src/http/auth";
import { CHROMIUM, launchChromium, OUTPUT } from "../support/browser";
import { startTestService, TEST_SECRET, type TestService } from "../support/service";

if (!CHROMIUM) console.warn("swagger-browser: skipped, no Chromium at /usr/bin/chromium (apt-get install chromium)");

async function authorize(page: Page, scheme: "bearerAuth" | "userToken", value: string) {
  await page.locator("button.authorize").first().click();
  const container = page.locator(".auth-container").filter({ hasText: scheme });
  await container.locator("input").fill(value);
  await container.locator("button.authorize").click();
  await page.locator("button.btn-done").first().click();
}

/** Opens an operation, fills its path parameters and body, executes it, and returns the live status and body. */
async function tryItOut(page: Page, method: string, path: string, params: Record<string, string>, body?: unknown) {
  const operation = page.locator(`.opblock-${method}`).filter({ has: page.locator(`[data-path="${path}"]`) });
  await operation.locator(".opblock-summary").click();
  await operation.locator("button.try-out__btn").click();
  for (const [name, value] of Object.entries(params)) await operation.locator(`tr[data-param-name="${name}"] input`).fill(value);
  if (body !== undefined) await operation.locator("textarea.body-param__text").fill(JSON.stringify(body));
  await operation.locator("button.execute").click();
  const status = operation.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor();
  await status.scrollIntoViewIfNeeded();
  const text = await operation.locator(".live-responses-table tbody .response-col_description pre").first().innerText();
  return { status: (await status.innerText()).trim(), body: JSON.parse(text) };
}

describe.skipIf(!CHROMIUM)("Swagger UI in headless Chromium", () => {
  let service: TestService;
  let browser: Browser;

  beforeAll(async () => {
    service = await startTestService({ kind: "pglite-memory" });
    browser = await launchChromium();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  test("Authorize and Try it out book a seat: charge, queue token, occupy, reserve, pay", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const external: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(service.base)) external.push(request.url());
    });
    await page.goto(`${service.base}/swagger`);
    await page.locator(".opblock-summary-path").first().waitFor();
    await authorize(page, "bearerAuth", await signUserToken(7, TEST_SECRET));

    const charged = await tryItOut(page, "patch", "/api/v1/users/{userId}/wallet/charge", { userId: "7" }, { amount: 50000 });
    expect(charged).toEqual({ status: "200", body: { data: { balance: 50000 } } });
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: `${OUTPUT}/swagger-wallet-charge.png` });

    const ticket = await tryItOut(page, "post", "/api/v1/queue/tokens", {});
    expect(ticket.body.data.status).toBe("ACTIVE");
    await authorize(page, "userToken", ticket.body.data.token);

    const held = await tryItOut(page, "post", "/api/v1/concert-events/{concertEventId}/occupy", { concertEventId: "1" }, { seatId: 20 });
    expect(held.status).toBe("200");
    expect(held.body.data).toMatchObject({ id: 20, seatNumber: "20", price: 50000 });
    const reserved = await tryItOut(page, "post", "/api/v1/concert-events/{concertEventId}/reserve", { concertEventId: "1" }, { seatId: 20 });
    expect(reserved.body.data).toMatchObject({ status: "PENDING", totalAmount: 50000 });
    const paid = await tryItOut(page, "post", "/api/v1/payments", {}, { reservationId: reserved.body.data.id });
    expect(paid.status).toBe("200");
    expect(paid.body.data).toMatchObject({ reservationId: reserved.body.data.id, amount: 50000, status: "success" });
    await page.screenshot({ path: `${OUTPUT}/swagger-payment.png` });
    expect(external).toEqual([]);
  }, 90_000);

  test("an operator authorized with an admin token puts a concert on sale and adds an event under 운영", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${service.base}/swagger`);
    await page.locator(".opblock-summary-path").first().waitFor();
    await authorize(page, "bearerAuth", await signUserToken(1, TEST_SECRET, 3600, { admin: true }));
    const opensAt = new Date(Date.now() + 86_400_000).toISOString();
    const concert = await tryItOut(page, "post", "/api/v1/admin/concerts", {}, { title: "스웨거 콘서트", venue: "KSPO DOME", saleOpensAt: opensAt });
    expect(concert).toMatchObject({ status: "201", body: { data: { title: "스웨거 콘서트", saleOpensAt: opensAt, saleClosesAt: null } } });
    const sections = [{ name: "VIP", price: 198000, seats: 10 }];
    const event = await tryItOut(page, "post", "/api/v1/admin/concerts/{concertId}/events", { concertId: String(concert.body.data.id) }, {
      startsAt: "2030-02-10T10:00:00.000Z",
      sections,
    });
    expect(event).toMatchObject({ status: "201", body: { data: { concertId: concert.body.data.id, totalSeats: 10 } } });
    const summary = await tryItOut(page, "get", "/api/v1/admin/concert-events/{concertEventId}/summary", { concertEventId: String(event.body.data.id) });
    expect(summary.body.data).toMatchObject({ totalSeats: 10, available: 10, revenue: 0 });
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: `${OUTPUT}/swagger-operator.png` });
  }, 90_000);
});
