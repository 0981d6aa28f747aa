// The concert-event actor: one per event, the single writer of its seats, holds, reservations and payments.
// Its rules live in seat-inventory.ts; how it serialises, commits in groups and recovers is durable-entity.ts.
import type { EventCommandName } from "../src/shared/subjects";
import { durableEntity, type CommitInput as EntityCommitInput, type EntityInput } from "./durable-entity";
import { SeatInventory, type EventCommand, type EventOp, type InventoryRules, type InventorySnapshot, type OpResult } from "./seat-inventory";

export type { EventCommand } from "./seat-inventory";

/** A command as a sender writes it, before the reply channel is attached. */
export type EventRequest = EventCommand extends infer C ? (C extends EventCommand ? Omit<C, "replyTo"> : never) : never;

export type ConcertEventInput = EntityInput & InventoryRules;

export type CommitInput = EntityCommitInput<EventOp>;

/** The commands senders reach over NATS, `rsv.event.<id>.<command>`. */
export const EVENT_COMMAND_TYPES = ["occupy", "reserve", "release", "pay", "cancel", "warm"] as const satisfies EventCommandName[];

export const concertEventMachine = durableEntity<ConcertEventInput, InventorySnapshot, EventCommand, EventOp, OpResult, SeatInventory>({
  id: "concertEvent",
  // `window` comes from the host, when the concert's sale window changes.
  commands: [...EVENT_COMMAND_TYPES, "window"],
  missingCode: "not_found_concert_event",
  create: (snapshot, input) => new SeatInventory(input.key, input, snapshot),
});
