/**
 * `GET /live`: what the relay's own page shows, as a server-sent event stream. One `stats` event
 * a second, each a whole snapshot: the broadcasts the viewer may see (capped at
 * {@link MAX_LIVE_BROADCASTS}), each with its tracks, viewers, ingress bitrate and age, and the
 * relay's state. The page keeps the history for its plots; the relay keeps, per open page, one
 * timer and the previous byte count of each broadcast listed, so nothing grows however long a
 * page stays open.
 *
 * @module
 */
import type { Broadcast } from "../cache/broadcast.ts";
import type { OriginView } from "../cache/view.ts";
import type { LiveBroadcast, LiveRelay, LiveSnapshot } from "./live_snapshot.ts";

export type { LiveBroadcast, LiveRelay, LiveSnapshot };

/** Broadcasts listed in one event; more are counted, not listed. */
export const MAX_LIVE_BROADCASTS = 200;
/** How often the page hears from the relay. */
export const LIVE_INTERVAL_MS = 1000;

export interface LiveSource {
  version: string;
  relay(): LiveRelay;
}

/** One page's feed: its view of the origin and what it last saw of each broadcast. */
export class LiveFeed {
  readonly #view: OriginView;
  readonly #source: LiveSource;
  #previous = new Map<Broadcast, { bytes: number; at: number }>();

  constructor(view: OriginView, source: LiveSource) {
    this.#view = view;
    this.#source = source;
  }

  snapshot(now = Date.now()): LiveSnapshot {
    const watch = this.#view.watch("", () => {});
    const visible = watch?.snapshot ?? [];
    watch?.stop();
    const listed = [...visible].sort((a, b) => a.path.localeCompare(b.path)).slice(
      0,
      MAX_LIVE_BROADCASTS,
    );
    const next = new Map<Broadcast, { bytes: number; at: number }>();
    const broadcasts = listed.map(({ path, announcement }) => {
      const broadcast = announcement.broadcast;
      const bytes = broadcast.receivedBytes;
      const before = this.#previous.get(broadcast);
      next.set(broadcast, { bytes, at: now });
      const seconds = before ? (now - before.at) / 1000 : 0;
      const tracks = broadcast.tracks().map((t) => ({ name: t.name, viewers: t.subscribers }));
      return {
        path,
        tracks,
        viewers: Math.max(0, ...tracks.map((t) => t.viewers)),
        bitrate: before && seconds > 0 ? Math.max(0, (bytes - before.bytes) * 8 / seconds) : 0,
        ageMs: now - broadcast.created,
      };
    });
    this.#previous = next;
    return {
      time: now,
      version: this.#source.version,
      broadcasts,
      broadcastCount: visible.length,
      relay: this.#source.relay(),
    };
  }
}

/**
 * The event stream of a feed: a `stats` event at once and then every second, until the page
 * goes (`gone`) or `ended` settles (its grant ran out); `stop` runs once either way.
 */
export function liveStream(
  feed: LiveFeed,
  gone: AbortSignal,
  ended: Promise<unknown>,
  stop: () => void,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  const finish = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    stop();
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = () => {
        if (stopped) return;
        const data = JSON.stringify(feed.snapshot());
        try {
          controller.enqueue(encoder.encode(`event: stats\ndata: ${data}\n\n`));
        } catch {
          finish();
        }
      };
      send();
      timer = setInterval(send, LIVE_INTERVAL_MS);
      const close = () => {
        finish();
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      gone.addEventListener("abort", close, { once: true });
      void ended.then(close);
    },
    cancel: finish,
  });
}
