/**
 * The relay as a subscriber of a peer that publishes: one upstream subscription per track (the
 * cache shares it among local subscribers), and the group streams that fill the cache.
 *
 * @module
 */
import type { Broadcast, BroadcastSource, TrackRequest, Upstream } from "../cache/broadcast.ts";
import { DEFAULT_PROPERTIES, type Track } from "../cache/track.ts";
import {
  BidiType,
  decodeFrameHeader,
  decodeGroupHeader,
  decodeSubscribeResponse,
  decodeTrackInfo,
  encodeSubscribe,
  encodeSubscribeUpdate,
  encodeTrack,
  hasFrameTimestamps,
  StreamCode,
  stripPrefix,
  Version,
} from "../codec/mod.ts";
import type { RecvStream } from "../transport/session.ts";
import { CONTROL_PRIORITY, type Peer } from "./peer.ts";
import { MessageReader } from "./reader.ts";
import { SerialWriter } from "./writer.ts";

interface Subscription {
  track: Track;
  /** Timestamps of pre-05 publishers are local receive times: ms since this time origin. */
  epoch: number;
}

export class UpstreamSubscriber implements BroadcastSource {
  readonly label: string;
  readonly #peer: Peer;
  readonly #subscriptions = new Map<bigint, Subscription>();
  #nextId = 0n;
  #incoming = 0;

  constructor(peer: Peer) {
    this.#peer = peer;
    this.label = `${peer.transport.remote.hostname}:${peer.transport.remote.port}`;
  }

  /** Number of open upstream subscriptions. */
  get size(): number {
    return this.#subscriptions.size;
  }

  subscribe(broadcast: Broadcast, track: Track, request: TrackRequest): Upstream {
    const peer = this.#peer;
    const id = this.#nextId++;
    const wirePath = stripPrefix(broadcast.path, peer.root) ?? broadcast.path;
    this.#subscriptions.set(id, { track, epoch: Date.now() });
    let writer: SerialWriter | undefined;
    let closed = false;
    const version = peer.version;

    const run = async () => {
      if (version >= Version.Lite05) void this.#fetchInfo(wirePath, track);
      else track.setProperties({ ...DEFAULT_PROPERTIES, priority: request.priority });
      const stream = await peer.transport.openBi({
        priority: CONTROL_PRIORITY,
        initial: Uint8Array.of(BidiType.Subscribe),
      });
      writer = new SerialWriter(stream.send);
      if (closed) return void writer.close();
      await writer.write(encodeSubscribe({
        id,
        broadcast: wirePath,
        track: track.name,
        priority: request.priority,
        ordered: false,
        maxLatency: request.maxLatency,
        startGroup: undefined,
        endGroup: undefined,
        startFrame: 0,
        endFrame: undefined,
      }, version));
      const reader = new MessageReader(stream.recv);
      let answered = false;
      try {
        for (
          let m = await reader.read((b, o) => decodeSubscribeResponse(b, version, o));
          m;
          m = await reader.read((b, o) => decodeSubscribeResponse(b, version, o))
        ) {
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
        path: broadcast.path,
        track: track.name,
        error: String(e),
      });
      track.end(String(e));
    }).finally(() => {
      // Groups already in flight may still land; forget the id once the track is over.
      if (closed || track.ended) this.#subscriptions.delete(id);
    });

    return {
      update: (next) => {
        if (version < Version.Lite03 || !writer) return;
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
        this.#subscriptions.delete(id);
        void writer?.close();
      },
    };
  }

  /** lite-05+: ask for TRACK_INFO on its own stream. */
  async #fetchInfo(wirePath: string, track: Track): Promise<void> {
    const peer = this.#peer;
    try {
      const stream = await peer.transport.openBi({
        priority: CONTROL_PRIORITY,
        initial: Uint8Array.of(BidiType.Track),
      });
      await stream.send.write(encodeTrack({ broadcast: wirePath, track: track.name }));
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
      }
    } catch (e) {
      peer.log.debug("TRACK for {path}/{track} failed: {error}", {
        path: wirePath,
        track: track.name,
        error: String(e),
      });
    } finally {
      // Without TRACK_INFO the frames still carry timestamps: read them in milliseconds.
      if (!track.properties) track.setProperties(DEFAULT_PROPERTIES);
    }
  }

  /** A group stream from the peer, after its type byte. */
  async receiveGroup(stream: RecvStream, reader: MessageReader): Promise<void> {
    const peer = this.#peer;
    const version = peer.version;
    if (this.#incoming >= peer.ctx.limits.maxIncomingGroups) {
      stream.stop(StreamCode.Cancel);
      return;
    }
    this.#incoming++;
    try {
      const header = await reader.expect((b, o) => decodeGroupHeader(b, version, o), "GROUP");
      const sub = this.#subscriptions.get(header.subscribeId);
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
        }
        group.finish();
      } catch (e) {
        group.abort();
        throw e;
      }
    } finally {
      this.#incoming--;
    }
  }

  /** The session ended: every upstream track ends. */
  close(): void {
    for (const sub of this.#subscriptions.values()) sub.track.end("publisher gone");
    this.#subscriptions.clear();
  }
}
