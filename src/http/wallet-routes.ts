// 유저: the caller's own wallet.
import { t } from "elysia";
import { Requests } from "../shared/subjects";
import type { Balance } from "../shared/messages";
import { userApi, type Api } from "./api";
import { BEARER, TAGS } from "./openapi";
import * as S from "./schemas";

export function walletRoutes(api: Api) {
  return userApi(api)
    .get(
      "/users/:userId/wallet",
      async ({ params, self, request }) => ({ data: await api.ask<Balance>(request, Requests.walletBalance, { userId: self(params.userId) }) }),
      {
        params: t.Object({ userId: S.IdParam }),
        response: { 200: S.Data(S.Balance, { balance: 100000 }), ...S.errors("invalid_request", "forbidden") },
        detail: { tags: [TAGS.user], summary: "잔액 조회", description: "사용자의 현재 잔액 정보를 조회합니다.", security: [BEARER] },
      },
    )
    .patch(
      "/users/:userId/wallet/charge",
      async ({ params, body, self, request }) => ({
        data: await api.ask<Balance>(request, Requests.walletCharge, { userId: self(params.userId), amount: body.amount }),
      }),
      {
        params: t.Object({ userId: S.IdParam }),
        body: S.ChargeBody,
        response: { 200: S.Data(S.Balance, { balance: 150000 }), ...S.errors("invalid_amount", "invalid_request", "forbidden") },
        detail: { tags: [TAGS.user], summary: "잔액 충전", description: "사용자의 잔액을 충전합니다.", security: [BEARER] },
      },
    );
}
