// The chaos checker is only as good as what it can catch: a clean history passes, and each kind of violation planted in
// it (a lost payment, a charge nobody asked for, a seat held twice, an early admission, a repeated event, a 500, money
// gone, a lapsed hold left behind) fails the invariant that guards it, and only that one. An unknown outcome may go
// either way.
import { describe, expect, test } from "bun:test";
import { check } from "./checker";
import type { FinalState } from "./final-state";
import type { Op } from "./history";

const OPENS = Date.parse("2030-01-01T00:00:00Z");
const USER = 1001;
const TOKEN = "9.tokentokentokentoken";

function op(id: number, kind: Op["kind"], at: number, args: Record<string, unknown>, data?: unknown, overrides: Partial<Op> = {}): Op {
  return { id, user: USER, kind, args, instance: "svc-a", start: OPENS + at, end: OPENS + at + 20, outcome: "ok", status: 200, data, ...overrides };
}

/** One fan's clean purchase: charge, queue, admission after the opening, hold, reservation, payment. */
function history(): Op[] {
  return [
    op(1, "charge", -9_000, { amount: 500_001 }, { balance: 500_001 }),
    op(2, "enter", -8_000, { concertId: 9 }, { token: TOKEN, status: "WAITING" }),
    op(3, "status", -1_000, { token: TOKEN }, { status: "WAITING" }),
    op(4, "status", 1_000, { token: TOKEN }, { status: "ACTIVE" }),
    op(5, "occupy", 2_000, { eventId: 1, seatId: 1, token: TOKEN }, { id: 1, expirationTime: new Date(OPENS + 14_000).toISOString() }),
    op(6, "reserve", 3_000, { eventId: 1, seatIds: [1], token: TOKEN }, { id: 10 }),
    op(7, "pay", 4_000, { reservationId: 10 }, { id: 20, amount: 150_000 }),
    op(8, "occupy", 5_000, { eventId: 1, seatId: 2, token: TOKEN }, { id: 2, expirationTime: new Date(OPENS + 17_000).toISOString() }),
    op(9, "reserve", 6_000, { eventId: 1, seatIds: [2], token: TOKEN }, { id: 11 }),
    op(10, "cancel", 7_000, { reservationId: 11 }, { id: 11, status: "CANCELLED" }),
  ];
}

function state(): FinalState {
  const msg = (seq: number, subject: string, body: unknown) => ({ seq, subject, msgId: `m${seq}`, body });
  return {
    concertId: 9,
    eventIds: [1],
    opensAt: OPENS,
    queueOpenedAt: OPENS,
    drawSeedStored: true,
    readAt: OPENS + 60_000,
    ledger: [
      { userId: USER, amount: 500_001, kind: "charge", paymentId: null },
      { userId: USER, amount: -150_000, kind: "payment", paymentId: 20 },
    ],
    wallets: [{ userId: USER, balance: 350_001 }],
    payments: [{ id: 20, reservationId: 10, userId: USER, amount: 150_000, status: "success" }],
    reservations: [
      { id: 10, userId: USER, eventId: 1, status: "PAID", totalAmount: 150_000, seatIds: [1] },
      { id: 11, userId: USER, eventId: 1, status: "CANCELLED", totalAmount: 99_000, seatIds: [2] },
    ],
    seats: [
      { id: 1, eventId: 1, status: "SOLD", userId: USER, holdExpiresAt: null },
      { id: 2, eventId: 1, status: "AVAILABLE", userId: null, holdExpiresAt: null },
    ],
    tokens: [{ token: TOKEN, userId: USER, status: "EXPIRED", issuedAt: OPENS - 8_000, activatedAt: OPENS + 500 }],
    events: [
      msg(1, "rsv.evt.wallet.charged", { userId: USER, amount: 500_001, balance: 500_001 }),
      msg(2, "rsv.evt.queue.9.token.issued", {}),
      msg(3, "rsv.evt.queue.9.token.activated", {}),
      msg(4, "rsv.evt.event.1.reservation.created", { eventId: 1, reservationId: 10 }),
      msg(5, "rsv.evt.event.1.payment.completed", { paymentId: 20 }),
      msg(6, "rsv.evt.event.1.reservation.created", { eventId: 1, reservationId: 11 }),
    ],
    outboxLeft: 0,
    audit: [],
  };
}

/** The invariants that found something, by the start of their names. */
function failing(ops: Op[], final: FinalState): string[] {
  return check(ops, final)
    .filter((r) => r.violations.length > 0)
    .map((r) => r.name.split(":")[0]!.split(";")[0]!);
}

describe("the chaos checker", () => {
  test("a clean history passes every invariant, each having checked something", () => {
    const results = check(history(), state());
    expect(results.filter((r) => r.violations.length > 0)).toEqual([]);
    expect(results.filter((r) => r.checked === 0)).toEqual([]);
  });

  test("an acknowledged payment that is not in the database", () => {
    const final = state();
    final.payments = [];
    final.reservations[0]!.status = "PENDING";
    final.ledger.pop();
    final.wallets[0]!.balance = 500_001;
    final.events.splice(4, 1);
    expect(failing(history(), final)).toEqual(["every acknowledged payment is stored as answered and its reservation paid"]);
  });

  test("a charge in the ledger that no request asked for, or one asked for and refused", () => {
    const final = state();
    final.ledger.push({ userId: USER, amount: 500_002, kind: "charge", paymentId: null });
    final.wallets[0]!.balance += 500_002;
    final.events.push({ seq: 7, subject: "rsv.evt.wallet.charged", msgId: "m7", body: { userId: USER, amount: 500_002 } });
    expect(failing(history(), final)).toEqual(["every acknowledged charge is in the ledger once"]);
    const refused = [...history(), op(11, "charge", 8_000, { amount: 500_002 }, undefined, { outcome: "fail", status: 400 })];
    expect(failing(refused, final)).toEqual(["every acknowledged charge is in the ledger once"]);
    const unknown = [...history(), op(11, "charge", 8_000, { amount: 500_002 }, undefined, { outcome: "unknown", status: 503, retryAfter: "1" })];
    expect(failing(unknown, final)).toEqual([]);
  });

  test("an unknown payment may be there, or not, but wholly", () => {
    const ops = history();
    ops[6] = { ...ops[6]!, outcome: "unknown", status: undefined, data: undefined, error: "timeout" };
    expect(failing(ops, state())).toEqual([]);
    // Paid without the wallet debited: half a payment.
    const half = state();
    half.wallets[0]!.balance = 500_001;
    expect(failing(ops, half)).toContain("money conserved per user");
  });

  test("a seat acknowledged to a second fan while the first one's hold was live", () => {
    const other = op(11, "occupy", 6_000, { eventId: 1, seatId: 1, token: "x" }, { id: 1, expirationTime: new Date(OPENS + 18_000).toISOString() }, { user: 1002 });
    const ops = history();
    ops.splice(5); // the first fan holds the seat and does nothing else with it
    expect(failing([...ops, other], state())).toContain("no seat held by two fans at once");
    // After the first hold lapsed, the seat is anyone's.
    expect(failing([...ops, { ...other, start: OPENS + 15_000, end: OPENS + 15_020 }], state())).not.toContain("no seat held by two fans at once");
  });

  test("an acknowledged hold gone before its expiry: the holder's reservation refused as seat_not_held", () => {
    const ops = history().slice(0, 5);
    const refused = op(11, "reserve", 3_000, { eventId: 1, seatIds: [1], token: TOKEN }, undefined, { outcome: "fail", status: 409, code: "seat_not_held" });
    expect(failing([...ops, refused], state())).toContain("no seat held by two fans at once");
    // Given back first, or asked for after the hold lapsed: nothing was lost.
    const released = op(12, "release", 2_500, { eventId: 1, seatId: 1, token: TOKEN }, { id: 1, status: "AVAILABLE" });
    expect(failing([...ops, released, refused], state())).not.toContain("no seat held by two fans at once");
    const late = { ...refused, start: OPENS + 15_000, end: OPENS + 15_020 };
    expect(failing([...ops, late], state())).not.toContain("no seat held by two fans at once");
  });

  test("an admission seen before the opening, and a turn that went back to waiting", () => {
    const early = history();
    early[2] = { ...early[2]!, data: { status: "ACTIVE" } };
    expect(failing(early, state())).toEqual(["every place kept"]);
    const twice = [...history(), op(11, "status", 2_000, { token: TOKEN }, { status: "WAITING" })];
    expect(failing(twice, state())).toEqual(["every place kept"]);
  });

  test("an event stored twice, one missing, and one without an id", () => {
    const repeated = state();
    repeated.events.push({ ...repeated.events[4]!, seq: 7 });
    expect(failing(history(), repeated)).toEqual(["every committed change's event in RSV_EVENTS exactly once"]);
    const missing = state();
    missing.events.splice(3, 1);
    expect(failing(history(), missing)).toEqual(["every committed change's event in RSV_EVENTS exactly once"]);
    const anonymous = state();
    anonymous.events[0] = { ...anonymous.events[0]!, msgId: undefined };
    expect(failing(history(), anonymous)).toEqual(["every committed change's event in RSV_EVENTS exactly once"]);
  });

  test("a 500, a 503 without Retry-After, money gone, a lapsed hold left, a failed audit", () => {
    expect(failing([...history(), op(11, "enter", 8_000, { concertId: 9 }, undefined, { outcome: "unknown", status: 500 })], state())).toEqual([
      "answers",
    ]);
    expect(failing([...history(), op(11, "enter", 8_000, { concertId: 9 }, undefined, { outcome: "unknown", status: 503 })], state())).toEqual([
      "answers",
    ]);
    const poorer = state();
    poorer.wallets[0]!.balance -= 1;
    expect(failing(history(), poorer)).toEqual(["money conserved per user"]);
    const held = state();
    held.seats[1] = { id: 2, eventId: 1, status: "HELD", userId: 1002, holdExpiresAt: OPENS + 20_000 };
    expect(failing(history(), held)).toEqual(["lapsed holds released (also those whose owner was killed)"]);
    const audited = state();
    audited.audit = [{ check: "no seat in two live reservations", ids: ["1"] }];
    expect(failing(history(), audited)).toEqual(["the database audit (bun run verify)"]);
  });
});
