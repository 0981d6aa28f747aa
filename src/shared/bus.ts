// The NATS connection every part of the service shares, and the one request helper the HTTP side uses.
import { ErrorCode, headers as natsHeaders, type MsgHdrs, type NatsConnection } from "nats";
import { decode, encode, unwrap, type Reply } from "./codec";
import { AppError } from "./errors";
import { natsRequestDuration, subjectKind } from "./metrics";
import type { NatsConfig } from "./config";
import { connectNats } from "./nats-connection";
import type { Topic } from "./subjects";
import { traceNatsRequest } from "./tracing";

export type Publisher = Pick<Bus, "publish">;

export interface Bus {
  readonly nc: NatsConnection;
  /**
   * Sends a request to an actor; its catalog failure comes back as an AppError, an unreachable actor as 503.
   * `timeoutMs` overrides the configured timeout, for the few requests that take long by nature.
   */
  request<T>(subject: string, payload: unknown, requestId?: string, timeoutMs?: number): Promise<T>;
  /**
   * Publishes on a subject of messages.ts's scheme: the payload must be of the type its schema describes. A message
   * the event stream keeps carries `msgId`, which names the one change it reports (JetStream stores a repeat once).
   */
  publish<Body>(subject: Topic<Body>, payload: NoInfer<Body>, msgId?: string): void;
  /** False while the connection is down; requests then fail fast with 503 instead of waiting out the timeout. */
  connected(): boolean;
  close(): Promise<void>;
}

export const REQUEST_ID_HEADER = "Request-Id";
export const MSG_ID_HEADER = "Nats-Msg-Id";

/** How long to wait before sending again a request nobody received, and how often to ask for an owner meanwhile. */
const NO_RESPONDER_RETRY_MS = 50;
const OWNER_NUDGE_EVERY_MS = 500;

export interface BusOptions {
  name?: string;
  /**
   * Called when nobody serves a subject (its owner is moving or has died): may get it one, or throw the catalog
   * error that says it does not exist. The request is then sent again until its deadline.
   */
  whenNoResponder?: (subject: string, nc: NatsConnection, timeoutMs: number) => Promise<void>;
}

/**
 * Replies to the service's requests carry balances, reservations and user ids: they arrive on inboxes of its own,
 * which only the `service` user may read (deploy/nats-server.conf), not under the `_INBOX.` that other users share.
 */
export const SERVICE_INBOX_PREFIX = "_INBOX_service";

const isNoResponders = (error: unknown) => (error as { code?: string } | undefined)?.code === ErrorCode.NoResponders;

export async function connectBus(nats: NatsConfig, requestTimeoutMs: number, options: BusOptions = {}): Promise<Bus> {
  const { name = "concert-reservation", whenNoResponder } = options;
  const nc = await connectNats(nats, {
    name,
    inboxPrefix: SERVICE_INBOX_PREFIX,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5000,
    maxPingOut: 2,
    // A stack captured for every request, in case it times out, cost 3 % of the CPU in a rush.
    noAsyncTraces: true,
  });
  let up = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") up = false;
      if (status.type === "reconnect") up = true;
    }
  })();

  /** Sends a request and waits for its reply; a subject nobody serves is sent again (see `whenNoResponder`). */
  async function exchange(subject: string, payload: unknown, requestId: string | undefined, timeoutMs: number, traced: MsgHdrs | undefined) {
    if (!up || nc.isClosed()) {
      natsRequestDuration.observe({ subject: subjectKind(subject), outcome: "unavailable" }, 0);
      throw new AppError("service_unavailable");
    }
    let hdrs = traced;
    if (requestId) {
      hdrs ??= natsHeaders();
      hdrs.set(REQUEST_ID_HEADER, requestId);
    }
    const stop = natsRequestDuration.startTimer({ subject: subjectKind(subject) });
    const deadline = Date.now() + timeoutMs;
    const data = encode(payload);
    let nudgedAt = 0;
    for (;;) {
      try {
        return { msg: await nc.request(subject, data, { timeout: Math.max(1, deadline - Date.now()), headers: hdrs }), stop };
      } catch (error) {
        // Nobody received it, so sending it again is safe: wait for an owner until the deadline. A timeout or a
        // dropped connection is different (the request may be executing), and means the actor is out of reach.
        const left = deadline - Date.now();
        if (!isNoResponders(error) || left <= NO_RESPONDER_RETRY_MS) {
          stop({ outcome: "unavailable" });
          throw new AppError("service_unavailable");
        }
        if (whenNoResponder && Date.now() - nudgedAt >= OWNER_NUDGE_EVERY_MS) {
          nudgedAt = Date.now();
          await whenNoResponder(subject, nc, left).catch((refusal) => {
            stop({ outcome: refusal instanceof AppError ? refusal.code : "unavailable" });
            throw refusal;
          });
        }
        await Bun.sleep(NO_RESPONDER_RETRY_MS);
      }
    }
  }

  return {
    nc,
    connected: () => up && !nc.isClosed(),
    request<T>(subject: string, payload: unknown, requestId?: string, timeoutMs = requestTimeoutMs): Promise<T> {
      return traceNatsRequest(subject, natsHeaders, async (traced) => {
        const { msg, stop } = await exchange(subject, payload, requestId, timeoutMs, traced);
        const reply = decode<Reply<T>>(msg.data);
        stop({ outcome: reply.ok ? "ok" : reply.code });
        return unwrap(reply);
      });
    },
    publish(subject, payload, msgId) {
      if (nc.isClosed()) return;
      if (msgId === undefined) return nc.publish(subject, encode(payload));
      const headers = natsHeaders();
      headers.set(MSG_ID_HEADER, msgId);
      nc.publish(subject, encode(payload), { headers });
    },
    async close() {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}
