/**
 * Serving a peer's SUBSCRIBE: one shared track from the cache, delivered from the latest group
 * (from its first frame) onwards, one unidirectional stream per group, newer groups first when
 * congested. A subscriber that falls behind loses its oldest groups, never the publisher's pace.
 *
 * @module
 */
import type { TrackLease } from "../cache/broadcast.ts";
import { type Frame, type Group, joinFrame } from "../cache/group.ts";
import {
  decodeSubscribe,
  decodeSubscribeUpdate,
  encodeFrameHeader,
  encodeGroupHeader,
  encodeSubscribeResponse,
  hasFrameTimestamps,
  joinPath,
  StreamCode,
  type Subscribe,
  UniType,
  Version,
} from "../codec/mod.ts";
import type { BiStream, SendStream } from "../transport/session.ts";
import { isInternal } from "./context.ts";
import { CONTROL_PRIORITY, type Peer } from "./peer.ts";
import type { MessageReader } from "./reader.ts";
import { SerialWriter } from "./writer.ts";

/** Send order of a group stream: subscriber priority first, then newer groups first. */
export function groupPriority(priority: number, sequence: number): number {
  return priority * 0x100000 + (sequence % 0x100000);
}

/** Groups one subscription may have in flight; beyond that the oldest is dropped. */
export const MAX_GROUPS_IN_FLIGHT = 8;
/** A group's first frame up to this size is sent in the same write as the stream header. */
const SMALL_FIRST_FRAME = 4096;
/** The header form of frames without timestamps (01..04): any value no delta can take. */
const UNSTAMPED = Number.NEGATIVE_INFINITY;
/** How long an abandoned group may take to reach a frame boundary before it is cut. */
const ABANDON_GRACE_MS = 500;

/** One group being written to a subscriber. */
interface Delivery {
  group: Group;
  /** Set to stop at the next frame boundary. */
  abandoned: boolean;
  /** Drops the group: at the next frame boundary, or cut short if stuck behind flow control. */
  abandon(): void;
  /** Resolves when the delivery is abandoned. */
  dropped: Promise<void>;
  /** Payload bytes of the group not yet written. */
  lag(): number;
  done: Promise<void>;
}

/** Counts subscriptions and group streams of one peer, for its limits. */
export class ServeState {
  subscriptions = 0;
  groupStreams = 0;
}

/** Serves one SUBSCRIBE stream until either side ends it. */
export async function serveSubscribe(
  peer: Peer,
  state: ServeState,
  stream: BiStream,
  reader: MessageReader,
): Promise<void> {
  const { version, ctx } = peer;
  const sub = await reader.expect((b, o) => decodeSubscribe(b, version, o), "SUBSCRIBE");
  const writer = new SerialWriter(stream.send);
  stream.send.priority = CONTROL_PRIORITY;
  const path = joinPath(peer.root, sub.broadcast);
  const refuse = (why: string) => {
    peer.log.debug("subscription {id} to {path}/{track} refused: {why}", {
      id: String(sub.id),
      path,
      track: sub.track,
      why,
    });
    // Deno's QUIC cannot reset with a code: the stream ends without an answer, which every
    // version reads as a refusal.
    writer.reset(StreamCode.NotFound);
  };
  if (state.subscriptions >= ctx.limits.maxSubscriptions) return refuse("too many subscriptions");
  if (isInternal(path) && !peer.cluster && ctx.cluster.token !== undefined) {
    return refuse("not a cluster member");
  }
  const route = ctx.origin.route(path);
  if (!route) return refuse("no such broadcast");
  state.subscriptions++;
  const lease = route.broadcast.subscribe(sub.track, {
    priority: sub.priority,
    maxLatency: sub.maxLatency,
  });
  try {
    await deliver(peer, state, sub, lease, writer, reader);
  } finally {
    state.subscriptions--;
    lease.release();
  }
}

async function deliver(
  peer: Peer,
  state: ServeState,
  sub: Subscribe,
  lease: TrackLease,
  writer: SerialWriter,
  reader: MessageReader,
): Promise<void> {
  const { version, ctx } = peer;
  const track = lease.track;
  let priority = sub.priority;
  let maxLatency = sub.maxLatency;
  let cancelled = false;
  const deliveries = new Set<Delivery>();
  // Without a start group: the latest group (from its first frame) as of this SUBSCRIBE, so a
  // late joiner starts at once, and every group that arrives while the source confirms the
  // track and sends its properties is delivered too (it is newer than the subscription).
  let cursor = sub.startGroup === undefined ? track.startIndex() : undefined;

  // The peer's side of the stream: updates (03+), then FIN or reset = unsubscribe.
  const listen = (async () => {
    try {
      if (version >= Version.Lite03) {
        for (
          let u = await reader.read((b, o) => decodeSubscribeUpdate(b, version, o));
          u;
          u = await reader.read((b, o) => decodeSubscribeUpdate(b, version, o))
        ) {
          priority = u.priority;
          maxLatency = u.maxLatency;
          lease.update({ priority, maxLatency });
        }
      } else {
        await reader.drain();
      }
    } catch {
      // reset or malformed: the subscription is over either way
    }
    cancelled = true;
  })();

  // Answer only once the source accepted the subscription: a refusal must come before any OK
  // (a lite-01..04 subscriber never notices an end after SUBSCRIBE_OK).
  const exists = await Promise.race([track.whenConfirmed(), listen.then(() => false)]);
  if (!exists) {
    if (!cancelled) {
      peer.log.debug("subscription {id} to {path}/{track} refused upstream", {
        id: String(sub.id),
        path: track.broadcast,
        track: track.name,
      });
      writer.reset(StreamCode.NotFound);
    }
    return;
  }
  // Pre-05 versions acknowledge now; 05+ report the first group once it is known.
  if (version <= Version.Lite04) {
    void writer.write(
      encodeSubscribeResponse({
        kind: "ok",
        priority: sub.priority,
        ordered: false,
        maxLatency: 0,
        startGroup: undefined,
        endGroup: undefined,
      }, version),
    );
  }
  let started = version <= Version.Lite04;

  const properties = hasFrameTimestamps(version) ? await track.whenProperties() : undefined;
  // With a start group: the first cached group at or after it, looked up once the source is known.
  cursor ??= track.indexOfSequence(sub.startGroup ?? 0);
  if (hasFrameTimestamps(version) && !properties && track.ended) return endSubscription();

  while (!cancelled) {
    const { group, index } = track.at(cursor);
    if (group) {
      cursor = index + 1;
      if (sub.endGroup !== undefined && group.sequence > sub.endGroup) continue;
      if (!started) {
        started = true;
        void writer.write(
          encodeSubscribeResponse({ kind: "start", group: group.sequence }, version),
        );
      }
      dropLaggards(group);
      if (state.groupStreams >= ctx.limits.maxGroupStreams) {
        // The peer has too many of our streams open: skip this group rather than queue it.
        continue;
      }
      const delivery = sendGroup(group);
      deliveries.add(delivery);
      void delivery.done.catch(() => {}).finally(() => deliveries.delete(delivery));
      continue;
    }
    if (track.ended) break;
    await Promise.race([track.changed(), listen]);
  }
  return endSubscription();

  async function endSubscription(): Promise<void> {
    if (cancelled) {
      for (const d of deliveries) d.abandon();
    }
    await Promise.allSettled([...deliveries].map((d) => d.done));
    if (!cancelled && version >= Version.Lite05 && started) {
      await writer.write(
        encodeSubscribeResponse({ kind: "end", group: track.nextSequence() }, version),
      );
    }
    if (!started && !cancelled) {
      // The track never produced anything we could serve (refused upstream).
      writer.reset(StreamCode.NotFound);
    } else {
      await writer.close();
    }
    await listen;
  }

  /** Drops older groups this subscriber is still behind on, once they are old or too many bytes. */
  function dropLaggards(newest: Group): void {
    const budget = Math.max(maxLatency, ctx.limits.minLatencyMs);
    let lagBytes = 0;
    const older = [...deliveries].filter((d) => d.group.sequence < newest.sequence && !d.abandoned)
      .sort((a, b) => b.group.sequence - a.group.sequence);
    older.forEach((d, i) => {
      lagBytes += d.lag();
      const tooOld = newest.created - d.group.created > budget && d.lag() > 0;
      // Counting the new group, at most MAX_GROUPS_IN_FLIGHT stay in flight.
      const tooMany = i + 1 >= MAX_GROUPS_IN_FLIGHT;
      if (tooOld || tooMany || lagBytes > ctx.limits.maxLagBytes) d.abandon();
    });
  }

  function sendGroup(group: Group): Delivery {
    let written = 0;
    let out: SendStream | undefined;
    let grace: ReturnType<typeof setTimeout> | undefined;
    let drop = () => {};
    let cutNow = () => {};
    // Resolves when an abandoned group has had its grace: the writer stops even mid-write.
    const cut = new Promise<"cut">((resolve) => cutNow = () => resolve("cut"));
    /** A write that gives up once the group is cut (a stuck write cannot be aborted in Deno). */
    const write = async (stream: SendStream, bytes: Uint8Array) => {
      if (await Promise.race([stream.write(bytes), cut]) === "cut") throw new Error("group cut");
    };
    const delivery: Delivery = {
      group,
      abandoned: false,
      dropped: new Promise<void>((resolve) => drop = resolve),
      abandon() {
        if (delivery.abandoned) return;
        delivery.abandoned = true;
        drop();
        // A writer stuck mid-frame behind a slow peer's flow control never reaches a boundary:
        // cut it, so the group's memory is released.
        grace = setTimeout(() => {
          cutNow();
          out?.reset(StreamCode.Old);
        }, ABANDON_GRACE_MS);
      },
      lag: () => group.bytes - written,
      done: Promise.resolve(),
    };
    state.groupStreams++;
    delivery.done = (async () => {
      const stamped = hasFrameTimestamps(version);
      let previous = 0;
      let frameIndex = 0;
      // A frame's header against the previous frame's timestamp (read before `previous` moves
      // on), and its form: the timestamp delta from 05 on, one fixed form before.
      const form = (frame: Frame) => stamped ? frame.timestamp - previous : UNSTAMPED;
      const frameHeader = (frame: Frame) =>
        encodeFrameHeader({
          timestampDelta: stamped ? frame.timestamp - previous : 0,
          size: frame.size,
        }, version);
      // A small first frame that is already complete goes out with the stream header, in the
      // stream's first write (an audio group is often just that).
      const first = group.frames[0];
      const firstBytes = first && first.size <= SMALL_FIRST_FRAME
        ? joinFrame(first, form(first), frameHeader)
        : undefined;
      const initial = encodeGroupHeader(
        { subscribeId: sub.id, sequence: group.sequence, frameStart: 0 },
        version,
        { before: 1, after: firstBytes?.length ?? 0 },
      );
      initial[0] = UniType.Group;
      if (first && firstBytes) {
        initial.set(firstBytes, initial.length - firstBytes.length);
        written += first.size;
        previous = first.timestamp;
        frameIndex = 1;
      }
      let stream: SendStream;
      try {
        stream = await peer.transport.openUni({
          priority: groupPriority(priority, group.sequence),
          initial,
          // Behind a peer short of stream credit the open can wait long: a group dropped
          // meanwhile is not sent at all.
          abandoned: () => delivery.abandoned || cancelled,
        });
      } catch {
        return; // dropped, or the session ended, while the stream was being opened
      }
      out = stream;
      try {
        while (true) {
          const frame = group.frames[frameIndex];
          if (frame) {
            // Dropped at a frame boundary: the group ends here, cleanly (Deno's QUIC resets carry
            // no code, so a FIN after a whole frame tells the peer more).
            if (delivery.abandoned || cancelled) return void stream.close().catch(() => {});
            // A complete frame goes in one write, header and payload, from a buffer shared by
            // every subscriber of this header form; otherwise the header, then the chunks.
            const whole = joinFrame(frame, form(frame), frameHeader);
            const lead = whole ?? frameHeader(frame);
            previous = frame.timestamp;
            await write(stream, lead);
            if (whole) {
              written += frame.size;
              frameIndex++;
              continue;
            }
            // Held for the whole frame: once complete, the frame's chunks may be replaced by
            // a joined copy, and this array still lists every chunk this loop has yet to send.
            const chunks = frame.chunks;
            let chunk = 0;
            while (true) {
              while (chunk < chunks.length) {
                const bytes = chunks[chunk++];
                if (!bytes) continue;
                await write(stream, bytes);
                written += bytes.length;
              }
              if (frame.received >= frame.size) break;
              // Mid-frame we cannot stop cleanly: an upstream loss cuts the stream short.
              if (group.aborted) return stream.reset(StreamCode.Cancel);
              if (await Promise.race([group.changed(), cut]) === "cut") return;
            }
            frameIndex++;
            continue;
          }
          if (group.complete) return void stream.close().catch(() => {});
          if (delivery.abandoned || cancelled) return void stream.close().catch(() => {});
          if (group.aborted) return stream.reset(StreamCode.Cancel);
          await Promise.race([group.changed(), delivery.dropped]);
        }
      } catch {
        // The peer stopped the stream or the session ended: nothing more to do for this group.
      }
    })().finally(() => {
      clearTimeout(grace);
      state.groupStreams--;
    });
    return delivery;
  }
}
