/**
 * Following a cached track for one subscriber, whatever the protocol: from a cursor on, each
 * group is offered on its own stream ({@link GroupDelivery}), newer groups first when congested;
 * a subscriber that falls behind loses its oldest groups (by age, count in flight or bytes),
 * never the publisher's pace. The protocol's subscription (moq-lite's or moq-transport's)
 * acknowledges, updates and ends; this only delivers.
 *
 * @module
 */
import type { Group } from "../../cache/group.ts";
import type { Track } from "../../cache/track.ts";
import type { Traffic } from "../../ops/traffic.ts";
import type { Session } from "../../transport/session.ts";
import type { Cancellation } from "../abort.ts";
import type { SessionLimits } from "../context.ts";
import { GroupDelivery, type GroupTarget, type GroupWire } from "./group.ts";
import type { SendOrder } from "./send_order.ts";

/** Groups one subscription may have in flight; beyond that the oldest is dropped. */
export const MAX_GROUPS_IN_FLIGHT = 8;

/** What a follower needs of its session. */
export interface FollowerPeer {
  readonly transport: Session;
  readonly traffic: Traffic;
  readonly limits: SessionLimits;
}

export interface FollowerOptions {
  peer: FollowerPeer;
  order: SendOrder;
  wire: GroupWire;
  /** Cancelled when the subscriber ends the subscription. */
  cancel: Cancellation;
  /** The subscriber's current priority and latency budget (updates change them). */
  priority(): number;
  maxLatency(): number;
  /** The last group wanted, if the subscription has an end. */
  endGroup?: number;
  /** Called once, with the first group offered (moq-lite-05's SUBSCRIBE_START). */
  onFirst?(group: Group): void;
}

export class GroupFollower implements GroupTarget {
  readonly #options: FollowerOptions;
  readonly #deliveries = new Set<GroupDelivery>();
  /** A group has been offered. */
  started = false;
  /** Group streams started (PUBLISH_DONE's stream count). */
  offered = 0;

  constructor(options: FollowerOptions) {
    this.#options = options;
  }

  get transport(): Session {
    return this.#options.peer.transport;
  }

  get traffic(): Traffic {
    return this.#options.peer.traffic;
  }

  get wire(): GroupWire {
    return this.#options.wire;
  }

  cancelled(): boolean {
    return this.#options.cancel.cancelled;
  }

  /** Groups being written now (for stats). */
  get inFlight(): number {
    return this.#deliveries.size;
  }

  /** Delivers each group from `cursor` on until the track ends or the subscriber leaves. */
  async follow(track: Track, cursor: number): Promise<void> {
    while (!this.cancelled()) {
      const { group, index } = track.at(cursor);
      if (group) {
        cursor = index + 1;
        this.#offer(group);
        continue;
      }
      if (track.ended) return;
      await track.changed(this.#options.cancel);
    }
  }

  /** Lets the groups in flight finish, or drops them if the subscriber left. */
  async settle(): Promise<void> {
    if (this.cancelled()) { for (const d of this.#deliveries) d.abandon(); }
    await Promise.allSettled([...this.#deliveries].map((d) => d.done));
  }

  /** One group for this subscriber: started on its own stream, or skipped. */
  #offer(group: Group): void {
    const { endGroup, order, peer } = this.#options;
    if (endGroup !== undefined && group.sequence > endGroup) return;
    // A group is whole or absent: one lost upstream before we began is not sent at all.
    if (group.aborted) return;
    if (!this.started) {
      this.started = true;
      this.#options.onFirst?.(group);
    }
    this.#dropLaggards(group);
    // The peer has too many of our streams open: skip this group rather than queue it.
    if (order.size >= peer.limits.maxGroupStreams) {
      peer.traffic.dropped.streams++;
      return;
    }
    const delivery = new GroupDelivery(this, group, order.take(this.#options.priority()));
    this.offered++;
    this.#deliveries.add(delivery);
    void delivery.done.finally(() => this.#deliveries.delete(delivery));
  }

  /** Drops older groups this subscriber is still behind on, once they are old or too many bytes. */
  #dropLaggards(newest: Group): void {
    const { peer } = this.#options;
    const limits = peer.limits;
    const budget = Math.max(this.#options.maxLatency(), limits.minLatencyMs);
    const older = [...this.#deliveries]
      .filter((d) => d.group.sequence < newest.sequence && !d.abandoned)
      .sort((a, b) => b.group.sequence - a.group.sequence);
    let lagBytes = 0;
    older.forEach((d, i) => {
      const lag = d.lag();
      lagBytes += lag;
      const tooOld = newest.created - d.group.created > budget && lag > 0;
      // Counting the new group, at most MAX_GROUPS_IN_FLIGHT stay in flight.
      const tooMany = i + 1 >= MAX_GROUPS_IN_FLIGHT;
      const reason = tooOld
        ? "latency"
        : tooMany
        ? "in_flight"
        : lagBytes > limits.maxLagBytes
        ? "lag_bytes"
        : undefined;
      if (!reason) return;
      peer.traffic.dropped[reason]++;
      d.abandon();
    });
  }
}
