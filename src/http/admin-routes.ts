// 운영: the operators' routes (a bearer token with `role: "admin"`). Putting a concert on sale, editing it, adding an
// event with its seat map, and watching a sale and its queue.
import { t } from "elysia";
import { AppError } from "../shared/errors";
import { eventSubject, queueSubject, Requests } from "../shared/subjects";
import type { Concert, EventOutline, EventSales, NewConcertEvent, QueueReport } from "../shared/messages";
import { adminApi, idFrom, type Api } from "./api";
import { BEARER, TAGS } from "./openapi";
import * as S from "./schemas";

/** Creating a 100,000-seat event takes seconds; the answer must not time out while the seats are being written. */
const CREATE_EVENT_TIMEOUT_MS = 60_000;

const EXAMPLE_CONCERT = {
  id: 4,
  title: "아이유 콘서트 2030",
  venue: "KSPO DOME",
  saleOpensAt: "2030-01-10T11:00:00.000Z",
  saleClosesAt: "2030-02-10T09:00:00.000Z",
};

/** An ISO time as epoch milliseconds for the actors; anything unparseable is a bad request. */
function msOf(value: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new AppError("invalid_request");
  return ms;
}

export function adminRoutes(api: Api) {
  const concertParams = t.Object({ concertId: S.IdParam });
  return adminApi(api)
    .post(
      "/concerts",
      async ({ body, request, set }) => {
        set.status = 201;
        return { data: await api.ask<Concert>(request, Requests.createConcert, body) };
      },
      {
        body: S.NewConcertBody,
        response: { 201: S.Data(S.Concert, EXAMPLE_CONCERT), ...S.errors("invalid_request", "forbidden") },
        detail: {
          tags: [TAGS.operations],
          summary: "콘서트 등록",
          description: "콘서트와 예매 기간을 등록합니다. saleOpensAt 전에 대기열에 들어온 사람들은 그 시각에 무작위 순서로 추첨됩니다.",
          security: [BEARER],
        },
      },
    )
    .patch(
      "/concerts/:concertId",
      async ({ params, body, request }) => {
        const concertId = idFrom(params.concertId);
        // The sale window belongs to the concert's queue actor: it alone knows whether the opening has come.
        await api.ask(request, queueSubject(concertId, "update"), {
          title: body.title,
          venue: body.venue,
          opensAt: body.saleOpensAt === undefined ? undefined : msOf(body.saleOpensAt),
          closesAt: body.saleClosesAt === undefined || body.saleClosesAt === null ? body.saleClosesAt : msOf(body.saleClosesAt),
        });
        return { data: await api.ask<Concert>(request, Requests.concert, { concertId }) };
      },
      {
        params: concertParams,
        body: S.ConcertPatchBody,
        response: {
          200: S.Data(S.Concert, { ...EXAMPLE_CONCERT, saleOpensAt: "2030-01-10T12:00:00.000Z" }),
          ...S.errors("invalid_request", "forbidden", "not_found_concert", "sale_already_open"),
        },
        detail: {
          tags: [TAGS.operations],
          summary: "콘서트 수정",
          description: "제목, 장소, 예매 기간을 바꿉니다. 예매가 시작된 뒤에는 saleOpensAt을 옮길 수 없습니다 (409 sale_already_open).",
          security: [BEARER],
        },
      },
    )
    .post(
      "/concerts/:concertId/events",
      async ({ params, body, request, set }) => {
        const concertId = idFrom(params.concertId);
        const data = await api.ask<NewConcertEvent>(request, Requests.createEvent, { concertId, ...body }, CREATE_EVENT_TIMEOUT_MS);
        // Bookable at once: its owner has loaded the seats before the operator hears the event exists. The event is
        // created whatever happens here, so a failure to warm it must not read as a failure to create it.
        await api.ask(request, eventSubject(data.id, "warm"), {}, CREATE_EVENT_TIMEOUT_MS).catch(() => undefined);
        set.status = 201;
        return { data };
      },
      {
        params: concertParams,
        body: S.NewEventBody,
        response: {
          201: S.Data(S.NewConcertEvent, { id: 10, concertId: 4, startsAt: "2030-02-10T10:00:00.000Z", totalSeats: 5000 }),
          ...S.errors("invalid_request", "forbidden", "not_found_concert"),
        },
        detail: {
          tags: [TAGS.operations],
          summary: "공연 회차와 좌석 등록",
          description: "회차와 구역별 좌석을 한 번에 만듭니다. 좌석 번호는 \"<구역>-<n>\"이고, 만든 즉시 예매할 수 있습니다.",
          security: [BEARER],
        },
      },
    )
    .get(
      "/concerts/:concertId/events",
      async ({ params, request }) => ({ list: await api.ask<EventOutline[]>(request, Requests.eventList, { concertId: idFrom(params.concertId) }) }),
      {
        params: concertParams,
        response: {
          200: S.List(S.EventOutline, { id: 10, concertId: 4, startsAt: "2030-02-10T10:00:00.000Z", totalSeats: 5000, sections: [{ name: "VIP", price: 198000, seats: 200 }, { name: "R", price: 154000, seats: 4800 }] }),
          ...S.errors("invalid_request", "forbidden", "not_found_concert"),
        },
        detail: { tags: [TAGS.operations], summary: "회차 목록", description: "(beyond) 콘서트의 회차와 구역(이름, 가격, 좌석 수)을 등록한 순서대로 조회합니다.", security: [BEARER] },
      },
    )
    .get(
      "/concert-events/:concertEventId/summary",
      async ({ params, request }) => ({
        data: await api.ask<EventSales>(request, Requests.eventSales, { concertEventId: idFrom(params.concertEventId) }),
      }),
      {
        params: t.Object({ concertEventId: S.IdParam }),
        response: {
          200: S.Data(S.EventSales, { concertEventId: 10, totalSeats: 5000, available: 4100, held: 300, reserved: 100, sold: 500, revenue: 77000000 }),
          ...S.errors("invalid_request", "forbidden", "not_found_concert_event"),
        },
        detail: { tags: [TAGS.operations], summary: "판매 현황", description: "좌석 상태별 수와 매출(환불되지 않은 결제의 합)입니다.", security: [BEARER] },
      },
    )
    .get(
      "/concerts/:concertId/queue",
      async ({ params, request }) => ({ data: await api.ask<QueueReport>(request, Requests.queueReport, { concertId: idFrom(params.concertId) }) }),
      {
        params: concertParams,
        response: {
          200: S.Data(S.QueueReport, { concertId: 4, opensAt: "2030-01-10T11:00:00.000Z", waiting: 18000, active: 500, admittedTotal: 2300 }),
          ...S.errors("invalid_request", "forbidden", "not_found_concert"),
        },
        detail: { tags: [TAGS.operations], summary: "대기열 현황", description: "콘서트 대기열의 대기 인원, 입장 중인 인원, 지금까지 입장한 인원입니다.", security: [BEARER] },
      },
    );
}
