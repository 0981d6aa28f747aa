// Decides which instance owns each single-owner actor (every concert event, and the queue), so any number of
// instances can share one NATS and one PostgreSQL. The decision is a lease row in PostgreSQL (ownership-store.ts):
// taking an entity bumps its epoch, every actor commit is fenced by that epoch, and a lease not renewed runs out.
// Which instance *should* own an entity is rendezvous hashing over the live instances, so ownership spreads, and a
// join or leave moves only the entities that must move. Moves are graceful: the old owner stops taking commands,
// answers the ones it accepted, releases the lease, and nudges the new owner to take it at once.
import { ErrorCode, type NatsConnection, type Service, type Subscription } from "nats";
import type { Publisher } from "../shared/bus";
import { decode, encode, ok, unwrap, type Reply } from "../shared/codec";
import type { Database, Queryable } from "../shared/db";
import { AppError } from "../shared/errors";
import { log } from "../shared/log";
import { fencedCommits } from "../shared/metrics";
import { Api, EntityRequest, type OwnershipChanged } from "../shared/messages";
import { addService, endpoint, parseAs } from "../shared/nats-service";
import {
  claim,
  entityExists,
  eventEntity,
  FencedError,
  heartbeat,
  leaseHolder,
  leave,
  queueEntity,
  queueIdOf,
  readPlacement,
  release,
  renew,
  type Entity,
} from "./ownership-store";
import { Events, Requests } from "../shared/subjects";

/**
 * This instance's hold on one entity: the epoch its commits carry, and until when (on this process's monotonic clock)
 * the lease is surely still its own. Commits are fenced by the database; answers straight from memory (a read, a
 * refusal) are not, so an owner gives them only while `valid()`: one that was frozen past its lease and wakes up
 * does not answer from a memory another instance has moved beyond.
 */
export class Lease {
  constructor(
    readonly epoch: number,
    private validUntil: number,
  ) {}

  valid(): boolean {
    return performance.now() < this.validUntil;
  }

  /** The database extended the lease by `leaseMs` at some moment after `askedAt`. */
  extend(askedAt: number, leaseMs: number): void {
    this.validUntil = askedAt + leaseMs - LEASE_MARGIN_MS;
  }

  /** Not to be trusted until the next renewal says it is still ours. */
  suspend(): void {
    this.validUntil = 0;
  }
}

/** Allowance for the local clock running slower than the database's over one lease. */
const LEASE_MARGIN_MS = 100;

/**
 * For an actor's commit adapter: a commit the database refused means another instance owns the entity now. Stop
 * answering at once; the coordinator's next renewal finds the lease gone and stops serving the entity.
 */
export function whenFenced(lease: Lease, actor: string, entity: Entity) {
  return (error: unknown): never => {
    if (error instanceof FencedError) {
      fencedCommits.inc({ actor });
      lease.suspend();
      log.warn("commit refused: ownership moved on", { entity, epoch: lease.epoch });
    }
    throw error;
  };
}

/** What hosts an owned entity's actor on this instance. */
export interface OwnerHost {
  /**
   * Runs inside the transaction that hands the entity to this instance, under the new epoch and before `acquire`: the
   * place to settle what lapsed while nobody owned it.
   */
  onClaim?(entity: Entity, tx: Queryable): Promise<void>;
  /** Starts serving the entity; every commit it makes from now carries the lease's epoch. */
  acquire(entity: Entity, lease: Lease): Promise<void>;
  /** Stops serving it; `graceful` first answers every command already accepted. */
  relinquish(entity: Entity, graceful: boolean): Promise<void>;
}

export interface OwnershipOptions {
  instance: string;
  leaseMs: number;
  /** The database belongs to this process alone (PGlite): take everything at start without waiting out old leases. */
  exclusive: boolean;
}

/** Resolves once `done` holds, checking every few milliseconds, or after `limitMs` whatever it says. */
export async function settled(done: () => boolean, limitMs: number): Promise<void> {
  const until = Date.now() + limitMs;
  while (!done() && Date.now() < until) await Bun.sleep(5);
}

/** Where an instance takes nudges (`take`) and answers liveness checks (`ping`). */
/** The Nats-Msg-Id of an ownership notice: unlike the outbox's ids (`<row>:<place>`), it is made of the change itself. */
export const ownershipMsgId = (entity: Entity, epoch: number, kind: "acquired" | "released" | "lost") => `ownership:${entity}:${epoch}:${kind}`;
const nodeSubject = (instance: string, what: "take" | "ping" | "*") => `rsv.ownership.node.${instance.replace(/[^A-Za-z0-9_-]/g, "_")}.${what}`;

/**
 * Rendezvous (highest random weight) hashing: every instance computes the same owner from the same membership, and
 * an instance joining or leaving changes the preferred owner only of the entities it wins or held.
 */
export function preferredOwner(entity: Entity, live: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const instance of live) {
    const score = BigInt(Bun.hash.wyhash(`${entity}|${instance}`));
    if (score > bestScore) [best, bestScore] = [instance, score];
  }
  return best;
}

function entityOfNudge(data: Uint8Array): Entity | undefined {
  return parseAs(EntityRequest, data)?.entity;
}

/** The entity a request subject is for: `rsv.event.<id>.*` → an event, `rsv.queue.<id>.*` → a queue. */
export function entityOfSubject(subject: string): Entity | undefined {
  const event = /^rsv\.event\.(\d+)\./.exec(subject);
  if (event) return eventEntity(Number(event[1]));
  const queue = /^rsv\.queue\.(\d+)\./.exec(subject);
  return queue ? queueEntity(Number(queue[1])) : undefined;
}

/**
 * Called by the HTTP side when nobody serves a subject: asks any instance to get the entity an owner, and learns
 * that way whether it exists at all. Nobody having received the request, it is safe to send again afterwards.
 */
export async function requestOwner(subject: string, nc: NatsConnection, timeoutMs: number): Promise<void> {
  const entity = entityOfSubject(subject);
  if (!entity) return;
  let reply: Reply<null>;
  try {
    reply = decode<Reply<null>>((await nc.request(Requests.claimOwner, encode({ entity }), { timeout: timeoutMs })).data);
  } catch {
    return; // No coordinator reachable either: the caller keeps retrying until its deadline.
  }
  unwrap(reply);
}

export class Ownership {
  private readonly owned = new Map<Entity, Lease>();
  private live: string[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | undefined;
  private service: Service | undefined;
  private nudges: Subscription | undefined;
  private readonly lastWanted = new Map<Entity, number>();
  private stopping = false;

  constructor(
    private readonly db: Database,
    private readonly nc: NatsConnection,
    private readonly bus: Publisher,
    private readonly options: OwnershipOptions,
    private readonly hosts: { events: OwnerHost; queue: OwnerHost },
  ) {}

  private get instance(): string {
    return this.options.instance;
  }

  private hostOf(entity: Entity): OwnerHost {
    return queueIdOf(entity) === undefined ? this.hosts.events : this.hosts.queue;
  }

  /** Ownership changes run one at a time, so a tick, a nudge and a claim request never interleave. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  async start(): Promise<void> {
    const { instance, leaseMs, exclusive } = this.options;
    await heartbeat(this.db, instance, leaseMs);
    this.nudges = this.nc.subscribe(nodeSubject(instance, "*"), {
      callback: (error, msg) => {
        if (error) return;
        if (msg.subject.endsWith(".ping")) return void msg.respond();
        const entity = entityOfNudge(msg.data);
        if (!entity) return;
        void this.serial(() => this.take(entity)).catch((e) => log.warn("taking an entity failed", { entity, error: String(e) }));
      },
    });
    this.service = await addService(this.nc, "ownership", "단일 소유 액터의 소유권 배정", [
      endpoint({ name: "claim", subject: Requests.claimOwner, messages: Api.ownership.claim, handle: ({ entity }) => this.onOwnerWanted(entity) }),
    ]);
    this.watchConnection();
    await this.serial(() => this.rebalance(exclusive));
    this.timer = setInterval(() => {
      void this.serial(() => this.tick()).catch((error) => log.warn("ownership tick failed", { error: String(error) }));
    }, Math.max(100, Math.floor(leaseMs / 4)));
  }

  /**
   * Cut off from NATS, this instance looks dead to the others, who may take its entities over at once (see
   * onOwnerWanted); until a renewal proves otherwise, it must not answer from memory when it reconnects.
   */
  private watchConnection(): void {
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type !== "disconnect") continue;
        for (const lease of this.owned.values()) lease.suspend();
      }
    })();
  }

  /** Renews membership and leases, drops what was taken over, then takes and hands over toward the preferred owners. */
  private async tick(): Promise<void> {
    if (this.stopping) return;
    const { instance, leaseMs } = this.options;
    await heartbeat(this.db, instance, leaseMs);
    const askedAt = performance.now();
    const held = await renew(this.db, instance, leaseMs, new Map([...this.owned].map(([entity, lease]) => [entity, lease.epoch])));
    for (const [entity, lease] of [...this.owned]) {
      if (held.get(entity) === lease.epoch) lease.extend(askedAt, leaseMs);
      else await this.lose(entity, lease.epoch);
    }
    await this.rebalance(false);
  }

  private async rebalance(force: boolean): Promise<void> {
    const placement = await readPlacement(this.db);
    this.live = placement.live;
    for (const entity of placement.entities) {
      const preferred = preferredOwner(entity, this.live);
      const holder = placement.leased.get(entity);
      if (!this.owned.has(entity)) {
        if (force || (preferred === this.instance && (holder === undefined || holder === this.instance))) await this.take(entity, { force });
        continue;
      }
      if (preferred !== undefined && preferred !== this.instance) await this.handOver(entity, preferred);
    }
  }

  /** Takes an entity if its lease is free (or `force`); its host's `onClaim` runs in the same transaction. */
  private async take(entity: Entity, how: { force?: boolean; fromEpoch?: number } = {}): Promise<void> {
    if (this.owned.has(entity) || this.stopping) return;
    const host = this.hostOf(entity);
    const onClaim = host.onClaim && ((tx: Queryable) => host.onClaim!(entity, tx));
    const askedAt = performance.now();
    const epoch = await claim(this.db, this.instance, entity, this.options.leaseMs, { ...how, onClaim });
    if (epoch === undefined) return;
    const lease = new Lease(epoch, 0);
    lease.extend(askedAt, this.options.leaseMs);
    this.owned.set(entity, lease);
    try {
      await this.hostOf(entity).acquire(entity, lease);
    } catch (error) {
      log.warn("could not start serving an entity; giving it back", { entity, error: String(error) });
      await this.hostOf(entity).relinquish(entity, false);
      this.owned.delete(entity);
      await release(this.db, this.instance, entity, epoch);
      return;
    }
    log.info("owning", { entity, epoch });
    this.notify("acquired", { entity, instance: this.instance, epoch });
  }

  /** Graceful move: stop taking commands, answer those accepted, release, and tell the new owner to take it now. */
  private async handOver(entity: Entity, to: string | undefined): Promise<void> {
    const epoch = this.owned.get(entity)?.epoch;
    if (epoch === undefined) return;
    await this.hostOf(entity).relinquish(entity, true);
    this.owned.delete(entity);
    await release(this.db, this.instance, entity, epoch);
    log.info("handed over", { entity, epoch, to });
    this.notify("released", { entity, instance: this.instance, epoch, to });
    if (to) this.nc.publish(nodeSubject(to, "take"), encode({ entity }));
  }

  /**
   * An ownership notice for the event stream. A tenure (entity, epoch) is acquired once and ends once, so the three
   * name the change: a notice sent again is stored once.
   */
  private notify(kind: "acquired" | "released" | "lost", notice: OwnershipChanged): void {
    this.bus.publish(Events.ownership(kind), notice, ownershipMsgId(notice.entity, notice.epoch, kind));
  }

  /** Another instance took the entity (this one missed its renewals): stop serving it at once. */
  private async lose(entity: Entity, epoch: number): Promise<void> {
    log.warn("lost ownership", { entity, epoch });
    await this.hostOf(entity).relinquish(entity, false);
    this.owned.delete(entity);
    this.notify("lost", { entity, instance: this.instance, epoch });
  }

  /**
   * Somebody sent a command nobody serves. If the entity exists, get it an owner: when its lease holder has no
   * NATS connection any more (killed, say) it can serve nobody, so take the entity now rather than wait out the
   * lease; fencing makes that safe even if the holder is merely cut off. Otherwise this instance takes it when it is
   * the preferred one (or none is known), or nudges the preferred one.
   */
  private async onOwnerWanted(entity: Entity): Promise<Reply<null>> {
    const isQueue = queueIdOf(entity) !== undefined;
    if (!(await entityExists(this.db, entity))) throw new AppError(isQueue ? "not_found_concert" : "not_found_concert_event");
    if (this.stopping || Date.now() - (this.lastWanted.get(entity) ?? 0) < 200) return ok(null);
    this.lastWanted.set(entity, Date.now());
    const holder = await leaseHolder(this.db, entity);
    if (holder && holder.instance !== this.instance) {
      if (await this.reachable(holder.instance)) return ok(null);
      log.warn("lease holder is gone from NATS; taking over", { entity, holder: holder.instance });
      await this.serial(() => this.take(entity, { fromEpoch: holder.epoch }));
      return ok(null);
    }
    const preferred = preferredOwner(entity, this.live);
    if (preferred && preferred !== this.instance) this.nc.publish(nodeSubject(preferred, "take"), encode({ entity }));
    else await this.serial(() => this.take(entity));
    return ok(null);
  }

  /** Whether an instance still has a NATS connection: its node subject has a responder. */
  private async reachable(instance: string): Promise<boolean> {
    try {
      await this.nc.request(nodeSubject(instance, "ping"), undefined, { timeout: 500 });
      return true;
    } catch (error) {
      return (error as { code?: string }).code !== ErrorCode.NoResponders;
    }
  }

  /** Leaves the membership and hands every owned entity to the instance that should own it next. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.serial(async () => {
      await leave(this.db, this.instance);
      const others = (await readPlacement(this.db)).live.filter((id) => id !== this.instance);
      await Promise.all([...this.owned.keys()].map((entity) => this.handOver(entity, preferredOwner(entity, others))));
    }).catch((error) => log.warn("handing over at shutdown failed; leases will run out instead", { error: String(error) }));
    this.nudges?.unsubscribe();
    await this.service?.stop();
  }
}
