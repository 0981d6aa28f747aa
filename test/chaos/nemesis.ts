// The nemesis: a schedule of faults drawn from the run's seed, and their injection into the system. Two tracks run
// side by side, so faults combine: the instances' (SIGKILL of the queue's owner at the opening, then SIGKILL or
// SIGSTOP of event owners mid-checkout, each killed instance rejoining) and the infrastructure's (a NATS node lost, the
// node an instance is connected to lost, a PostgreSQL restart). Within a track one fault heals before the next, so at
// most one instance and one NATS node are down at a time: the cluster keeps its quorum and a majority of instances.
import { eventEntity, queueEntity } from "../../src/cluster/ownership-store";
import type { ClusterNode } from "../support/nats-cluster";
import type { Seeded } from "../support/seeded";
import type { ServiceInstance, System } from "./system";

export type FaultKind =
  | "kill-queue-owner"
  | "kill-event-owner"
  | "pause-event-owner"
  | "nats-node-loss"
  | "nats-connected-node-loss"
  | "postgres-restart";

export interface PlannedFault {
  kind: FaultKind;
  /** Milliseconds after the opening. */
  at: number;
  /** How long until it heals (the killed instance rejoins, the node or server is started, the instance resumes). */
  durationMs: number;
  /** For the event owners: which of the run's events; for the connected node: which instance's node. */
  pick: number;
}

export interface FaultRecord extends PlannedFault {
  target: string;
  /** Wall-clock times on this machine, as the history's. */
  start: number;
  healed: number;
  /** Set when the fault could not be injected (no owner at that moment, say): it is then reported, not counted. */
  skipped?: string;
}

const INSTANCE_FAULTS: FaultKind[] = ["kill-event-owner", "pause-event-owner"];
const INFRA_FAULTS: FaultKind[] = ["nats-node-loss", "nats-connected-node-loss", "postgres-restart"];

/** The faults of a sale lasting `saleMs` after the opening, both tracks, in order of time. */
export function planFaults(random: Seeded, saleMs: number): PlannedFault[] {
  const plan: PlannedFault[] = [{ kind: "kill-queue-owner", at: random.int(0, 500), durationMs: random.int(3_000, 6_000), pick: 0 }];
  const track = (kinds: FaultKind[], from: number) => {
    // Each kind at least once, in a drawn order, then drawn freely while the sale lasts (leaving time to recover).
    const firsts = [...kinds];
    for (let i = firsts.length - 1; i > 0; i--) {
      const j = random.int(0, i);
      [firsts[i], firsts[j]] = [firsts[j]!, firsts[i]!];
    }
    for (let at = from, n = 0; ; n++) {
      const kind = n < firsts.length ? firsts[n]! : random.pick(kinds);
      const durationMs = random.int(2_000, 7_000);
      if (at + durationMs > saleMs - 10_000) return;
      plan.push({ kind, at, durationMs, pick: random.int(0, 1_000_000) });
      at += durationMs + random.int(3_000, 9_000);
    }
  };
  const instancesFrom = plan[0]!.at + plan[0]!.durationMs + random.int(2_000, 5_000);
  track(INSTANCE_FAULTS, instancesFrom);
  track(INFRA_FAULTS, random.int(2_000, 8_000));
  return plan.sort((a, b) => a.at - b.at);
}

export interface NemesisTargets {
  concertId: number;
  eventIds: number[];
}

/** Injects the planned faults against the system, from `openedAt` on, and records what was done to whom and when. */
export async function runNemesis(system: System, plan: PlannedFault[], targets: NemesisTargets, openedAt: number, stopped: () => boolean): Promise<FaultRecord[]> {
  const byTrack = (kinds: FaultKind[]) => plan.filter((f) => kinds.includes(f.kind));
  const tracks = [byTrack(["kill-queue-owner", ...INSTANCE_FAULTS]), byTrack(INFRA_FAULTS)];
  const records: FaultRecord[] = [];
  await Promise.all(
    tracks.map(async (faults) => {
      for (const fault of faults) {
        const wait = openedAt + fault.at - Date.now();
        if (wait > 0) await Bun.sleep(wait);
        if (stopped()) return;
        records.push(await inject(system, fault, targets));
      }
    }),
  );
  return records.sort((a, b) => a.start - b.start);
}

async function inject(system: System, fault: PlannedFault, targets: NemesisTargets): Promise<FaultRecord> {
  // The fault starts when its target is found and hit, not while it is looked for.
  let start = Date.now();
  const done = (target: string, skipped?: string): FaultRecord => ({ ...fault, target, start, healed: Date.now(), skipped });
  switch (fault.kind) {
    case "kill-queue-owner":
    case "kill-event-owner": {
      const owner = await ownerFor(system, fault, targets);
      if (!owner) return done("-", "no owner held the lease");
      start = Date.now();
      await owner.kill();
      await Bun.sleep(fault.durationMs);
      await owner.start();
      return done(owner.id);
    }
    case "pause-event-owner": {
      const owner = await ownerFor(system, fault, targets);
      if (!owner) return done("-", "no owner held the lease");
      start = Date.now();
      owner.pause();
      await Bun.sleep(fault.durationMs);
      owner.resume();
      return done(owner.id);
    }
    case "nats-node-loss":
    case "nats-connected-node-loss": {
      const instance = system.instances[fault.pick % system.instances.length]!;
      const node = fault.kind === "nats-node-loss" ? system.nats.nodes[fault.pick % system.nats.nodes.length]! : await nodeFor(system, instance);
      if (!node) return done("-", `${instance.id} was on no node`);
      const target = fault.kind === "nats-node-loss" ? node.name : `${node.name} (${instance.id}'s)`;
      start = Date.now();
      await node.stop();
      await Bun.sleep(fault.durationMs);
      await node.start();
      return done(target);
    }
    case "postgres-restart": {
      await system.postgres.stop();
      await Bun.sleep(fault.durationMs);
      await system.postgres.start();
      return done("postgres");
    }
  }
}

/** The node an instance is connected to, waited for up to 3 s: it may be reconnecting, or starting. */
async function nodeFor(system: System, instance: ServiceInstance): Promise<ClusterNode | undefined> {
  for (const until = Date.now() + 3_000; Date.now() < until; await Bun.sleep(250)) {
    const node = instance.running && !instance.paused ? await system.nodeOf(instance) : undefined;
    if (node) return node;
  }
  return undefined;
}

/** The entity's owner, waited for up to 3 s: an event whose owner was just killed gets another at its next request. */
async function ownerFor(system: System, fault: PlannedFault, targets: NemesisTargets): Promise<ServiceInstance | undefined> {
  const entity = fault.kind === "kill-queue-owner" ? queueEntity(targets.concertId) : eventEntity(targets.eventIds[fault.pick % targets.eventIds.length]!);
  for (const until = Date.now() + 3_000; Date.now() < until; await Bun.sleep(250)) {
    const owner = await system.ownerOf(entity);
    if (owner?.running && !owner.paused) return owner;
  }
  return undefined;
}
