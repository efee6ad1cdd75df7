/**
 * One group written to one subscriber, on its own unidirectional stream: the stream header and a
 * small first frame in the stream's first write, then each frame (one write when it is complete,
 * else its header and its chunks as they arrive), then FIN once the group is whole.
 *
 * A group that will not be whole (dropped because the subscriber fell behind, the subscription
 * cancelled, or the group lost upstream) ends so that the peer sees it truncated, never as a
 * whole group that happens to end early (see `truncate.ts`).
 *
 * @module
 */
import type { Frame, Group } from "../../cache/group.ts";
import { concatBytes } from "../../bytes/concat.ts";
import { StreamCode } from "../../codec/error.ts";
import type { Traffic } from "../../ops/traffic.ts";
import type { SendStream, Session } from "../../transport/session.ts";
import { Cancellation } from "../abort.ts";
import type { Ticket } from "./send_order.ts";
import { type Position, truncate } from "./truncate.ts";

/** A group's first frame up to this size is sent in the same write as the stream header. */
const SMALL_FIRST_FRAME = 4096;
/** Frames up to this size are joined with their header; larger ones are written as they came. */
export const MAX_JOINED_FRAME = 256 * 1024;
/** How long an abandoned group may take to reach a frame boundary before it is cut. */
const ABANDON_GRACE_MS = 500;

/**
 * How one protocol writes a group on its stream (moq-lite's GROUP and frames, moq-transport's
 * SUBGROUP_HEADER and objects); the delivery itself is the same for both.
 */
export interface GroupWire {
  /** The stream's first bytes: its type and header. */
  header(group: Group): Uint8Array;
  /** A complete frame with its header in one buffer (shared where it can be), or undefined. */
  wholeFrame(frame: Frame, index: number, previous: number): Uint8Array | undefined;
  /** A frame's header alone; its payload follows as it arrives. */
  frameHeader(frame: Frame, index: number, previous: number): Uint8Array;
  /** Written before a FIN at a frame boundary so that the peer reads the group as cut short. */
  readonly truncation: Uint8Array;
}

/** What a group stream needs from the subscription it belongs to. */
export interface GroupTarget {
  readonly transport: Session;
  readonly traffic: Traffic;
  readonly wire: GroupWire;
  /** Whether the peer has ended the subscription. */
  cancelled(): boolean;
}

class Cut extends Error {}

export class GroupDelivery {
  readonly group: Group;
  readonly done: Promise<void>;
  readonly #target: GroupTarget;
  readonly #ticket: Ticket;
  /** Cancelled when the group is dropped: a wait for more frames gives up. */
  readonly #dropped = new Cancellation();
  /** Cancelled once a dropped group has had its grace: the writer stops even mid-write. */
  readonly #cut = new Cancellation();
  #stream: SendStream | undefined;
  #grace: ReturnType<typeof setTimeout> | undefined;
  #written = 0;
  #position: Position = "boundary";
  #ended = false;

  constructor(target: GroupTarget, group: Group, ticket: Ticket) {
    this.#target = target;
    this.group = group;
    this.#ticket = ticket;
    ticket.onChange = (order) => {
      if (this.#stream) this.#stream.priority = order;
    };
    this.done = this.#run().finally(() => {
      clearTimeout(this.#grace);
      ticket.release();
    });
  }

  get abandoned(): boolean {
    return this.#dropped.cancelled;
  }

  /** Payload bytes of the group not yet written. */
  lag(): number {
    return this.group.bytes - this.#written;
  }

  /** Drops the group: at the next frame boundary, or cut short if stuck behind flow control. */
  abandon(): void {
    if (this.abandoned) return;
    this.#dropped.cancel();
    // A writer stuck mid-frame behind a slow peer's flow control never reaches a boundary: cut
    // it, so the group's memory is released.
    this.#grace = setTimeout(() => {
      this.#cut.cancel();
      if (this.#stream) this.#truncate(this.#stream, StreamCode.Old);
    }, ABANDON_GRACE_MS);
  }

  #stopped(): boolean {
    return this.abandoned || this.#target.cancelled();
  }

  async #run(): Promise<void> {
    let stream: SendStream;
    let next: number;
    try {
      [stream, next] = await this.#open();
    } catch {
      return; // dropped, or the session ended, while the stream was being opened
    }
    this.#stream = stream;
    stream.priority = this.#ticket.order;
    try {
      const ending = await this.#writeFrames(stream, next);
      if (ending === "whole") {
        this.#target.traffic.out.groups++;
        this.#ended = true;
        void stream.close().catch(() => {});
      } else {
        this.#truncate(stream, this.group.aborted ? StreamCode.Cancel : StreamCode.Old);
      }
    } catch (e) {
      if (e instanceof Cut) return; // the grace timer truncated the stream
      // Otherwise the peer stopped the stream or the session ended: nothing more to do.
    }
  }

  /** Opens the stream with the group header (and a small complete first frame) in one write. */
  async #open(): Promise<[SendStream, number]> {
    const { wire, transport } = this.#target;
    const first = this.group.frames[0];
    const firstBytes = first && first.size <= SMALL_FIRST_FRAME
      ? wire.wholeFrame(first, 0, 0)
      : undefined;
    const header = wire.header(this.group);
    const initial = firstBytes ? concatBytes([header, firstBytes]) : header;
    const stream = await transport.openUni({
      priority: this.#ticket.order,
      initial,
      // Behind a peer short of stream credit the open can wait long: a group dropped meanwhile
      // leaves the queue at once, and is not sent at all.
      cancel: this.#dropped,
      abandoned: () => this.#stopped() || this.group.aborted,
    });
    if (first && firstBytes) {
      this.#written += first.size;
      this.#sentFrame(first.size);
    }
    return [stream, firstBytes ? 1 : 0];
  }

  /** Writes frames from `index` on; says how the group ends on this stream. */
  async #writeFrames(stream: SendStream, index: number): Promise<"whole" | "truncated"> {
    const group = this.group;
    let previous = index > 0 ? group.frames[index - 1]?.timestamp ?? 0 : 0;
    while (true) {
      // Dropped between frames: stop at this boundary.
      if (this.#stopped()) return "truncated";
      const frame = group.frames[index];
      if (frame) {
        await this.#writeFrame(stream, index, previous);
        previous = frame.timestamp;
        index++;
        continue;
      }
      if (group.complete) return "whole";
      if (group.aborted) return "truncated";
      await this.#dropped.race(group.changed());
    }
  }

  /** One frame: in one write when complete, else its header and then its chunks as they come. */
  async #writeFrame(stream: SendStream, index: number, previous: number): Promise<void> {
    const group = this.group;
    const wire = this.#target.wire;
    const frame = group.frames[index];
    if (!frame) return;
    const whole = wire.wholeFrame(frame, index, previous);
    if (whole) {
      await this.#write(stream, whole, "boundary");
      this.#written += frame.size;
      return this.#sentFrame(frame.size);
    }
    await this.#write(
      stream,
      wire.frameHeader(frame, index, previous),
      frame.size > 0 ? "inside" : "boundary",
    );
    // Held for the whole frame: once complete, the frame's chunks may be replaced by a joined
    // copy, and this array still lists every chunk this loop has yet to send.
    const chunks = frame.chunks;
    let sent = 0;
    let next = 0;
    while (true) {
      while (next < chunks.length) {
        const bytes = chunks[next++];
        if (!bytes) continue;
        sent += bytes.length;
        await this.#write(stream, bytes, sent >= frame.size ? "boundary" : "inside");
        this.#written += bytes.length;
      }
      if (frame.received >= frame.size) return this.#sentFrame(frame.size);
      // Mid-frame the group cannot end cleanly: an upstream loss truncates it here.
      if (group.aborted) return;
      await this.#cut.race(group.changed());
      if (this.#cut.cancelled) throw new Cut();
    }
  }

  #sentFrame(bytes: number): void {
    const out = this.#target.traffic.out;
    out.frames++;
    out.bytes += bytes;
  }

  /** A write that gives up once the group is cut (a stuck write cannot be aborted in Deno). */
  async #write(stream: SendStream, bytes: Uint8Array, after: Position): Promise<void> {
    this.#position = after;
    await this.#cut.race(stream.write(bytes));
    if (this.#cut.cancelled) throw new Cut();
  }

  /** Ends the stream so that the peer sees the group truncated (once). */
  #truncate(stream: SendStream, code: number): void {
    if (this.#ended) return;
    this.#ended = true;
    truncate(stream, this.#target.transport, this.#position, code, this.#target.wire.truncation);
  }
}
