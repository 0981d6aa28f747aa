// Domain events that are never lost: a change's events are written to `event_outbox` by the same transaction (or the
// same single statement) as the change itself, so they exist exactly when the change does. One row per commit holds
// all of its events, as group commit makes one transaction of many changes: a row per event cost PGlite about 15 µs
// per event more (measured inside a commit), which a rush of holds, each one event, pays in full. Event i of row `id`
// is published to the JetStream stream RSV_EVENTS with `Nats-Msg-Id` = `<id>:<i>`; the row is deleted once JetStream
// has acknowledged all of its events.
//
// Two ways out of the table. Right after its commit, the committing instance publishes the events it just wrote
// (the fast path: no read of the table, the events are still in memory). Whatever is still in the table a few
// seconds later (the process died between the commit and the publish, NATS was down, an ack never came) is swept:
// any instance claims a page of such rows (FOR UPDATE SKIP LOCKED, and a claim that lapses if its instance dies),
// publishes them in id order and deletes them once acknowledged. An event published twice (the fast path was slow
// and the sweep took it too, or the delete was lost with the process) carries the same Nats-Msg-Id both times, and
// the stream's duplicate window stores it once.
import { BoundedSet } from "./bounded";
import { createInbox, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from "nats";
import { MSG_ID_HEADER, SERVICE_INBOX_PREFIX } from "./bus";
import type { Queryable, Database } from "./db";
import { log } from "./log";
import { outboxBacklog, outboxPublished } from "./metrics";
import type { Outgoing } from "./subjects";

/** One domain event, its payload the JSON the codec would send. */
export interface DomainEvent {
  readonly subject: string;
  readonly payload: string;
}

/** The events of one commit: one outbox row. Ids are UUIDv7, unique across instances and in the order they were made. */
export interface OutboxEntry {
  readonly id: string;
  readonly events: readonly DomainEvent[];
}

export function outboxEntry(messages: readonly Outgoing[]): OutboxEntry {
  return { id: Bun.randomUUIDv7(), events: messages.map(({ subject, body }) => ({ subject, payload: JSON.stringify(body) })) };
}

/** Event `index` of an entry as the stream knows it. */
export const eventMsgId = (entry: OutboxEntry, index: number) => `${entry.id}:${index}`;

/** The row's `events`: a JSON array of [subject, body], made of the payloads already encoded. */
const rowText = (entry: OutboxEntry) => `[${entry.events.map((e) => `[${JSON.stringify(e.subject)},${e.payload}]`).join(",")}]`;

function entryOfRow(id: string, text: string): OutboxEntry {
  const events = (JSON.parse(text) as [string, unknown][]).map(([subject, body]) => ({ subject, payload: JSON.stringify(body) }));
  return { id, events };
}

/**
 * The INSERT that records an entry, its two parameters numbered from `first`; `when` is a condition (over the
 * statement's other CTEs) for a single-statement commit whose change may be refused. A commit without events
 * (a refused payment, say) writes no row.
 */
export function recordEventsSql(first: number, when = "true"): string {
  return `INSERT INTO event_outbox (id, events) SELECT $${first}::uuid, $${first + 1}::text WHERE $${first + 1}::text <> '[]' AND ${when}`;
}

export const recordEventsParams = (entry: OutboxEntry): unknown[] => [entry.id, rowText(entry)];

/** Records an entry inside the transaction of its change. */
export async function recordEvents(tx: Queryable, entry: OutboxEntry): Promise<void> {
  if (entry.events.length > 0) await tx.query(recordEventsSql(1), recordEventsParams(entry));
}

export interface RelayOptions {
  /** The instance's name, stable across its restarts: a restarted instance takes back the pages it had claimed. */
  instance: string;
  /** How often the table is swept for events the fast path did not get out. */
  sweepEveryMs: number;
  /** Rows younger than this are left to the fast path of the instance that wrote them. */
  staleAfterMs: number;
  /** How long a sweeping instance has a page to itself; a dead sweeper's page is taken again after it. */
  claimMs: number;
  /** Rows per page of a sweep. */
  pageSize: number;
  /** Events awaiting their ack; past it, the fast path leaves events to the sweep instead of queueing them in memory. */
  maxInFlight: number;
  /** How long a publish waits for JetStream's ack. */
  ackTimeoutMs: number;
}

const DEFAULTS: RelayOptions = { instance: "", sweepEveryMs: 1000, staleAfterMs: 3000, claimMs: 30_000, pageSize: 100, maxInFlight: 20_000, ackTimeoutMs: 5000 };

/** Rows whose events were all acknowledged are deleted together, at most this long after the first of them. */
const DELETE_EVERY_MS = 50;
const MAX_SWEEP_BACKOFF_MS = 30_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An entry being published: how many of its events are still unanswered, and whether one was refused. */
interface Publishing {
  entry: OutboxEntry;
  unanswered: number;
  refused: boolean;
  /** Set when someone (a sweep) waits for the outcome. */
  done?: (acknowledged: boolean) => void;
}

/** One event waiting for JetStream's ack. */
interface Awaiting {
  publishing: Publishing;
  sentAt: number;
}

/**
 * JetStream's answer to a publish: `{"stream":…,"seq":…}` when stored (or dropped as a repeat), `{"error":…}` when
 * refused; an empty message with a status header when nobody stores the subject.
 */
const isAck = (data: Uint8Array) => data.length > 0 && !decoder.decode(data).includes('"error"');

export class OutboxRelay {
  readonly #options: RelayOptions;
  /**
   * Acks come back on one subscription of our own, to `<inbox>.<n>`, instead of through `jetstream().publish`: that
   * call costs about 55 µs of this process's CPU per event (a promise, a timer and a request of its own each), this
   * about 12, and a checkout rush publishes several events per request.
   */
  readonly #inbox = createInbox(SERVICE_INBOX_PREFIX);
  readonly #awaiting = new Map<string, Awaiting>();
  #acks: Subscription | undefined;
  #next = 0;
  #timeouts: ReturnType<typeof setInterval> | undefined;
  #acked: string[] = [];
  #deleteTimer: ReturnType<typeof setTimeout> | undefined;
  #deleting: Promise<void> = Promise.resolve();
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  #sweeping: Promise<void> = Promise.resolve();
  #sweepDelayMs: number;
  #stopped = false;
  #warned = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly db: Database,
    private readonly connected: () => boolean,
    options: Partial<RelayOptions> = {},
  ) {
    this.#options = { ...DEFAULTS, ...options };
    this.#sweepDelayMs = this.#options.sweepEveryMs;
    this.#acks = nc.subscribe(`${this.#inbox}.*`, { callback: (error, msg) => !error && this.#answered(msg) });
    this.#timeouts = setInterval(() => this.#expireWaits(), Math.min(1000, this.#options.ackTimeoutMs));
  }

  /**
   * Sweeps now (what an earlier run left behind, including the pages it had claimed when it died) and from now on,
   * and at once whenever NATS comes back.
   */
  async start(): Promise<void> {
    await this.db.query(`UPDATE event_outbox SET claimed_until = '-infinity' WHERE claimed_by = $1`, [this.#options.instance]);
    this.#sweepSoon(0);
    void this.#sweepOnReconnect();
  }

  async #sweepOnReconnect(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (this.#stopped) return;
      if (status.type !== "reconnect") continue;
      this.#sweepDelayMs = this.#options.sweepEveryMs;
      // A sweep under way schedules the next one when it ends; otherwise the pending one is brought forward.
      if (this.#sweepTimer === undefined) continue;
      clearTimeout(this.#sweepTimer);
      this.#sweepSoon(0);
    }
  }

  /**
   * The fast path: the events a commit just recorded go out at once, in their order. An entry not wholly acknowledged
   * stays in the table for the sweep.
   */
  publish(entry: OutboxEntry): void {
    if (this.#stopped || entry.events.length === 0 || !this.connected()) return;
    if (this.#awaiting.size + entry.events.length > this.#options.maxInFlight) return;
    this.#send(entry);
  }

  #send(entry: OutboxEntry, done?: (acknowledged: boolean) => void): void {
    if (entry.events.length === 0) return done?.(true);
    const publishing: Publishing = { entry, unanswered: entry.events.length, refused: false, done };
    const sentAt = performance.now();
    entry.events.forEach((event, index) => {
      const token = (this.#next++).toString(36);
      const headers = natsHeaders();
      headers.set(MSG_ID_HEADER, eventMsgId(entry, index));
      try {
        this.nc.publish(event.subject, encoder.encode(event.payload), { headers, reply: `${this.#inbox}.${token}` });
        this.#awaiting.set(token, { publishing, sentAt });
      } catch (error) {
        this.#answer(publishing, false, error);
      }
    });
  }

  /** Resolves to whether JetStream acknowledged every event of the entry. */
  #sent(entry: OutboxEntry): Promise<boolean> {
    return new Promise((resolve) => this.#send(entry, resolve));
  }

  #answered(msg: Msg): void {
    const token = msg.subject.slice(this.#inbox.length + 1);
    const awaiting = this.#awaiting.get(token);
    if (!awaiting) return;
    this.#awaiting.delete(token);
    const acknowledged = isAck(msg.data);
    const refusal = acknowledged ? undefined : new Error(`the event stream refused an event: ${decoder.decode(msg.data) || msg.headers?.description || "no stream"}`);
    this.#answer(awaiting.publishing, acknowledged, refusal);
  }

  #answer(publishing: Publishing, acknowledged: boolean, refusal?: unknown): void {
    if (acknowledged) outboxPublished.inc();
    else {
      publishing.refused = true;
      this.#warnOnce(refusal);
    }
    publishing.unanswered -= 1;
    if (publishing.unanswered > 0) return;
    if (!publishing.refused) this.#acknowledged(publishing.entry.id);
    publishing.done?.(!publishing.refused);
  }

  /** Waits are kept in the order they began, so the expired ones are at the front. */
  #expireWaits(): void {
    const before = performance.now() - this.#options.ackTimeoutMs;
    for (const [token, awaiting] of this.#awaiting) {
      if (awaiting.sentAt > before) return;
      this.#awaiting.delete(token);
      this.#answer(awaiting.publishing, false, new Error("no ack from the event stream in time"));
    }
  }

  #warnOnce(error: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    log.warn("domain events not acknowledged by the event stream: they stay in the outbox and are sent again", { error: String(error) });
  }

  #acknowledged(id: string): void {
    this.#warned = false;
    this.#acked.push(id);
    this.#deleteTimer ??= setTimeout(() => {
      this.#deleteTimer = undefined;
      this.#deleting = this.#deleting.then(() => this.#deleteAcked());
    }, DELETE_EVERY_MS);
  }

  /** A delete that fails leaves the rows to be sent again; the stream drops the repeats. */
  async #deleteAcked(): Promise<void> {
    const ids = this.#acked;
    this.#acked = [];
    if (ids.length === 0) return;
    await this.db.query(`DELETE FROM event_outbox WHERE id = ANY($1::uuid[])`, [ids]).catch((error) => {
      log.warn("could not delete published events from the outbox; they will be sent again", { error: String(error) });
    });
  }

  #sweepSoon(delayMs: number): void {
    if (this.#stopped) return;
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined;
      this.#sweeping = this.#sweep().then(
        (more) => this.#sweepSoon(more ? 0 : this.#sweepDelayMs),
        () => this.#sweepSoon(this.#sweepDelayMs),
      );
    }, delayMs);
  }

  /** One page of stale events out; says whether there may be more. Failures back the sweep off, up to 30 s. */
  async #sweep(): Promise<boolean> {
    if (!this.connected()) return false;
    const rows = await this.#claimPage().catch(() => []);
    outboxBacklog.set(rows.length);
    if (rows.length === 0) return false;
    const sent = await Promise.all(rows.map((row) => this.#sent(row)));
    const failed = rows.filter((_, i) => !sent[i]).map((row) => row.id);
    if (failed.length === 0) {
      this.#sweepDelayMs = this.#options.sweepEveryMs;
      return rows.length === this.#options.pageSize;
    }
    // Unclaimed at once, so that the next sweep (here or elsewhere) takes them as soon as the stream is back.
    await this.db.query(`UPDATE event_outbox SET claimed_until = '-infinity' WHERE id = ANY($1::uuid[])`, [failed]).catch(() => undefined);
    this.#sweepDelayMs = Math.min(MAX_SWEEP_BACKOFF_MS, this.#sweepDelayMs * 2);
    return false;
  }

  async #claimPage(): Promise<OutboxEntry[]> {
    const { staleAfterMs, claimMs, pageSize } = this.#options;
    const rows = await this.db.query<{ id: string; events: string }>(
      `WITH due AS (SELECT id FROM event_outbox
                     WHERE created_at < now() - $1 * interval '1 millisecond' AND claimed_until < now()
                     ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
       UPDATE event_outbox o SET claimed_until = now() + $2 * interval '1 millisecond', claimed_by = $4 FROM due WHERE o.id = due.id
       RETURNING o.id::text AS id, o.events`,
      [staleAfterMs, claimMs, pageSize, this.#options.instance],
    );
    return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((row) => entryOfRow(row.id, row.events));
  }

  /** Stops sweeping; waits for the publishes in flight and deletes what they got acknowledged. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#sweepTimer);
    await this.#sweeping;
    const until = Date.now() + this.#options.ackTimeoutMs;
    while (this.#awaiting.size > 0 && Date.now() < until && !this.nc.isClosed()) await Bun.sleep(10);
    clearInterval(this.#timeouts);
    this.#acks?.unsubscribe();
    clearTimeout(this.#deleteTimer);
    this.#deleteTimer = undefined;
    await this.#deleting;
    await this.#deleteAcked();
  }
}

/**
 * The last `capacity` ids seen, for a reader of domain events to drop a repeat: `add` says whether the id is new.
 * The oldest is forgotten first; a Set keeps insertion order, so that costs nothing.
 */
export class RecentIds {
  readonly #seen: BoundedSet<number | string>;

  /** Remembers at least the last `capacity / 2` ids. */
  constructor(capacity: number) {
    this.#seen = new BoundedSet(capacity);
  }

  add(id: number | string): boolean {
    if (this.#seen.has(id)) return false;
    this.#seen.add(id);
    return true;
  }
}
