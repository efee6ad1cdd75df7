/**
 * Serving TRACK (lite-05+): a track's immutable properties as TRACK_INFO, from the cache (asking
 * the source once if the cache does not know them yet).
 *
 * @module
 */
import { decodeTrack, encodeTrackInfo, StreamCode } from "../../../codec/lite/mod.ts";
import type { BiStream } from "../../../transport/session.ts";
import { unlessAborted } from "../../abort.ts";
import { endedBeforeRequest, type Peer } from "../peer.ts";
import type { MessageReader } from "../../reader.ts";

export async function serveTrackInfo(
  peer: Peer,
  stream: BiStream,
  reader: MessageReader,
): Promise<void> {
  const request = await reader.read(decodeTrack);
  if (!request) return endedBeforeRequest(stream);
  const route = peer.view.route(request.broadcast);
  if (!route) return stream.send.reset(StreamCode.NotFound);
  const lease = route.broadcast.subscribe(request.track, { priority: 0, maxLatency: 0 });
  try {
    const properties = await unlessAborted(lease.track.whenProperties(), peer.signal);
    if (!properties) return stream.send.reset(StreamCode.NotFound);
    await stream.send.write(encodeTrackInfo({ ...properties, ordered: false }, peer.version));
    await stream.send.close();
  } finally {
    lease.release();
  }
}
