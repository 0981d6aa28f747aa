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
  queuePosition: Int({ minimum: 0, description: "대기 순번 (예매 시작 전 사전 대기열에서는 사전 대기열의 인원 수)", examples: [15] }),
  estimatedWaitingTime: Int({ minimum: 0, description: "예상 대기 시간 (초; 예매 시작 전에는 시작까지 남은 시간)", examples: [20] }),
  status: QueueState,
  expiresAt: t.Optional(Time),
  opensAt: t.Optional(t.String({ format: "date-time", description: "사전 대기열에 있을 때: 예매 시작 시각 (이때 순서를 무작위로 추첨합니다)" })),
});
export const QueueStatus = t.Omit(QueueTicket, ["token"]);
export const QueueLeft = t.Object({ status: t.Literal("EXPIRED") });
// Swagger UI's Try it out sends the body's `example`: `{}` keeps the v1 behaviour (the global queue) by default.
export const QueueEnterBody = t.Optional(
  t.Object(
    { concertId: t.Optional(Int({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: "그 콘서트의 대기열에 들어갑니다" })) },
    { example: {}, description: "(beyond) 본문 없이 또는 {}: 전체 대기열. {\"concertId\": 4}: 그 콘서트의 대기열" },
  ),
);

// ---- concerts -------------------------------------------------------------------------------------------------

export const Concert = t.Object({
  id: Id,
  title: t.String(),
  venue: t.String(),
  saleOpensAt: Time,
  saleClosesAt: t.Union([Time, t.Null()], { description: "null: 종료 시각 없음" }),
});
export const ConcertEvent = t.Object({
  id: Id,
  concertId: Id,
  startsAt: Time,
  totalSeats: Int({ minimum: 0, examples: [50] }),
  availableSeats: Int({ minimum: 0, examples: [31] }),
});
export const Seat = t.Object({ id: Id, seatNumber: t.String({ examples: ["12"] }), price: Int({ minimum: 0, examples: [50000] }) });
export const SectionLive = t.Object({
  name: t.String({ examples: ["VIP"] }),
  price: Int({ minimum: 0, examples: [198000], description: "구역의 가격 (좌석마다 가격이 다른 구역은 가장 낮은 가격)" }),
  seats: Int({ minimum: 0, examples: [1050] }),
  available: Int({ minimum: 0, examples: [312], description: "지금 예약 가능한 좌석 수" }),
});
export const Hold = t.Object({ ...Seat.properties, expirationTime: Time });
export const ReleasedSeat = t.Object({ id: Id, seatNumber: t.String({ examples: ["12"] }), status: t.Literal("AVAILABLE") });
export const OccupyBody = t.Object({ seatId: Id }, { examples: [{ seatId: 1 }] });
export const ReserveBody = t.Object(
  {
    seatId: t.Optional(Id),
    seatIds: t.Optional(t.Array(Id, { minItems: 1, maxItems: 20, uniqueItems: true, description: "(beyond) 여러 좌석을 한 번에 예약" })),
  },
  { examples: [{ seatId: 1 }, { seatIds: [1, 2] }], description: "seatId 또는 seatIds 중 하나" },
);
const ReservationState = t.Union([
  t.Literal("PENDING"),
  t.Literal("PAID"),
  t.Literal("EXPIRED"),
  t.Literal("CANCELLED"),
  t.Literal("REFUNDED"),
]);
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
  status: t.Union([t.Literal("success"), t.Literal("refunded")]),
  paidAt: Time,
});

// ---- operators ------------------------------------------------------------------------------------------------

const Title = t.String({ minLength: 1, maxLength: 200, examples: ["아이유 콘서트 2030"] });
const Venue = t.String({ minLength: 1, maxLength: 200, examples: ["KSPO DOME"] });
/** Checked again with Date.parse where used: the format documents it, the handler enforces it. */
const WhenBody = (example: string) => t.String({ format: "date-time", examples: [example] });

export const NewConcertBody = t.Object(
  {
    title: Title,
    venue: Venue,
    saleOpensAt: WhenBody("2030-01-10T11:00:00.000Z"),
    saleClosesAt: t.Optional(t.Union([WhenBody("2030-02-10T09:00:00.000Z"), t.Null()])),
  },
  { examples: [{ title: "아이유 콘서트 2030", venue: "KSPO DOME", saleOpensAt: "2030-01-10T11:00:00.000Z", saleClosesAt: "2030-02-10T09:00:00.000Z" }] },
);
export const ConcertPatchBody = t.Object(
  {
    title: t.Optional(Title),
    venue: t.Optional(Venue),
    saleOpensAt: t.Optional(WhenBody("2030-01-10T12:00:00.000Z")),
    saleClosesAt: t.Optional(t.Union([WhenBody("2030-02-10T09:00:00.000Z"), t.Null()])),
  },
  { examples: [{ saleOpensAt: "2030-01-10T12:00:00.000Z" }], description: "바꿀 항목만 보냅니다. 예매가 시작된 뒤에는 saleOpensAt을 바꿀 수 없습니다." },
);
export const Section = t.Object({
  name: t.String({ minLength: 1, maxLength: 20, description: "구역 이름: 글자(한글 포함), 숫자, _ 또는 -", examples: ["VIP"] }),
  price: Int({ minimum: 0, maximum: 100_000_000, examples: [198000] }),
  seats: Int({ minimum: 1, maximum: 100_000, examples: [200] }),
});
export const NewEventBody = t.Object(
  {
    startsAt: WhenBody("2030-02-10T10:00:00.000Z"),
    sections: t.Array(Section, { minItems: 1, maxItems: 50 }),
  },
  {
    examples: [
      {
        startsAt: "2030-02-10T10:00:00.000Z",
        sections: [
          { name: "VIP", price: 198000, seats: 200 },
          { name: "R", price: 154000, seats: 4800 },
        ],
      },
    ],
    description: "구역은 1~50개, 좌석은 모두 합쳐 100,000석까지. 좌석 번호는 \"<구역>-<n>\" (VIP-1 …)",
  },
);
export const NewConcertEvent = t.Object({ id: Id, concertId: Id, startsAt: Time, totalSeats: Int({ minimum: 1, examples: [5000] }) });
export const EventOutline = t.Object({ ...NewConcertEvent.properties, sections: t.Array(Section) });
const Count = (example: number) => Int({ minimum: 0, examples: [example] });
export const EventSales = t.Object({
  concertEventId: Id,
  totalSeats: Count(5000),
  available: Count(4100),
  held: Count(300),
  reserved: Count(100),
  sold: Count(500),
  revenue: Int({ minimum: 0, description: "환불되지 않은 결제 금액의 합 (원)", examples: [77000000] }),
});
export const QueueReport = t.Object({
  concertId: Id,
  opensAt: Time,
  waiting: Count(18000),
  active: Count(500),
  admittedTotal: Count(2300),
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
  concert: {
    id: 1,
    title: "아이유 콘서트 2026",
    venue: "서울 올림픽공원 KSPO DOME",
    saleOpensAt: "2026-01-01T00:00:00.000Z",
    saleClosesAt: null,
  },
  event: { id: 1, concertId: 1, startsAt: "2030-02-10T10:00:00.000Z", totalSeats: 50, availableSeats: 31 },
  seat: { id: 1, seatNumber: "12", price: 50000 },
  section: { name: "VIP", price: 198000, seats: 1050, available: 312 },
} as const;
