// The error catalog of API.md, and the one error type that carries a catalog code from any layer to the HTTP edge.

export const CATALOG = {
  invalid_amount: { status: 400, message: "유효하지 않은 충전 금액입니다." },
  invalid_token: { status: 400, message: "유효하지 않은 token 입니다." },
  invalid_request: { status: 400, message: "잘못된 요청입니다." },
  unauthorized: { status: 401, message: "인증 오류가 발생했습니다." },
  forbidden: { status: 403, message: "접근 권한이 없습니다." },
  queue_token_not_active: { status: 403, message: "아직 대기열을 통과하지 않은 token 입니다." },
  sale_not_open: { status: 403, message: "아직 예매가 시작되지 않았습니다." },
  sale_closed: { status: 403, message: "예매가 종료되었습니다." },
  not_found: { status: 404, message: "요청한 리소스를 찾을 수 없습니다." },
  not_found_concert: { status: 404, message: "요청한 콘서트를 찾을 수 없습니다." },
  not_found_concert_event: { status: 404, message: "요청한 콘서트 이벤트를 찾을 수 없습니다." },
  not_found_seat: { status: 404, message: "요청한 좌석을 찾을 수 없습니다." },
  not_found_reservation: { status: 404, message: "요청한 예약을 찾을 수 없습니다." },
  not_found_in_queue: { status: 404, message: "해당 토큰으로 대기 중인 정보를 찾을 수 없습니다." },
  payload_too_large: { status: 413, message: "요청 본문이 너무 큽니다." },
  seat_unavailable: { status: 409, message: "이미 점유되었거나 판매된 좌석입니다." },
  seat_not_held: { status: 409, message: "점유하지 않았거나 점유 시간이 만료된 좌석입니다." },
  hold_limit_exceeded: { status: 409, message: "점유할 수 있는 좌석 수를 초과했습니다." },
  reservation_expired: { status: 409, message: "결제 기한이 만료된 예약입니다." },
  insufficient_balance: { status: 409, message: "잔액이 부족합니다." },
  sale_already_open: { status: 409, message: "이미 예매가 시작되었습니다." },
  refund_period_over: { status: 409, message: "환불 가능 기간이 지났습니다." },
  too_many_requests: { status: 429, message: "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요." },
  internal_server_error: { status: 500, message: "서버 내부 오류가 발생했습니다." },
  service_unavailable: { status: 503, message: "일시적으로 서비스를 이용할 수 없습니다." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof CATALOG;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(CATALOG, value);
}

export class AppError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode) {
    super(code);
    this.code = code;
  }
  get status(): number {
    return CATALOG[this.code].status;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode): ErrorBody {
  return { error: { code, message: CATALOG[code].message } };
}

/** Seconds a client should wait before retrying a 429 or 503. */
export const RETRY_AFTER_SECONDS = 1;
