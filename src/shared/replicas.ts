// Read models that every instance keeps of entities another instance owns: a queue's places, an event's seat map. The
// owner keeps the committed model (what its actor has committed, nothing more) and publishes each commit's changes,
// numbered, and every 50 ms which version it has reached; every instance applies the changes in order to its copy, and
// one that missed a change (a gap, a beat ahead of it, a new incarnation after the actor reloaded or moved) copies the
// owner's whole model again, in pages of one version, and starts over from there. A copy is trusted only while whole
// and heard from within the last 250 ms: whoever answers from it never answers from a model it cannot vouch for.
//
// The kinds differ in what they hold and how it travels (their codecs); the following is the same for both.
import { randomBytes } from "node:crypto";
import type { Bus } from "./bus";
import { fail, ok, type Reply } from "./codec";
import { AppError, type ErrorCode } from "./errors";
import { log } from "./log";
import type { ViewPageRequest } from "./messages";

/** A copy older than this is not trusted: the contract's bound on how old a queue status may be. */
export const MAX_STALENESS_MS = 250;
/** How often an owner tells every instance which version of its models it has committed. */
export const HEARTBEAT_MS = 50;
/** How long a request waits for a copy that is not trusted right now (a hand-over) before it is answered 503. */
const HANDOVER_WAIT_MS = 1000;
/** How long an owner keeps the pages of one version of a model for the copies fetching them, and how many versions. */
const PAGES_KEPT_MS = 30_000;
const VERSIONS_KEPT = 3;

/** How one kind of model is changed and how it travels: whole, in pages, and change by change. */
export interface ViewCodec<View, Change, First, Page> {
  apply(view: View, change: Change): void;
  /** The model as a first page (everything but the bulk, and the bulk's start) and the rest of the bulk. */
  cut(view: View, pageSize: number): { state: First; rest: Page[] };
  build(state: First): View;
  absorb(view: View, page: Page): void;
  /**
   * What a copy rebuilt from pages differs by from the copy it replaces, as changes: the listeners heard neither the
   * changes the copy missed (why it was rebuilt) nor the rebuild, and would go on from the old model otherwise.
   * Needed where listeners keep state of their own from the changes (the live seat map streams).
   */
  diff?(before: View, after: View): Change[];
}

/** The first page of a copy: the model at one version, and how many pages it has. */
export interface Snapshot<First> {
  incarnation: string;
  version: number;
  pages: number;
  state: First;
}

/** A commit's changes as the owner publishes them: one version each, at most `perMessage` changes. */
export interface Published<Change> {
  incarnation: string;
  version: number;
  changes: Change[];
}

// ---- the owner's side ---------------------------------------------------------------------------------------------

/**
 * An owner's committed model. A new one (a new incarnation) for every load of the actor, so copies that followed an
 * earlier one know to start over.
 */
export class CommittedView<View, Change, First, Page> {
  readonly incarnation = randomBytes(6).toString("base64url");
  version = 0;
  private readonly kept = new Map<number, { first: Snapshot<First>; rest: Page[] }>();

  constructor(
    readonly view: View,
    private readonly codec: ViewCodec<View, Change, First, Page>,
    private readonly pageSize: number,
  ) {}

  /**
   * Applies a commit's changes and returns what to publish, after the commit and before its replies: whoever holds an
   * answer can already find its change in every copy. A large commit goes out as several versions in a row, each a
   * prefix of its changes in order, so no message grows with a commit.
   */
  commit(changes: Change[], perMessage: number): Published<Change>[] {
    const out: Published<Change>[] = [];
    for (let at = 0; at < changes.length || at === 0; at += perMessage) {
      const part = changes.slice(at, at + perMessage);
      for (const change of part) this.codec.apply(this.view, change);
      out.push({ incarnation: this.incarnation, version: ++this.version, changes: part });
    }
    return out;
  }

  /**
   * A page of the model for an instance building its copy. Page 0 cuts the model at its current version (shared by
   * every copy that asks at that version); later pages must name that version, which is kept for a while: a copy that
   * asks too late starts over.
   */
  page(request: ViewPageRequest): Reply<Snapshot<First> | Page> {
    const page = request.page ?? 0;
    if (page === 0) return ok(this.cut().first);
    const kept = request.incarnation === this.incarnation ? this.kept.get(request.version ?? -1) : undefined;
    if (!kept || page > kept.rest.length) return fail("service_unavailable");
    return ok(kept.rest[page - 1]!);
  }

  private cut(): { first: Snapshot<First>; rest: Page[] } {
    const { version, incarnation, kept } = this;
    const known = kept.get(version);
    if (known) return known;
    const { state, rest } = this.codec.cut(this.view, this.pageSize);
    const cut = { first: { incarnation, version, pages: rest.length + 1, state }, rest };
    kept.set(version, cut);
    if (kept.size > VERSIONS_KEPT) kept.delete(kept.keys().next().value!);
    setTimeout(() => kept.get(version) === cut && kept.delete(version), PAGES_KEPT_MS).unref();
    return cut;
  }
}

// ---- every instance's copies --------------------------------------------------------------------------------------

interface Tracked<View, Change> {
  id: number;
  view?: View;
  /** The last copy the listeners followed, kept while the copy is not trusted, for the next rebuild's diff. */
  stale?: View;
  incarnation?: string;
  version: number;
  lastHeard: number;
  /** Heartbeats and changes heard so far, for those waiting for the owner's next beats. */
  beats: number;
  syncing?: Promise<void>;
  buffer: Published<Change>[];
  waiters: Set<() => void>;
}

/** Where the copies come from: the owner's pages, the owner's own model where this instance owns the entity. */
export interface ReplicaSource<View> {
  /** For logs: "queue", "event". */
  name: string;
  /** The subject that answers page requests for one entity. */
  pagesSubject(id: number): string;
  /** The owner's answer when the entity does not exist: its copy is dropped. */
  missingCode: ErrorCode;
  /** The committed model where this instance owns the entity: exact and current without any message. */
  owned(id: number): View | undefined;
  /** The same for an entity this instance owns but has not loaded (an event's actor starts on demand): loads it. */
  load?(id: number): Promise<View | undefined>;
  checkFirst(value: unknown): boolean;
  checkPage(value: unknown): boolean;
}

export type Readiness = "ready" | "missing" | "unready";

export class Replicas<View, Change, First, Page> {
  private readonly tracked = new Map<number, Tracked<View, Change>>();
  private readonly listeners: ((id: number, changes: Change[]) => void)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly codec: ViewCodec<View, Change, First, Page>,
    private readonly source: ReplicaSource<View>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called with every batch of changes applied to a copy, or committed by this instance as the owner. */
  onChange(listener: (id: number, changes: Change[]) => void): void {
    this.listeners.push(listener);
  }

  /** The model to answer from: the committed one where this instance owns the entity, else a whole, fresh copy. */
  viewOf(id: number): View | undefined {
    const owned = this.source.owned(id);
    if (owned) return owned;
    const t = this.tracked.get(id);
    return t && this.fresh(t) ? t.view : undefined;
  }

  /**
   * Waits, a little, for a model to answer from: an entity not yet heard of is copied from its owner first, and a copy
   * not trusted right now (a hand-over) gets a fraction of a second to be trusted again.
   */
  async ready(id: number): Promise<Readiness> {
    if (await this.ownedView(id)) return "ready";
    let t = this.tracked.get(id);
    if (!t) {
      t = this.track(id);
      await this.resync(t);
      if (this.tracked.get(id) !== t) return (await this.ownedView(id)) ? "ready" : "missing";
    }
    // A hand-over: the old owner went quiet, and the new one (this instance, perhaps) is about to speak or load.
    const until = this.now() + HANDOVER_WAIT_MS;
    while (!this.fresh(t) && this.now() < until) {
      if (await this.ownedView(id)) return "ready";
      await this.until(t, () => this.fresh(t), HEARTBEAT_MS);
    }
    return this.viewOf(id) ? "ready" : "unready";
  }

  private async ownedView(id: number): Promise<View | undefined> {
    return this.source.owned(id) ?? (await this.source.load?.(id));
  }

  /** Resolves after the owner's next `beats` heartbeats (or changes), or as soon as the copy is no longer trusted. */
  async beatsLater(id: number, beats: number): Promise<void> {
    const t = this.tracked.get(id);
    if (!t) return;
    const target = t.beats + beats;
    await this.until(t, () => t.beats >= target || !this.fresh(t), MAX_STALENESS_MS);
  }

  onChanges(id: number, message: Published<Change>): void {
    const t = this.followed(id);
    if (!t) return this.notify(id, message.changes);
    if (t.syncing) return void t.buffer.push(message);
    if (message.incarnation === t.incarnation && message.version <= t.version) return;
    if (message.incarnation !== t.incarnation || message.version !== t.version + 1) {
      t.buffer.push(message);
      return void this.resync(t);
    }
    this.applyChanges(t, message);
    this.heard(t);
  }

  onBeat(id: number, incarnation: string, version: number): void {
    const t = this.followed(id);
    if (!t || t.syncing) return;
    // Changes travel ahead of the beat that counts them: a beat ahead of the copy means a change was lost.
    if (incarnation !== t.incarnation || version > t.version) void this.resync(t);
    else this.heard(t);
  }

  close(): void {
    for (const t of this.tracked.values()) this.wake(t);
  }

  /**
   * This instance's own entities are answered from their committed models, which its commits have already changed: a
   * copy of them would only cost memory. Their changes still reach the listeners.
   */
  private followed(id: number): Tracked<View, Change> | undefined {
    if (this.source.owned(id)) {
      this.tracked.delete(id);
      return undefined;
    }
    return this.tracked.get(id) ?? this.track(id);
  }

  private track(id: number): Tracked<View, Change> {
    const t: Tracked<View, Change> = { id, version: 0, lastHeard: 0, beats: 0, buffer: [], waiters: new Set() };
    this.tracked.set(id, t);
    return t;
  }

  private fresh(t: Tracked<View, Change>): boolean {
    return t.view !== undefined && !t.syncing && this.now() - t.lastHeard <= MAX_STALENESS_MS;
  }

  private heard(t: Tracked<View, Change>): void {
    t.lastHeard = this.now();
    t.beats++;
    this.wake(t);
  }

  private wake(t: Tracked<View, Change>): void {
    for (const waiter of [...t.waiters]) waiter();
  }

  /** Resolves once `done()` holds, looked at whenever the owner is heard from or the copy is rebuilt, or after `ms`. */
  private until(t: Tracked<View, Change>, done: () => boolean, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        t.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const check = () => done() && finish();
      const timer = setTimeout(finish, ms);
      t.waiters.add(check);
    });
  }

  private applyChanges(t: Tracked<View, Change>, message: Published<Change>): void {
    for (const change of message.changes) this.codec.apply(t.view!, change);
    t.version = message.version;
    this.notify(t.id, message.changes);
  }

  private notify(id: number, changes: Change[]): void {
    for (const listener of this.listeners) listener(id, changes);
  }

  /** Copies the owner's committed model page by page, then applies what arrived meanwhile; not trusted until done. */
  private resync(t: Tracked<View, Change>): Promise<void> {
    t.syncing ??= (async () => {
      const subject = this.source.pagesSubject(t.id);
      try {
        const first = await this.bus.request<Snapshot<First>>(subject, { page: 0 });
        if (!this.source.checkFirst(first)) throw new Error(`${this.source.name} ${t.id}: malformed snapshot`);
        const view = this.codec.build(first.state);
        const { incarnation, version } = first;
        for (let page = 1; page < first.pages; page++) {
          const rest = await this.bus.request<Page>(subject, { page, incarnation, version });
          if (!this.source.checkPage(rest)) throw new Error(`${this.source.name} ${t.id}: malformed page ${page}`);
          this.codec.absorb(view, rest);
        }
        const later = t.buffer.filter((m) => m.incarnation === incarnation && m.version > version);
        const before = t.view ?? t.stale;
        Object.assign(t, { view, incarnation, version, stale: undefined });
        const missed = before && this.codec.diff ? this.codec.diff(before, view) : [];
        if (missed.length > 0) this.notify(t.id, missed);
        for (const message of later.sort((a, b) => a.version - b.version)) {
          if (message.version !== t.version + 1) throw new Error(`${this.source.name} ${t.id}: change ${t.version + 1} missing`);
          this.applyChanges(t, message);
        }
        t.lastHeard = this.now();
      } catch (error) {
        // Its next heartbeat tries again; until then the copy is not trusted. An entity that does not exist is dropped.
        t.stale = t.view ?? t.stale;
        t.view = undefined;
        t.incarnation = undefined;
        if (error instanceof AppError && error.code === this.source.missingCode) this.tracked.delete(t.id);
        else if (!(error instanceof AppError)) log.warn("read model could not be copied", { [this.source.name]: t.id, error: String(error) });
      } finally {
        t.buffer = [];
        t.syncing = undefined;
        this.wake(t);
      }
    })();
    return t.syncing;
  }
}
