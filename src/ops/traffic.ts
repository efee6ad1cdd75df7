/**
 * What one session moved, as plain numbers bumped where it happens (one addition per frame, no
 * allocation) and read when metrics are scraped or the session's access-log line is written.
 * The relay keeps the totals of ended sessions in one more of these, so a counter never goes
 * backwards when a session leaves.
 *
 * `out` is what the relay sent to the peer (upstream's role "publisher"), `in` what it took from
 * it (role "subscriber").
 *
 * @module
 */

export interface MediaCount {
  frames: number;
  /** Frame payload bytes (what upstream's `moq_relay_bytes_total` counts). */
  bytes: number;
  /** Groups whole on the wire (a datagram is a single-frame group). */
  groups: number;
  datagrams: number;
}

/** Why the relay dropped a group for a subscriber that fell behind. */
export type DropReason = "latency" | "lag_bytes" | "in_flight" | "streams";

/** One direction's requests, as upstream counts them. */
export interface RequestCount {
  announcesStarted: number;
  announcesEnded: number;
  subscriptionsOpened: number;
  subscriptionsClosed: number;
  /** Distinct broadcasts subscribed to, per session (upstream's "viewers"). */
  viewersOpened: number;
  viewersClosed: number;
  fetches: number;
}

function media(): MediaCount {
  return { frames: 0, bytes: 0, groups: 0, datagrams: 0 };
}

function requests(): RequestCount {
  return {
    announcesStarted: 0,
    announcesEnded: 0,
    subscriptionsOpened: 0,
    subscriptionsClosed: 0,
    viewersOpened: 0,
    viewersClosed: 0,
    fetches: 0,
  };
}

export class Traffic {
  readonly out: MediaCount = media();
  readonly in: MediaCount = media();
  /** Requests the relay served for the peer (the peer subscribed, listed, fetched). */
  readonly served: RequestCount = requests();
  /** Requests the relay made of the peer (it publishes: the relay took its announcements and subscribed). */
  readonly made: RequestCount = requests();
  readonly dropped: Record<DropReason, number> = {
    latency: 0,
    lag_bytes: 0,
    in_flight: 0,
    streams: 0,
  };

  /** Adds another session's totals to these (an ended session's, into the relay's). */
  add(other: Traffic): void {
    for (const key of ["frames", "bytes", "groups", "datagrams"] as const) {
      this.out[key] += other.out[key];
      this.in[key] += other.in[key];
    }
    for (
      const key of [
        "announcesStarted",
        "announcesEnded",
        "subscriptionsOpened",
        "subscriptionsClosed",
        "viewersOpened",
        "viewersClosed",
        "fetches",
      ] as const
    ) {
      this.served[key] += other.served[key];
      this.made[key] += other.made[key];
    }
    for (const key of Object.keys(this.dropped) as DropReason[]) {
      this.dropped[key] += other.dropped[key];
    }
  }
}
