/**
 * A group stream from the peer, read into the cache as it arrives. A group that does not end
 * whole (reset, or FIN inside a frame or a frame header, which is how a Deno peer truncates) is
 * marked aborted: the cache never serves it as whole.
 *
 * @module
 */
import type { Track } from "../../../cache/track.ts";
import {
  decodeFrameHeader,
  decodeGroupHeader,
  hasFrameTimestamps,
  StreamCode,
} from "../../../codec/lite/mod.ts";
import type { RecvStream } from "../../../transport/session.ts";
import type { Peer } from "../peer.ts";
import type { MessageReader } from "../../reader.ts";

/** A subscription of ours, as its group streams need it. */
export interface Subscribed {
  track: Track;
  /** Timestamps of pre-05 publishers are local receive times: ms since this time origin. */
  epoch: number;
}

/** Reads one group stream (after its type byte) into the track of its subscription. */
export async function readGroup(
  peer: Peer,
  stream: RecvStream,
  reader: MessageReader,
  lookup: (id: bigint) => Subscribed | undefined,
): Promise<void> {
  const version = peer.version;
  const header = await reader.expect((b, o) => decodeGroupHeader(b, version, o), "GROUP");
  const sub = lookup(header.subscribeId);
  if (!sub) return stream.stop(StreamCode.Cancel); // unknown or finished subscription
  // A group starting past frame 0 (lite-06) cannot be cached as whole: skip it.
  if (header.frameStart !== 0) return stream.stop(StreamCode.Cancel);
  const group = sub.track.addGroup(header.sequence);
  if (!group) return stream.stop(StreamCode.Cancel);
  const stamped = hasFrameTimestamps(version);
  const frameHeader = (b: Uint8Array, o: number) => decodeFrameHeader(b, version, o);
  let timestamp = 0;
  try {
    while (true) {
      const h = await reader.read(frameHeader);
      if (!h) break;
      timestamp = stamped ? timestamp + h.timestampDelta : Date.now() - sub.epoch;
      const frame = group.startFrame(timestamp, h.size);
      if (!frame) return stream.stop(StreamCode.GroupTooLarge);
      let left = h.size;
      while (left > 0) {
        const chunk = await reader.payload(left);
        if (!chunk) throw new Error("group stream ended inside a frame");
        left -= chunk.length;
        group.appendChunk(frame, chunk);
      }
      peer.traffic.in.frames++;
      peer.traffic.in.bytes += h.size;
      sub.track.received += h.size;
    }
    group.finish();
    peer.traffic.in.groups++;
  } catch (e) {
    group.abort();
    throw e;
  }
}
