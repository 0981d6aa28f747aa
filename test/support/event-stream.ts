// Reads back what RSV_EVENTS holds, for tests that check every committed change reached it once.
import type { NatsConnection } from "nats";
import { EVENT_STREAM } from "../../src/shared/event-stream";

export interface StoredEvent {
  seq: number;
  subject: string;
  msgId: string | undefined;
  body: any;
}

/** Every message the stream holds now, in stream order, through an ordered consumer. */
export async function storedEvents(nc: NatsConnection): Promise<StoredEvent[]> {
  const { state } = await (await nc.jetstreamManager()).streams.info(EVENT_STREAM);
  const events: StoredEvent[] = [];
  if (state.messages === 0) return events;
  const consumer = await nc.jetstream().consumers.get(EVENT_STREAM);
  const messages = await consumer.consume();
  for await (const m of messages) {
    events.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get("Nats-Msg-Id") || undefined, body: m.json() });
    if (m.seq >= state.last_seq) break;
  }
  await messages.close();
  return events;
}

/** Message ids that occur more than once in the stream. */
export function repeatedIds(events: StoredEvent[]): string[] {
  const seen = new Set<string>();
  const repeated: string[] = [];
  for (const { msgId } of events) {
    if (msgId === undefined) continue;
    if (seen.has(msgId)) repeated.push(msgId);
    seen.add(msgId);
  }
  return repeated;
}
