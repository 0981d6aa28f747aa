// The live seat map: `GET /api/v1/concert-events/{id}/seats/stream?token=…` as Server-Sent Events, fed by this
// instance's copy of the event's seat map (seat-map-views.ts). At once, a snapshot of the ids on sale; then, at most
// every 250 ms, the seats taken and freed since the previous message, each in the list of its last state; a ping
// every 15 s. Every stream of an event gets the same bytes, encoded once per message. The stream ends with an `error`
// event once the queue token that opened it stops being ACTIVE.
//
// A push compares the seats on sale now with what the event's streams were last told, rather than replaying the
// changes heard since: a change this instance's copy took without telling its listeners (a copy rebuilt, the event's
// ownership moving between instances) then still reaches every stream with the next push.
import type { FingerprintKey } from "../shared/queue-tokens";
import { observe } from "../shared/metrics";
import type { SeatMapViews } from "./seat-map-views";

const encoder = new TextEncoder();

export interface MapStreamTiming {
  /** How often changes are pushed, at most. */
  changesEveryMs: number;
  pingEveryMs: number;
}

const DEFAULT_TIMING: MapStreamTiming = { changesEveryMs: 250, pingEveryMs: 15_000 };
/** How often the pushes look for events due one: a timer of exactly the period would drift past it every other time. */
const PUSH_TICKS_PER_PERIOD = 5;

interface MapStream {
  eventId: number;
  /** The token that opened it, and its queue: the token's end ends the stream. */
  key: FingerprintKey;
  queueId: number;
  controller: ReadableStreamDefaultController<Uint8Array>;
  /** The seats on sale as this stream was last told: its snapshot, or the last push (shared by every stream told it). */
  told: Seats;
}

/** The seats on sale at one moment, sorted by id; one object is shared by every stream that was told exactly it. */
type Seats = number[];

const frame = (name: string, data: string) => encoder.encode(`event: ${name}\ndata: ${data}\n\n`);
const PING = encoder.encode(": ping\n\n");
const TOKEN_ENDED = frame("error", JSON.stringify({ code: "invalid_token" }));

export class SeatMapStreams {
  private readonly streams = new Map<number, Set<MapStream>>();
  /** Open streams by the high bits of their token's fingerprint (the low bits are checked on use). */
  private readonly byToken = new Map<number, Set<MapStream>>();
  /** Events whose map changed since their last push. */
  private readonly dirty = new Set<number>();
  /** When each event's streams were last sent changes: never again within the period. */
  private readonly pushedAt = new Map<number, number>();
  /**
   * Each event's snapshot, reused by everyone who opens a stream until the next push of its changes: the changes made
   * after it was taken are still pending then, and reach its streams with that push. At a hall's opening a snapshot is
   * thousands of ids, and the map changes every few milliseconds.
   */
  private readonly snapshots = new Map<number, { version: number; seats: Seats; bytes: Uint8Array }>();
  private readonly timers: ReturnType<typeof setInterval>[];
  private open = 0;

  constructor(
    private readonly maps: SeatMapViews,
    /** Whether a token still admits: looked at on every ping, in case its end was missed. */
    private readonly stillActive: (key: FingerprintKey, queueId: number) => boolean,
    timing: MapStreamTiming = DEFAULT_TIMING,
  ) {
    maps.onChange((eventId) => this.changed(eventId));
    observe("seat_map_streams_open", "Live seat map streams open on this instance", [], () => [{ labels: {}, value: this.open }]);
    this.timers = [
      setInterval(() => this.push(timing.changesEveryMs), timing.changesEveryMs / PUSH_TICKS_PER_PERIOD),
      setInterval(() => this.ping(), timing.pingEveryMs),
    ];
  }

  /** A stream of the event's seat map for a token already found ACTIVE and admitting to it (the caller checks both). */
  async connect(eventId: number, admittedTo: number, key: FingerprintKey): Promise<Response> {
    await this.maps.map(eventId, admittedTo);
    const first = this.snapshotOf(eventId);
    let stream: MapStream | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        controller.enqueue(first.bytes);
        stream = { eventId, key: { ...key }, queueId: admittedTo, controller, told: first.seats };
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

  /** The token's turn is over: its streams end. */
  tokenEnded(key: FingerprintKey): void {
    for (const stream of [...(this.byToken.get(key.hi) ?? [])]) {
      if (stream.key.lo === key.lo) this.end(stream, TOKEN_ENDED);
    }
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    for (const set of this.streams.values()) for (const stream of [...set]) this.end(stream);
  }

  get count(): number {
    return this.open;
  }

  private snapshotOf(eventId: number): { version: number; seats: Seats; bytes: Uint8Array } {
    const known = this.snapshots.get(eventId);
    if (known) return known;
    const version = this.maps.version(eventId);
    const seats = this.maps.viewOf(eventId)!.availableIds();
    const snapshot = { version, seats, bytes: frame("snapshot", `{"version":${version},"available":[${seats.join(",")}]}`) };
    this.snapshots.set(eventId, snapshot);
    return snapshot;
  }

  private add(stream: MapStream): void {
    const byEvent = this.streams.get(stream.eventId) ?? new Set<MapStream>();
    this.streams.set(stream.eventId, byEvent.add(stream));
    const byToken = this.byToken.get(stream.key.hi) ?? new Set<MapStream>();
    this.byToken.set(stream.key.hi, byToken.add(stream));
    this.open++;
  }

  private remove(stream: MapStream): void {
    const byEvent = this.streams.get(stream.eventId);
    if (!byEvent?.delete(stream)) return;
    this.open--;
    if (byEvent.size === 0) this.streams.delete(stream.eventId);
    const byToken = this.byToken.get(stream.key.hi)!;
    byToken.delete(stream);
    if (byToken.size === 0) this.byToken.delete(stream.key.hi);
  }

  private end(stream: MapStream, last?: Uint8Array): void {
    this.remove(stream);
    try {
      if (last) stream.controller.enqueue(last);
      stream.controller.close();
    } catch {
      // The client went away first.
    }
  }

  private send(stream: MapStream, chunk: Uint8Array): void {
    try {
      stream.controller.enqueue(chunk);
    } catch {
      this.remove(stream);
    }
  }

  /** A map changed: its streams are brought up to it with the next push. */
  private changed(eventId: number): void {
    // Nobody watches: a snapshot kept from before would be stale, and the next stream takes a new one.
    if (!this.streams.has(eventId)) return void this.snapshots.delete(eventId);
    this.dirty.add(eventId);
  }

  /**
   * One message per watched event that changed: the seats whose state differs from what its streams were told. The
   * streams told the same thing (the last push, or one snapshot) get the same bytes.
   */
  private push(periodMs: number): void {
    const now = performance.now();
    for (const eventId of this.dirty) {
      if (now - (this.pushedAt.get(eventId) ?? -Infinity) < periodMs) continue;
      const map = this.maps.viewOf(eventId);
      // A copy not trusted right now (being rebuilt): the event stays marked, and is pushed once it is.
      if (!map) continue;
      this.dirty.delete(eventId);
      this.snapshots.delete(eventId);
      const streams = this.streams.get(eventId);
      if (!streams) continue;
      this.pushedAt.set(eventId, now);
      const version = this.maps.version(eventId);
      const seats = map.availableIds();
      const frames = new Map<Seats, Uint8Array | undefined>();
      for (const stream of streams) {
        if (!frames.has(stream.told)) frames.set(stream.told, changesFrame(version, stream.told, seats));
        const message = frames.get(stream.told);
        stream.told = seats;
        if (message) this.send(stream, message);
      }
    }
  }

  private ping(): void {
    for (const set of this.streams.values()) {
      for (const stream of [...set]) {
        if (this.stillActive(stream.key, stream.queueId)) this.send(stream, PING);
        else this.end(stream, TOKEN_ENDED);
      }
    }
  }
}

/** The `changes` message from the seats `before` to the seats `after` (both sorted), or undefined when they are equal. */
function changesFrame(version: number, before: Seats, after: Seats): Uint8Array | undefined {
  const taken: number[] = [];
  const freed: number[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const was = before[i] ?? Infinity;
    const is = after[j] ?? Infinity;
    if (was === is) (i++, j++);
    else if (was < is) (taken.push(was), i++);
    else (freed.push(is), j++);
  }
  return taken.length + freed.length === 0 ? undefined : frame("changes", JSON.stringify({ version, taken, freed }));
}
