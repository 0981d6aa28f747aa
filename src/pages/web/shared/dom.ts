// A few DOM helpers, so the pages need no framework: elements from a tag, properties and children; Korean formats for
// money and time; one polite live region that tells a screen reader what changed.
type Child = Node | string | number | null | undefined | false;
type Props = Record<string, unknown>;

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** `h("button", { class: "primary", onclick: f }, "예약")`: `on*` are listeners, booleans toggle attributes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value as EventListener);
    else if (name === "value") (element as HTMLInputElement).value = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

const SVG = "http://www.w3.org/2000/svg";

/** A card of the page: a section named by its heading, so a screen reader lists it by that name. */
export function card(id: string, heading: "h2" | "h3", title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "card", "aria-labelledby": id }, h(heading, { id }, title), ...children);
}

export function svg(tag: string, attributes: Record<string, string | number> = {}): SVGElement {
  const element = document.createElementNS(SVG, tag) as SVGElement;
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/** Replaces what `parent` shows. */
export function show(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export const won = (amount: number) => `${amount.toLocaleString("ko-KR")}원`;

const dateTime = new Intl.DateTimeFormat("ko-KR", { dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Seoul" });
export const when = (iso: string) => dateTime.format(new Date(iso));

/** 1:05:09, 4:32 or 0:07: a duration in seconds as a clock reads it. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

/** 약 3분 20초: an estimate in words. */
export function roughly(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `약 ${s}초`;
  const minutes = Math.floor(s / 60);
  return minutes < 60 ? `약 ${minutes}분 ${s % 60}초` : `약 ${Math.floor(minutes / 60)}시간 ${minutes % 60}분`;
}

let region: HTMLElement | undefined;

/** Says `text` to a screen reader once, without moving the focus. */
export function announce(text: string): void {
  region ??= document.body.appendChild(h("div", { class: "visually-hidden", "aria-live": "polite", role: "status" }));
  region.textContent = "";
  // A new text node, a moment later, is what makes every screen reader speak the same words twice in a row.
  setTimeout(() => (region!.textContent = text), 50);
}

/** A message box for an error or a notice, in place, announced. */
export function notice(target: Element, text: string, kind: "error" | "info" = "error"): void {
  show(target, text ? h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text) : null);
}
