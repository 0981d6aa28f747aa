// 콘서트 and 콘서트 이벤트: the catalog, and the seat routes of one event (User-Token required).
import { t } from "elysia";
import { AppError } from "../shared/errors";
import { eventSubject, Requests } from "../shared/subjects";
import { GLOBAL_QUEUE } from "../shared/queue-tokens";
import type { Concert, ConcertEventSummary, HoldView, ReleasedSeatView, ReservationView } from "../shared/messages";
import { Elysia } from "elysia";
import { idFrom, queueToken, userApi, userTokenOf, withinBudget, type Api } from "./api";
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
      async ({ params, query, admitted, request }) => {
        const eventId = idFrom(params.concertEventId);
        const admittedTo = await admitted(userTokenOf(request));
        // From this instance's copy of the seat map, up to 100,000 seats: its JSON is kept until the map changes.
        const body = await api.deps.seatMaps.availableList(eventId, admittedTo, query.section);
        return new Response(body, { headers: { "content-type": "application/json;charset=utf-8" } });
      },
      {
        params: eventParams,
        query: t.Object({ section: t.Optional(t.String({ description: "구역 이름 (없으면 모든 구역)", examples: ["VIP"] })) }),
        response: { 200: S.List(S.Seat, S.EXAMPLES.seat), ...S.errors(...seatErrors) },
        detail: {
          tags: [TAGS.event],
          summary: "예약 가능한 좌석 조회",
          description: "점유, 예약, 판매되지 않은 좌석을 조회합니다. `section`을 주면 그 구역의 좌석만 조회합니다 (없는 구역은 400 invalid_request).",
          security: [{ ...BEARER, ...QUEUE_TOKEN }],
        },
      },
    )
    .get(
      "/concert-events/:concertEventId/sections",
      async ({ params, admitted, request }) => {
        const eventId = idFrom(params.concertEventId);
        const admittedTo = await admitted(userTokenOf(request));
        return { list: await api.deps.seatMaps.sections(eventId, admittedTo) };
      },
      {
        params: eventParams,
        response: { 200: S.List(S.SectionLive, S.EXAMPLES.section), ...S.errors(...seatErrors) },
        detail: {
          tags: [TAGS.event],
          summary: "구역별 잔여 좌석",
          description: "(beyond) 이벤트의 구역을 운영자가 등록한 순서대로, 가격과 좌석 수, 지금 예약 가능한 좌석 수와 함께 조회합니다.",
          security: [{ ...BEARER, ...QUEUE_TOKEN }],
        },
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

/** The live seat map: the queue token alone authenticates it, since a browser's EventSource cannot send headers. */
export function seatStreamRoutes(api: Api) {
  return new Elysia({ prefix: "/api/v1" }).get(
    "/concert-events/:concertEventId/seats/stream",
    ({ params, query }) => api.deps.seatMaps.stream(idFrom(params.concertEventId), queueToken(query.token)),
    {
      params: eventParams,
      query: t.Object({ token: t.Optional(t.String({ description: "대기열 토큰 (ACTIVE)" })) }),
      response: {
        200: t.String({
          description:
            "text/event-stream: 처음에 `event: snapshot` ({\"version\": 812, \"available\": [1, 2, 5]}: 지금 예약 가능한 좌석의 id), 그 뒤로 250 ms에 한 번까지 `event: changes` ({\"version\": 815, \"taken\": [5], \"freed\": [2]}), 15초마다 `: ping`. 토큰이 ACTIVE가 아니게 되면 `event: error` ({\"code\": \"invalid_token\"})를 보내고 끝납니다.",
        }),
        ...S.errors(...seatErrors),
      },
      detail: {
        tags: [TAGS.event],
        summary: "실시간 좌석 배치도",
        description: "(beyond) Server-Sent Events로 예약 가능한 좌석과 그 변화를 받아 봅니다. 대기열 토큰은 쿼리 문자열로 보내며, 서버는 쿼리 문자열을 기록하지 않습니다.",
      },
    },
  );
}
