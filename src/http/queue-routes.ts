// 대기열: entering the queue, the status of one's place, leaving.
import { Requests, type QueueStatus, type QueueTicket } from "../shared/subjects";
import { queueToken, userApi, userTokenOf, withinBudget, type Api } from "./api";
import { BEARER, QUEUE_TOKEN, TAGS } from "./openapi";
import * as S from "./schemas";

export function queueRoutes(api: Api) {
  return userApi(api)
    .post(
      "/queue/tokens",
      async ({ userId, request }) => {
        withinBudget(api.limits.queueEntries, userId);
        return { data: await api.ask<QueueTicket>(request, Requests.queueEnter, { userId }) };
      },
      {
        response: { 200: S.Data(S.QueueTicket, S.EXAMPLES.ticket), ...S.errors("too_many_requests") },
        detail: {
          tags: [TAGS.queue],
          summary: "대기열 토큰 발급",
          description: "대기열에 들어가 토큰을 발급받습니다. 이미 대기 중이거나 입장한 사용자는 같은 토큰과 순번을 받습니다.",
          security: [BEARER],
        },
      },
    )
    .get(
      "/queue/status",
      async ({ userId, request }) => ({
        data: await api.ask<QueueStatus>(request, Requests.queueStatus, { userId, token: queueToken(userTokenOf(request)) }),
      }),
      {
        response: { 200: S.Data(S.QueueStatus, S.EXAMPLES.queueStatus), ...S.errors("invalid_token", "not_found_in_queue") },
        detail: { tags: [TAGS.queue], summary: "대기열 정보 조회", description: "발급받은 Token으로 대기 정보를 조회합니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    )
    .delete(
      "/queue/tokens",
      async ({ userId, request }) => ({
        data: await api.ask<{ status: "EXPIRED" }>(request, Requests.queueLeave, { userId, token: queueToken(userTokenOf(request)) }),
      }),
      {
        response: { 200: S.Data(S.QueueLeft, { status: "EXPIRED" }), ...S.errors("invalid_token", "not_found_in_queue") },
        detail: { tags: [TAGS.queue], summary: "대기열 나가기", description: "(beyond) 대기열에서 나갑니다. 토큰은 만료됩니다.", security: [{ ...BEARER, ...QUEUE_TOKEN }] },
      },
    );
}
