/**
 * "On air": the broadcasts this viewer may see, one row each (kept by path, so a row being
 * clicked is not replaced under the pointer), with tracks, viewers, ingress bitrate and age.
 *
 * @module
 */
import type { LiveBroadcast, LiveSnapshot } from "../../ops/live_snapshot.ts";
import { formatAge, formatBitrate } from "./format.ts";

export interface OnAirElements {
  body: HTMLElement;
  count: HTMLElement;
  empty: HTMLElement;
  more: HTMLElement;
}

export class OnAir {
  readonly #elements: OnAirElements;
  readonly #rows = new Map<string, HTMLTableRowElement>();
  readonly #watch: (path: string) => void;
  #selected: string | undefined;

  constructor(elements: OnAirElements, watch: (path: string) => void) {
    this.#elements = elements;
    this.#watch = watch;
  }

  update(snapshot: LiveSnapshot): void {
    const { body, count, empty, more } = this.#elements;
    const seen = new Set<string>();
    for (const broadcast of snapshot.broadcasts) {
      seen.add(broadcast.path);
      const row = this.#rows.get(broadcast.path) ?? this.#add(broadcast.path);
      fill(row, broadcast);
      body.append(row); // keeps the snapshot's order (sorted by path)
    }
    for (const [path, row] of this.#rows) {
      if (seen.has(path)) continue;
      row.remove();
      this.#rows.delete(path);
    }
    count.textContent = String(snapshot.broadcastCount);
    count.dataset.broadcastCount = String(snapshot.broadcastCount);
    empty.hidden = snapshot.broadcastCount > 0;
    const unlisted = snapshot.broadcastCount - snapshot.broadcasts.length;
    more.hidden = unlisted <= 0;
    more.textContent = `and ${unlisted} more not listed`;
  }

  /** Marks the broadcast being watched. */
  select(path: string | undefined): void {
    this.#selected = path;
    for (const [p, row] of this.#rows) row.toggleAttribute("data-selected", p === path);
  }

  #add(path: string): HTMLTableRowElement {
    const row = document.createElement("tr");
    row.dataset.broadcast = path;
    row.innerHTML = `<td><div data-path></div><div class="tracks" data-tracks></div></td>
      <td class="num" data-cell="viewers"></td><td class="num" data-cell="bitrate"></td>
      <td class="num" data-cell="age"></td><td><button data-watch>Watch</button></td>`;
    (row.querySelector("[data-path]") as HTMLElement).textContent = path;
    (row.querySelector("[data-watch]") as HTMLElement).addEventListener(
      "click",
      () => this.#watch(path),
    );
    row.toggleAttribute("data-selected", path === this.#selected);
    this.#rows.set(path, row);
    return row;
  }
}

function fill(row: HTMLTableRowElement, broadcast: LiveBroadcast): void {
  row.dataset.viewers = String(broadcast.viewers);
  row.dataset.bitrate = String(Math.round(broadcast.bitrate));
  const cell = (name: string) => row.querySelector(`[data-cell="${name}"]`) as HTMLElement;
  cell("viewers").textContent = String(broadcast.viewers);
  cell("bitrate").textContent = formatBitrate(broadcast.bitrate);
  cell("age").textContent = formatAge(broadcast.ageMs);
  const tracks = row.querySelector("[data-tracks]") as HTMLElement;
  tracks.textContent = broadcast.tracks.length === 0
    ? "no tracks subscribed yet"
    : broadcast.tracks.map((t) => `${t.name} (${t.viewers})`).join(", ");
  tracks.dataset.tracks = broadcast.tracks.map((t) => t.name).join(",");
}
