// 대기열: entering the queue, the status of one's place, leaving.
import { Elysia, t } from "elysia";
import { queueSubject } from "../shared/subjects";
import { GLOBAL_QUEUE, queueOfToken } from "../shared/queue-tokens";
import type { QueueTicket } from "../shared/messages";
import { queueToken, userApi, userTokenOf, withinBudget, type Api } from "./api";
import { BEARER, QUEUE_TOKEN, TAGS } from "./openapi";
import * as S from "./schemas";

export function queueRoutes(api: Api) {
  return userApi(api)
    .post(
      "/queue/tokens",
      async ({ userId, body, request }) => {
        withinBudget(api.limits.queueEntries, userId);
        const queueId = body?.concertId ?? GLOBAL_QUEUE;
        return { data: await api.ask<QueueTicket>(request, queueSubject(queueId, "enter"), { userId }) };
      },
      {
        body: S.QueueEnterBody,
        response: {
          200: S.Data(S.QueueTicket, S.EXAMPLES.ticket),
          ...S.errors("invalid_request", "sale_closed", "not_found_concert", "too_many_requests"),
        },
        detail: {
          tags: [TAGS.queue],
          summary: "대기열 토큰 발급",
          description:
            "대기열에 들어가 토큰을 발급받습니다. 이미 대기 중이거나 입장한 사용자는 같은 토큰과 순번을 받습니다. " +
            "(beyond) 본문에 concertId를 주면 그 콘서트의 대기열에 들어갑니다: 예매 시작 전에 들어온 사람들은 시작 시각에 무작위 순서로 추첨되고, " +
            "그 뒤에 온 사람들은 도착 순서대로 뒤에 섭니다. 그 대기열의 토큰은 그 콘서트의 이벤트에만 쓸 수 있습니다.",
          security: [BEARER],
        },
      },
    )
    .get(
      "/queue/status",
      async ({ userId, request }) => ({ data: await api.deps.queues.status(queueToken(userTokenOf(request)), userId) }),
      {
        response: { 200: S.Data(S.QueueStatus, S.EXAMPLES.queueStatus), ...S.errors("invalid_token", "not_found_in_queue") },
        detail: {
          tags: [TAGS.queue],
          summary: "대기열 정보 조회",
          description: "발급받은 Token으로 대기 정보를 조회합니다. 이 인스턴스가 가진 대기열 사본에서 바로 답합니다 (대기열 액터가 확정한 상태와 같고, 250ms보다 오래되지 않음).",
          security: [{ ...BEARER, ...QUEUE_TOKEN }],
        },
      },
    )
    .delete(
      "/queue/tokens",
      async ({ userId, request }) => {
        const token = queueToken(userTokenOf(request));
        return { data: await api.ask<{ status: "EXPIRED" }>(request, queueSubject(queueOfToken(token), "leave"), { userId, token }) };
      },
      {
        response: { 200: S.Data(S.QueueLeft, { status: "EXPIRED" }), ...S.errors("invalid_token", "not_found_in_queue") },
        detail: { tags: [TAGS.queue], summary: "대기열 나가기", description: "(beyond) 대기열에서 나갑니다. 토큰은 만료됩니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    );
}

/**
 * What the front door answers before routing (AnswersAtOnce in app.ts): a status poll whose bearer verifies and whose
 * token is the caller's, in a whole, fresh copy of its queue. A crowd polls this at thousands a second, and
 * answered here it costs no promise, no router and no hooks: 13–15 µs of CPU per poll against 18–21 through the route
 * (three interleaved rounds each, 20,000 waiting).
 * Everything else comes back undefined and takes the route above, which gives the same answer or the error.
 */
export function queueAnswersAtOnce(api: Api): [string, (request: Request) => object | undefined][] {
  const status = (request: Request) => {
    const caller = api.verifyBearer.atOnce(request.headers.get("authorization"));
    const token = caller && userTokenOf(request);
    const data = token && api.deps.queues.statusNow(token, caller.userId);
    return data ? { data } : undefined;
  };
  return [["/api/v1/queue/status", status]];
}

/** The pushed status: the queue token alone authenticates it, since a browser's EventSource cannot send headers. */
export function queueStreamRoutes(api: Api) {
  return new Elysia({ prefix: "/api/v1" }).get("/queue/stream", ({ query }) => api.deps.queues.stream(queueToken(query.token)), {
    query: t.Object({ token: t.Optional(t.String({ description: "대기열 토큰" })) }),
    response: {
      200: t.String({
        description: "text/event-stream: `event: status` (GET /api/v1/queue/status와 같은 객체)를 처음에 한 번, 순번이나 상태가 바뀔 때마다 (순번은 1초에 한 번까지, 입장은 바로), 15초마다 `: ping`. ACTIVE를 보낸 뒤 스트림이 끝납니다.",
      }),
      ...S.errors("invalid_token", "not_found_in_queue"),
    },
    detail: {
      tags: [TAGS.queue],
      summary: "대기열 상태 스트림",
      description: "(beyond) Server-Sent Events로 대기 순번과 입장을 받아 봅니다. 토큰은 쿼리 문자열로 보내며, 서버는 쿼리 문자열을 기록하지 않습니다.",
    },
  });
}
