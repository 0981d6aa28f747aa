// An exception inside one event's actor: that actor is replaced by one rebuilt from the database, the command it
// was handling gets a prompt 503, and other events carry on.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SeatInventory } from "../actors/seat-inventory";
import { startTestService, UserClient, type TestService } from "./support/service";

describe("a crashing event actor", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ kind: "pglite-memory" });
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
  });

  test("restarts from the database without touching other events", async () => {
    const user = new UserClient(t.base, 31);
    await user.enterQueue();
    const held = await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 3 });
    expect(held.status).toBe(200);

    const decide = SeatInventory.prototype.decide;
    let armed = true;
    SeatInventory.prototype.decide = function (this: SeatInventory, command, now) {
      if (armed && this.eventId === 1 && command.type === "occupy" && command.seatId === 4) {
        armed = false;
        throw new Error("a bug in the seat rules");
      }
      return decide.call(this, command, now);
    };
    try {
      const started = Date.now();
      const crashed = await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 4 });
      expect(crashed.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(1_000);
      // Another event is unaffected.
      expect((await user.call("POST", "/api/v1/concert-events/2/occupy", { seatId: 55 })).status).toBe(200);
      // The event is rebuilt from the database: the earlier hold is still there, and it works again.
      expect((await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 3 })).body).toEqual(held.body);
      expect((await user.call("POST", "/api/v1/concert-events/1/occupy", { seatId: 4 })).status).toBe(200);
    } finally {
      SeatInventory.prototype.decide = decide;
    }
  });
});
