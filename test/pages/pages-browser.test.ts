// The fans' pages and the operators' console in a real headless Chromium, as a person uses them: no request but the
// pages' own JSON calls, axe-core on every view, a screenshot of each kept in test-output/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { signUserToken } from "../../src/http/auth";
import { startService, type RunningService } from "../../src/service";
import { loadConfig } from "../../src/shared/config";
import { axeViolations, CHROMIUM, launchChromium, screenshot } from "../support/browser";
import { freePort, startNatsServer, type NatsServer } from "../support/nats-server";
import { startTestService, TEST_SECRET, UserClient, type TestService } from "../support/service";

if (!CHROMIUM) console.warn("pages-browser: skipped, no Chromium at /usr/bin/chromium (apt-get install chromium)");

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** A page signed in through the address, as `npm start` links it; requests to anywhere else are collected. */
async function signedIn(browser: Browser, base: string, path: string, userId: number, admin = false) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const elsewhere: string[] = [];
  const broken: string[] = [];
  page.on("request", (request) => void (request.url().startsWith(base) || elsewhere.push(request.url())));
  page.on("pageerror", (error) => void broken.push(String(error)));
  await page.goto(`${base}${path}#token=${await signUserToken(userId, TEST_SECRET, 3600, { admin })}`);
  return { page, elsewhere, broken };
}

async function expectAccessible(page: Page, name: string) {
  await screenshot(page, `pages-${name}`);
  expect({ name, violations: await axeViolations(page) }).toEqual({ name, violations: [] });
}

describe.skipIf(!CHROMIUM)("pages in headless Chromium", () => {
  let service: TestService;
  let browser: Browser;
  let admin: UserClient;

  beforeAll(async () => {
    service = await startTestService({ kind: "pglite-memory" }, { SEED_DEMO: "false" });
    browser = await launchChromium();
    admin = new UserClient(service.base, 1, true);
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  async function concertWithEvent(opensAt: number, sections = [{ name: "VIP", price: 100_000, seats: 8 }, { name: "R", price: 50_000, seats: 24 }]) {
    const concert = (await admin.call("POST", "/api/v1/admin/concerts", { title: "브라우저 콘서트", venue: "KSPO DOME", saleOpensAt: iso(opensAt) })).body.data;
    const event = (await admin.call("POST", `/api/v1/admin/concerts/${concert.id}/events`, { startsAt: iso(Date.now() + 7 * DAY), sections })).body.data;
    return { concert, event };
  }

  test("a fan buys two seats through the pages alone: queue before the opening, admission, holds, checkout, refund", async () => {
    const { concert, event } = await concertWithEvent(Date.now() + 6000);
    const { page, elsewhere, broken } = await signedIn(browser, service.base, "/", 5001);
    const card = page.locator(`[data-concert="${concert.id}"]`);
    await card.waitFor();
    await expect(card.locator(".sale-state").innerText()).resolves.toMatch(/오픈까지 \d+:\d\d/);
    await expectAccessible(page, "concerts");

    await card.getByRole("link", { name: /대기열 입장/ }).click();
    await expect(page.locator("#queue-position").filter({ hasText: "오픈 전 대기 1명" }).waitFor()).resolves.toBeUndefined();
    await expectAccessible(page, "waiting-room");
    // Admitted at the opening without a reload: the marker set on this document survives.
    await page.evaluate(() => ((globalThis as any).sameDocument = true));
    await page.waitForURL(new RegExp(`#/concert/${concert.id}/events$`), { timeout: 20_000 });
    expect(await page.evaluate(() => (globalThis as any).sameDocument)).toBe(true);

    await page.getByRole("link", { name: /좌석 선택/ }).click();
    await page.locator("svg.seat-plan rect.seat.free").first().waitFor();
    await expect(page.locator("[data-section-available=VIP]").innerText()).resolves.toBe("8석 남음");
    // One seat by the mouse on the drawing, one by the keyboard from the list.
    await page.locator("svg.seat-plan rect.seat.free").first().click();
    await page.locator("#my-holds li[data-hold]").first().waitFor();
    // The list is redrawn a moment after a hold (at once, on a quiet machine): pick from it once the held seat has left.
    const heldFirst = await page.locator("#my-holds li[data-hold]").first().getAttribute("data-hold");
    await page.locator(`#${await page.getByLabel("예약 가능한 좌석").getAttribute("id")} option[value="${heldFirst}"]`).waitFor({ state: "detached" });
    await page.getByLabel("예약 가능한 좌석").selectOption({ index: 0 });
    await page.getByRole("button", { name: "이 좌석 점유" }).focus();
    await page.keyboard.press("Enter");
    // On failure, say what the page showed instead: this step has failed now and then under load, and a bare timeout
    // told nothing.
    const secondHold = await page.locator("#my-holds li[data-hold]").nth(1).waitFor().then(
      () => "held",
      async () => `not held; chosen ${await page.getByLabel("예약 가능한 좌석").inputValue()}; alerts: "${await page.locator("#sale-alerts").innerText()}"; turn: "${await page.locator("#turn-state").innerText()}"`,
    );
    expect(secondHold).toBe("held");
    expect(await page.locator("#my-holds .timer").first().innerText()).toMatch(/남은 시간 [45]:\d\d/);
    expect(await page.locator("svg.seat-plan rect.seat.mine").count()).toBe(2);

    await page.getByLabel("충전 금액 (원)").fill("300000");
    await page.getByRole("button", { name: "충전" }).click();
    await page.locator("#wallet-balance").filter({ hasText: "300,000원" }).waitFor();

    // Two reservations, one seat each, so that one can be refunded alone.
    await page.locator("#my-holds input[type=checkbox]").nth(1).uncheck();
    await page.getByRole("button", { name: "선택한 좌석 예약" }).click();
    await page.locator("#pending-reservations li[data-reservation]").first().waitFor();
    await page.getByRole("button", { name: "선택한 좌석 예약" }).click();
    await page.locator("#pending-reservations li[data-reservation]").nth(1).waitFor();
    await expectAccessible(page, "seat-map");
    const ids = await page.locator("#pending-reservations li[data-reservation]").evaluateAll((items) => items.map((li) => Number(li.getAttribute("data-reservation"))));
    for (const id of ids) {
      await page.getByRole("button", { name: `${id}번 결제` }).click();
      await page.locator(`#pending-reservations li[data-reservation="${id}"]`).waitFor({ state: "detached" });
    }
    await page.locator("#wallet-balance").filter({ hasText: "100,000원" }).waitFor();
    // Paying ended the turn: the page says so and offers the queue again.
    await page.getByText("이번 입장이 끝났습니다", { exact: false }).waitFor();

    await page.getByRole("link", { name: "내 티켓", exact: true }).click();
    await page.locator(`#my-reservations tr[data-reservation="${ids[0]}"]`).filter({ hasText: "결제 완료" }).waitFor();
    expect(await page.locator("#my-payments tr[data-payment]").count()).toBe(2);
    await page.getByRole("button", { name: `${ids[0]}번 환불` }).click();
    await page.locator(`#my-reservations tr[data-reservation="${ids[0]}"]`).filter({ hasText: "환불됨" }).waitFor();
    await page.locator("#wallet-balance").filter({ hasText: "200,000원" }).waitFor();
    await expectAccessible(page, "tickets");
    expect(await page.locator(`#my-reservations tr[data-reservation="${ids[1]}"]`).innerText()).toContain("결제 완료");
    const sales = (await admin.call("GET", `/api/v1/admin/concert-events/${event.id}/summary`)).body.data;
    expect(sales).toMatchObject({ sold: 1, revenue: sales.revenue });
    expect(elsewhere).toEqual([]);
    expect(broken).toEqual([]);
  }, 90_000);

  test("an error the API answers is shown as its Korean message", async () => {
    const { event, concert } = await concertWithEvent(Date.now() - 60_000, [{ name: "A", price: 10_000, seats: 2 }]);
    const { page } = await signedIn(browser, service.base, `/`, 5101);
    await page.locator(`[data-concert="${concert.id}"]`).getByRole("link", { name: /대기열 입장/ }).click();
    await page.waitForURL(/events$/);
    await page.goto(`${service.base}/#/event/${concert.id}/${event.id}`);
    await page.locator("svg.seat-plan rect.seat.free").first().waitFor();
    // Someone else takes the seat this page still shows as free.
    const other = new UserClient(service.base, 5102);
    await other.enterQueue(concert.id);
    const seatId = Number(await page.locator("#seat-choice option").first().getAttribute("value"));
    expect((await other.call("POST", `/api/v1/concert-events/${event.id}/occupy`, { seatId })).status).toBe(200);
    // The choice a slower stream would still offer: the service is the judge.
    await page.locator("#seat-choice").evaluate((select: any, id) => {
      const g = globalThis as any;
      select.replaceChildren(new g.Option("stale", String(id)));
      select.value = String(id);
    }, seatId);
    await page.getByRole("button", { name: "이 좌석 점유" }).click();
    await page.getByRole("alert").filter({ hasText: "이미 점유되었거나 판매된 좌석입니다." }).waitFor();
  }, 60_000);

  test("two browsers on one event: a seat held in one shows as taken in the other within a second", async () => {
    const { concert, event } = await concertWithEvent(Date.now() - 60_000);
    const one = await signedIn(browser, service.base, "/", 5201);
    const two = await signedIn(browser, service.base, "/", 5202);
    for (const { page } of [one, two]) {
      await page.goto(`${service.base}/#/queue/${concert.id}`);
      await page.waitForURL(/events$/);
      await page.goto(`${service.base}/#/event/${concert.id}/${event.id}`);
      await page.locator("svg.seat-plan rect.seat.free").first().waitFor();
    }
    const seatId = Number(await one.page.locator("svg.seat-plan rect.seat.free").nth(3).getAttribute("data-seat-id"));
    expect(await two.page.locator(`rect[data-seat-id="${seatId}"]`).getAttribute("class")).toBe("seat free");
    await one.page.locator(`rect[data-seat-id="${seatId}"]`).click();
    await one.page.locator(`rect[data-seat-id="${seatId}"].mine`).waitFor();
    const held = performance.now();
    await two.page.locator(`rect[data-seat-id="${seatId}"].taken`).waitFor({ timeout: 1000 });
    console.error(`seat shown taken in the other browser ${Math.round(performance.now() - held)} ms after the hold was answered`);
    await two.page.locator(`#seat-choice option[value="${seatId}"]`).waitFor({ state: "detached", timeout: 1000 });
    // Given back: free again in the other.
    await one.page.getByRole("button", { name: /돌려놓기/ }).click();
    await two.page.locator(`rect[data-seat-id="${seatId}"].free`).waitFor({ timeout: 1000 });
  }, 60_000);

  test("an operator puts a concert on sale from the console and watches a scripted sale move its figures and charts", async () => {
    const { page, elsewhere, broken } = await signedIn(browser, service.base, "/admin", 1, true);
    await page.getByLabel("제목").fill("운영 콘솔 콘서트");
    await page.getByLabel("장소", { exact: true }).fill("고척스카이돔");
    const local = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.locator("#new-opens").fill(local(Date.now() - 60_000));
    await page.getByRole("button", { name: "콘서트 등록" }).click();
    await page.locator("#concert-title").filter({ hasText: "운영 콘솔 콘서트" }).waitFor();
    const concertId = Number(/콘서트 (\d+)번/.exec(await page.locator("#admin-alerts").innerText())![1]);

    await page.locator("#event-starts").fill(local(Date.now() + 7 * DAY));
    await page.getByLabel("구역 1 이름").fill("VIP");
    await page.locator("#section-price-1").fill("150000");
    await page.locator("#section-seats-1").fill("6");
    await page.getByRole("button", { name: "구역 추가" }).click();
    await page.getByLabel("구역 2 이름").fill("R석");
    await page.locator("#section-price-2").fill("90000");
    await page.locator("#section-seats-2").fill("14");
    await page.getByRole("button", { name: "회차 등록" }).click();
    const row = page.locator("#admin-events tr[data-event]");
    await row.filter({ hasText: "VIP 6석 150,000원, R석 14석 90,000원" }).waitFor();
    const eventId = Number(await row.first().getAttribute("data-event"));

    // Moving the opening of a sale that has opened is refused, in Korean.
    await page.locator("#edit-opens").fill(local(Date.now() + DAY));
    await page.getByRole("button", { name: "예매 기간 저장" }).click();
    await page.getByRole("alert").filter({ hasText: "이미 예매가 시작되었습니다." }).waitFor();
    await page.locator("#edit-opens").fill(local(Date.parse((await admin.call("GET", "/api/v1/concerts")).body.list.find((c: any) => c.id === concertId).saleOpensAt)));
    await page.locator("#edit-closes").fill(local(Date.now() + 2 * DAY));
    await page.getByRole("button", { name: "예매 기간 저장" }).click();
    await page.getByRole("status").filter({ hasText: "예매 기간을 바꿨습니다" }).waitFor();

    // A scripted sale: buyers enter, hold, reserve and pay, one every few hundred milliseconds.
    const seats = (await (async () => {
      const probe = new UserClient(service.base, 6000);
      await probe.enterQueue(concertId);
      return (await probe.call("GET", `/api/v1/concert-events/${eventId}/available-seats`)).body.list;
    })()) as { id: number }[];
    for (let i = 0; i < 8; i++) {
      const buyer = new UserClient(service.base, 6001 + i);
      await buyer.call("PATCH", `/api/v1/users/${buyer.userId}/wallet/charge`, { amount: 500_000 });
      await buyer.enterQueue(concertId);
      await buyer.call("POST", `/api/v1/concert-events/${eventId}/occupy`, { seatId: seats[i]!.id });
      const reservation = await buyer.call("POST", `/api/v1/concert-events/${eventId}/reserve`, { seatId: seats[i]!.id });
      expect((await buyer.call("POST", "/api/v1/payments", { reservationId: reservation.body.data.id })).status).toBe(200);
      await Bun.sleep(400);
    }
    await page.locator("#live-sold").filter({ hasText: /^8$/ }).waitFor({ timeout: 5000 });
    await page.locator("#live-admitted").filter({ hasText: /^9$/ }).waitFor({ timeout: 5000 });
    expect(await page.locator("#live-available").innerText()).toBe("12");
    // Six VIP seats at 150,000 and two R석 at 90,000.
    expect(await page.locator("#live-revenue").innerText()).toBe("1,080,000원");
    expect(await page.locator(`#live-events tr[data-event-sales="${eventId}"]`).innerText()).toContain("1,080,000원");
    // The charts drew every second's rate; tickets were sold in some of those seconds.
    expect(Number(await page.locator("#chart-tickets").getAttribute("data-points"))).toBeGreaterThanOrEqual(3);
    expect(Number(await page.locator("#chart-admissions").getAttribute("data-points"))).toBeGreaterThanOrEqual(3);
    expect(await page.locator("#chart-tickets-words").innerText()).toMatch(/최근 1분 평균 초당 [1-9]|최근 1분 평균 초당 0\.[1-9]/);
    expect(await page.locator("#chart-tickets canvas").count()).toBe(1);
    await expectAccessible(page, "admin");
    expect(elsewhere).toEqual([]);
    expect(broken).toEqual([]);
  }, 90_000);
});

describe.skipIf(!CHROMIUM)("the waiting room in headless Chromium, across a reload and a restart", () => {
  const dir = mkdtempSync(join(tmpdir(), "pages-restart-"));
  let nats: NatsServer;
  let running: RunningService | undefined;
  let browser: Browser;
  let port: number;

  const start = async () => {
    running = await startService(loadConfig({ PORT: String(port), NATS_URL: nats.url, AUTH_SECRET: TEST_SECRET, SEED_DEMO: "false", DATABASE_URL: "", DATA_DIR: dir, QUEUE_MAX_ACTIVE: "1" }));
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    port = await freePort();
    await start();
    browser = await launchChromium();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a reload and a service restart show the same place; the stream reconnects by itself", async () => {
    const base = `http://127.0.0.1:${port}`;
    const operator = new UserClient(base, 1, true);
    const concert = (await operator.call("POST", "/api/v1/admin/concerts", { title: "재시작 콘서트", venue: "잠실", saleOpensAt: iso(Date.now() - 60_000) })).body.data;
    for (const userId of [7001, 7002, 7003]) expect((await new UserClient(base, userId).enterQueue(concert.id)).status).toBe(200);
    const { page } = await signedIn(browser, base, "/", 7004);
    await page.goto(`${base}/#/queue/${concert.id}`);
    const place = page.locator("#queue-position").filter({ hasText: "대기 순번 3번" });
    await place.waitFor();
    const token = await page.evaluate(() => Object.entries(localStorage).find(([key]) => key.startsWith("rsv.queue."))?.[1]);
    expect(token).toBeString();

    await page.reload();
    await place.waitFor();
    expect(await page.evaluate(() => Object.entries(localStorage).find(([key]) => key.startsWith("rsv.queue."))?.[1])).toBe(token);

    await running!.stop();
    await page.locator("#queue-connection").filter({ hasText: "연결이 끊겼습니다" }).waitFor({ timeout: 10_000 });
    await screenshot(page, "pages-waiting-room-reconnecting");
    await start();
    await page.locator("#queue-connection").filter({ hasText: "실시간으로 연결되어 있습니다" }).waitFor({ timeout: 40_000 });
    await place.waitFor();
    expect(await axeViolations(page)).toEqual([]);
  }, 90_000);
});
