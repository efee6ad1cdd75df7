/**
 * The track stream (bidirectional, type `0x06`, lite-05+): TRACK asks for a track's immutable
 * properties; TRACK_INFO answers once, then FIN.
 *
 * @module
 */
import { decodeError } from "../error.ts";
import { type Decoded, decodeSized, encodeSized } from "../message.ts";
import { checkedPath, type Path } from "../path.ts";
import { hasGroupOrder, type Version } from "./version.ts";

export interface Track {
  broadcast: Path;
  track: string;
}

export function decodeTrack(buf: Uint8Array, offset = 0): Decoded<Track> | undefined {
  return decodeSized(buf, offset, "TRACK", (r) => ({
    broadcast: checkedPath(r.string("broadcast"), "broadcast"),
    track: r.string("track"),
  }));
}

export function encodeTrack(msg: Track): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => w.string(msg.broadcast).string(msg.track));
}

export interface TrackInfo {
  priority: number;
  /** 05 only (a retired byte, written as sent); absent in 06. */
  ordered: boolean;
  /** How long the publisher keeps non-latest groups, in ms. */
  maxLatency: number;
  /** Timestamp units per second of this track's frames; never 0. */
  timescale: number;
}

export function decodeTrackInfo(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<TrackInfo> | undefined {
  return decodeSized(buf, offset, "TRACK_INFO", (r) => {
    const priority = r.u8("priority");
    const ordered = hasGroupOrder(version) ? r.bool("ordered") : false;
    const maxLatency = r.varint("max latency");
    const timescale = r.varint("timescale");
    if (timescale === 0) throw decodeError("TRACK_INFO: timescale must not be 0");
    return { priority, ordered, maxLatency, timescale };
  });
}

export function encodeTrackInfo(msg: TrackInfo, version: Version): Uint8Array<ArrayBuffer> {
  if (msg.timescale === 0) throw new RangeError("timescale must not be 0");
  return encodeSized((w) => {
    w.u8(msg.priority);
    if (hasGroupOrder(version)) w.bool(msg.ordered);
    w.varint(msg.maxLatency).varint(msg.timescale);
  });
}
