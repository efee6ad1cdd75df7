/**
 * The publisher side of a moq-transport session: serving the peer's requests from the cache.
 *
 * - SUBSCRIBE: one shared track, from the latest cached group (whole, from its first object) on,
 *   as moq-lite joins, whatever the filter asks (a relay has only what it caches); SUBSCRIBE_OK
 *   once the source confirms the track, PUBLISH_DONE when it ends.
 * - SUBSCRIBE_NAMESPACE: the broadcasts under a prefix, now and as they come and go (17+:
 *   NAMESPACE / NAMESPACE_DONE on the request; 16: the same on its own stream; 14/15, which
 *   have no such messages: one PUBLISH_NAMESPACE request of ours per broadcast).
 * - FETCH: what the cache holds, standalone or joining a subscription (`fetch.ts`).
 * - TRACK_STATUS, PUBLISH: declined with NOT_SUPPORTED, as upstream's relay does.
 *
 * @module
 */
import type { Datagram, Track } from "../../cache/track.ts";
import {
  type ControlMessage,
  DEFAULT_PUBLISHER_PRIORITY,
  encodeObjectDatagram,
  encodeObjectExtensions,
  hasNamespaceMessages,
  namespaceToPath,
  pathToNamespace,
  PublishDoneCode,
  requestErrorCode,
  type RequestErrorCondition,
  type RequestKind,
  type Subscribe,
  type SubscribeNamespace,
  writesTrackProperties,
} from "../../codec/ietf/mod.ts";
import { stripPrefix } from "../../codec/path.ts";
import { peerFault } from "../../log.ts";
import { Cancellation } from "../abort.ts";
import { GroupFollower } from "../delivery/follow.ts";
import { SendOrder } from "../delivery/send_order.ts";
import { type Joinable, serveFetch } from "./fetch.ts";
import { ietfGroupWire } from "./group_wire.ts";
import type { IetfPeer } from "./peer.ts";
import type { RequestStream } from "./requests.ts";

/** Refuses a request with REQUEST_ERROR (draft 14: the request's own *_ERROR), then ends it. */
export async function refuse(
  peer: IetfPeer,
  stream: RequestStream,
  of: RequestKind,
  requestId: bigint,
  condition: RequestErrorCondition,
  reason: string,
): Promise<void> {
  await stream.write({
    type: "request_error",
    of,
    requestId,
    code: requestErrorCode(condition, peer.draft, of),
    retryInterval: 0,
    reason,
  });
  await stream.finish();
}

export class IetfPublisher {
  readonly #peer: IetfPeer;
  /** Send orders of the group streams in flight to this peer. */
  readonly order = new SendOrder();
  /** Subscriptions being served. */
  subscriptions = 0;
  #nextAlias = 0n;
  #namespaceRequests = 0;
  /** The subscriptions being served, by request id, for joining FETCHes. */
  readonly #joinable = new Map<bigint, Joinable>();

  constructor(peer: IetfPeer) {
    this.#peer = peer;
  }

  get groupStreams(): number {
    return this.order.size;
  }

  /** A request of the peer's for the publisher side. */
  async serve(message: ControlMessage, stream: RequestStream): Promise<void> {
    switch (message.type) {
      case "subscribe":
        return await this.#subscribe(message, stream);
      case "subscribe_namespace":
        return await this.#namespaces(message, stream);
      case "fetch": {
        // A FETCH being served counts against --max-subscriptions, as moq-lite's does.
        if (this.subscriptions >= this.#peer.limits.maxSubscriptions) {
          return await refuse(
            this.#peer,
            stream,
            "fetch",
            message.requestId,
            "internal",
            "too many subscriptions",
          );
        }
        this.subscriptions++;
        try {
          return await serveFetch(this.#peer, message, stream, (id) => this.#joinable.get(id));
        } finally {
          this.subscriptions--;
        }
      }
      case "track_status":
        return await refuse(
          this.#peer,
          stream,
          "track_status",
          message.requestId,
          "not-supported",
          "TRACK_STATUS is not supported; subscribe instead",
        );
      default:
        throw new Error(`not a publisher request: ${message.type}`);
    }
  }

  async #subscribe(sub: Subscribe, stream: RequestStream): Promise<void> {
    const peer = this.#peer;
    const path = namespaceToPath(sub.namespace);
    const no = (condition: RequestErrorCondition, why: string) => {
      peer.log.debug("subscription {id} to {path}/{track} refused: {why}", {
        id: String(sub.requestId),
        path: peer.view.absolute(path),
        track: sub.track,
        why,
      });
      return refuse(peer, stream, "subscribe", sub.requestId, condition, why);
    };
    if (this.subscriptions >= peer.limits.maxSubscriptions) {
      return await no("internal", "too many subscriptions");
    }
    const route = peer.view.route(path);
    if (!route) return await no("does-not-exist", "no such broadcast");
    this.subscriptions++;
    peer.traffic.served.subscriptionsOpened++;
    peer.traffic.served.viewersOpened++;
    const lease = route.broadcast.subscribe(sub.track, {
      priority: sub.priority,
      maxLatency: sub.deliveryTimeout ?? 0,
    });
    const joinable: Joinable = { track: lease.track, startGroup: undefined };
    this.#joinable.set(sub.requestId, joinable);
    try {
      await new Subscription(peer, this.order, sub, lease.track, stream, this.#nextAlias++, {
        update: (priority) => lease.update({ priority, maxLatency: sub.deliveryTimeout ?? 0 }),
        refuse: no,
        started: (group) => joinable.startGroup = group,
      }).run();
    } finally {
      this.#joinable.delete(sub.requestId);
      this.subscriptions--;
      peer.traffic.served.subscriptionsClosed++;
      peer.traffic.served.viewersClosed++;
      lease.release();
    }
  }

  /** SUBSCRIBE_NAMESPACE: what the view shows under the prefix, until either side ends it. */
  async #namespaces(request: SubscribeNamespace, stream: RequestStream): Promise<void> {
    const peer = this.#peer;
    if (this.#namespaceRequests >= peer.limits.maxAnnounceRequests) {
      return await refuse(
        peer,
        stream,
        "subscribe_namespace",
        request.requestId,
        "internal",
        "too many namespace subscriptions",
      );
    }
    const prefix = namespaceToPath(request.prefix);
    const suffixOf = (path: string) => pathToNamespace(stripPrefix(path, prefix) ?? path);
    const legacy = new Map<string, RequestStream>();
    let changes = Promise.resolve();
    const tell = (path: string, active: boolean) => {
      changes = changes.then(() => this.#tell(stream, path, suffixOf(path), active, legacy))
        .catch((e) => peer.log.debug("namespace update failed: {error}", { error: String(e) }));
    };
    const watch = peer.view.watch(prefix, (path, active) => tell(path, active !== undefined));
    if (!watch) {
      return await refuse(
        peer,
        stream,
        "subscribe_namespace",
        request.requestId,
        "unauthorized",
        "the prefix is off limits",
      );
    }
    this.#namespaceRequests++;
    try {
      await stream.write({
        type: "request_ok",
        of: "subscribe_namespace",
        requestId: request.requestId,
      });
      for (const { path } of watch.snapshot) tell(path, true);
      // The peer's side: UNSUBSCRIBE_NAMESPACE (14-16), FIN or reset (17+) end it.
      for (let m = await stream.read(); m; m = await stream.read()) {
        if (m.type === "unsubscribe_namespace") break;
      }
    } catch {
      // the peer went away
    } finally {
      watch.stop();
      this.#namespaceRequests--;
      await changes;
      for (const advertised of legacy.values()) await advertised.finish();
      await stream.finish();
    }
  }

  /** One broadcast under a watched prefix came or went. */
  async #tell(
    stream: RequestStream,
    path: string,
    suffix: string[],
    active: boolean,
    legacy: Map<string, RequestStream>,
  ): Promise<void> {
    const peer = this.#peer;
    if (hasNamespaceMessages(peer.draft)) {
      return await stream.write(
        active ? { type: "namespace", suffix } : { type: "namespace_done", suffix },
      );
    }
    // 14/15: a PUBLISH_NAMESPACE of ours per broadcast, PUBLISH_NAMESPACE_DONE when it goes.
    const namespace = pathToNamespace(path);
    const known = legacy.get(path);
    if (!active) {
      if (!known) return;
      legacy.delete(path);
      await known.write({ type: "publish_namespace_done", requestId: 0n, namespace });
      return await known.finish();
    }
    if (known) return;
    // Each is a request of ours the peer holds: no more than it may hold of a publisher.
    if (legacy.size >= peer.limits.maxAnnouncements) return;
    const request = await peer.request((requestId) => ({
      type: "publish_namespace",
      requestId,
      namespace,
      tokens: [],
    }));
    legacy.set(path, request);
  }
}

interface SubscriptionHooks {
  update(priority: number): void;
  /** The first group the subscription serves (a joining FETCH ends before it). */
  started(group: number): void;
  refuse(condition: RequestErrorCondition, why: string): Promise<void>;
}

/** Serving one SUBSCRIBE from the cache. */
class Subscription {
  readonly #peer: IetfPeer;
  readonly #sub: Subscribe;
  readonly #track: Track;
  readonly #stream: RequestStream;
  readonly #alias: bigint;
  readonly #hooks: SubscriptionHooks;
  readonly #order: SendOrder;
  readonly #cancel = new Cancellation();
  #priority: number;

  constructor(
    peer: IetfPeer,
    order: SendOrder,
    sub: Subscribe,
    track: Track,
    stream: RequestStream,
    alias: bigint,
    hooks: SubscriptionHooks,
  ) {
    this.#peer = peer;
    this.#order = order;
    this.#sub = sub;
    this.#track = track;
    this.#stream = stream;
    this.#alias = alias;
    this.#hooks = hooks;
    this.#priority = sub.priority;
  }

  async run(): Promise<void> {
    // The latest group as of this SUBSCRIBE, from its first object: a late joiner starts at
    // once, and groups arriving while the source confirms the track are newer, so delivered.
    const cursor = this.#track.startIndex();
    const listening = this.#listen();
    try {
      const exists = await this.#cancel.race(this.#track.whenConfirmed());
      if (exists === false) return await this.#hooks.refuse("does-not-exist", "no such track");
      if (exists === undefined) return;
      // 17+: objects carry timestamps in the timescale SUBSCRIBE_OK declares.
      const stamped = writesTrackProperties(this.#peer.draft);
      const properties = stamped
        ? await this.#cancel.race(this.#track.whenProperties())
        : this.#track.properties;
      if (this.#cancel.cancelled) return;
      if (stamped && !properties) return await this.#hooks.refuse("does-not-exist", "track ended");
      await this.#stream.write({
        type: "subscribe_ok",
        requestId: this.#sub.requestId,
        trackAlias: this.#alias,
        expires: 0,
        groupOrder: 2,
        largest: this.#largest(),
        properties: stamped && properties ? { timescale: properties.timescale, groupOrder: 2 } : {},
      });
      const stopDatagrams = this.#forwardDatagrams(stamped);
      const follower = new GroupFollower({
        peer: this.#peer,
        order: this.#order,
        wire: ietfGroupWire(this.#peer.draft, this.#alias, stamped),
        cancel: this.#cancel,
        priority: () => this.#priority,
        maxLatency: () => this.#sub.deliveryTimeout ?? 0,
        onFirst: (group) => this.#hooks.started(group.sequence),
      });
      try {
        await follower.follow(this.#track, cursor);
        await follower.settle();
      } finally {
        stopDatagrams();
      }
      if (this.#cancel.cancelled) return;
      await this.#stream.write({
        type: "publish_done",
        requestId: this.#sub.requestId,
        code: PublishDoneCode.TrackEnded,
        streamCount: follower.offered,
        reason: this.#track.error ?? "track ended",
      });
    } finally {
      this.#cancel.cancel();
      await this.#stream.finish();
      await listening;
    }
  }

  /**
   * The largest location we hold, when the peer's implementation reads it: `@moq/net` on 17-19
   * misreads upstream's form and uses it only to size a fill we never offer, so it is left out
   * there (`CodecOptions.location` says which form the peer reads on 20).
   */
  #largest(): { group: number; object: number } | undefined {
    if (!this.#peer.readsLargest) return undefined;
    const latest = this.#track.latest;
    if (!latest || latest.frames.length === 0) return undefined;
    return { group: latest.sequence, object: latest.frames.length - 1 };
  }

  /**
   * The track's datagrams (moq-lite-05 single-frame groups) as OBJECT_DATAGRAMs: object 0, the
   * end of its group. One too large for this hop is dropped, as for moq-lite.
   */
  #forwardDatagrams(stamped: boolean): () => void {
    const { transport, draft, traffic } = this.#peer;
    if (transport.maxDatagramSize === 0) return () => {};
    return this.#track.onDatagram((datagram: Datagram) => {
      const bytes = encodeObjectDatagram({
        trackAlias: this.#alias,
        group: datagram.sequence,
        object: 0,
        priority: DEFAULT_PUBLISHER_PRIORITY,
        extensions: stamped
          ? encodeObjectExtensions({ timestamp: datagram.timestamp }, draft)
          : undefined,
        payload: datagram.payload,
        endOfGroup: true,
      }, draft);
      if (bytes.length > transport.maxDatagramSize) return;
      transport.sendDatagram(bytes);
      traffic.out.datagrams++;
      traffic.out.groups++;
      traffic.out.frames++;
      traffic.out.bytes += datagram.payload.length;
    });
  }

  /** The peer's side: updates, then UNSUBSCRIBE (14-16) or the end of its stream (17+). */
  async #listen(): Promise<void> {
    try {
      for (let m = await this.#stream.read(); m; m = await this.#stream.read()) {
        if (m.type === "unsubscribe") break;
        if (m.type === "request_update" && m.priority !== undefined) {
          this.#priority = m.priority;
          this.#hooks.update(m.priority);
        }
      }
    } catch (e) {
      peerFault(this.#peer.log, "subscription {id} stream failed: {error}", {
        id: String(this.#sub.requestId),
        error: String(e),
      }, "debug");
    }
    this.#cancel.cancel();
  }
}
