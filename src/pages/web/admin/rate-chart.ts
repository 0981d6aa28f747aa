// A per-second rate drawn over the last minutes (uPlot), from a running total sampled every second: tickets sold,
// people admitted. A chart is a picture; the figure's caption and a sentence beside it say the same in words.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "../shared/dom";

const WINDOW_SECONDS = 300;

export class RateChart {
  readonly element: HTMLElement;
  private readonly times: number[] = [];
  private readonly rates: number[] = [];
  private readonly words: HTMLElement;
  private plot?: uPlot;
  private last?: { at: number; total: number };

  constructor(
    private readonly title: string,
    private readonly unit: string,
    id: string,
  ) {
    this.words = h("p", { class: "muted", id: `${id}-words` }, "아직 자료가 없습니다.");
    const canvas = h("div", { class: "chart", "aria-hidden": "true" });
    this.element = h("figure", { id, "data-points": 0 }, h("figcaption", {}, title), canvas, this.words);
    requestAnimationFrame(() => this.draw(canvas));
  }

  /** A new reading of the running total; a fall (a refund) counts as no sale, not as a negative rate. */
  add(total: number, at = Date.now()): void {
    if (this.last && at > this.last.at) {
      const rate = Math.max(0, total - this.last.total) / ((at - this.last.at) / 1000);
      this.times.push(at / 1000);
      this.rates.push(Math.round(rate * 10) / 10);
      while (this.times.length > WINDOW_SECONDS) {
        this.times.shift();
        this.rates.shift();
      }
      this.plot?.setData([this.times, this.rates]);
      this.element.setAttribute("data-points", String(this.times.length));
      this.element.setAttribute("data-latest", String(rate));
      const lastMinute = this.rates.slice(-60);
      const mean = lastMinute.reduce((a, b) => a + b, 0) / lastMinute.length;
      this.words.textContent = `${this.title}: 지금 초당 ${rate.toFixed(1)}${this.unit}, 최근 1분 평균 초당 ${mean.toFixed(1)}${this.unit}`;
    }
    this.last = { at, total };
  }

  private draw(canvas: HTMLElement): void {
    this.plot = new uPlot(
      {
        width: Math.max(280, canvas.clientWidth || 480),
        height: 180,
        legend: { show: false },
        scales: { x: { time: true } },
        // uPlot's default ticks show milliseconds at this zoom; a sale is read in wall-clock seconds.
        axes: [{ values: (_, ticks) => ticks.map(clockTime) }, { label: `초당 ${this.unit}` }],
        series: [{}, { label: this.title, stroke: "#0b5cad", fill: "rgba(11, 92, 173, 0.12)", width: 2 }],
      },
      [this.times, this.rates],
      canvas,
    );
  }
}

function clockTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString("ko-KR", { hour12: false });
}
