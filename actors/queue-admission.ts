// The queue-admission actor: one per queue (the global one, and each concert's own), the single writer of its tokens
// and, for a concert, of its sale window. Its rules live in waiting-line.ts; how it serialises, commits in groups and
// recovers is durable-entity.ts.
import { durableEntity, type EntityInput } from "./durable-entity";
import { WaitingLine, type QueueCommand, type QueueOp, type QueueRules, type QueueSnapshot } from "./waiting-line";

export type { QueueCommand, QueueOp, QueueSnapshot, QueueTokenRecord } from "./waiting-line";

export type QueueAdmissionInput = EntityInput & QueueRules;

/** A command as a sender writes it, before the reply channel is attached. */
export type QueueRequest = QueueCommand extends infer C ? (C extends QueueCommand ? Omit<C, "replyTo"> : never) : never;

export const QUEUE_COMMAND_TYPES = ["enter", "status", "leave", "paid", "update"] as const;

export const queueAdmissionMachine = durableEntity<QueueAdmissionInput, QueueSnapshot, QueueCommand, QueueOp, null, WaitingLine>({
  id: "queueAdmission",
  commands: QUEUE_COMMAND_TYPES,
  missingCode: "not_found_concert",
  create: (snapshot, input) => new WaitingLine(input, snapshot),
});
