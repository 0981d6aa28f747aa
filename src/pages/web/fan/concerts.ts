// The concerts on sale, each with its sale window and a countdown to its opening, and the way into its queue; and,
// once admitted, the concert's events to choose from.
import { api, call, messageOf, PageError } from "../shared/api";
import { clock, h, notice, show, when } from "../shared/dom";
import type { Dispose, FanContext } from "./context";

export function concerts(ctx: FanContext, main: HTMLElement): Dispose {
  const alerts = h("div");
  const list = h("ul", { class: "concerts", id: "concert-list" });
  show(main, h("h1", {}, "공연 목록"), alerts, list);
  const countdowns: [HTMLElement, number][] = [];
  const tick = () => {
    for (const [element, opensAt] of countdowns) {
      const left = (opensAt - Date.now()) / 1000;
      element.textContent = left > 0 ? `오픈까지 ${clock(left)}` : "예매 중";
    }
  };

  void (async () => {
    try {
      const all = (await call(api.concerts.get({ headers: ctx.headers() }))).list;
      list.replaceChildren(
        ...all.map((concert) => {
          const opensAt = Date.parse(concert.saleOpensAt);
          const closed = concert.saleClosesAt !== null && Date.parse(concert.saleClosesAt) <= Date.now();
          const state = h("p", { class: "sale-state" }, closed ? "예매 종료" : "");
          if (!closed) countdowns.push([state, opensAt]);
          const entered = ctx.tokens.get(concert.id) !== undefined;
          return h(
            "li",
            { class: "card concert", "data-concert": concert.id },
            h("h2", {}, concert.title),
            h("p", { class: "muted" }, concert.venue),
            h("p", {}, `예매 기간: ${when(concert.saleOpensAt)} ~ ${concert.saleClosesAt ? when(concert.saleClosesAt) : "매진 시까지"}`),
            state,
            closed
              ? null
              : h("a", { class: "button primary", href: `#/queue/${concert.id}`, "aria-label": `${concert.title} ${entered ? "대기실로 돌아가기" : "대기열 입장"}` }, entered ? "대기실로 돌아가기" : "대기열 입장"),
          );
        }),
      );
      tick();
    } catch (error) {
      notice(alerts, messageOf(error));
    }
  })();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

export function concertEvents(ctx: FanContext, main: HTMLElement, concertId: number): Dispose {
  const alerts = h("div");
  const list = h("ul", { class: "events", id: "event-list" });
  show(main, h("h1", {}, "회차 선택"), alerts, list);
  const token = ctx.tokens.get(concertId);
  if (!token) {
    ctx.go(`#/queue/${concertId}`);
    return () => {};
  }
  void (async () => {
    try {
      const events = (await call(api.concerts({ concertId }).events.get({ headers: ctx.headers(token) }))).list;
      list.replaceChildren(
        ...events.map((event) =>
          h(
            "li",
            { class: "card" },
            h("h2", {}, when(event.startsAt)),
            h("p", {}, `남은 좌석 ${event.availableSeats.toLocaleString("ko-KR")} / ${event.totalSeats.toLocaleString("ko-KR")}석`),
            h("a", { class: "button primary", href: `#/event/${concertId}/${event.id}`, "aria-label": `${when(event.startsAt)} 회차 좌석 선택` }, "좌석 선택"),
          ),
        ),
      );
    } catch (error) {
      if (error instanceof PageError && (error.code === "invalid_token" || error.code === "queue_token_not_active")) {
        ctx.tokens.forget(concertId);
        show(alerts, h("p", { class: "notice error", role: "alert" }, error.message), h("a", { class: "button primary", href: `#/queue/${concertId}` }, "대기열에 다시 들어가기"));
        return;
      }
      notice(alerts, messageOf(error));
    }
  })();
  return () => {};
}
