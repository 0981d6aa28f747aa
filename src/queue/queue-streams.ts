// Pushed queue status: `GET /api/v1/queue/stream?token=…` as Server-Sent Events, fed by this instance's copies of the
// queues (queue-views.ts). The status at once; then a new one when the position or status changes, positions at most
// once a second for all streams together (one pass over the streams per second), an admission at once; a ping
// comment every 15 s; after the ACTIVE status the stream ends. A stream costs a map entry and a socket, no timer.
import { AppError, errorBody } from "../shared/errors";
import { observe } from "../shared/metrics";
import type { QueueStatus, ViewChange } from "../shared/messages";
import type { QueueViews } from "./queue-views";
import { fingerprintKey, type FingerprintKey } from "../shared/queue-tokens";

const encoder = new TextEncoder();

export interface StreamTiming {
  /** How often waiting positions are pushed, at most. */
  positionEveryMs: number;
  pingEveryMs: number;
}

const DEFAULT_TIMING: StreamTiming = { positionEveryMs: 1000, pingEveryMs: 15_000 };

interface Stream {
  queueId: number;
  key: FingerprintKey;
  controller: ReadableStreamDefaultController<Uint8Array>;
  /** What the client was last told, to push only changes. */
  lastPosition: number;
  lastStatus: QueueStatus["status"];
}

const event = (name: string, data: unknown) => encoder.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
const PING = encoder.encode(": ping\n\n");

export class QueueStreams {
  /** Open streams by queue and the high bits of their token's fingerprint (the low bits are checked on use). */
  private readonly streams = new Map<number, Map<number, Set<Stream>>>();
  /** Queues whose copies changed since the last pass. */
  private readonly dirty = new Set<number>();
  private readonly timers: ReturnType<typeof setInterval>[];
  private open = 0;

  constructor(
    private readonly views: QueueViews,
    timing: StreamTiming = DEFAULT_TIMING,
  ) {
    views.onChange((queueId, changes) => this.changed(queueId, changes));
    observe("queue_streams_open", "Pushed queue status streams open on this instance", [], () => [{ labels: {}, value: this.open }]);
    this.timers = [setInterval(() => this.pushPositions(), timing.positionEveryMs), setInterval(() => this.ping(), timing.pingEveryMs)];
  }

  get count(): number {
    return this.open;
  }

  /** A stream for a token, or the catalog error a JSON answer carries instead (invalid_token, not_found_in_queue, 503). */
  async connect(token: string): Promise<Response> {
    const found = await this.views.lookup(token);
    if (found.kind === "unready") throw new AppError("service_unavailable");
    if (found.kind === "absent") throw new AppError("not_found_in_queue");
    const first = found.view.statusAt(found.slot, Date.now());
    const { queueId, key } = found;
    let stream: Stream | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        controller.enqueue(event("status", first));
        if (first.status === "ACTIVE") return controller.close();
        stream = { queueId, key, controller, lastPosition: first.queuePosition, lastStatus: first.status };
        this.add(stream);
      },
      cancel: () => {
        if (stream) this.remove(stream);
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
    });
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    for (const byToken of this.streams.values()) for (const set of byToken.values()) for (const s of set) this.end(s);
  }

  private add(stream: Stream): void {
    const byToken = this.streams.get(stream.queueId) ?? new Map<number, Set<Stream>>();
    this.streams.set(stream.queueId, byToken);
    const set = byToken.get(stream.key.hi) ?? new Set<Stream>();
    byToken.set(stream.key.hi, set);
    set.add(stream);
    this.open++;
  }

  private remove(stream: Stream): void {
    const byToken = this.streams.get(stream.queueId);
    const set = byToken?.get(stream.key.hi);
    if (!set?.delete(stream)) return;
    this.open--;
    if (set.size === 0) byToken!.delete(stream.key.hi);
    if (byToken!.size === 0) this.streams.delete(stream.queueId);
  }

  private end(stream: Stream): void {
    this.remove(stream);
    try {
      stream.controller.close();
    } catch {
      // The client went away first.
    }
  }

  private send(stream: Stream, chunk: Uint8Array): void {
    try {
      stream.controller.enqueue(chunk);
    } catch {
      this.remove(stream);
    }
  }

  /** Admissions and departures go out at once; positions wait for the next pass. */
  private changed(queueId: number, changes: ViewChange[]): void {
    const byToken = this.streams.get(queueId);
    if (!byToken) return;
    this.dirty.add(queueId);
    const view = this.views.viewOf(queueId);
    if (!view) return;
    for (const change of changes) {
      if (change.type !== "activated" && change.type !== "expired") continue;
      const key = fingerprintKey(change.fp)!;
      for (const stream of byToken.get(key.hi) ?? []) {
        if (stream.key.lo !== key.lo) continue;
        const slot = view.lookup(key, Date.now());
        if (slot >= 0) this.send(stream, event("status", view.statusAt(slot, Date.now())));
        else this.send(stream, event("error", errorBody("not_found_in_queue")));
        this.end(stream);
      }
    }
  }

  /** One pass over the streams of queues that changed: each gets its new position if it moved. */
  private pushPositions(): void {
    const now = Date.now();
    for (const queueId of this.dirty) {
      const view = this.views.viewOf(queueId);
      const byToken = this.streams.get(queueId);
      // A copy being rebuilt is pushed from once it is whole again.
      if (!view) continue;
      this.dirty.delete(queueId);
      if (!byToken) continue;
      for (const set of byToken.values()) {
        for (const stream of set) {
          const slot = view.lookup(stream.key, now);
          if (slot < 0) continue;
          const status = view.statusAt(slot, now);
          if (status.queuePosition === stream.lastPosition && status.status === stream.lastStatus) continue;
          Object.assign(stream, { lastPosition: status.queuePosition, lastStatus: status.status });
          this.send(stream, event("status", status));
        }
      }
    }
  }

  private ping(): void {
    for (const byToken of this.streams.values()) for (const set of byToken.values()) for (const s of set) this.send(s, PING);
  }
}
