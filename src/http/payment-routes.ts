// 결제: paying a reservation, and the caller's payments and reservations.
import { t } from "elysia";
import { Requests } from "../shared/subjects";
import type { PaymentView, ReservationView } from "../shared/messages";
import { idFrom, userApi, type Api } from "./api";
import { BEARER, TAGS } from "./openapi";
import * as S from "./schemas";

export function paymentRoutes(api: Api) {
  return userApi(api)
    .post(
      "/payments",
      async ({ body, userId, request }) => {
        const { reservationId } = body;
        return { data: await api.ask<PaymentView>(request, api.reservations.subject(reservationId, "pay", Requests.pay), { userId, reservationId }) };
      },
      {
        body: S.PayBody,
        response: {
          200: S.Data(S.Payment, S.EXAMPLES.payment),
          ...S.errors("invalid_request", "not_found_reservation", "insufficient_balance", "reservation_expired"),
        },
        detail: { tags: [TAGS.payment], summary: "결제", description: "사용자가 한 예약에 대한 결제를 합니다.", security: [BEARER] },
      },
    )
    .get(
      "/users/:userId/payments",
      async ({ params, self, request }) => ({ list: await api.ask<PaymentView[]>(request, Requests.payments, { userId: self(params.userId) }) }),
      {
        params: t.Object({ userId: S.IdParam }),
        response: { 200: S.List(S.Payment, S.EXAMPLES.payment), ...S.errors("invalid_request", "forbidden") },
        detail: { tags: [TAGS.payment], summary: "결제 내역 목록 조회", description: "사용자의 결제 내역을 최신순으로 조회합니다.", security: [BEARER] },
      },
    )
    .get(
      "/users/:userId/reservations",
      async ({ params, self, request }) => ({ list: await api.ask<ReservationView[]>(request, Requests.reservations, { userId: self(params.userId) }) }),
      {
        params: t.Object({ userId: S.IdParam }),
        response: { 200: S.List(S.Reservation, S.EXAMPLES.reservation), ...S.errors("invalid_request", "forbidden") },
        detail: { tags: [TAGS.payment], summary: "예약 목록 조회", description: "(beyond) 사용자의 예약을 최신순으로 조회합니다.", security: [BEARER] },
      },
    )
    .delete(
      "/reservations/:reservationId",
      async ({ params, userId, request }) => {
        const reservationId = idFrom(params.reservationId);
        const subject = api.reservations.subject(reservationId, "cancel", Requests.cancelReservation);
        return { data: await api.ask<ReservationView>(request, subject, { userId, reservationId }) };
      },
      {
        params: t.Object({ reservationId: S.IdParam }),
        response: {
          200: S.Data(S.Reservation, { ...S.EXAMPLES.reservation, status: "CANCELLED" }),
          ...S.errors("invalid_request", "not_found_reservation", "refund_period_over"),
        },
        detail: {
          tags: [TAGS.payment],
          summary: "예약 취소와 환불",
          description:
            "(beyond) 결제하지 않은 예약은 취소하고 좌석을 돌려놓습니다. 결제한 예약은 공연 시작 REFUND_CUTOFF_HOURS(기본 24시간) 전까지 환불합니다: " +
            "결제 금액이 잔액으로 돌아오고 좌석은 다시 판매됩니다. 같은 요청을 다시 보내도 한 번만 환불됩니다.",
          security: [BEARER],
        },
      },
    );
}
