/**
 * "Watch": upstream's `<moq-watch>` player, given the relay's own origin (with `?jwt=`), so
 * `@moq/net` fetches `/certificate.sha256` and connects over WebTransport (or WebSocket).
 *
 * @module
 */
import "@moq/watch/element";
import { relayUrl } from "./token.ts";

export class Player {
  readonly #container: HTMLElement;
  readonly #empty: HTMLElement;
  readonly #title: HTMLElement;
  #element: HTMLElement | undefined;
  #path: string | undefined;

  constructor(container: HTMLElement, empty: HTMLElement, title: HTMLElement) {
    this.#container = container;
    this.#empty = empty;
    this.#title = title;
  }

  get path(): string | undefined {
    return this.#path;
  }

  /** Plays `path` (a new player each time: nothing of the previous one's state carries over). */
  watch(path: string, token: string | undefined): void {
    this.#element?.remove();
    const element = document.createElement("moq-watch");
    element.setAttribute("url", relayUrl("/", token).href);
    element.setAttribute("name", path);
    element.setAttribute("visible", "always");
    element.setAttribute("muted", "");
    element.append(document.createElement("canvas"));
    this.#container.append(element);
    this.#container.dataset.watching = path;
    this.#element = element;
    this.#path = path;
    this.#empty.hidden = true;
    this.#title.textContent = path;
  }
}
