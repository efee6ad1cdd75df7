/** A small plot: a titled value and an inline-SVG area of its recent history. @module */
import { HISTORY_SAMPLES } from "./history.ts";

const SVG = "http://www.w3.org/2000/svg";
/** The drawing's own height; the SVG stretches it to its box. */
const HEIGHT = 100;
/** The x axis spans at least a minute, so a young history does not fill it with a few samples. */
const MIN_SPAN = 60;

export class Plot {
  readonly element: HTMLElement;
  readonly #value: HTMLElement;
  readonly #detail: HTMLElement;
  readonly #line: SVGPolylineElement;
  readonly #area: SVGPolygonElement;
  readonly #svg: SVGSVGElement;

  constructor(key: string, title: string) {
    this.element = document.createElement("div");
    this.element.className = "plot";
    this.element.dataset.plot = key;
    const heading = document.createElement("h3");
    heading.textContent = title;
    this.#value = document.createElement("div");
    this.#value.className = "value";
    this.#detail = document.createElement("div");
    this.#detail.className = "detail";
    const svg = document.createElementNS(SVG, "svg");
    this.#svg = svg;
    svg.setAttribute("preserveAspectRatio", "none");
    this.#area = document.createElementNS(SVG, "polygon");
    this.#line = document.createElementNS(SVG, "polyline");
    svg.append(this.#area, this.#line);
    this.element.append(heading, this.#value, svg, this.#detail);
  }

  /** Shows `values` (oldest first, one a second) right-aligned, scaled to their maximum. */
  draw(values: number[], label: string, detail = ""): void {
    this.#value.textContent = label;
    this.#detail.textContent = detail;
    const width = Math.min(HISTORY_SAMPLES, Math.max(MIN_SPAN, values.length));
    this.#svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const top = Math.max(...values, 0) || 1;
    const start = width - values.length;
    const points = values.map((v, i) =>
      `${start + i},${(HEIGHT - (v / top) * (HEIGHT - 4)).toFixed(1)}`
    );
    this.#line.setAttribute("points", points.join(" "));
    this.#area.setAttribute(
      "points",
      points.length > 0 ? `${start},${HEIGHT} ${points.join(" ")} ${width - 1},${HEIGHT}` : "",
    );
  }
}
