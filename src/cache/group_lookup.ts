/**
 * Finding one group of a broadcast's track for a one-shot read (HTTP `/fetch`), as upstream's
 * `fetch_group` does: a numbered group the cache holds is served from it; otherwise, and for the
 * newest group, the track is subscribed upstream (shared with every other subscriber) until its
 * first group shows where the live edge is. This relay cannot FETCH a group upstream, so a
 * numbered group older than that edge, and not cached, is missing; so is one past it (upstream's
 * FETCH does not wait for future groups either).
 *
 * @module
 */
import { unlessAborted } from "../session/abort.ts";
import type { Broadcast, TrackLease, TrackRequest } from "./broadcast.ts";
import type { Group } from "./group.ts";
import type { Track } from "./track.ts";

export type GroupLookup =
  /** The group, and the lease that keeps its track filled; release it when done. */
  | { group: Group; lease: TrackLease }
  /** It is not there, and will not be: why. */
  | { missing: string }
  /** The signal aborted first. */
  | { gaveUp: true };

/** What a one-shot read asks of upstream: the lowest priority, only the newest group. */
const LOOKUP_REQUEST: TrackRequest = { priority: 0, maxLatency: 0 };

export async function lookupGroup(
  broadcast: Broadcast,
  name: string,
  wanted: number | "latest",
  signal: AbortSignal,
): Promise<GroupLookup> {
  const lease = (wanted === "latest" ? undefined : broadcast.held(name, LOOKUP_REQUEST)) ??
    broadcast.subscribe(name, LOOKUP_REQUEST);
  try {
    for (;;) {
      const found = settle(lease.track, wanted);
      if (found !== undefined) {
        if ("group" in found) return { group: found.group, lease };
        lease.release();
        return found;
      }
      await unlessAborted(lease.track.changed(), signal);
      if (signal.aborted) {
        lease.release();
        return { gaveUp: true };
      }
    }
  } catch (e) {
    lease.release();
    throw e;
  }
}

/** The answer the track gives now, or undefined while it may still come. */
function settle(
  track: Track,
  wanted: number | "latest",
): { group: Group } | { missing: string } | undefined {
  const group = wanted === "latest" ? track.latest : track.group(wanted);
  if (group?.aborted) return { missing: "the group was cut short" };
  if (group) return { group };
  if (wanted !== "latest" && track.latest !== undefined) {
    return { missing: "the group is not cached (the relay only has what it was sent)" };
  }
  if (track.ended) {
    return { missing: track.error ? `the track is not available: ${track.error}` : "no group" };
  }
  return undefined;
}
