// One section of a hall drawn as a grid of seats (SVG), by seat number, and kept live from the seat map stream. The
// stream speaks in seat ids; the plan learns each id's number from the section's list, and where a section's ids run
// in step with its numbers (as the operator's route creates them) it knows every seat's id without asking.
import { h, svg } from "../shared/dom";

export interface SeatInfo {
  id: number;
  seatNumber: string;
  price: number;
}

const CELL = 12;
const SEAT = 10;

/** The n of "VIP-12" or "12". */
export const numberOf = (seatNumber: string) => Number(/(\d+)$/.exec(seatNumber)?.[1] ?? NaN);

export class SeatPlan {
  readonly element: SVGElement;
  private readonly rects: SVGElement[] = [];
  private readonly idOfNumber = new Map<number, number>();
  private readonly numberOfId = new Map<number, number>();
  /** id − n for every known seat, when it is one constant: then any id of the section maps to its number. */
  private offset: number | undefined;

  constructor(
    readonly section: string,
    readonly seats: number,
    private readonly onPick: (seatId: number) => void,
  ) {
    const columns = Math.max(10, Math.ceil(Math.sqrt(seats * 2.5)));
    const rows = Math.ceil(seats / columns);
    this.element = svg("svg", { viewBox: `0 0 ${columns * CELL} ${rows * CELL}`, class: "seat-plan", "aria-hidden": "true", focusable: "false" });
    for (let n = 1; n <= seats; n++) {
      const rect = svg("rect", { x: ((n - 1) % columns) * CELL, y: Math.floor((n - 1) / columns) * CELL, width: SEAT, height: SEAT, rx: 2, class: "seat taken", "data-number": n });
      this.rects.push(rect);
      this.element.appendChild(rect);
    }
    this.element.addEventListener("click", (event) => {
      const n = Number((event.target as Element).getAttribute("data-number"));
      const id = this.idAt(n);
      if (id !== undefined && (event.target as Element).classList.contains("free")) this.onPick(id);
    });
  }

  /** Learns the ids of the section's seats from its list of available seats. */
  learn(list: SeatInfo[]): void {
    let offset: number | undefined;
    let steady = true;
    for (const seat of list) {
      const n = numberOf(seat.seatNumber);
      if (!Number.isInteger(n) || n < 1 || n > this.seats) continue;
      this.remember(seat.id, n);
      if (offset === undefined) offset = seat.id - n;
      else if (offset !== seat.id - n) steady = false;
    }
    this.offset = steady ? offset : undefined;
  }

  /** The seat number of an id in this section, if known; undefined for another section's seat or an unknown one. */
  numberFor(id: number): number | undefined {
    const known = this.numberOfId.get(id);
    if (known !== undefined) return known;
    if (this.offset === undefined) return undefined;
    const n = id - this.offset;
    if (n < 1 || n > this.seats || this.idOfNumber.has(n)) return undefined;
    this.remember(id, n);
    return n;
  }

  /** Whether an id is unknown here but may belong to this section (its list should be read again). */
  mayHold(id: number): boolean {
    return this.offset === undefined && !this.numberOfId.has(id);
  }

  /** The id of seat n, when it is known or follows from the section's steady ids. */
  idAt(n: number): number | undefined {
    return this.idOfNumber.get(n) ?? (this.offset === undefined ? undefined : n + this.offset);
  }

  mark(id: number, state: "free" | "taken" | "mine"): void {
    const n = this.numberFor(id);
    if (n === undefined) return;
    const rect = this.rects[n - 1]!;
    rect.setAttribute("class", `seat ${state}`);
    rect.setAttribute("data-seat-id", String(id));
  }

  private remember(id: number, n: number): void {
    this.idOfNumber.set(n, id);
    this.numberOfId.set(id, n);
  }
}

/** The legend under a plan: what each colour means, in words. */
export function legend(): HTMLElement {
  const item = (state: string, text: string) => h("li", {}, h("span", { class: `swatch ${state}`, "aria-hidden": "true" }), text);
  return h("ul", { class: "legend" }, item("free", "예약 가능"), item("mine", "내가 점유한 좌석"), item("taken", "예약 불가"));
}
