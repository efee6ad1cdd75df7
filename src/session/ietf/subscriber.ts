/**
 * The subscriber side of a moq-transport session: what the peer publishes, taken into the cache.
 *
 * - PUBLISH_NAMESPACE: the namespace is a broadcast path; it is announced through the session's
 *   view (which may refuse it) until PUBLISH_NAMESPACE_DONE or the end of its request.
 * - A local subscriber of one of its tracks opens one SUBSCRIBE to the peer, however many share
 *   it; SUBSCRIBE_OK's track alias names the SUBGROUP streams that fill the track, and
 *   PUBLISH_DONE (or the request's end) ends it.
 * - A subgroup stream is one group: its objects are the group's frames, ids 0, 1, 2, ... A gap,
 *   a subgroup other than 0, or an end inside an object leaves the group cut short (aborted),
 *   never whole.
 * - PUBLISH is declined: a relay takes tracks it asked for.
 *
 * @module
 */
import { Broadcast, type TrackRequest, type Upstream } from "../../cache/broadcast.ts";
import { DEFAULT_PROPERTIES, type Track } from "../../cache/track.ts";
import {
  decodeObjectDatagram,
  decodeObjectExtensions,
  decodeObjectHeader,
  decodeSubgroupHeader,
  type Draft,
  type Filter,
  hasFieldListFilter,
  hasFirstObjectBit,
  hasRequestStreams,
  isPaddingDatagram,
  namespaceToPath,
  ObjectStatus,
  pathToNamespace,
  type PublishNamespace,
  type SubgroupFlags,
} from "../../codec/ietf/mod.ts";
import { ProtocolError, StreamCode } from "../../codec/error.ts";
import { peerFault } from "../../log.ts";
import type { RecvStream } from "../../transport/session.ts";
import type { MessageReader } from "../reader.ts";
import type { IetfPeer } from "./peer.ts";
import { refuse } from "./publisher.ts";
import type { RequestStream } from "./requests.ts";

/** How long a subgroup stream may wait for the SUBSCRIBE_OK naming its alias. */
export const ALIAS_WAIT_MS = 2000;

interface Subscribed {
  track: Track;
  /** Without a timestamp property: local receive times in ms since this origin. */
  epoch: number;
  /** The track's timescale, when SUBSCRIBE_OK declared one (its objects carry timestamps). */
  timescale: number | undefined;
}

/**
 * How a subscription joins a live track, as `@moq/net` does (`J:subscribe.js:17-19`): on 20,
 * `relative 1` (the latest group, whole); before, `next object` (a publisher like `@moq/net`
 * then starts at its latest group too).
 */
function joinFilter(draft: Draft): Filter {
  return hasFieldListFilter(draft) ? { type: "relative", groups: 1 } : { type: "next-object" };
}

export class IetfSubscriber {
  readonly #peer: IetfPeer;
  readonly #aliases = new Map<bigint, Subscribed>();
  readonly #waiting = new Map<bigint, ((s: Subscribed | undefined) => void)[]>();
  readonly #label: string;
  readonly #announced = new Set<string>();
  #subscriptions = 0;
  #incoming = 0;
  readonly announcements = { listed: false, active: 0 };

  constructor(peer: IetfPeer) {
    this.#peer = peer;
    const remote = peer.transport.remote;
    this.#label = `${remote.hostname}:${remote.port}`;
  }

  /** Open subscriptions to the peer. */
  get size(): number {
    return this.#subscriptions;
  }

  /** A request of the peer's for the subscriber side. */
  async serve(
    message: PublishNamespace | { type: "publish"; requestId: bigint },
    stream: RequestStream,
  ): Promise<void> {
    if (message.type === "publish") {
      return await refuse(
        this.#peer,
        stream,
        "publish",
        message.requestId,
        "not-supported",
        "PUBLISH is not supported; announce with PUBLISH_NAMESPACE",
      );
    }
    return await this.#takeNamespace(message, stream);
  }

  async #takeNamespace(msg: PublishNamespace, stream: RequestStream): Promise<void> {
    const peer = this.#peer;
    const path = namespaceToPath(msg.namespace);
    const no = (condition: "unauthorized" | "internal" | "uninterested", why: string) => {
      peerFault(peer.log, "PUBLISH_NAMESPACE {path} refused: {why}", {
        path: peer.view.absolute(path),
        why,
      }, "debug");
      return refuse(peer, stream, "publish_namespace", msg.requestId, condition, why);
    };
    if (this.#announced.has(path)) return await no("uninterested", "already announced");
    if (this.#announced.size >= peer.limits.maxAnnouncements) {
      return await no("internal", "too many announcements");
    }
    const broadcast = new Broadcast(peer.view.absolute(path), {
      label: this.#label,
      subscribe: (_b, track, request) => this.#subscribe(path, track, request),
    }, peer.budget);
    const withdraw = peer.view.announce(path, broadcast, []);
    if (!withdraw) {
      broadcast.close();
      return await no("unauthorized", "may not publish there");
    }
    this.#announced.add(path);
    this.announcements.active = this.#announced.size;
    peer.traffic.made.announcesStarted++;
    peer.log.debug("announced {path}", { path: peer.view.absolute(path) });
    try {
      await stream.write({ type: "request_ok", of: "publish_namespace", requestId: msg.requestId });
      // The announcement lasts until PUBLISH_NAMESPACE_DONE (14-16) or its stream ends (17+).
      for (let m = await stream.read(); m; m = await stream.read()) {
        if (m.type === "publish_namespace_done") break;
      }
    } catch (e) {
      peer.log.debug("PUBLISH_NAMESPACE {path} ended: {error}", { path, error: String(e) });
    } finally {
      this.#announced.delete(path);
      this.announcements.active = this.#announced.size;
      peer.traffic.made.announcesEnded++;
      withdraw();
      broadcast.close();
      await stream.finish();
    }
  }

  /** One SUBSCRIBE to the peer for a track local subscribers want. */
  #subscribe(path: string, track: Track, request: TrackRequest): Upstream {
    const peer = this.#peer;
    let stream: RequestStream | undefined;
    let closed = false;
    let alias: bigint | undefined;
    let requestId = 0n;
    this.#subscriptions++;
    peer.traffic.made.subscriptionsOpened++;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.#subscriptions--;
      peer.traffic.made.subscriptionsClosed++;
      if (alias !== undefined) this.#aliases.delete(alias);
    };
    const run = async () => {
      stream = await peer.request((id) => {
        requestId = id;
        return {
          type: "subscribe",
          requestId: id,
          namespace: pathToNamespace(path),
          track: track.name,
          priority: request.priority,
          groupOrder: 2,
          forward: true,
          filter: joinFilter(peer.draft),
          tokens: [],
        };
      });
      if (closed) return await this.#unsubscribe(stream, requestId);
      let answered = false;
      try {
        for (let m = await stream.read(); m; m = await stream.read()) {
          if (m.type === "subscribe_ok") {
            answered = true;
            alias = m.trackAlias;
            const timescale = m.properties.timescale;
            track.setProperties({
              ...DEFAULT_PROPERTIES,
              priority: request.priority,
              timescale: timescale ?? DEFAULT_PROPERTIES.timescale,
            });
            this.#bind(alias, { track, epoch: Date.now(), timescale });
            track.confirm();
          } else if (m.type === "request_error") {
            peer.log.debug("SUBSCRIBE {path}/{track} refused: {reason}", {
              path,
              track: track.name,
              reason: m.reason,
            });
            break;
          } else if (m.type === "publish_done") {
            break;
          }
        }
      } finally {
        if (!closed) track.end(answered ? undefined : "not found");
        await stream.finish();
      }
    };
    run().catch((e) => {
      peer.log.debug("upstream subscription to {path}/{track} ended: {error}", {
        path: track.broadcast,
        track: track.name,
        error: String(e),
      });
      track.end(String(e));
    }).finally(finish);
    return {
      update: () => {
        // Priority changes are not forwarded: upstream's publishers ignore them too.
      },
      close: () => {
        if (closed) return;
        closed = true;
        finish();
        if (stream) void this.#unsubscribe(stream, requestId);
      },
    };
  }

  /** Ends a subscription of ours: UNSUBSCRIBE on 14-16, the end of its stream on 17+. */
  async #unsubscribe(stream: RequestStream, requestId: bigint): Promise<void> {
    if (!hasRequestStreams(this.#peer.draft)) {
      await stream.write({ type: "unsubscribe", requestId }).catch(() => {});
    }
    await stream.finish();
  }

  #bind(alias: bigint, subscribed: Subscribed): void {
    this.#aliases.set(alias, subscribed);
    const waiters = this.#waiting.get(alias);
    this.#waiting.delete(alias);
    for (const wake of waiters ?? []) wake(subscribed);
  }

  /** The subscription an alias names; its SUBSCRIBE_OK may still be on its way (17+). */
  #lookup(alias: bigint): Promise<Subscribed | undefined> {
    const known = this.#aliases.get(alias);
    if (known) return Promise.resolve(known);
    if (this.#subscriptions === 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiters = this.#waiting.get(alias) ?? [];
      this.#waiting.set(alias, waiters);
      const timer = setTimeout(() => {
        const left = this.#waiting.get(alias)?.filter((w) => w !== done);
        if (left?.length) this.#waiting.set(alias, left);
        else this.#waiting.delete(alias);
        resolve(undefined);
      }, ALIAS_WAIT_MS);
      const done = (s: Subscribed | undefined) => {
        clearTimeout(timer);
        resolve(s);
      };
      waiters.push(done);
    });
  }

  /** A SUBGROUP stream from the peer, after its type. */
  async receiveSubgroup(
    stream: RecvStream,
    reader: MessageReader,
    flags: SubgroupFlags,
  ): Promise<void> {
    const peer = this.#peer;
    if (this.#incoming >= peer.limits.maxIncomingGroups) return stream.stop(StreamCode.Cancel);
    this.#incoming++;
    try {
      const draft = peer.draft;
      const header = await reader.expect(
        (b, o) => decodeSubgroupHeader(b, o, draft, flags),
        "SUBGROUP_HEADER",
      );
      // Only subgroup 0, from its first object, is a whole moq-lite group.
      if (header.subgroup !== 0 || !startsAtFirstObject(draft, flags)) {
        return stream.stop(StreamCode.Cancel);
      }
      const sub = await this.#lookup(header.trackAlias);
      if (!sub) return stream.stop(StreamCode.Cancel);
      const group = sub.track.addGroup(header.group);
      if (!group) return stream.stop(StreamCode.Cancel);
      try {
        let previous: number | undefined;
        while (true) {
          const object = await reader.read((b, o) =>
            decodeObjectHeader(b, o, draft, { extensions: flags.extensions, previous })
          );
          if (!object) break;
          if (object.objectId !== (previous ?? -1) + 1) {
            // moq-lite frames are numbered without gaps: this group cannot be whole.
            group.abort();
            return stream.stop(StreamCode.Cancel);
          }
          previous = object.objectId;
          if (object.status !== undefined && object.status !== ObjectStatus.Normal) {
            if (object.status === ObjectStatus.EndOfTrack) sub.track.end();
            break; // END_OF_GROUP (or of the track): the group is over
          }
          const timestamp = timestampOf(sub, object.extensions, draft);
          const frame = group.startFrame(timestamp, object.length);
          if (!frame) return stream.stop(StreamCode.GroupTooLarge);
          let left = object.length;
          while (left > 0) {
            const chunk = await reader.payload(left);
            if (!chunk) throw new Error("subgroup stream ended inside an object");
            left -= chunk.length;
            group.appendChunk(frame, chunk);
          }
          peer.traffic.in.frames++;
          peer.traffic.in.bytes += object.length;
          sub.track.received += object.length;
        }
        group.finish();
        peer.traffic.in.groups++;
      } catch (e) {
        group.abort();
        throw e;
      }
    } finally {
      this.#incoming--;
    }
  }

  /**
   * OBJECT_DATAGRAMs from the peer until the session ends: object 0 of a group of one of our
   * subscriptions is that group, whole, as a moq-lite-05 datagram; anything else (a later object,
   * a status, an unknown alias, bad bytes) is dropped, as datagrams are best effort.
   */
  async receiveDatagrams(): Promise<void> {
    const peer = this.#peer;
    const draft = peer.draft;
    for (
      let bytes = await peer.transport.readDatagram();
      bytes;
      bytes = await peer.transport.readDatagram()
    ) {
      let datagram;
      try {
        if (isPaddingDatagram(bytes, draft)) continue;
        datagram = decodeObjectDatagram(bytes, draft);
      } catch (e) {
        if (e instanceof ProtocolError) continue;
        throw e;
      }
      const sub = this.#aliases.get(datagram.trackAlias);
      if (!sub || datagram.object !== 0 || !datagram.payload) continue;
      // A view into the datagram, which is ours alone (as moq-lite's datagrams are kept).
      const payload = datagram.payload;
      peer.traffic.in.datagrams++;
      peer.traffic.in.groups++;
      peer.traffic.in.frames++;
      peer.traffic.in.bytes += payload.length;
      sub.track.received += payload.length;
      sub.track.pushDatagram({
        sequence: datagram.group,
        timestamp: timestampOf(sub, datagram.extensions, draft),
        payload,
      });
    }
  }

  /** The session ended: every track it filled ends. */
  close(): void {
    for (const sub of this.#aliases.values()) sub.track.end("publisher gone");
    this.#aliases.clear();
    for (const waiters of this.#waiting.values()) for (const wake of waiters) wake(undefined);
    this.#waiting.clear();
  }
}

/** Whether a subgroup stream begins at its group's first object (18+ says so in its type). */
function startsAtFirstObject(draft: Draft, flags: SubgroupFlags): boolean {
  return !hasFirstObjectBit(draft) || flags.firstObject;
}

/** A frame's timestamp: the object's timestamp property, else its local arrival (in ms). */
function timestampOf(sub: Subscribed, extensions: Uint8Array | undefined, draft: Draft): number {
  if (extensions && extensions.length > 0) {
    const { timestamp } = decodeObjectExtensions(extensions, draft);
    if (timestamp !== undefined) return timestamp;
  }
  const ms = Date.now() - sub.epoch;
  return sub.timescale === undefined ? ms : Math.round(ms * sub.timescale / 1000);
}
