/**
 * Serving one SUBSCRIBE: one shared track from the cache, delivered from the latest group (from
 * its first frame) onwards, one stream per group, newer groups first when congested. A
 * subscriber that falls behind loses its oldest groups, never the publisher's pace. Lite-05+
 * datagrams of the track are passed on as datagrams.
 *
 * The steps, in order: read SUBSCRIBE and find the track; wait until the source confirms it;
 * acknowledge (SUBSCRIBE_OK before lite-05, SUBSCRIBE_START at the first group after); follow
 * the track ({@link GroupFollower}: one stream per group); end (SUBSCRIBE_END on lite-05+, then
 * FIN).
 *
 * @module
 */
import type { TrackLease } from "../../../cache/broadcast.ts";
import type { Datagram, Track } from "../../../cache/track.ts";
import {
  decodeSubscribe,
  decodeSubscribeUpdate,
  encodeDatagram,
  encodeSubscribeResponse,
  hasDatagrams,
  hasFrameTimestamps,
  hasSubscribeStartEnd,
  hasSubscribeWindow,
  StreamCode,
  type Subscribe,
} from "../../../codec/lite/mod.ts";
import type { BiStream } from "../../../transport/session.ts";
import { Cancellation } from "../../abort.ts";
import { CONTROL_PRIORITY, endedBeforeRequest, type Peer } from "../peer.ts";
import type { MessageReader } from "../../reader.ts";
import { SerialWriter } from "../../writer.ts";
import { GroupFollower } from "../../delivery/follow.ts";
import { liteGroupWire } from "./frames.ts";
import type { SendOrder } from "../../delivery/send_order.ts";

export { MAX_GROUPS_IN_FLIGHT } from "../../delivery/follow.ts";

/** What the publisher side counts for one peer, against its limits. */
export interface PublisherState {
  subscriptions: number;
  /** Subscriptions being served per broadcast (at most one entry per subscription). */
  readonly viewing: Map<string, number>;
  readonly order: SendOrder;
}

/** Serves one SUBSCRIBE stream until either side ends it. */
export async function serveSubscription(
  peer: Peer,
  state: PublisherState,
  stream: BiStream,
  reader: MessageReader,
): Promise<void> {
  const sub = await reader.read((b, o) => decodeSubscribe(b, peer.version, o));
  if (!sub) return endedBeforeRequest(stream);
  const writer = new SerialWriter(stream.send);
  stream.send.priority = CONTROL_PRIORITY;
  const refuse = (why: string) => {
    peer.log.debug("subscription {id} to {path}/{track} refused: {why}", {
      id: String(sub.id),
      path: peer.view.absolute(sub.broadcast),
      track: sub.track,
      why,
    });
    // Deno's QUIC cannot reset with a code: the stream ends without an answer, which every
    // version reads as a refusal.
    writer.reset(StreamCode.NotFound);
  };
  if (state.subscriptions >= peer.limits.maxSubscriptions) return refuse("too many subscriptions");
  const route = peer.view.route(sub.broadcast);
  if (!route) return refuse("no such broadcast");
  state.subscriptions++;
  peer.traffic.served.subscriptionsOpened++;
  const viewers = state.viewing.get(sub.broadcast) ?? 0;
  if (viewers === 0) peer.traffic.served.viewersOpened++;
  state.viewing.set(sub.broadcast, viewers + 1);
  const lease = route.broadcast.subscribe(sub.track, {
    priority: sub.priority,
    maxLatency: sub.maxLatency,
  });
  try {
    await new Subscription(peer, state.order, sub, lease, writer).run(reader);
  } finally {
    state.subscriptions--;
    peer.traffic.served.subscriptionsClosed++;
    const left = (state.viewing.get(sub.broadcast) ?? 1) - 1;
    if (left > 0) state.viewing.set(sub.broadcast, left);
    else {
      state.viewing.delete(sub.broadcast);
      peer.traffic.served.viewersClosed++;
    }
    lease.release();
  }
}

class Subscription {
  readonly #peer: Peer;
  readonly #sub: Subscribe;
  readonly #lease: TrackLease;
  readonly #track: Track;
  readonly #writer: SerialWriter;
  /** Cancelled when the peer ends the subscription (FIN or reset of its side). */
  readonly #cancel = new Cancellation();
  readonly #follower: GroupFollower;
  #priority: number;
  #maxLatency: number;
  /** The subscription has been acknowledged (OK, or START at its first group). */
  #started = false;

  constructor(
    peer: Peer,
    order: SendOrder,
    sub: Subscribe,
    lease: TrackLease,
    writer: SerialWriter,
  ) {
    this.#peer = peer;
    this.#sub = sub;
    this.#lease = lease;
    this.#track = lease.track;
    this.#writer = writer;
    this.#priority = sub.priority;
    this.#maxLatency = sub.maxLatency;
    this.#follower = new GroupFollower({
      peer,
      order,
      wire: liteGroupWire(peer.version, sub.id),
      cancel: this.#cancel,
      priority: () => this.#priority,
      maxLatency: () => this.#maxLatency,
      endGroup: sub.endGroup,
      onFirst: (group) => {
        if (this.#started) return;
        this.#started = true;
        void this.#writer.write(
          encodeSubscribeResponse({ kind: "start", group: group.sequence }, this.version),
        );
      },
    });
  }

  get version() {
    return this.#peer.version;
  }

  cancelled(): boolean {
    return this.#cancel.cancelled;
  }

  async run(reader: MessageReader): Promise<void> {
    // Without a start group: the latest group (from its first frame) as of this SUBSCRIBE, so
    // a late joiner starts at once, and every group that arrives while the source confirms the
    // track is delivered too (it is newer than the subscription).
    const cursor = this.#sub.startGroup === undefined ? this.#track.startIndex() : undefined;
    const listening = this.#listen(reader);
    if (await this.#confirmed()) await this.#serve(cursor);
    else reader.stream.stop(StreamCode.Cancel);
    await listening;
  }

  async #serve(cursor: number | undefined): Promise<void> {
    this.#acknowledge();
    const stopDatagrams = this.#forwardDatagrams();
    try {
      if (await this.#withoutProperties()) return await this.#end();
      // With a start group: the first cached group at or after it, now that the source is known.
      await this.#follower.follow(
        this.#track,
        cursor ?? this.#track.indexOfSequence(this.#sub.startGroup ?? 0),
      );
      await this.#end();
    } finally {
      stopDatagrams();
    }
  }

  /** The peer's side of the stream: updates (03+), then FIN or reset, which unsubscribes. */
  async #listen(reader: MessageReader): Promise<void> {
    const version = this.version;
    try {
      if (hasSubscribeWindow(version)) {
        const decode = (b: Uint8Array, o: number) => decodeSubscribeUpdate(b, version, o);
        for (let u = await reader.read(decode); u; u = await reader.read(decode)) {
          this.#priority = u.priority;
          this.#maxLatency = u.maxLatency;
          this.#lease.update({ priority: u.priority, maxLatency: u.maxLatency });
        }
      } else {
        await reader.drain();
      }
    } catch {
      // reset or malformed: the subscription is over either way
    }
    this.#cancel.cancel();
  }

  /**
   * Waits until the source accepted the subscription: a refusal must come before any OK (a
   * lite-01..04 subscriber never notices an end after SUBSCRIBE_OK). False when refused.
   */
  async #confirmed(): Promise<boolean> {
    const exists = await this.#cancel.race(this.#track.whenConfirmed());
    if (exists) return true;
    if (exists === false) {
      this.#peer.log.debug("subscription {id} to {path}/{track} refused upstream", {
        id: String(this.#sub.id),
        path: this.#track.broadcast,
        track: this.#track.name,
      });
      this.#writer.reset(StreamCode.NotFound);
    }
    return false;
  }

  /** Pre-05 versions acknowledge now; 05+ report the first group once it is known. */
  #acknowledge(): void {
    if (hasSubscribeStartEnd(this.version)) return;
    this.#started = true;
    void this.#writer.write(
      encodeSubscribeResponse({
        kind: "ok",
        priority: this.#sub.priority,
        ordered: false,
        maxLatency: 0,
        startGroup: undefined,
        endGroup: undefined,
      }, this.version),
    );
  }

  /**
   * Lite-05+ frames carry timestamps in the track's timescale: wait for its properties. True
   * when the track ended without them (nothing can be served).
   */
  async #withoutProperties(): Promise<boolean> {
    if (!hasFrameTimestamps(this.version)) return false;
    const properties = await this.#cancel.race(this.#track.whenProperties());
    return !properties && this.#track.ended;
  }

  /** Lite-05+ on a carrier with datagrams: the track's datagrams go out as datagrams. */
  #forwardDatagrams(): () => void {
    const transport = this.#peer.transport;
    if (!hasDatagrams(this.version) || transport.maxDatagramSize === 0) return () => {};
    return this.#track.onDatagram((datagram: Datagram) => {
      const bytes = encodeDatagram({ subscribeId: this.#sub.id, ...datagram });
      // Too large for this hop: dropped, as upstream does (there is no stream fallback).
      if (bytes.length > transport.maxDatagramSize) return;
      transport.sendDatagram(bytes);
      const out = this.#peer.traffic.out;
      out.datagrams++;
      out.groups++;
      out.frames++;
      out.bytes += datagram.payload.length;
    });
  }

  /** Lets the groups in flight finish (or drops them if the peer left), then ends the stream. */
  async #end(): Promise<void> {
    await this.#follower.settle();
    if (!this.cancelled() && hasSubscribeStartEnd(this.version) && this.#started) {
      await this.#writer.write(
        encodeSubscribeResponse({ kind: "end", group: this.#track.nextSequence() }, this.version),
      );
    }
    if (!this.#started && !this.cancelled()) {
      // The track never produced anything we could serve (refused upstream).
      this.#writer.reset(StreamCode.NotFound);
    } else {
      await this.#writer.close();
    }
  }
}
