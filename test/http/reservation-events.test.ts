// A payment of a reservation this instance relayed goes straight to its event's actor; any other, through the payments
// service that looks the event up.
import { describe, expect, test } from "bun:test";
import { ReservationEvents } from "../../src/http/api";
import { Requests } from "../../src/shared/subjects";

describe("reservations remembered by the HTTP side", () => {
  test("a known reservation's payment and cancellation go to its event; an unknown one's through the payments service", () => {
    const events = new ReservationEvents();
    events.remember(21, 7);
    expect(events.subject(21, "pay", Requests.pay)).toBe("rsv.event.7.pay");
    expect(events.subject(21, "cancel", Requests.cancelReservation)).toBe("rsv.event.7.cancel");
    expect(events.subject(22, "pay", Requests.pay)).toBe(Requests.pay);
  });

  test("the oldest are forgotten past the bound, so memory stays flat in a long sale; the latest 100,000 are known", () => {
    const events = new ReservationEvents();
    for (let id = 1; id <= 200_001; id++) events.remember(id, 1);
    expect(events.subject(1, "pay", Requests.pay)).toBe(Requests.pay);
    expect(events.subject(100_002, "pay", Requests.pay)).toBe("rsv.event.1.pay");
    expect(events.subject(200_001, "pay", Requests.pay)).toBe("rsv.event.1.pay");
  });
});
