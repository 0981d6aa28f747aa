// 콘서트 and 콘서트 이벤트: the catalog, and the seat routes of one event (User-Token required).
import { t } from "elysia";
import { AppError } from "../shared/errors";
import { eventSubject, Requests } from "../shared/subjects";
import { GLOBAL_QUEUE } from "../shared/queue-tokens";
import type { Concert, ConcertEventSummary, HoldView, ReleasedSeatView, ReservationView } from "../shared/messages";
import { idFrom, userApi, userTokenOf, withinBudget, type Api } from "./api";
import { BEARER, QUEUE_TOKEN, TAGS } from "./openapi";
import * as S from "./schemas";

const eventParams = t.Object({ concertEventId: S.IdParam });
const seatErrors = ["invalid_token", "invalid_request", "queue_token_not_active", "sale_not_open", "sale_closed", "not_found_concert_event"] as const;

function seatIdsOf(body: { seatId?: number; seatIds?: number[] }): number[] {
  if ((body.seatId === undefined) === (body.seatIds === undefined)) throw new AppError("invalid_request");
  return body.seatIds ?? [body.seatId!];
}

export function concertRoutes(api: Api) {
  return userApi(api)
    .get("/concerts", async ({ request }) => ({ list: await api.ask<Concert[]>(request, Requests.concerts, {}) }), {
      response: { 200: S.List(S.Concert, S.EXAMPLES.concert), ...S.errors() },
      detail: { tags: [TAGS.concert], summary: "콘서트 목록 조회", description: "(beyond) 콘서트 목록을 조회합니다.", security: [BEARER] },
    })
    .get(
      "/concerts/:concertId/events",
      async ({ params, admitted, request }) => {
        const concertId = idFrom(params.concertId);
        const admittedTo = await admitted(userTokenOf(request));
        // A concert's queue admits to that concert only.
        if (admittedTo !== GLOBAL_QUEUE && admittedTo !== concertId) throw new AppError("invalid_token");
        return { list: await api.ask<ConcertEventSummary[]>(request, Requests.concertEvents, { concertId }) };
      },
      {
        params: t.Object({ concertId: S.IdParam }),
        response: {
          200: S.List(S.ConcertEvent, S.EXAMPLES.event),
          ...S.errors("invalid_token", "invalid_request", "queue_token_not_active", "not_found_concert"),
        },
        detail: { tags: [TAGS.concert], summary: "예약 가능 날짜 조회", description: "콘서트의 예약 가능한 이벤트(날짜)를 조회합니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    )
    .get(
      "/concert-events/:concertEventId/available-seats",
      async ({ params, userId, admitted, request }) => {
        const eventId = idFrom(params.concertEventId);
        const admittedTo = await admitted(userTokenOf(request));
        // The list is the event actor's own, up to 100,000 seats: handed on as it came rather than parsed and re-encoded.
        return api.askList(request, eventSubject(eventId, "seats"), { userId, admittedTo });
      },
      {
        params: eventParams,
        response: { 200: S.List(S.Seat, S.EXAMPLES.seat), ...S.errors(...seatErrors) },
        detail: { tags: [TAGS.event], summary: "예약 가능한 좌석 조회", description: "점유, 예약, 판매되지 않은 좌석을 조회합니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    )
    .post(
      "/concert-events/:concertEventId/occupy",
      async ({ params, body, userId, admitted, request }) => {
        const eventId = idFrom(params.concertEventId);
        withinBudget(api.limits.occupations, userId);
        const admittedTo = await admitted(userTokenOf(request));
        return { data: await api.ask<HoldView>(request, eventSubject(eventId, "occupy"), { userId, admittedTo, seatId: body.seatId }) };
      },
      {
        params: eventParams,
        body: S.OccupyBody,
        response: {
          200: S.Data(S.Hold, S.EXAMPLES.hold),
          ...S.errors(...seatErrors, "not_found_seat", "seat_unavailable", "hold_limit_exceeded", "too_many_requests"),
        },
        detail: {
          tags: [TAGS.event],
          summary: "좌석 점유",
          description: "특정 콘서트 이벤트의 좌석을 점유합니다. 점유는 SEAT_HOLD_TTL_SECONDS(기본 5분) 동안 유지됩니다.",
          security: [{ ...BEARER, ...QUEUE_TOKEN }],
        },
      },
    )
    .post(
      "/concert-events/:concertEventId/reserve",
      async ({ params, body, userId, admitted, request }) => {
        const eventId = idFrom(params.concertEventId);
        const seatIds = seatIdsOf(body);
        const admittedTo = await admitted(userTokenOf(request));
        const reservation = await api.ask<ReservationView>(request, eventSubject(eventId, "reserve"), { userId, admittedTo, seatIds });
        api.reservations.remember(reservation.id, eventId);
        return { data: reservation };
      },
      {
        params: eventParams,
        body: S.ReserveBody,
        response: { 200: S.Data(S.Reservation, S.EXAMPLES.reservation), ...S.errors(...seatErrors, "seat_not_held") },
        detail: { tags: [TAGS.event], summary: "좌석 예약", description: "점유한 좌석에 대해 결제 및 예약을 진행합니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    )
    .delete(
      "/concert-events/:concertEventId/holds/:seatId",
      async ({ params, userId, admitted, request }) => {
        const eventId = idFrom(params.concertEventId);
        const seatId = idFrom(params.seatId);
        const admittedTo = await admitted(userTokenOf(request));
        return { data: await api.ask<ReleasedSeatView>(request, eventSubject(eventId, "release"), { userId, admittedTo, seatId }) };
      },
      {
        params: t.Object({ concertEventId: S.IdParam, seatId: S.IdParam }),
        response: { 200: S.Data(S.ReleasedSeat, { id: 12, seatNumber: "12", status: "AVAILABLE" }), ...S.errors(...seatErrors, "seat_not_held") },
        detail: {
          tags: [TAGS.event],
          summary: "좌석 점유 해제",
          description: "(beyond) 점유한 좌석을 만료 전에 돌려놓습니다. 좌석은 바로 다시 예약 가능해집니다.",
          security: [{ ...BEARER, ...QUEUE_TOKEN }],
        },
      },
    );
}
