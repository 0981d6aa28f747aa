// One event's sale as a buyer sees it: the sections with prices and live counts, the section's seats drawn and kept
// live from the seat map stream, and the checkout beside it: the seats held (with the time left), the reservations
// awaiting payment, and the wallet. The drawing answers the mouse; the list of seats beside it answers the keyboard
// and a screen reader.
import { api, call, messageOf, PageError } from "../shared/api";
import { announce, card, clock, h, notice, show, when, won } from "../shared/dom";
import { LiveStream } from "../shared/live-stream";
import type { Dispose, FanContext } from "./context";
import { legend, SeatPlan, type SeatInfo } from "./seat-plan";

interface Section {
  name: string;
  price: number;
  seats: number;
  available: number;
}
interface Hold extends SeatInfo {
  expirationTime: string;
}
interface Reservation {
  id: number;
  concertEventId: number;
  totalSeats: number;
  totalAmount: number;
  status: string;
  expiresAt: string;
}

const SECTIONS_REFRESH_MS = 2000;
const TOKEN_ENDED = new Set(["invalid_token", "queue_token_not_active"]);

export function eventSale(ctx: FanContext, main: HTMLElement, concertId: number, eventId: number): Dispose {
  const token = ctx.tokens.get(concertId);
  if (!token) {
    ctx.go(`#/queue/${concertId}`);
    return () => {};
  }
  const seatsPath = api["concert-events"]({ concertEventId: eventId });
  const holdsKey = `rsv.holds.${ctx.session.userId}.${eventId}`;
  const holds = new Map<number, Hold>((JSON.parse(sessionStorage.getItem(holdsKey) ?? "[]") as Hold[]).map((hold) => [hold.id, hold]));
  const saveHolds = () => sessionStorage.setItem(holdsKey, JSON.stringify([...holds.values()]));

  const alerts = h("div", { id: "sale-alerts" });
  /** Whether this turn still lets the buyer hold seats: apart from the alerts, so a later notice does not hide it. */
  const turn = h("div", { id: "turn-state" });
  const picker = h("fieldset", { class: "sections" }, h("legend", {}, "구역"));
  const planBox = h("div", { class: "plan-box" });
  const summary = h("p", { id: "section-summary" });
  const chooser = h("select", { id: "seat-choice" });
  const holdList = h("ul", { class: "holds", id: "my-holds" });
  const reserveButton = h("button", { class: "primary", id: "reserve-selected", onclick: () => reserve() }, "선택한 좌석 예약");
  const pendingList = h("ul", { class: "reservations", id: "pending-reservations" });
  show(
    main,
    h("h1", {}, "좌석 선택"),
    h("p", { class: "muted" }, h("a", { href: `#/concert/${concertId}/events` }, "← 다른 회차 보기")),
    turn,
    alerts,
    picker,
    h(
      "div",
      { class: "sale-layout" },
      card(
        "plan-title",
        "h2",
        "좌석 배치도",
        summary,
        planBox,
        legend(),
        h(
          "div",
          { class: "chooser" },
          h("label", { for: "seat-choice" }, "예약 가능한 좌석"),
          chooser,
          h("button", { class: "primary", id: "hold-chosen", onclick: () => chooser.value && hold(Number(chooser.value)) }, "이 좌석 점유"),
        ),
      ),
      h(
        "aside",
        { class: "checkout" },
        card("holds-title", "h2", "내가 점유한 좌석", holdList, reserveButton),
        card("pending-title", "h2", "결제 대기 중인 예약", pendingList),
      ),
    ),
  );

  let sections: Section[] = [];
  let current: string | undefined;
  let plan: SeatPlan | undefined;
  let prefix = "";
  const prices = new Map<number, number>();
  let available = new Set<number>();
  let admittedNow = true;
  let chooserDue = false;
  let reloadDue: ReturnType<typeof setTimeout> | undefined;

  const fail = (error: unknown) => {
    if (error instanceof PageError && TOKEN_ENDED.has(error.code)) return tokenEnded();
    notice(alerts, messageOf(error));
  };

  // ---- sections and the plan ----------------------------------------------------------------------------------

  const renderSections = () => {
    const radios = sections.map((section) =>
      h(
        "label",
        { class: "section-choice" },
        h("input", { type: "radio", name: "section", value: section.name, checked: section.name === current, onchange: () => void choose(section.name) }),
        ` ${section.name} · ${won(section.price)} · `,
        h("span", { "data-section-available": section.name }, `${section.available.toLocaleString("ko-KR")}석 남음`),
      ),
    );
    picker.replaceChildren(h("legend", {}, "구역"), ...radios);
  };

  const refreshSections = async () => {
    if (!admittedNow) return;
    try {
      sections = (await call(seatsPath.sections.get({ headers: ctx.headers(token) }))).list;
      // Only the counts change once drawn: rebuilding the radios would take the focus from a keyboard user.
      if (picker.querySelectorAll("input").length !== sections.length) renderSections();
      for (const section of sections) {
        const count = picker.querySelector(`[data-section-available="${CSS.escape(section.name)}"]`);
        if (count) count.textContent = `${section.available.toLocaleString("ko-KR")}석 남음`;
      }
    } catch (error) {
      fail(error);
    }
  };

  const stateOf = (id: number) => (holds.has(id) ? "mine" : available.has(id) ? "free" : "taken");
  const labelOf = (n: number) => `${prefix}${n}`;

  const repaint = () => {
    if (!plan) return;
    for (let n = 1; n <= plan.seats; n++) {
      const id = plan.idAt(n);
      if (id !== undefined) plan.mark(id, stateOf(id));
    }
    renderChooser();
  };

  const renderChooser = () => {
    chooserDue = false;
    if (!plan) return;
    const section = sections.find((s) => s.name === current);
    const options: HTMLOptionElement[] = [];
    for (let n = 1; n <= plan.seats; n++) {
      const id = plan.idAt(n);
      if (id === undefined || stateOf(id) !== "free") continue;
      options.push(h("option", { value: id }, `${labelOf(n)} (${won(prices.get(id) ?? section?.price ?? 0)})`));
    }
    const chosen = chooser.value;
    chooser.replaceChildren(...options);
    if (options.some((o) => o.value === chosen)) chooser.value = chosen;
    summary.textContent = `${current} 구역: 지금 예약 가능한 좌석 ${options.length.toLocaleString("ko-KR")}석`;
    planBox.setAttribute("data-available", String(options.length));
  };

  const choose = async (name: string) => {
    current = name;
    const section = sections.find((s) => s.name === name);
    if (!section) return;
    try {
      const list = (await call(seatsPath["available-seats"].get({ headers: ctx.headers(token), query: { section: name } }))).list;
      if (current !== name) return;
      plan = new SeatPlan(name, section.seats, (id) => void hold(id));
      plan.learn(list);
      prefix = list.some((seat) => seat.seatNumber.includes("-")) ? `${name}-` : "";
      for (const seat of list) prices.set(seat.id, seat.price);
      planBox.replaceChildren(plan.element);
      repaint();
    } catch (error) {
      fail(error);
    }
  };

  /** Seats freed whose place in this section is not known yet: the section's list is read again, once for a burst. */
  const reloadSoon = () => {
    reloadDue ??= setTimeout(() => {
      reloadDue = undefined;
      if (current) void choose(current);
    }, 1000);
  };

  const applyChanges = (change: { taken: number[]; freed: number[] }) => {
    for (const id of change.taken) {
      available.delete(id);
      plan?.mark(id, stateOf(id));
    }
    for (const id of change.freed) {
      available.add(id);
      if (plan?.mayHold(id)) reloadSoon();
      else plan?.mark(id, stateOf(id));
    }
    if (!chooserDue) {
      chooserDue = true;
      setTimeout(renderChooser, 300);
    }
  };

  // ---- the checkout -----------------------------------------------------------------------------------------

  const renderHolds = () => {
    const now = Date.now();
    const items = [...holds.values()].map((held) =>
      h(
        "li",
        { "data-hold": held.id },
        h("input", { type: "checkbox", id: `hold-${held.id}`, value: held.id, checked: true }),
        h("label", { for: `hold-${held.id}` }, `${held.seatNumber} · ${won(held.price)}`),
        h("span", { class: "timer", "data-expires": held.expirationTime }, `남은 시간 ${clock((Date.parse(held.expirationTime) - now) / 1000)}`),
        h("button", { class: "secondary", onclick: () => void release(held.id), "aria-label": `${held.seatNumber} 좌석 돌려놓기` }, "돌려놓기"),
      ),
    );
    holdList.replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, "점유한 좌석이 없습니다. 배치도나 목록에서 좌석을 고르세요.")]));
    reserveButton.disabled = items.length === 0 || !admittedNow;
  };

  const tickHolds = () => {
    const now = Date.now();
    for (const held of [...holds.values()]) {
      if (Date.parse(held.expirationTime) > now) continue;
      holds.delete(held.id);
      plan?.mark(held.id, stateOf(held.id));
      notice(alerts, `${held.seatNumber} 좌석의 점유 시간이 끝나 좌석이 반환되었습니다.`, "info");
      renderHolds();
    }
    for (const timer of holdList.querySelectorAll<HTMLElement>("[data-expires]")) {
      timer.textContent = `남은 시간 ${clock((Date.parse(timer.dataset.expires!) - now) / 1000)}`;
    }
    saveHolds();
  };

  const hold = async (seatId: number) => {
    notice(alerts, "");
    try {
      const held = (await call(seatsPath.occupy.post({ seatId }, { headers: ctx.headers(token) }))).data;
      holds.set(held.id, held);
      saveHolds();
      plan?.mark(held.id, "mine");
      renderHolds();
      renderChooser();
      announce(`${held.seatNumber} 좌석을 점유했습니다. ${clock((Date.parse(held.expirationTime) - Date.now()) / 1000)} 안에 예약하고 결제하세요.`);
    } catch (error) {
      fail(error);
    }
  };

  const release = async (seatId: number) => {
    notice(alerts, "");
    try {
      await call(seatsPath.holds({ seatId }).delete(undefined, { headers: ctx.headers(token) }));
      const held = holds.get(seatId);
      holds.delete(seatId);
      saveHolds();
      plan?.mark(seatId, stateOf(seatId));
      renderHolds();
      announce(`${held?.seatNumber ?? "좌석"} 좌석을 돌려놓았습니다.`);
    } catch (error) {
      fail(error);
    }
  };

  const reserve = async () => {
    const seatIds = [...holdList.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked")].map((box) => Number(box.value));
    if (seatIds.length === 0) return notice(alerts, "예약할 좌석을 하나 이상 고르세요.");
    notice(alerts, "");
    try {
      const reservation = (await call(seatsPath.reserve.post({ seatIds }, { headers: ctx.headers(token) }))).data;
      for (const id of seatIds) holds.delete(id);
      saveHolds();
      renderHolds();
      await loadPending();
      announce(`예약 ${reservation.id}번을 만들었습니다. ${when(reservation.expiresAt)}까지 결제하세요.`);
    } catch (error) {
      fail(error);
    }
  };

  const renderPending = (list: Reservation[]) => {
    const items = list.map((reservation) =>
      h(
        "li",
        { "data-reservation": reservation.id },
        h("span", {}, `예약 ${reservation.id}번 · ${reservation.totalSeats}석 · ${won(reservation.totalAmount)} · ${when(reservation.expiresAt)}까지`),
        h("button", { class: "primary", onclick: () => void pay(reservation.id) }, `${reservation.id}번 결제`),
        h("button", { class: "secondary", onclick: () => void cancel(reservation.id) }, `${reservation.id}번 취소`),
      ),
    );
    pendingList.replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, "결제할 예약이 없습니다.")]));
  };

  const loadPending = async () => {
    try {
      const list = (await call(api.users({ userId: ctx.session.userId }).reservations.get({ headers: ctx.headers() }))).list;
      renderPending(list.filter((r) => r.status === "PENDING" && r.concertEventId === eventId));
    } catch (error) {
      fail(error);
    }
  };

  const pay = async (reservationId: number) => {
    notice(alerts, "");
    try {
      const payment = (await call(api.payments.post({ reservationId }, { headers: ctx.headers() }))).data;
      ctx.refreshWallet();
      await loadPending();
      show(alerts, h("p", { class: "notice info", role: "status" }, `결제가 완료되었습니다 (${won(payment.amount)}). `, h("a", { href: "#/tickets" }, "내 티켓 보기")));
    } catch (error) {
      fail(error);
    }
  };

  const cancel = async (reservationId: number) => {
    try {
      await call(api.reservations({ reservationId }).delete(undefined, { headers: ctx.headers() }));
      await loadPending();
      announce(`예약 ${reservationId}번을 취소했습니다.`);
    } catch (error) {
      fail(error);
    }
  };

  // ---- the turn -----------------------------------------------------------------------------------------------

  const tokenEnded = () => {
    if (!admittedNow) return;
    admittedNow = false;
    stream.close();
    ctx.tokens.forget(concertId);
    renderHolds();
    show(
      turn,
      h(
        "p",
        { class: "notice info", role: "status" },
        "이번 입장이 끝났습니다 (결제를 마쳤거나 입장 시간이 지났습니다). 결제 대기 중인 예약은 계속 결제할 수 있습니다. ",
        h("a", { href: `#/queue/${concertId}` }, "대기열에 다시 들어가기"),
      ),
    );
  };

  const stream = new LiveStream(`/api/v1/concert-events/${eventId}/seats/stream?token=${encodeURIComponent(token)}`, {
    events: {
      snapshot: (snapshot: { available: number[] }) => {
        available = new Set(snapshot.available);
        repaint();
      },
      changes: applyChanges,
      error: (error: { code: string }) => (TOKEN_ENDED.has(error.code) ? tokenEnded() : notice(alerts, "좌석 정보를 받지 못했습니다.")),
    },
    stillWanted: async () => {
      try {
        await call(seatsPath.sections.get({ headers: ctx.headers(token) }));
        return true;
      } catch (error) {
        if (error instanceof PageError && error.status > 0 && error.status < 500) {
          fail(error);
          return false;
        }
        return true;
      }
    },
  });

  renderHolds();
  void loadPending();
  void refreshSections().then(() => {
    const first = sections.find((s) => s.available > 0) ?? sections[0];
    if (!first) return;
    current = first.name;
    renderSections();
    void choose(first.name);
  });
  const sectionTimer = setInterval(() => void refreshSections(), SECTIONS_REFRESH_MS);
  const holdTimer = setInterval(tickHolds, 1000);
  return () => {
    stream.close();
    clearInterval(sectionTimer);
    clearInterval(holdTimer);
    clearTimeout(reloadDue);
  };
}
