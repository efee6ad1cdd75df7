/**
 * TRACK (lite-05+: a track's immutable properties) and FETCH (lite-05+: one cached group).
 *
 * @module
 */
import {
  decodeFetch,
  decodeTrack,
  encodeFrameHeader,
  encodeTrackInfo,
  joinPath,
  StreamCode,
} from "../codec/mod.ts";
import type { BiStream } from "../transport/session.ts";
import { isInternal } from "./context.ts";
import type { Peer } from "./peer.ts";
import type { MessageReader } from "./reader.ts";

/** Answers TRACK with TRACK_INFO from the cache (asking upstream once if needed). */
export async function serveTrack(
  peer: Peer,
  stream: BiStream,
  reader: MessageReader,
): Promise<void> {
  const request = await reader.expect(decodeTrack, "TRACK");
  const path = joinPath(peer.root, request.broadcast);
  const route = peer.ctx.origin.route(path);
  if (!route || (isInternal(path) && !peer.cluster && peer.ctx.cluster.token !== undefined)) {
    return stream.send.reset(StreamCode.NotFound);
  }
  const lease = route.broadcast.subscribe(request.track, { priority: 0, maxLatency: 0 });
  try {
    const properties = await Promise.race([
      lease.track.whenProperties(),
      peer.done.then(() => undefined),
    ]);
    if (!properties) return stream.send.reset(StreamCode.NotFound);
    await stream.send.write(encodeTrackInfo({ ...properties, ordered: false }, peer.version));
    await stream.send.close();
  } finally {
    lease.release();
  }
}

/** Answers FETCH with the frames of one cached group, then FIN; refuses what is not cached. */
export async function serveFetch(
  peer: Peer,
  stream: BiStream,
  reader: MessageReader,
): Promise<void> {
  const request = await reader.expect((b, o) => decodeFetch(b, peer.version, o), "FETCH");
  const path = joinPath(peer.root, request.broadcast);
  const route = peer.ctx.origin.route(path);
  if (!route) return stream.send.reset(StreamCode.NotFound);
  const lease = route.broadcast.subscribe(request.track, {
    priority: request.priority,
    maxLatency: 0,
  });
  try {
    const group = lease.track.group(request.group);
    if (!group) return stream.send.reset(StreamCode.NotFound);
    let previous = 0;
    const last = request.endFrame ?? Number.MAX_SAFE_INTEGER;
    for (let i = request.startFrame; i <= last; i++) {
      while (!group.frames[i] && !group.done) await group.changed();
      const frame = group.frames[i];
      if (!frame) break;
      await stream.send.write(
        encodeFrameHeader(
          { timestampDelta: frame.timestamp - previous, size: frame.size },
          peer.version,
        ),
      );
      previous = frame.timestamp;
      // Held for the whole frame: a completed frame's chunks array may be replaced (joinFrame).
      const chunks = frame.chunks;
      let chunk = 0;
      while (true) {
        while (chunk < chunks.length) {
          await stream.send.write(chunks[chunk++] ?? new Uint8Array());
        }
        if (frame.received >= frame.size) break;
        if (group.aborted) return stream.send.reset(StreamCode.Cancel);
        await group.changed();
      }
    }
    if (group.aborted) return stream.send.reset(StreamCode.Cancel);
    await stream.send.close();
  } finally {
    lease.release();
  }
}
