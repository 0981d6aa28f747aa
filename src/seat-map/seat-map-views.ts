// Every instance's copy of every event's seat map (actors/seat-map.ts), followed from the event's owner as queues are
// (shared/replicas.ts), so the seat list, the sections with their live counts and the live seat map stream are answered
// from memory on any instance: a buyer looking at the hall never costs the event's actor a request.
import type { Subscription } from "nats";
import type { SeatMap } from "../../actors/seat-map";
import { seatMapCodec } from "../../actors/seat-map";
import type { Bus } from "../shared/bus";
import { AppError } from "../shared/errors";
import { checkerOf, SeatMapChanges, SeatMapSeats, SeatMapSnapshot, ViewHeartbeat, type SeatMapChange, type SeatMapState, type SectionView } from "../shared/messages";
import { listen } from "../shared/nats-service";
import { Replicas } from "../shared/replicas";
import { eventSubject, SeatMaps as Subjects } from "../shared/subjects";

/** The committed seat maps of the events this instance owns. */
export interface OwnedMaps {
  committedMap(eventId: number): SeatMap | undefined;
  /** The map of an event this instance owns, its actor started if it rests; undefined for an event owned elsewhere. */
  loadMap(eventId: number): Promise<SeatMap | undefined>;
}

/** A list's JSON as last answered, reused until its map changes. */
interface CachedList {
  map: SeatMap;
  version: number;
  body: string;
}

export class SeatMapViews {
  private readonly replicas: Replicas<SeatMap, SeatMapChange, SeatMapState, SeatMapSeats>;
  private subscriptions: Subscription[] = [];
  /** How many changes each event's map has taken on this instance: a version for what is cached and streamed. */
  private readonly versions = new Map<number, number>();
  private readonly lists = new Map<string, CachedList>();

  constructor(
    private readonly bus: Bus,
    owned: OwnedMaps = { committedMap: () => undefined, loadMap: async () => undefined },
    private readonly now: () => number = Date.now,
  ) {
    this.replicas = new Replicas(
      bus,
      seatMapCodec,
      {
        name: "event",
        pagesSubject: (eventId) => eventSubject(eventId, "map"),
        missingCode: "not_found_concert_event",
        owned: (eventId) => owned.committedMap(eventId),
        load: (eventId) => owned.loadMap(eventId),
        checkFirst: (value) => checkerOf(SeatMapSnapshot).Check(value),
        checkPage: (value) => checkerOf(SeatMapSeats).Check(value),
      },
      now,
    );
    this.replicas.onChange((eventId) => this.versions.set(eventId, this.version(eventId) + 1));
  }

  start(): void {
    this.subscriptions = [
      listen(this.bus.nc, Subjects.allChanges, SeatMapChanges, ({ eventId, ...message }) => this.replicas.onChanges(eventId, message)),
      listen(this.bus.nc, Subjects.heartbeat, ViewHeartbeat, ({ views }) => {
        for (const [eventId, incarnation, version] of views) this.replicas.onBeat(eventId, incarnation, version);
      }),
    ];
  }

  close(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.replicas.close();
  }

  /** Called with every batch of changes an event's map took (the live seat map streams listen). */
  onChange(listener: (eventId: number, changes: SeatMapChange[]) => void): void {
    this.replicas.onChange(listener);
  }

  /** The map to answer from right now, if this instance has one it can vouch for. */
  viewOf(eventId: number): SeatMap | undefined {
    return this.replicas.viewOf(eventId);
  }

  version(eventId: number): number {
    return this.versions.get(eventId) ?? 0;
  }

  /**
   * The event's map, once the caller admitted by `admittedTo` may see it now: throws not_found_concert_event,
   * service_unavailable while no trustworthy copy is held, or the sale gate's invalid_token, sale_not_open, sale_closed.
   */
  async map(eventId: number, admittedTo: number): Promise<SeatMap> {
    const readiness = await this.replicas.ready(eventId);
    if (readiness === "missing") throw new AppError("not_found_concert_event");
    const map = this.replicas.viewOf(eventId);
    if (!map) throw new AppError("service_unavailable");
    const refusal = map.refusal(admittedTo, this.now());
    if (refusal) throw new AppError(refusal);
    return map;
  }

  async sections(eventId: number, admittedTo: number): Promise<SectionView[]> {
    return (await this.map(eventId, admittedTo)).sectionList();
  }

  /** `{"list": [...]}` of the seats on sale, in one section or all; an unknown section is invalid_request. */
  async availableList(eventId: number, admittedTo: number, section?: string): Promise<string> {
    const map = await this.map(eventId, admittedTo);
    const index = section === undefined ? -1 : map.sectionIndex(section);
    if (index < 0 && section !== undefined) throw new AppError("invalid_request");
    const key = `${eventId} ${index}`;
    const version = this.version(eventId);
    const cached = this.lists.get(key);
    if (cached && cached.map === map && cached.version === version) return cached.body;
    const body = `{"list":${map.availableJson(index)}}`;
    this.lists.set(key, { map, version, body });
    return body;
  }
}
