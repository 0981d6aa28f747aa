// Which seats of one concert event are on sale, by section: what a buyer looks at. The event's owner keeps one built
// from what its actor committed; every instance keeps a copy of it, fed by the owner, and answers the seat list, the
// sections with their live counts and the live seat map stream from that copy, so no viewer costs the actor a request.
//
// A seat's identity, number, price and section never change once the event exists; only whether it is on sale does.
// So a copy is built once from the owner's pages and then follows small changes: seats taken, seats freed.
import type { SeatMapChange, SeatMapSeats, SeatMapState, SeatView, SectionView } from "../src/shared/messages";
import type { ErrorCode } from "../src/shared/errors";
import type { ViewCodec } from "../src/shared/replicas";
import { saleRefusal, type SaleWindow } from "./sale-window";
import type { EventOp, InventorySnapshot } from "./seat-inventory";

export class SeatMap {
  private ids = new Float64Array(0);
  private numbers: string[] = [];
  /** Each seat as the seat list shows it, as JSON: a list of thousands is then one join, not thousands of objects. */
  private listed: string[] = [];
  private prices = new Float64Array(0);
  private sectionOf = new Uint8Array(0);
  private open = new Uint8Array(0);
  private count = 0;
  private readonly sections: { name: string; price: number; seats: number; available: number }[];
  private readonly sale: SaleWindow;

  constructor(state: SeatMapState) {
    this.sale = { ...state.sale };
    this.sections = state.sections.map((s) => ({ ...s, seats: 0, available: 0 }));
    this.absorb(state.seats);
  }

  /** Adds a page of seats (they come in pages, ascending by id). */
  absorb(page: SeatMapSeats): void {
    const n = this.count + page.ids.length;
    if (n > this.ids.length) this.reserve(n);
    for (let i = 0; i < page.ids.length; i++) {
      const at = this.count++;
      const section = page.sections[i]!;
      this.ids[at] = page.ids[i]!;
      this.numbers[at] = page.numbers[i]!;
      this.prices[at] = page.prices[i]!;
      this.listed[at] = JSON.stringify({ id: page.ids[i]!, seatNumber: page.numbers[i]!, price: page.prices[i]! } satisfies SeatView);
      this.sectionOf[at] = section;
      this.open[at] = page.available.charCodeAt(i) === 49 ? 1 : 0;
      this.sections[section]!.seats++;
      if (this.open[at]) this.sections[section]!.available++;
    }
  }

  get size(): number {
    return this.count;
  }

  get concertId(): number {
    return this.sale.concertId;
  }

  /** Applies a committed change; returns whether it changed which seats are on sale. */
  apply(change: SeatMapChange): boolean {
    if (change.type === "window") {
      Object.assign(this.sale, { opensAt: change.opensAt, closesAt: change.closesAt });
      return false;
    }
    let moved = false;
    for (const id of change.taken) moved = this.set(id, false) || moved;
    for (const id of change.freed) moved = this.set(id, true) || moved;
    return moved;
  }

  /** The seats taken and freed since `before`, an older map of the same event (a copy this one replaces). */
  changesSince(before: SeatMap): SeatMapChange[] {
    const taken: number[] = [];
    const freed: number[] = [];
    for (let at = 0; at < this.count; at++) {
      const id = this.ids[at]!;
      const open = this.open[at] === 1;
      if (before.isAvailable(id) !== open) (open ? freed : taken).push(id);
    }
    return taken.length + freed.length === 0 ? [] : [{ type: "seats", taken, freed }];
  }

  /** Why a caller admitted by `admittedTo` may not see this event's seats now, if they may not. */
  refusal(admittedTo: number, now: number): ErrorCode | undefined {
    return saleRefusal(this.sale, admittedTo, now);
  }

  isAvailable(id: number): boolean {
    const at = this.indexOf(id);
    return at >= 0 && this.open[at] === 1;
  }

  /** The index of a section by name, or -1. */
  sectionIndex(name: string): number {
    return this.sections.findIndex((s) => s.name === name);
  }

  sectionList(): SectionView[] {
    return this.sections.map((s) => ({ ...s }));
  }

  /** The seats on sale, of one section or all, by id, as a JSON array of SeatView. */
  availableJson(section = -1): string {
    const list: string[] = [];
    for (let at = 0; at < this.count; at++) {
      if (this.open[at] === 1 && (section < 0 || this.sectionOf[at] === section)) list.push(this.listed[at]!);
    }
    return `[${list.join(",")}]`;
  }

  /** The ids of the seats on sale, by id. */
  availableIds(): number[] {
    const ids: number[] = [];
    for (let at = 0; at < this.count; at++) if (this.open[at] === 1) ids.push(this.ids[at]!);
    return ids;
  }

  /** The whole map as pages of at most `pageSize` seats, for another instance to build an equal one. */
  pages(pageSize: number): { state: SeatMapState; rest: SeatMapSeats[] } {
    const pages: SeatMapSeats[] = [];
    for (let from = 0; from < this.count || from === 0; from += pageSize) {
      const to = Math.min(this.count, from + pageSize);
      let available = "";
      for (let at = from; at < to; at++) available += this.open[at] === 1 ? "1" : "0";
      pages.push({
        ids: Array.from(this.ids.subarray(from, to)),
        numbers: this.numbers.slice(from, to),
        prices: Array.from(this.prices.subarray(from, to)),
        sections: Array.from(this.sectionOf.subarray(from, to)),
        available,
      });
    }
    const [first, ...rest] = pages;
    const sections = this.sections.map(({ name, price }) => ({ name, price }));
    return { state: { sale: { ...this.sale }, sections, seats: first! }, rest };
  }

  private set(id: number, available: boolean): boolean {
    const at = this.indexOf(id);
    if (at < 0 || (this.open[at] === 1) === available) return false;
    this.open[at] = available ? 1 : 0;
    this.sections[this.sectionOf[at]!]!.available += available ? 1 : -1;
    return true;
  }

  /** Binary search: seats are kept in ascending id order. */
  private indexOf(id: number): number {
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const at = this.ids[mid]!;
      if (at === id) return mid;
      if (at < id) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  private reserve(n: number): void {
    const widen = <T extends Float64Array | Uint8Array>(old: T, next: T): T => {
      next.set(old);
      return next;
    };
    this.ids = widen(this.ids, new Float64Array(n));
    this.prices = widen(this.prices, new Float64Array(n));
    this.sectionOf = widen(this.sectionOf, new Uint8Array(n));
    this.open = widen(this.open, new Uint8Array(n));
  }
}

/** How a seat map changes and travels (shared/replicas.ts). */
export const seatMapCodec: ViewCodec<SeatMap, SeatMapChange, SeatMapState, SeatMapSeats> = {
  apply: (map, change) => void map.apply(change),
  cut: (map, pageSize) => map.pages(pageSize),
  build: (state) => new SeatMap(state),
  diff: (before, after) => after.changesSince(before),
  absorb: (map, page) => map.absorb(page),
};

/** The seat map of what the event's actor loaded. */
export function seatMapStateOf(snapshot: InventorySnapshot): SeatMapState {
  const seats = [...snapshot.seats].sort((a, b) => a.id - b.id);
  const { concertId, opensAt, closesAt } = snapshot.sale;
  return {
    sale: { concertId, opensAt, closesAt },
    sections: snapshot.sections,
    seats: {
      ids: seats.map((s) => s.id),
      numbers: seats.map((s) => s.seatNumber),
      prices: seats.map((s) => s.price),
      sections: seats.map((s) => s.section),
      available: seats.map((s) => (s.status === "AVAILABLE" ? "1" : "0")).join(""),
    },
  };
}

/**
 * What a commit changed of which seats are on sale, each seat by its last state in the commit's order. A hold takes a
 * seat off sale; a release, an ended reservation or a refund puts seats back. Reserving and paying move seats that
 * are off sale already, and a refused payment moves none.
 */
export function seatMapChangesOf(ops: EventOp[]): SeatMapChange[] {
  const last = new Map<number, boolean>();
  for (const op of ops) {
    if (op.type === "held") last.set(op.seatId, false);
    else if (op.type === "released") last.set(op.seatId, true);
    else if (op.type === "reservationEnded" || op.type === "refunded") for (const id of op.seatIds) last.set(id, true);
  }
  if (last.size === 0) return [];
  const taken: number[] = [];
  const freed: number[] = [];
  for (const [id, available] of last) (available ? freed : taken).push(id);
  return [{ type: "seats", taken, freed }];
}
