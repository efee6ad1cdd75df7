/**
 * The subscriber side of a session: what the peer publishes, taken into the cache. It learns the
 * peer's broadcasts (`announcements.ts`), opens one subscription to the peer per track however
 * many local subscribers share it (`subscription.ts`), and reads the group streams
 * (`group_reader.ts`) and datagrams that fill those tracks.
 *
 * @module
 */
import type {
  Broadcast,
  BroadcastSource,
  TrackRequest,
  Upstream,
} from "../../../cache/broadcast.ts";
import type { Track } from "../../../cache/track.ts";
import {
  decodeDatagram,
  hasDatagrams,
  ProtocolError,
  StreamCode,
} from "../../../codec/lite/mod.ts";
import type { RecvStream } from "../../../transport/session.ts";
import type { Peer } from "../peer.ts";
import type { MessageReader } from "../../reader.ts";
import { type Listing, takeAnnouncements } from "./announcements.ts";
import { readGroup, type Subscribed } from "./group_reader.ts";
import { subscribeUpstream } from "./subscription.ts";

export class Subscriber {
  readonly #peer: Peer;
  readonly #subscriptions = new Map<bigint, Subscribed>();
  readonly #label: string;
  #nextId = 0n;
  #incoming = 0;
  /** What the peer has announced to us (for stats). */
  readonly announcements: Listing = { listed: false, active: 0 };

  constructor(peer: Peer) {
    this.#peer = peer;
    const remote = peer.transport.remote;
    this.#label = `${remote.hostname}:${remote.port}`;
  }

  /** Number of open subscriptions to the peer. */
  get size(): number {
    return this.#subscriptions.size;
  }

  /** Takes the peer's announcements until the session ends. */
  takeAnnouncements(): Promise<void> {
    return takeAnnouncements(this.#peer, (path) => this.source(path), this.announcements);
  }

  /** Where the tracks of the peer's broadcast at `path` (relative to the root) come from. */
  source(path: string): BroadcastSource {
    return {
      label: this.#label,
      subscribe: (_broadcast: Broadcast, track: Track, request: TrackRequest): Upstream =>
        this.#subscribe(path, track, request),
    };
  }

  #subscribe(path: string, track: Track, request: TrackRequest): Upstream {
    const id = this.#nextId++;
    this.#subscriptions.set(id, { track, epoch: Date.now() });
    return subscribeUpstream(
      this.#peer,
      id,
      path,
      track,
      request,
      () => this.#subscriptions.delete(id),
    );
  }

  /** A group stream from the peer, after its type byte. */
  async receiveGroup(stream: RecvStream, reader: MessageReader): Promise<void> {
    if (this.#incoming >= this.#peer.limits.maxIncomingGroups) {
      return stream.stop(StreamCode.Cancel);
    }
    this.#incoming++;
    try {
      await readGroup(this.#peer, stream, reader, (id) => this.#subscriptions.get(id));
    } finally {
      this.#incoming--;
    }
  }

  /**
   * Lite-05+: datagrams from the peer, each a single-frame group of one of our subscriptions,
   * handed to its track until the session ends. Unknown subscriptions and malformed datagrams
   * are dropped (datagrams are best effort; a bad one says nothing about the session).
   */
  async receiveDatagrams(): Promise<void> {
    const peer = this.#peer;
    if (!hasDatagrams(peer.version)) return;
    for (
      let bytes = await peer.transport.readDatagram();
      bytes;
      bytes = await peer.transport.readDatagram()
    ) {
      let datagram;
      try {
        datagram = decodeDatagram(bytes);
      } catch (e) {
        if (e instanceof ProtocolError) continue;
        throw e;
      }
      const { subscribeId, ...rest } = datagram;
      const sub = this.#subscriptions.get(subscribeId);
      if (!sub) continue;
      const counted = peer.traffic.in;
      counted.datagrams++;
      counted.groups++;
      counted.frames++;
      counted.bytes += rest.payload.length;
      sub.track.received += rest.payload.length;
      sub.track.pushDatagram(rest);
    }
  }

  /** The session ended: every track it filled ends. */
  close(): void {
    for (const sub of this.#subscriptions.values()) sub.track.end("publisher gone");
    this.#subscriptions.clear();
  }
}
