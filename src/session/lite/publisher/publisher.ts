/**
 * The publisher side of a session: serving what the peer asks of us (its subscriptions, FETCH,
 * TRACK and announce requests) from the cache, through the session's view.
 *
 * @module
 */
import { StreamCode } from "../../../codec/lite/mod.ts";
import type { BiStream } from "../../../transport/session.ts";
import { peerFault } from "../../../log.ts";
import type { Peer } from "../peer.ts";
import type { MessageReader } from "../../reader.ts";
import { serveAnnounceRequest } from "./announcements.ts";
import { serveFetch } from "./fetch.ts";
import { SendOrder } from "../../delivery/send_order.ts";
import { type PublisherState, serveSubscription } from "./subscription.ts";
import { serveTrackInfo } from "./track_info.ts";

export type PublisherRequest = "announce" | "subscribe" | "track" | "fetch";

export class Publisher implements PublisherState {
  readonly #peer: Peer;
  /** Send orders of the group streams in flight to this peer. */
  readonly order = new SendOrder();
  /** Subscriptions being served, with TRACK and FETCH requests. */
  subscriptions = 0;
  readonly viewing = new Map<string, number>();
  #announceRequests = 0;

  constructor(peer: Peer) {
    this.#peer = peer;
  }

  /** Group streams being written to the peer. */
  get groupStreams(): number {
    return this.order.size;
  }

  /** Serves one request stream of the peer's until it ends. */
  serve(kind: PublisherRequest, stream: BiStream, reader: MessageReader): Promise<void> {
    const peer = this.#peer;
    switch (kind) {
      case "announce":
        return this.#announce(stream, reader);
      case "subscribe":
        return serveSubscription(peer, this, stream, reader);
      case "track":
        return this.#counted(stream, () => serveTrackInfo(peer, stream, reader));
      case "fetch":
        return this.#counted(stream, () => serveFetch(peer, stream, reader));
    }
  }

  /**
   * TRACK and FETCH count against --max-subscriptions while they are served, as subscriptions
   * do: each holds a track of the cache, and TRACK may have to ask the source.
   */
  async #counted(stream: BiStream, serve: () => Promise<void>): Promise<void> {
    if (this.subscriptions >= this.#peer.limits.maxSubscriptions) {
      this.#peer.log.debug("refusing a TRACK or FETCH: over the limit of {limit} subscriptions", {
        limit: this.#peer.limits.maxSubscriptions,
      });
      stream.recv.stop(StreamCode.Cancel);
      return stream.send.reset(StreamCode.NotFound);
    }
    this.subscriptions++;
    try {
      await serve();
    } finally {
      this.subscriptions--;
    }
  }

  async #announce(stream: BiStream, reader: MessageReader): Promise<void> {
    const limit = this.#peer.limits.maxAnnounceRequests;
    if (this.#announceRequests >= limit) {
      peerFault(this.#peer.log, "refusing an announce request: over the limit of {limit}", {
        limit,
      });
      stream.recv.stop(StreamCode.Cancel);
      stream.send.reset(StreamCode.Cancel);
      return;
    }
    this.#announceRequests++;
    try {
      await serveAnnounceRequest(this.#peer, stream, reader);
    } finally {
      this.#announceRequests--;
    }
  }
}
