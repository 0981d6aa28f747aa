// The operators' console at `/admin`: sign in with an operator token, put a concert on sale, add events with their
// sections, move the opening and the close, and watch a sale live: the queue, the seats of every event, the revenue,
// and tickets and admissions per second, refreshed every second from the operator routes.
import "./shared/styles.css";
import { api, call, messageOf } from "./shared/api";
import { card, h, notice, show, when, won } from "./shared/dom";
import { SessionStore, sessionFrom, tokenFromAddress, type Session } from "./shared/session";
import { signInView, type SignIn } from "./shared/sign-in";
import { RateChart } from "./admin/rate-chart";

interface Concert {
  id: number;
  title: string;
  venue: string;
  saleOpensAt: string;
  saleClosesAt: string | null;
}

const sessions = new SessionStore("rsv.admin.bearer");
const app = document.getElementById("app")!;
const REFRESH_MS = 1000;
let stopLive = () => {};

/** "2027-01-10T20:00" in this browser's zone, as a datetime-local field shows it. */
function localInput(iso: string | null): string {
  if (!iso) return "";
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}
const isoOf = (local: string) => new Date(local).toISOString();

function field(id: string, text: string, input: HTMLElement): HTMLElement {
  return h("div", {}, h("label", { for: id }, text), input);
}

const signIn: SignIn = {
  title: "운영 콘솔",
  label: "운영자 토큰",
  command: "npm run -s token -- --admin 1",
  hint: " 로 만들 수 있습니다.",
  refusal: "운영자 토큰이 아니거나 만료되었습니다.",
  store: sessions,
  accepts: (session) => session.admin,
  start: (session) => console_(session),
};
const loginView = () => signInView(app, signIn);

function console_(session: Session): void {
  const headers = { authorization: session.bearer };
  const alerts = h("div", { id: "admin-alerts" });
  const concertList = h("ul", { class: "concerts", id: "admin-concerts" });
  const detail = h("div", { id: "concert-detail" });
  const fail = (error: unknown) => notice(alerts, messageOf(error));

  const loadConcerts = async (select?: number) => {
    try {
      const list = (await call(api.concerts.get({ headers }))).list;
      concertList.replaceChildren(
        ...list.map((concert) =>
          h("li", {}, h("button", { class: "secondary", onclick: () => void open(concert) }, `${concert.id}. ${concert.title}`)),
        ),
      );
      const chosen = list.find((c) => c.id === select);
      if (chosen) await open(chosen);
    } catch (error) {
      fail(error);
    }
  };

  const newConcertForm = () => {
    const title = h("input", { id: "new-title", required: true, maxlength: 200 });
    const venue = h("input", { id: "new-venue", required: true, maxlength: 200 });
    const opens = h("input", { id: "new-opens", type: "datetime-local", required: true });
    const closes = h("input", { id: "new-closes", type: "datetime-local" });
    const submit = async (event: Event) => {
      event.preventDefault();
      notice(alerts, "");
      try {
        const body = { title: title.value, venue: venue.value, saleOpensAt: isoOf(opens.value), ...(closes.value && { saleClosesAt: isoOf(closes.value) }) };
        const created = (await call(api.admin.concerts.post(body, { headers }))).data;
        await loadConcerts(created.id);
        notice(alerts, `콘서트 ${created.id}번을 등록했습니다.`, "info");
      } catch (error) {
        fail(error);
      }
    };
    return h(
      "form",
      { class: "card", id: "new-concert", onsubmit: submit },
      h("h2", {}, "새 콘서트"),
      field("new-title", "제목", title),
      field("new-venue", "장소", venue),
      field("new-opens", "예매 시작", opens),
      field("new-closes", "예매 종료 (선택)", closes),
      h("button", { class: "primary", type: "submit" }, "콘서트 등록"),
    );
  };

  const open = async (concert: Concert) => {
    stopLive();
    notice(alerts, "");
    show(detail, h("h2", { id: "concert-title" }, `${concert.title} · ${concert.venue}`), saleWindowForm(concert), eventsPanel(concert), livePanel(concert));
  };

  const saleWindowForm = (concert: Concert) => {
    const opens = h("input", { id: "edit-opens", type: "datetime-local", value: localInput(concert.saleOpensAt) });
    const closes = h("input", { id: "edit-closes", type: "datetime-local", value: localInput(concert.saleClosesAt) });
    const submit = async (event: Event) => {
      event.preventDefault();
      notice(alerts, "");
      try {
        const body: { saleOpensAt?: string; saleClosesAt?: string | null } = { saleClosesAt: closes.value ? isoOf(closes.value) : null };
        if (opens.value !== localInput(concert.saleOpensAt)) body.saleOpensAt = isoOf(opens.value);
        const updated = (await call(api.admin.concerts({ concertId: concert.id }).patch(body, { headers }))).data;
        notice(alerts, `예매 기간을 바꿨습니다: ${when(updated.saleOpensAt)} ~ ${updated.saleClosesAt ? when(updated.saleClosesAt) : "종료 없음"}`, "info");
        concert.saleOpensAt = updated.saleOpensAt;
        concert.saleClosesAt = updated.saleClosesAt;
      } catch (error) {
        fail(error);
      }
    };
    return h(
      "form",
      { class: "card inline", id: "sale-window", onsubmit: submit },
      h("h3", { class: "visually-hidden" }, "예매 기간"),
      field("edit-opens", "예매 시작", opens),
      field("edit-closes", "예매 종료", closes),
      h("button", { class: "primary", type: "submit" }, "예매 기간 저장"),
    );
  };

  const eventsPanel = (concert: Concert) => {
    const list = h("tbody");
    const load = async () => {
      try {
        const events = (await call(api.admin.concerts({ concertId: concert.id }).events.get({ headers }))).list;
        list.replaceChildren(
          ...events.map((event) =>
            h(
              "tr",
              { "data-event": event.id },
              h("td", {}, event.id),
              h("td", {}, when(event.startsAt)),
              h("td", { class: "number" }, event.totalSeats.toLocaleString("ko-KR")),
              h("td", {}, event.sections.map((s) => `${s.name} ${s.seats.toLocaleString("ko-KR")}석 ${won(s.price)}`).join(", ")),
            ),
          ),
        );
      } catch (error) {
        fail(error);
      }
    };
    const starts = h("input", { id: "event-starts", type: "datetime-local", required: true });
    const rows = h("div", { class: "rows" });
    const addRow = () => {
      const i = rows.children.length + 1;
      rows.appendChild(
        h(
          "div",
          { class: "row", "data-section-row": i },
          field(`section-name-${i}`, `구역 ${i} 이름`, h("input", { id: `section-name-${i}`, required: true, maxlength: 20, pattern: "[\\p{L}\\p{N}_\\-]{1,20}" })),
          field(`section-price-${i}`, "가격 (원)", h("input", { id: `section-price-${i}`, type: "number", min: 0, required: true })),
          field(`section-seats-${i}`, "좌석 수", h("input", { id: `section-seats-${i}`, type: "number", min: 1, required: true })),
        ),
      );
    };
    addRow();
    const submit = async (event: Event) => {
      event.preventDefault();
      notice(alerts, "");
      const sections = [...rows.children].map((_, index) => {
        const i = index + 1;
        const value = (id: string) => (document.getElementById(id) as HTMLInputElement).value;
        return { name: value(`section-name-${i}`), price: Number(value(`section-price-${i}`)), seats: Number(value(`section-seats-${i}`)) };
      });
      try {
        const created = (await call(api.admin.concerts({ concertId: concert.id }).events.post({ startsAt: isoOf(starts.value), sections }, { headers }))).data;
        notice(alerts, `회차 ${created.id}번 (${created.totalSeats.toLocaleString("ko-KR")}석)을 등록했습니다.`, "info");
        await load();
      } catch (error) {
        fail(error);
      }
    };
    void load();
    return card(
      "events-title",
      "h3",
      "회차",
      h(
        "table",
        { id: "admin-events" },
        h("caption", { class: "visually-hidden" }, "회차와 구역"),
        h("thead", {}, h("tr", {}, ...["번호", "공연 시각", "좌석", "구역"].map((t) => h("th", { scope: "col", ...(t === "좌석" ? { class: "number" } : {}) }, t)))),
        list,
      ),
      h(
        "form",
        { id: "new-event", onsubmit: submit },
        h("h4", {}, "새 회차"),
        field("event-starts", "공연 시각", starts),
        rows,
        h("button", { class: "secondary", type: "button", onclick: addRow }, "구역 추가"),
        " ",
        h("button", { class: "primary", type: "submit" }, "회차 등록"),
      ),
    );
  };

  const livePanel = (concert: Concert) => {
    const figure = (id: string, label: string) => {
      const value = h("dd", { id }, "–");
      return { value, element: h("div", {}, h("dt", {}, label), value) };
    };
    const figures = {
      waiting: figure("live-waiting", "대기 중"),
      active: figure("live-active", "입장 중"),
      admitted: figure("live-admitted", "누적 입장"),
      sold: figure("live-sold", "판매된 좌석"),
      available: figure("live-available", "남은 좌석"),
      revenue: figure("live-revenue", "매출"),
    };
    const perEvent = h("tbody");
    const tickets = new RateChart("초당 판매", "장", "chart-tickets");
    const admissions = new RateChart("초당 입장", "명", "chart-admissions");
    const updated = h("p", { class: "muted", id: "live-updated" });
    let stopped = false;
    const refresh = async () => {
      try {
        const [queue, events] = await Promise.all([
          call(api.admin.concerts({ concertId: concert.id }).queue.get({ headers })),
          call(api.admin.concerts({ concertId: concert.id }).events.get({ headers })),
        ]);
        const sales = await Promise.all(events.list.map((e) => call(api.admin["concert-events"]({ concertEventId: e.id }).summary.get({ headers }))));
        if (stopped) return;
        const total = (key: "sold" | "available" | "revenue") => sales.reduce((n, s) => n + s.data[key], 0);
        figures.waiting.value.textContent = queue.data.waiting.toLocaleString("ko-KR");
        figures.active.value.textContent = queue.data.active.toLocaleString("ko-KR");
        figures.admitted.value.textContent = queue.data.admittedTotal.toLocaleString("ko-KR");
        figures.sold.value.textContent = total("sold").toLocaleString("ko-KR");
        figures.available.value.textContent = total("available").toLocaleString("ko-KR");
        figures.revenue.value.textContent = won(total("revenue"));
        perEvent.replaceChildren(
          ...sales.map(({ data: s }) =>
            h(
              "tr",
              { "data-event-sales": s.concertEventId },
              h("td", {}, s.concertEventId),
              ...[s.available, s.held, s.reserved, s.sold].map((n) => h("td", { class: "number" }, n.toLocaleString("ko-KR"))),
              h("td", { class: "number" }, won(s.revenue)),
            ),
          ),
        );
        tickets.add(total("sold"));
        admissions.add(queue.data.admittedTotal);
        updated.textContent = `마지막 갱신 ${new Date().toLocaleTimeString("ko-KR")}`;
      } catch (error) {
        fail(error);
      }
    };
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    stopLive = () => {
      stopped = true;
      clearInterval(timer);
    };
    void refresh();
    return card(
      "live-title",
      "h3",
      "실시간 판매 현황",
      updated,
      h("dl", { class: "figures" }, ...Object.values(figures).map((f) => f.element)),
      h(
        "table",
        { id: "live-events" },
        h("caption", {}, "회차별 좌석"),
        h("thead", {}, h("tr", {}, ...["회차", "남은 좌석", "점유", "예약", "판매", "매출"].map((t, i) =>
          h("th", { scope: "col", ...(i > 0 ? { class: "number" } : {}) }, t),
        ))),
        perEvent,
      ),
      h("div", { class: "charts" }, tickets.element, admissions.element),
    );
  };

  const signOut = () => {
    stopLive();
    sessions.clear();
    loginView();
  };
  show(
    app,
    h("header", { class: "top" }, h("span", { class: "brand" }, "운영 콘솔"), h("nav", { "aria-label": "주 메뉴" }, h("a", { href: "/" }, "팬 페이지")), h("span", { class: "muted" }, `운영자 ${session.userId}`), h("button", { class: "secondary", onclick: signOut }, "로그아웃")),
    h(
      "div",
      { class: "page" },
      h("main", { id: "main" }, h("h1", {}, "콘서트 운영"), alerts, detail),
      h("aside", { class: "side" }, card("concerts-title", "h2", "콘서트", concertList), newConcertForm()),
    ),
  );
  void loadConcerts();
}

const given = tokenFromAddress();
const fromAddress = given ? sessionFrom(given) : undefined;
if (fromAddress?.admin) sessions.save(fromAddress);
const session = sessions.load();
if (session?.admin) console_(session);
else loginView();
