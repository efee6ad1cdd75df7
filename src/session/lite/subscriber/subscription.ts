/**
 * One subscription of ours to the peer (it publishes the track): TRACK first on lite-05+ for the
 * track's properties, then SUBSCRIBE; the answers confirm or refuse the track, and its end ends
 * it. The groups themselves arrive on their own streams (`group_reader.ts`).
 *
 * @module
 */
import type { TrackRequest, Upstream } from "../../../cache/broadcast.ts";
import { DEFAULT_PROPERTIES, type Track } from "../../../cache/track.ts";
import {
  BidiType,
  decodeSubscribeResponse,
  decodeTrackInfo,
  encodeSubscribe,
  encodeSubscribeUpdate,
  encodeTrack,
  hasSubscribeWindow,
  hasTrackStream,
} from "../../../codec/lite/mod.ts";
import { concatBytes } from "../../../bytes/concat.ts";
import { CONTROL_PRIORITY, type Peer } from "../peer.ts";
import { MessageReader } from "../../reader.ts";
import { SerialWriter } from "../../writer.ts";

/** Opens a subscription to `path` (relative to the session's root); `ended` runs once it is over. */
export function subscribeUpstream(
  peer: Peer,
  id: bigint,
  path: string,
  track: Track,
  request: TrackRequest,
  ended: () => void,
): Upstream {
  const version = peer.version;
  let writer: SerialWriter | undefined;
  let closed = false;
  peer.traffic.made.subscriptionsOpened++;
  let counted = false;
  const finished = () => {
    if (!counted) peer.traffic.made.subscriptionsClosed++;
    counted = true;
    ended();
  };

  const run = async () => {
    if (hasTrackStream(version)) void fetchProperties(peer, path, track);
    else track.setProperties({ ...DEFAULT_PROPERTIES, priority: request.priority });
    if (closed) return;
    // The stream opens with the whole SUBSCRIBE, never with its type byte alone.
    const stream = await peer.transport.openBi({
      priority: CONTROL_PRIORITY,
      initial: concatBytes([
        Uint8Array.of(BidiType.Subscribe),
        encodeSubscribe({
          id,
          broadcast: path,
          track: track.name,
          priority: request.priority,
          ordered: false,
          maxLatency: request.maxLatency,
          startGroup: undefined,
          endGroup: undefined,
          startFrame: 0,
          endFrame: undefined,
        }, version),
      ]),
    });
    writer = new SerialWriter(stream.send);
    if (closed) return void writer.close();
    const reader = new MessageReader(stream.recv);
    const decode = (b: Uint8Array, o: number) => decodeSubscribeResponse(b, version, o);
    let answered = false;
    try {
      for (let m = await reader.read(decode); m; m = await reader.read(decode)) {
        answered = true;
        track.confirm();
        if (m.kind === "end") break; // the publisher will send no group from m.group on
      }
    } finally {
      // The publisher finished (or refused: FIN or reset before any answer).
      if (!closed) track.end(answered ? undefined : "not found");
    }
  };
  run().catch((e) => {
    peer.log.debug("upstream subscription to {path}/{track} ended: {error}", {
      path: track.broadcast,
      track: track.name,
      error: String(e),
    });
    track.end(String(e));
  }).finally(() => {
    // Groups already in flight may still land; forget the id once the track is over.
    if (closed || track.ended) finished();
  });

  return {
    update: (next) => {
      if (!hasSubscribeWindow(version) || !writer) return;
      void writer.write(encodeSubscribeUpdate({
        priority: next.priority,
        ordered: false,
        maxLatency: next.maxLatency,
        startGroup: undefined,
        endGroup: undefined,
        startFrame: 0,
        endFrame: undefined,
      }, version));
    },
    close: () => {
      if (closed) return;
      closed = true;
      finished();
      void writer?.close();
    },
  };
}

/** lite-05+: asks for TRACK_INFO on its own stream. */
async function fetchProperties(peer: Peer, path: string, track: Track): Promise<void> {
  try {
    const stream = await peer.transport.openBi({
      priority: CONTROL_PRIORITY,
      initial: concatBytes([
        Uint8Array.of(BidiType.Track),
        encodeTrack({ broadcast: path, track: track.name }),
      ]),
    });
    await stream.send.close();
    const info = await new MessageReader(stream.recv).read((b, o) =>
      decodeTrackInfo(b, peer.version, o)
    );
    if (info) {
      track.setProperties({
        priority: info.priority,
        maxLatency: info.maxLatency,
        timescale: info.timescale,
      });
      // An answered TRACK proves the track exists before its first group (SUBSCRIBE_START
      // comes only with that): a moq-transport viewer gets its SUBSCRIBE_OK now.
      track.confirm();
    }
  } catch (e) {
    peer.log.debug("TRACK for {path}/{track} failed: {error}", {
      path,
      track: track.name,
      error: String(e),
    });
  } finally {
    // Without TRACK_INFO the frames still carry timestamps: read them in milliseconds.
    if (!track.properties) track.setProperties(DEFAULT_PROPERTIES);
  }
}
