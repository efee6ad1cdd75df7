/**
 * What one `/live` event carries: the broadcasts a viewer may see and the relay's state. Types
 * only, imported by the relay and by its page (built for the browser), so nothing here may
 * import relay code.
 *
 * @module
 */

export interface LiveBroadcast {
  path: string;
  tracks: { name: string; viewers: number }[];
  /** Subscribers of its busiest track here. */
  viewers: number;
  /** Payload bits per second received over the last interval. */
  bitrate: number;
  ageMs: number;
}

/** The relay-wide part of a snapshot. */
export interface LiveRelay {
  sessions: { transport: string; version: string; count: number }[];
  links: number;
  /** Other relays this one links to (only shown to an open relay or a cluster member). */
  members: string[] | undefined;
  cache: { bytes: number; groups: number; maxBytes: number };
  memory: { rss: number; heapUsed: number };
  /** The event loop's lateness, latest and the worst over the last interval, in ms. */
  loopLagMs: { latest: number; max: number };
  draining: boolean;
}

export interface LiveSnapshot {
  time: number;
  version: string;
  /** Broadcasts visible to this page, at most MAX_LIVE_BROADCASTS. */
  broadcasts: LiveBroadcast[];
  /** How many there are in all. */
  broadcastCount: number;
  relay: LiveRelay;
}
