// The NATS connection every part of the service shares, and the one request helper the HTTP side uses.
import { connect, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from "nats";
import { decode, encode, unwrap, type Reply } from "./codec";
import { AppError } from "./errors";
import { natsRequestDuration, subjectKind } from "./metrics";

export type Publisher = Pick<Bus, "publish">;

export interface Bus {
  readonly nc: NatsConnection;
  /** Sends a request to an actor; its catalog failure comes back as an AppError, an unreachable actor as 503. */
  request<T>(subject: string, payload: unknown, requestId?: string): Promise<T>;
  publish(subject: string, payload: unknown): void;
  /** False while the connection is down; requests then fail fast with 503 instead of waiting out the timeout. */
  connected(): boolean;
  close(): Promise<void>;
}

export const REQUEST_ID_HEADER = "Request-Id";

export async function connectBus(servers: string[], requestTimeoutMs: number, name = "concert-reservation"): Promise<Bus> {
  const nc = await connect({
    servers,
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5000,
    maxPingOut: 2,
  });
  let up = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") up = false;
      if (status.type === "reconnect") up = true;
    }
  })();

  return {
    nc,
    connected: () => up && !nc.isClosed(),
    async request<T>(subject: string, payload: unknown, requestId?: string): Promise<T> {
      if (!up || nc.isClosed()) {
        natsRequestDuration.observe({ subject: subjectKind(subject), outcome: "unavailable" }, 0);
        throw new AppError("service_unavailable");
      }
      let hdrs: MsgHdrs | undefined;
      if (requestId) {
        hdrs = natsHeaders();
        hdrs.set(REQUEST_ID_HEADER, requestId);
      }
      const stop = natsRequestDuration.startTimer({ subject: subjectKind(subject) });
      let msg: Msg;
      try {
        msg = await nc.request(subject, encode(payload), { timeout: requestTimeoutMs, headers: hdrs });
      } catch {
        // No responder, a timeout, or a dropped connection: all mean the actor side is out of reach right now.
        stop({ outcome: "unavailable" });
        throw new AppError("service_unavailable");
      }
      const reply = decode<Reply<T>>(msg.data);
      stop({ outcome: reply.ok ? "ok" : reply.code });
      return unwrap(reply);
    },
    publish(subject, payload) {
      if (nc.isClosed()) return;
      nc.publish(subject, encode(payload));
    },
    async close() {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}
