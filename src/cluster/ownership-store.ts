// The ownership table: which instance owns each single-owner actor, under which epoch, until when. Leases are timed by
// the database's clock alone, so instances never compare their own clocks, and the epoch that fences every actor
// commit lives in the same database that refuses the stale write.
import type { Database, Queryable } from "../shared/db";
import { recordEventsParams, recordEventsSql, type OutboxEntry } from "../shared/outbox";
import { AppError } from "../shared/errors";

/** 'event:<id>' for a concert event's actor, 'queue' for the global queue, 'queue:<concertId>' for a concert's queue. */
export type Entity = string;
export const QUEUE_ENTITY: Entity = "queue";
export const eventEntity = (eventId: number): Entity => `event:${eventId}`;
export const queueEntity = (queueId: number): Entity => (queueId === 0 ? QUEUE_ENTITY : `queue:${queueId}`);

export function eventIdOf(entity: Entity): number | undefined {
  const match = /^event:(\d+)$/.exec(entity);
  return match ? Number(match[1]) : undefined;
}

/** The queue an entity is: 0 for the global one, a concert's id for its own; undefined for anything else. */
export function queueIdOf(entity: Entity): number | undefined {
  if (entity === QUEUE_ENTITY) return 0;
  const match = /^queue:(\d+)$/.exec(entity);
  return match ? Number(match[1]) : undefined;
}

/** A write by an owner whose epoch has been superseded. The database refused it; the client may retry elsewhere. */
export class FencedError extends AppError {
  constructor(readonly entity: Entity) {
    super("service_unavailable");
  }
}

/**
 * The last statement of every actor commit that takes a transaction: the fence, and the commit's domain events
 * recorded in the outbox if it holds. FOR SHARE holds the ownership row until the commit ends, so a takeover (an UPDATE
 * of that row) waits for the commit, and a commit that finds the epoch moved on rolls back all it did. One statement
 * for both: on PGlite each statement of a commit costs a tenth of a millisecond or more.
 */
export async function fenceAndRecord(tx: Queryable, entity: Entity, epoch: number, events: OutboxEntry): Promise<void> {
  const [row] = await tx.query(
    `WITH ${fenceCte("$1", "$2")}, recorded AS (${recordEventsSql(3, "EXISTS (SELECT 1 FROM owner)")})
     SELECT count(*)::int AS owned FROM owner`,
    [entity, epoch, ...recordEventsParams(events)],
  );
  if (Number(row!.owned) === 0) throw new FencedError(entity);
}

/**
 * The same fence for a commit that is one statement: a CTE `owner`, which the change names in its WHERE (`EXISTS
 * (SELECT 1 FROM owner)`) and the outer query counts (none: fenced off). A data-modifying WITH runs to completion
 * whatever the outer query reads, and it sees the owner row only if the fence held.
 */
export function fenceCte(entityParam: string, epochParam: string): string {
  return `owner AS (SELECT 1 FROM ownerships WHERE entity = ${entityParam} AND epoch = ${epochParam} FOR SHARE)`;
}

const lease = (param: string) => `now() + ${param} * interval '1 millisecond'`;

export async function heartbeat(db: Database, instance: string, leaseMs: number): Promise<void> {
  await db.query(
    `INSERT INTO service_instances (id, alive_until) VALUES ($1, ${lease("$2")})
     ON CONFLICT (id) DO UPDATE SET alive_until = excluded.alive_until`,
    [instance, leaseMs],
  );
}

/**
 * Extends the leases of the entities this instance serves, each under the epoch it serves it with; returns those
 * still held, so one lost to a takeover shows as missing.
 */
export async function renew(
  db: Database,
  instance: string,
  leaseMs: number,
  owned: ReadonlyMap<Entity, number>,
): Promise<Map<Entity, number>> {
  if (owned.size === 0) return new Map();
  const rows = await db.query(
    `UPDATE ownerships o SET lease_until = ${lease("$2")}
       FROM unnest($3::text[], $4::bigint[]) AS mine(entity, epoch)
      WHERE o.entity = mine.entity AND o.epoch = mine.epoch AND o.instance = $1 RETURNING o.entity, o.epoch`,
    [instance, leaseMs, [...owned.keys()], [...owned.values()]],
  );
  return new Map(rows.map((row) => [String(row.entity), Number(row.epoch)]));
}

export interface Placement {
  /** Instances alive now, this one included once it has sent a heartbeat. */
  live: string[];
  /** Every entity that needs an owner. */
  entities: Entity[];
  /** Entities whose lease has not run out, with their owner. */
  leased: Map<Entity, string>;
}

export async function readPlacement(db: Database): Promise<Placement> {
  const live = await db.query(`SELECT id FROM service_instances WHERE alive_until > now() ORDER BY id`);
  const concerts = await db.query(`SELECT id FROM concerts ORDER BY id`);
  const events = await db.query(`SELECT id FROM concert_events ORDER BY id`);
  const leased = await db.query(`SELECT entity, instance FROM ownerships WHERE lease_until > now() AND instance IS NOT NULL`);
  return {
    live: live.map((row) => String(row.id)),
    entities: [
      QUEUE_ENTITY,
      ...concerts.map((row) => queueEntity(Number(row.id))),
      ...events.map((row) => eventEntity(Number(row.id))),
    ],
    leased: new Map(leased.map((row) => [String(row.entity), String(row.instance)])),
  };
}

/** The instance whose lease on an entity has not run out, and its epoch. */
export async function leaseHolder(db: Database, entity: Entity): Promise<{ instance: string; epoch: number } | undefined> {
  const [row] = await db.query(
    `SELECT instance, epoch FROM ownerships WHERE entity = $1 AND lease_until > now() AND instance IS NOT NULL`,
    [entity],
  );
  return row ? { instance: String(row.instance), epoch: Number(row.epoch) } : undefined;
}

export async function entityExists(db: Database, entity: Entity): Promise<boolean> {
  const eventId = eventIdOf(entity);
  if (eventId !== undefined) return (await db.query(`SELECT 1 FROM concert_events WHERE id = $1`, [eventId])).length > 0;
  const queueId = queueIdOf(entity);
  if (queueId === undefined) return false;
  return queueId === 0 || (await db.query(`SELECT 1 FROM concerts WHERE id = $1`, [queueId])).length > 0;
}

/**
 * Takes an entity whose lease has run out, was released, or was held by this instance's previous incarnation, and
 * bumps its epoch; `force` takes it whatever the lease (a PGlite database belongs to one process), `fromEpoch` takes
 * it from a holder known to be gone, provided nobody took it since. The takeover waits
 * for the former owner's commit in flight, if any. `onClaim` runs in the same transaction, under the new epoch.
 * Returns the new epoch, or undefined when someone else holds the lease.
 */
export async function claim(
  db: Database,
  instance: string,
  entity: Entity,
  leaseMs: number,
  options: { force?: boolean; fromEpoch?: number; onClaim?: (tx: Queryable) => Promise<void> } = {},
): Promise<number | undefined> {
  return db.transaction(async (tx) => {
    // A takeover waits for the former owner's commit in flight, but not indefinitely: the coordinator that asks must
    // get back to renewing its own leases.
    await tx.query(`SET LOCAL lock_timeout = '1s'`);
    await tx.query(`INSERT INTO ownerships (entity) VALUES ($1) ON CONFLICT (entity) DO NOTHING`, [entity]);
    const [row] = await tx.query(
      `UPDATE ownerships SET instance = $2, epoch = epoch + 1, lease_until = ${lease("$3")}
        WHERE entity = $1 AND ($4::boolean OR epoch = $5 OR lease_until <= now() OR instance IS NULL OR instance = $2)
        RETURNING epoch`,
      [entity, instance, leaseMs, options.force === true, options.fromEpoch ?? -1],
    );
    if (!row) return undefined;
    await options.onClaim?.(tx);
    return Number(row.epoch);
  }).catch((error) => {
    if (isLockTimeout(error)) return undefined;
    throw error;
  });
}

function isLockTimeout(error: unknown): boolean {
  const { code, errno, message } = (error ?? {}) as { code?: unknown; errno?: unknown; message?: unknown };
  return code === "55P03" || errno === "55P03" || /lock timeout/i.test(String(message));
}

/** Gives an entity up so another instance can take it at once instead of waiting out the lease. */
export async function release(db: Database, instance: string, entity: Entity, epoch: number): Promise<void> {
  await db.query(
    `UPDATE ownerships SET instance = NULL, lease_until = '-infinity' WHERE entity = $1 AND instance = $2 AND epoch = $3`,
    [entity, instance, epoch],
  );
}

/** A stopping instance leaves the membership at once, so placement stops counting it. */
export async function leave(db: Database, instance: string): Promise<void> {
  await db.query(`DELETE FROM service_instances WHERE id = $1 OR alive_until < now() - interval '1 hour'`, [instance]);
}
