// TypeBox schemas of every request and response body in API.md, with the examples Swagger UI shows.
import { t, type TSchema } from "elysia";
import { CATALOG, type ErrorCode } from "../shared/errors";

/**
 * A whole number that must arrive as a JSON number: Elysia's t.Integer also accepts numeric strings, which the
 * contract calls a wrong type.
 */
const Int = (options: Parameters<typeof t.Number>[0] = {}) => t.Number({ multipleOf: 1, ...options });

/** Ids travel as path strings; the pattern documents them, idFrom() enforces the 2^53−1 bound. */
export const IdParam = t.String({ pattern: "^[1-9][0-9]{0,15}$", examples: ["1"] });
const Id = Int({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, examples: [1] });
const Time = t.String({ format: "date-time", examples: ["2023-07-01T12:05:00.000Z"] });

export const Data = <T extends TSchema>(schema: T, example: unknown) => t.Object({ data: schema }, { examples: [{ data: example }] });
export const List = <T extends TSchema>(schema: T, example: unknown) =>
  t.Object({ list: t.Array(schema) }, { examples: [{ list: [example] }] });

export const ErrorBody = t.Object(
  {
    error: t.Object({
      code: t.String({ examples: ["seat_unavailable"] }),
      message: t.String({ examples: [CATALOG.seat_unavailable.message] }),
    }),
  },
  { description: "오류 응답 (코드와 메시지는 API.md의 오류 카탈로그)" },
);

/** Error responses a route documents, keyed by status, described by the catalog codes it can answer. */
export function errors(...codes: ErrorCode[]): Record<number, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, "unauthorized", "service_unavailable"] as ErrorCode[]) {
    const status = CATALOG[code].status;
    byStatus.set(status, [...new Set([...(byStatus.get(status) ?? []), code])]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      t.Object(ErrorBody.properties, {
        description: list.map((c) => `\`${c}\` ${CATALOG[c].message}`).join(" / "),
        examples: [{ error: { code: list[0], message: CATALOG[list[0]!].message } }],
      }),
    ]),
  );
}

// ---- wallet ---------------------------------------------------------------------------------------------------

export const Balance = t.Object({ balance: Int({ minimum: 0, examples: [150000] }) });
// `error` names the catalog code a validation failure of this body answers with (see onError in app.ts).
export const ChargeBody = t.Object(
  {
    amount: Int({
      minimum: 1,
      maximum: 100_000_000,
      description: "충전 금액 (원, 1 ~ 100,000,000)",
      examples: [50000],
      error: "invalid_amount",
    }),
  },
  { examples: [{ amount: 50000 }], error: "invalid_amount" },
);

// ---- queue ----------------------------------------------------------------------------------------------------

const QueueState = t.Union([t.Literal("WAITING"), t.Literal("ACTIVE")]);
export const QueueTicket = t.Object({
  token: t.String({ examples: ["a21kTkseTestToken"] }),
  queuePosition: Int({ minimum: 0, examples: [15] }),
  estimatedWaitingTime: Int({ minimum: 0, description: "예상 대기 시간 (초)", examples: [20] }),
  status: QueueState,
  expiresAt: t.Optional(Time),
});
export const QueueStatus = t.Omit(QueueTicket, ["token"]);
export const QueueLeft = t.Object({ status: t.Literal("EXPIRED") });

// ---- concerts -------------------------------------------------------------------------------------------------

export const Concert = t.Object({ id: Id, title: t.String(), venue: t.String() });
export const ConcertEvent = t.Object({
  id: Id,
  concertId: Id,
  startsAt: Time,
  totalSeats: Int({ minimum: 0, examples: [50] }),
  availableSeats: Int({ minimum: 0, examples: [31] }),
});
export const Seat = t.Object({ id: Id, seatNumber: t.String({ examples: ["12"] }), price: Int({ minimum: 0, examples: [50000] }) });
export const Hold = t.Object({ ...Seat.properties, expirationTime: Time });
export const OccupyBody = t.Object({ seatId: Id }, { examples: [{ seatId: 1 }] });
export const ReserveBody = t.Object(
  {
    seatId: t.Optional(Id),
    seatIds: t.Optional(t.Array(Id, { minItems: 1, maxItems: 20, uniqueItems: true, description: "(beyond) 여러 좌석을 한 번에 예약" })),
  },
  { examples: [{ seatId: 1 }, { seatIds: [1, 2] }], description: "seatId 또는 seatIds 중 하나" },
);
const ReservationState = t.Union([t.Literal("PENDING"), t.Literal("PAID"), t.Literal("EXPIRED"), t.Literal("CANCELLED")]);
export const Reservation = t.Object({
  id: Id,
  concertEventId: Id,
  totalSeats: Int({ minimum: 1, examples: [1] }),
  totalAmount: Int({ minimum: 0, examples: [50000] }),
  createdAt: Time,
  status: ReservationState,
  expiresAt: Time,
  seatIds: t.Array(Id),
});

// ---- payments -------------------------------------------------------------------------------------------------

export const PayBody = t.Object({ reservationId: Id }, { examples: [{ reservationId: 21 }] });
export const Payment = t.Object({
  id: Id,
  reservationId: Id,
  amount: Int({ minimum: 0, examples: [60000] }),
  status: t.Literal("success"),
  paidAt: Time,
});

// ---- examples -------------------------------------------------------------------------------------------------

export const EXAMPLES = {
  hold: { id: 1, seatNumber: "50", price: 50000, expirationTime: "2023-07-01T12:05:00.000Z" },
  reservation: {
    id: 1,
    concertEventId: 1,
    totalSeats: 1,
    totalAmount: 50000,
    createdAt: "2023-07-01T12:00:00.000Z",
    status: "PENDING",
    expiresAt: "2023-07-01T12:05:00.000Z",
    seatIds: [1],
  },
  payment: { id: 12, reservationId: 21, amount: 60000, status: "success", paidAt: "2023-07-01T12:03:00.000Z" },
  ticket: { token: "a21kTkseTestToken", queuePosition: 15, estimatedWaitingTime: 20, status: "WAITING" },
  queueStatus: { queuePosition: 15, estimatedWaitingTime: 10, status: "WAITING" },
  concert: { id: 1, title: "아이유 콘서트 2026", venue: "서울 올림픽공원 KSPO DOME" },
  event: { id: 1, concertId: 1, startsAt: "2027-02-10T10:00:00.000Z", totalSeats: 50, availableSeats: 31 },
  seat: { id: 1, seatNumber: "12", price: 50000 },
} as const;
