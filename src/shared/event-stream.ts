// The JetStream stream that keeps the domain events (rsv.evt.>), so a sale can be replayed after the fact
// (`npm run monitor -- --since 10m`) and read by consumers that must not miss an event. Anything publishing on
// rsv.evt.> is captured; a publisher that sets a Nats-Msg-Id has a repeat within the duplicate window stored once.
import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type NatsConnection, type NatsError, type StreamConfig } from "nats";
import { log } from "./log";

export const EVENT_STREAM = "RSV_EVENTS";

export const EVENT_STREAM_CONFIG = {
  name: EVENT_STREAM,
  subjects: ["rsv.evt.>"],
  storage: StorageType.File,
  retention: RetentionPolicy.Limits,
  discard: DiscardPolicy.Old,
  // A week of sales to look back on; the disk it takes is that week's events.
  max_age: nanos(7 * 24 * 60 * 60 * 1000),
  // Wide enough for a publisher to retry after its own restart and still have the repeat dropped.
  duplicate_window: nanos(5 * 60 * 1000),
} satisfies Partial<StreamConfig>;

const STREAM_NOT_FOUND = 10059;

/**
 * Creates the stream, or brings an existing one back to the subjects it must capture, at least our duplicate window
 * and at least `replicas` copies (on a cluster: a node lost loses no event). Its other settings (age, size) are left
 * as an operator may have tuned them.
 */
export async function ensureEventStream(nc: NatsConnection, replicas = 1): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const existing = await jsm.streams.info(EVENT_STREAM).catch((error: NatsError) => {
    if (error.api_error?.err_code === STREAM_NOT_FOUND) return undefined;
    throw error;
  });
  if (!existing) {
    await jsm.streams.add({ ...EVENT_STREAM_CONFIG, num_replicas: replicas });
    return;
  }
  const { config } = existing;
  const subjectsRight = config.subjects.join() === EVENT_STREAM_CONFIG.subjects.join();
  if (subjectsRight && config.duplicate_window >= EVENT_STREAM_CONFIG.duplicate_window && config.num_replicas >= replicas) return;
  await jsm.streams.update(EVENT_STREAM, {
    ...config,
    subjects: EVENT_STREAM_CONFIG.subjects,
    duplicate_window: Math.max(config.duplicate_window, EVENT_STREAM_CONFIG.duplicate_window),
    num_replicas: Math.max(config.num_replicas, replicas),
  });
}

/**
 * Ensures the stream now and, while that fails (a server without JetStream, say), again every `retryMs`; the service
 * serves meanwhile, its events published but not kept. Returns what stops the retries.
 */
export async function keepEventStream(nc: NatsConnection, replicas = 1, retryMs = 30_000): Promise<() => void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let warned = false;
  let stopped = false;
  const attempt = async (): Promise<void> => {
    try {
      await ensureEventStream(nc, replicas);
      if (warned) log.info("event stream ready", { stream: EVENT_STREAM });
    } catch (error) {
      // No responder to the JetStream API: the server runs without JetStream.
      const reason = (error as NatsError).code === "503" ? "the NATS server has no JetStream" : String(error);
      if (!warned) log.warn("event stream unavailable: domain events are not kept until it is; retrying", { stream: EVENT_STREAM, error: reason });
      warned = true;
      if (!stopped && !nc.isClosed()) timer = setTimeout(() => void attempt(), retryMs);
    }
  };
  await attempt();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
