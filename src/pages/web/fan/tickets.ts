// 내 티켓: the buyer's reservations and payments, with a refund for a paid one while the event is far enough away.
import { api, call, messageOf } from "../shared/api";
import { announce, h, notice, show, when, won } from "../shared/dom";
import type { Dispose, FanContext } from "./context";

const STATUS = { PENDING: "결제 대기", PAID: "결제 완료", EXPIRED: "기한 만료", CANCELLED: "취소됨", REFUNDED: "환불됨" } as const;
const PAYMENT_STATUS = { success: "결제 완료", refunded: "환불됨" } as const;

export function tickets(ctx: FanContext, main: HTMLElement): Dispose {
  const alerts = h("div");
  const reservations = h("tbody");
  const payments = h("tbody");
  const table = (caption: string, headings: string[], body: HTMLElement, id: string) =>
    h("table", { id }, h("caption", {}, caption), h("thead", {}, h("tr", {}, ...headings.map((text) => h("th", { scope: "col" }, text)))), body);
  show(
    main,
    h("h1", {}, "내 티켓"),
    alerts,
    table("예약", ["예약 번호", "회차", "좌석 수", "금액", "상태", ""], reservations, "my-reservations"),
    table("결제 내역", ["결제 번호", "예약 번호", "금액", "상태", "결제 시각"], payments, "my-payments"),
  );
  const userRoutes = api.users({ userId: ctx.session.userId });

  const load = async () => {
    try {
      const [mine, paid] = await Promise.all([call(userRoutes.reservations.get({ headers: ctx.headers() })), call(userRoutes.payments.get({ headers: ctx.headers() }))]);
      reservations.replaceChildren(
        ...mine.list.map((r) =>
          h(
            "tr",
            { "data-reservation": r.id },
            h("td", {}, r.id),
            h("td", {}, r.concertEventId),
            h("td", {}, r.totalSeats),
            h("td", {}, won(r.totalAmount)),
            h("td", {}, STATUS[r.status]),
            h("td", {}, r.status === "PAID" ? h("button", { class: "secondary", onclick: () => void refund(r.id) }, `${r.id}번 환불`) : ""),
          ),
        ),
      );
      payments.replaceChildren(
        ...paid.list.map((p) =>
          h("tr", { "data-payment": p.id }, h("td", {}, p.id), h("td", {}, p.reservationId), h("td", {}, won(p.amount)), h("td", {}, PAYMENT_STATUS[p.status]), h("td", {}, when(p.paidAt))),
        ),
      );
      if (mine.list.length === 0) reservations.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "아직 예약이 없습니다.")));
    } catch (error) {
      notice(alerts, messageOf(error));
    }
  };

  const refund = async (reservationId: number) => {
    notice(alerts, "");
    try {
      const refunded = (await call(api.reservations({ reservationId }).delete(undefined, { headers: ctx.headers() }))).data;
      ctx.refreshWallet();
      await load();
      notice(alerts, `예약 ${refunded.id}번을 환불했습니다. ${won(refunded.totalAmount)}이 지갑으로 돌아갔습니다.`, "info");
      announce(`예약 ${refunded.id}번을 환불했습니다.`);
    } catch (error) {
      notice(alerts, messageOf(error));
    }
  };

  void load();
  return () => {};
}
