/**
 * The relay's `/live` event stream through the browser's `EventSource`, which reconnects by
 * itself after a dropped connection. It gives up for good on an answer that is not an event
 * stream; the page then asks `/live` once more with `fetch` to learn the status: 401 or 403
 * means a token is needed (or this one is not enough), anything else is tried again later.
 *
 * @module
 */
import type { LiveSnapshot } from "../../ops/live_snapshot.ts";
import { relayUrl } from "./token.ts";

export type LiveState = "connecting" | "live" | "offline" | "refused";

export interface LiveHandlers {
  snapshot(snapshot: LiveSnapshot): void;
  /** `status` is the HTTP status of a refusal. */
  state(state: LiveState, status?: number): void;
}

/** How long to wait before opening the stream again after it was given up. */
const RETRY_MS = 3000;

export class LiveStream {
  readonly #handlers: LiveHandlers;
  #source: EventSource | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(handlers: LiveHandlers) {
    this.#handlers = handlers;
  }

  /** (Re)opens the stream with this token. */
  open(token: string | undefined): void {
    this.close();
    const url = relayUrl("/live", token);
    const source = new EventSource(url);
    this.#source = source;
    this.#handlers.state("connecting");
    source.addEventListener("stats", (event) => {
      this.#handlers.state("live");
      this.#handlers.snapshot(JSON.parse((event as MessageEvent<string>).data) as LiveSnapshot);
    });
    source.addEventListener("error", () => {
      if (source !== this.#source) return;
      if (source.readyState !== EventSource.CLOSED) {
        this.#handlers.state("offline"); // EventSource is reconnecting
        return;
      }
      void this.#diagnose(url, token);
    });
  }

  close(): void {
    clearTimeout(this.#retry);
    this.#source?.close();
    this.#source = undefined;
  }

  async #diagnose(url: URL, token: string | undefined): Promise<void> {
    const source = this.#source;
    let status: number | undefined;
    try {
      const abort = new AbortController();
      const response = await fetch(url, { signal: abort.signal });
      status = response.status;
      abort.abort(); // only the status was wanted
    } catch {
      // unreachable: tried again below
    }
    if (source !== this.#source) return;
    if (status === 401 || status === 403) {
      this.close();
      this.#handlers.state("refused", status);
      return;
    }
    this.#handlers.state("offline");
    this.#retry = setTimeout(() => this.open(token), RETRY_MS);
  }
}
