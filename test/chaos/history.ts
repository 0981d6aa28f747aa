// The client history of a chaos run: every request a fan made, when, to which instance, and what came of it. An
// answer is `ok` (2xx), `fail` (a 4xx refusal, or a connection refused before anything was sent: nothing happened) or
// `unknown` (a 503, any other 5xx, a timeout, a connection cut after sending: it may or may not have happened).
import { signUserToken } from "../../src/http/auth";

export type OpKind = "charge" | "enter" | "status" | "seats" | "occupy" | "release" | "reserve" | "pay" | "cancel" | "refund";
export type Outcome = "ok" | "fail" | "unknown";

export interface Op {
  id: number;
  user: number;
  kind: OpKind;
  /** What was asked: the seat, the seats, the reservation, the amount, the queue token. */
  args: Record<string, unknown>;
  instance: string;
  /** Milliseconds since the epoch, on this machine's clock (the services run on it too). */
  start: number;
  end: number;
  outcome: Outcome;
  status?: number;
  code?: string;
  retryAfter?: string;
  /** The answer's `data` on success. */
  data?: any;
  /** Why no answer came: "timeout", "refused", or the network error. */
  error?: string;
}

const ROUTES: Record<OpKind, (args: any) => { method: string; path: string; body?: unknown }> = {
  charge: (a) => ({ method: "PATCH", path: `/api/v1/users/${a.user}/wallet/charge`, body: { amount: a.amount } }),
  enter: (a) => ({ method: "POST", path: "/api/v1/queue/tokens", body: { concertId: a.concertId } }),
  status: () => ({ method: "GET", path: "/api/v1/queue/status" }),
  seats: (a) => ({ method: "GET", path: `/api/v1/concert-events/${a.eventId}/available-seats?section=${encodeURIComponent(a.section)}` }),
  occupy: (a) => ({ method: "POST", path: `/api/v1/concert-events/${a.eventId}/occupy`, body: { seatId: a.seatId } }),
  release: (a) => ({ method: "DELETE", path: `/api/v1/concert-events/${a.eventId}/holds/${a.seatId}` }),
  reserve: (a) => ({ method: "POST", path: `/api/v1/concert-events/${a.eventId}/reserve`, body: { seatIds: a.seatIds } }),
  pay: (a) => ({ method: "POST", path: "/api/v1/payments", body: { reservationId: a.reservationId } }),
  cancel: (a) => ({ method: "DELETE", path: `/api/v1/reservations/${a.reservationId}` }),
  refund: (a) => ({ method: "DELETE", path: `/api/v1/reservations/${a.reservationId}` }),
};

/** Kinds whose requests carry the fan's queue token. */
const WITH_QUEUE_TOKEN = new Set<OpKind>(["status", "seats", "occupy", "release", "reserve"]);

export class History {
  readonly ops: Op[] = [];
  private nextId = 1;

  record(op: Omit<Op, "id">): Op {
    const recorded = { id: this.nextId++, ...op };
    this.ops.push(recorded);
    return recorded;
  }

  toJsonLines(): string {
    return this.ops.map((op) => JSON.stringify(op)).join("\n") + "\n";
  }
}

export interface Endpoint {
  id: string;
  base: string;
}

/**
 * The load balancer in front of the instances, set up as operations.md advises: round robin over the instances whose
 * `/ready` answered 200 at the last check (every 500 ms), and a passive check on top that skips an instance for 5 s
 * after a request to it timed out or was refused. When no instance looks healthy it sends to them all in turn.
 */
export class Balancer {
  private readonly suspectUntil = new Map<string, number>();
  private readonly unready = new Set<string>();
  private turn = 0;
  private checking: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly endpoints: Endpoint[],
    private readonly failTimeoutMs = 5_000,
  ) {}

  /** Starts the active health check. */
  watch(intervalMs = 500): void {
    const probe = async (endpoint: Endpoint) => {
      const ready = await fetch(`${endpoint.base}/ready`, { signal: AbortSignal.timeout(intervalMs) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ready) this.unready.delete(endpoint.id);
      else this.unready.add(endpoint.id);
    };
    this.checking = setInterval(() => this.endpoints.forEach((e) => void probe(e)), intervalMs);
  }

  stop(): void {
    clearInterval(this.checking);
  }

  pick(): Endpoint {
    const now = Date.now();
    for (let i = 0; i < this.endpoints.length; i++) {
      const endpoint = this.endpoints[this.turn++ % this.endpoints.length]!;
      if (!this.unready.has(endpoint.id) && (this.suspectUntil.get(endpoint.id) ?? 0) <= now) return endpoint;
    }
    return this.endpoints[this.turn++ % this.endpoints.length]!;
  }

  failed(endpoint: Endpoint): void {
    this.suspectUntil.set(endpoint.id, Date.now() + this.failTimeoutMs);
  }

  get size(): number {
    return this.endpoints.length;
  }
}

/** One fan's requests, each recorded in the history, sent to the instance the balancer picks. */
export class FanClient {
  queueToken: string | undefined;
  private bearer: string | undefined;

  constructor(
    readonly user: number,
    private readonly history: History,
    private readonly balancer: Balancer,
    private readonly secret: string,
    private readonly timeoutMs: number,
  ) {}

  /**
   * One request. A connection refused never reached a service, so it is sent to the next instance at once, as a load
   * balancer does; anything else is the request's outcome (a timeout too: the request may have been served).
   */
  async send(kind: OpKind, args: Record<string, unknown>): Promise<Op> {
    this.bearer ??= await signUserToken(this.user, this.secret, 86_400);
    let op: Op | undefined;
    for (let tries = 0; tries < this.balancer.size; tries++) {
      const endpoint = this.balancer.pick();
      op = await this.attempt(endpoint, kind, args);
      if (op.error === "refused" || op.error === "timeout") this.balancer.failed(endpoint);
      if (op.error !== "refused") return op;
    }
    return op!;
  }

  private async attempt(endpoint: Endpoint, kind: OpKind, args: Record<string, unknown>): Promise<Op> {
    const { method, path, body } = ROUTES[kind]({ ...args, user: this.user });
    const headers: Record<string, string> = { authorization: `Bearer ${this.bearer}` };
    if (WITH_QUEUE_TOKEN.has(kind) && this.queueToken) headers["user-token"] = this.queueToken;
    if (body !== undefined) headers["content-type"] = "application/json";
    const recordedArgs = WITH_QUEUE_TOKEN.has(kind) ? { ...args, token: this.queueToken } : args;
    const start = Date.now();
    const base = { user: this.user, kind, args: recordedArgs, instance: endpoint.id, start };
    try {
      const response = await fetch(`${endpoint.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await response.text();
      const parsed = text ? (JSON.parse(text) as { data?: unknown; list?: unknown; error?: { code: string } }) : {};
      const status = response.status;
      const outcome: Outcome = status < 300 ? "ok" : status < 500 ? "fail" : "unknown";
      return this.history.record({
        ...base,
        end: Date.now(),
        outcome,
        status,
        code: parsed.error?.code,
        retryAfter: response.headers.get("retry-after") ?? undefined,
        data: status < 300 ? (parsed.data ?? parsed.list) : undefined,
      });
    } catch (error) {
      return this.history.record({ ...base, end: Date.now(), ...failureOf(error) });
    }
  }
}

function failureOf(error: unknown): { outcome: Outcome; error: string } {
  const { name, code, message } = error as { name?: string; code?: string; message?: string };
  if (name === "TimeoutError" || name === "AbortError") return { outcome: "unknown", error: "timeout" };
  if (code === "ConnectionRefused" || code === "ECONNREFUSED") return { outcome: "fail", error: "refused" };
  return { outcome: "unknown", error: code ?? message ?? String(error) };
}
