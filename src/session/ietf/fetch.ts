/**
 * Serving FETCH from the cache: the groups a relay holds whole, on one FETCH stream (FETCH_HEADER
 * then each object with its group and id), after FETCH_OK. A relay has only what it caches and
 * never fetches upstream for it, so groups it does not hold (or holds only in part) are left out,
 * and a range with nothing cached is refused (DOES_NOT_EXIST).
 *
 * - standalone (14-19): a track, from a start location to an end location (an end object of 0
 *   takes the whole end group);
 * - joining (14-19): the groups before a subscription of this session's starts, `offset` groups
 *   back (relative) or from a group on (absolute);
 * - draft 20: a track and its LOCATION_FILTER (the whole cache when unfiltered).
 *
 * Groups go out in ascending order unless the FETCH asks for descending; the stream ends with
 * FIN once the last object is written, or cut short (see `../delivery/truncate.ts`) when the requester
 * cancels (FETCH_CANCEL on 14-16, the end of its request on 17+).
 *
 * @module
 */
import type { TrackLease } from "../../cache/broadcast.ts";
import type { Group } from "../../cache/group.ts";
import type { Track } from "../../cache/track.ts";
import {
  encodeFetchHeader,
  encodeFetchObject,
  encodeObjectExtensions,
  type Fetch,
  type FetchObjectPosition,
  type Filter,
  type Location,
  namespaceToPath,
  writesTrackProperties,
} from "../../codec/ietf/mod.ts";
import { StreamCode } from "../../codec/error.ts";
import type { SendStream } from "../../transport/session.ts";
import { Cancellation } from "../abort.ts";
import { truncate } from "../delivery/truncate.ts";
import { truncationMarker } from "./group_wire.ts";
import type { IetfPeer } from "./peer.ts";
import { refuse } from "./publisher.ts";
import type { RequestStream } from "./requests.ts";

/** What a joining FETCH needs of the subscription it joins. */
export interface Joinable {
  track: Track;
  /** The group the subscription started at (undefined while it has none). */
  startGroup: number | undefined;
}

/** The range of groups and objects to serve, resolved against the track. */
interface Range {
  start: Location;
  /** Inclusive; an object of `undefined` takes the whole end group. */
  end: { group: number; object: number | undefined };
}

/** Serves one FETCH until it is written or cancelled. */
export async function serveFetch(
  peer: IetfPeer,
  fetch: Fetch,
  stream: RequestStream,
  joinable: (requestId: bigint) => Joinable | undefined,
): Promise<void> {
  const no = (condition: "does-not-exist" | "invalid-range" | "not-supported", why: string) =>
    refuse(peer, stream, "fetch", fetch.requestId, condition, why);
  peer.traffic.served.fetches++;
  if (fetch.rangeFilters || fetch.fillTimeout !== undefined) {
    return await no("not-supported", "range filters and fill timeouts are not supported");
  }
  const range = fetch.range;
  let lease: TrackLease | undefined;
  let track: Track;
  let wanted: Range | undefined;
  if (range.type === "relative-joining" || range.type === "absolute-joining") {
    const joined = joinable(range.joining);
    if (!joined) return await no("does-not-exist", "no such subscription to join");
    track = joined.track;
    const before = joined.startGroup;
    if (before === undefined || before === 0) return await no("invalid-range", "nothing before");
    const first = range.type === "relative-joining"
      ? Math.max(0, before - range.offset)
      : range.group;
    wanted = { start: { group: first, object: 0 }, end: { group: before - 1, object: undefined } };
  } else {
    const route = peer.view.route(namespaceToPath(range.namespace));
    // Only what is cached can be fetched: a track nobody holds is not subscribed for it.
    lease = route?.broadcast.held(range.track, { priority: fetch.priority, maxLatency: 0 });
    if (!lease) return await no("does-not-exist", "the track is not cached here");
    track = lease.track;
    wanted = range.type === "standalone"
      ? {
        start: range.start,
        end: { group: range.end.group, object: range.end.object || undefined },
      }
      : filterRange(range.filter, track);
  }
  try {
    const groups = wanted ? cachedGroups(track, wanted, fetch.groupOrder === 2) : [];
    if (groups.length === 0) return await no("does-not-exist", "no cached group in the range");
    await new FetchDelivery(peer, fetch, stream, track, groups, wanted!).run();
  } finally {
    lease?.release();
  }
}

/** Draft 20: what a LOCATION_FILTER names of the cached track. */
function filterRange(filter: Filter, track: Track): Range | undefined {
  const latest = track.latest?.sequence;
  switch (filter.type) {
    case "unfiltered":
      return { start: { group: 0, object: 0 }, end: { group: Infinity, object: undefined } };
    case "relative":
      if (latest === undefined) return undefined;
      return {
        start: { group: Math.max(0, latest + 1 - filter.groups), object: 0 },
        end: { group: latest, object: undefined },
      };
    case "absolute-start":
      return { start: filter.start, end: { group: Infinity, object: undefined } };
    case "absolute-range":
      return { start: filter.start, end: { group: filter.endGroup, object: filter.endObject } };
    default:
      return undefined; // next group / next object: nothing a fetch can return yet
  }
}

/** The cached, whole groups in the range, in the order asked for. */
function cachedGroups(track: Track, range: Range, descending: boolean): Group[] {
  const groups: Group[] = [];
  for (let at = track.at(0); at.group; at = track.at(at.index + 1)) {
    const g = at.group;
    if (g.sequence < range.start.group || g.sequence > range.end.group) continue;
    if (g.complete) groups.push(g);
  }
  groups.sort((a, b) => descending ? b.sequence - a.sequence : a.sequence - b.sequence);
  return groups;
}

class FetchDelivery {
  readonly #peer: IetfPeer;
  readonly #fetch: Fetch;
  readonly #stream: RequestStream;
  readonly #track: Track;
  readonly #groups: Group[];
  readonly #range: Range;
  readonly #cancel = new Cancellation();

  constructor(
    peer: IetfPeer,
    fetch: Fetch,
    stream: RequestStream,
    track: Track,
    groups: Group[],
    range: Range,
  ) {
    this.#peer = peer;
    this.#fetch = fetch;
    this.#stream = stream;
    this.#track = track;
    this.#groups = groups;
    this.#range = range;
  }

  async run(): Promise<void> {
    const last = this.#groups.reduce((a, b) => (a.sequence > b.sequence ? a : b));
    const stamped = writesTrackProperties(this.#peer.draft);
    const properties = this.#track.properties;
    await this.#stream.write({
      type: "fetch_ok",
      requestId: this.#fetch.requestId,
      groupOrder: this.#fetch.groupOrder === 2 ? 2 : 1,
      endOfTrack: this.#track.ended,
      end: { group: last.sequence, object: Math.max(0, last.frames.length - 1) },
      properties: stamped && properties ? { timescale: properties.timescale } : {},
    });
    const listening = this.#listen();
    let send: SendStream | undefined;
    try {
      send = await this.#peer.transport.openUni({
        initial: encodeFetchHeader(this.#fetch.requestId, this.#peer.draft),
        cancel: this.#cancel,
      });
      const whole = await this.#write(send, stamped && properties !== undefined);
      if (whole) await send.close();
      else {
        truncate(
          send,
          this.#peer.transport,
          "boundary",
          StreamCode.Cancel,
          truncationMarker(this.#peer.draft),
        );
      }
    } catch {
      // cancelled, or the session ended: nothing more to send
    } finally {
      this.#cancel.cancel();
      await this.#stream.finish();
      await listening;
    }
  }

  /** Writes every object in range; false when cancelled before the end. */
  async #write(send: SendStream, stamped: boolean): Promise<boolean> {
    const draft = this.#peer.draft;
    const descending = this.#fetch.groupOrder === 2;
    let previous: FetchObjectPosition | undefined;
    for (const group of this.#groups) {
      const first = group.sequence === this.#range.start.group ? this.#range.start.object : 0;
      const endObject = group.sequence === this.#range.end.group
        ? this.#range.end.object
        : undefined;
      for (let i = first; i < group.frames.length; i++) {
        if (endObject !== undefined && i > endObject) break;
        if (this.#cancel.cancelled) return false;
        const frame = group.frames[i]!;
        const header = {
          group: group.sequence,
          subgroup: 0,
          object: i,
          priority: 128,
          extensions: stamped
            ? encodeObjectExtensions({ timestamp: frame.timestamp }, draft)
            : undefined,
          length: frame.size,
        };
        await send.write(encodeFetchObject(header, previous, draft, descending));
        previous = header;
        for (const chunk of frame.chunks) await send.write(chunk);
        this.#peer.traffic.out.frames++;
        this.#peer.traffic.out.bytes += frame.size;
      }
    }
    return true;
  }

  /** The requester's side: FETCH_CANCEL (14-16) or the end of its request (17+). */
  async #listen(): Promise<void> {
    try {
      for (let m = await this.#stream.read(); m; m = await this.#stream.read()) {
        if (m.type === "fetch_cancel") break;
      }
    } catch {
      // reset: cancelled either way
    }
    this.#cancel.cancel();
  }
}
