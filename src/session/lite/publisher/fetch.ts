/**
 * Serving FETCH (lite-05+): the frames of one cached group (from a start frame, to an end frame
 * on lite-06), then FIN. What is not cached, or was not cached whole, is refused.
 *
 * @module
 */
import type { Group } from "../../../cache/group.ts";
import {
  decodeFetch,
  type Fetch,
  StreamCode,
  TRUNCATED_FRAME_HEADER,
} from "../../../codec/lite/mod.ts";
import type { BiStream, SendStream } from "../../../transport/session.ts";
import { unlessAborted } from "../../abort.ts";
import { endedBeforeRequest, type Peer } from "../peer.ts";
import type { MessageReader } from "../../reader.ts";
import { frameHeader } from "./frames.ts";
import { type Position, truncate } from "../../delivery/truncate.ts";

export async function serveFetch(
  peer: Peer,
  stream: BiStream,
  reader: MessageReader,
): Promise<void> {
  const request = await reader.read((b, o) => decodeFetch(b, peer.version, o));
  if (!request) return endedBeforeRequest(stream);
  peer.traffic.served.fetches++;
  const route = peer.view.route(request.broadcast);
  if (!route) return stream.send.reset(StreamCode.NotFound);
  // Only what is cached can be fetched: a track nobody holds is not subscribed for it.
  const lease = route.broadcast.held(request.track, {
    priority: request.priority,
    maxLatency: 0,
  });
  if (!lease) return stream.send.reset(StreamCode.NotFound);
  try {
    const group = lease.track.group(request.group);
    if (!group || group.aborted) return stream.send.reset(StreamCode.NotFound);
    const position = await writeFrames(peer, stream.send, group, request);
    if (group.complete || (position === "boundary" && !group.aborted)) {
      return void await stream.send.close();
    }
    truncate(stream.send, peer.transport, position, StreamCode.Cancel, TRUNCATED_FRAME_HEADER);
  } finally {
    lease.release();
  }
}

/** Writes the requested frames as they arrive; says where the stream stands at the end. */
async function writeFrames(
  peer: Peer,
  send: SendStream,
  group: Group,
  request: Fetch,
): Promise<Position> {
  const changed = () => unlessAborted(group.changed(), peer.signal);
  let previous = 0;
  const last = request.endFrame ?? Number.MAX_SAFE_INTEGER;
  for (let i = request.startFrame; i <= last; i++) {
    while (!group.frames[i] && !group.done && !peer.signal.aborted) await changed();
    const frame = group.frames[i];
    if (!frame) return "boundary";
    await send.write(frameHeader(frame, previous, peer.version));
    previous = frame.timestamp;
    // Held for the whole frame: a completed frame's chunks array may be replaced (frames.ts).
    const chunks = frame.chunks;
    let next = 0;
    while (true) {
      while (next < chunks.length) await send.write(chunks[next++] ?? new Uint8Array());
      if (frame.received >= frame.size) break;
      if (group.aborted || peer.signal.aborted) return "inside";
      await changed();
    }
  }
  return "boundary";
}
