/**
 * A group in the cache: an append-only list of frames, each an append-only list of payload
 * chunks as they arrived (never re-encoded; copied once at most, when a complete frame is joined
 * with its wire header for fan-out). Readers follow it while it is being written, so a relay
 * forwards partial groups, and partial frames, at once.
 *
 * @module
 */

import { concatBytes } from "../bytes/concat.ts";

/** Largest group kept (upstream's cap); a group growing past it is cut off. */
export const MAX_GROUP_BYTES = 32 * 1024 * 1024;
/** Most frames in one group. */
export const MAX_GROUP_FRAMES = 8192;

export interface Frame {
  /** Absolute timestamp in the track's timescale (local receive time in ms for pre-05 publishers). */
  timestamp: number;
  /** Declared payload size. */
  size: number;
  /** Payload chunks as received. */
  chunks: Uint8Array[];
  /** Payload bytes received so far. */
  received: number;
  /** Once joined (see {@link joinFrame}): a prefix and the payload in one buffer. */
  joined?: { form: number; prefixLength: number; bytes: Uint8Array };
}

/** Frames up to this size may be joined into one buffer. */
export const MAX_JOINED_FRAME = 256 * 1024;

/**
 * A complete frame's payload behind a prefix (say, a wire header) in one buffer, built on the
 * first call and returned again for the same `form`, so a frame fanned out to many readers costs
 * one write each and no copy. `form` names the prefix (equal forms, equal prefixes); `prefix` is
 * only called to build the buffer. The frame then keeps its payload only inside that buffer:
 * its chunks array is replaced, never mutated, so a reader holding the old array still sees
 * every chunk. Undefined for an incomplete or large frame, or one joined under another form.
 */
export function joinFrame(
  frame: Frame,
  form: number,
  prefix: (frame: Frame) => Uint8Array,
): Uint8Array | undefined {
  const joined = frame.joined;
  if (joined) return joined.form === form ? joined.bytes : undefined;
  if (frame.received < frame.size || frame.size > MAX_JOINED_FRAME) return undefined;
  const head = prefix(frame);
  const bytes = concatBytes([head, ...frame.chunks]);
  frame.joined = { form, prefixLength: head.length, bytes };
  frame.chunks = frame.size > 0 ? [bytes.subarray(head.length)] : [];
  return bytes;
}

export class Group {
  readonly sequence: number;
  readonly frames: Frame[] = [];
  /** Wall-clock arrival of the group, for age-based eviction. */
  readonly created: number;
  /** Payload bytes held. */
  bytes = 0;
  /** FIN seen: no more frames. */
  complete = false;
  /** Lost before completion (upstream reset, eviction, cut off): readers stop where they are. */
  aborted = false;
  #waiters: (() => void)[] = [];
  #onGrow: ((bytes: number) => void) | undefined;

  constructor(sequence: number, onGrow?: (bytes: number) => void, now = Date.now()) {
    this.sequence = sequence;
    this.created = now;
    this.#onGrow = onGrow;
  }

  get done(): boolean {
    return this.complete || this.aborted;
  }

  /** Resolves at the next change (a frame, a chunk, the end). */
  changed(): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Starts a frame; false if the group is over its frame limit (it is then aborted). */
  startFrame(timestamp: number, size: number): Frame | undefined {
    if (this.done) return undefined;
    if (this.frames.length >= MAX_GROUP_FRAMES || this.bytes + size > MAX_GROUP_BYTES) {
      this.abort();
      return undefined;
    }
    const frame: Frame = { timestamp, size, chunks: [], received: 0 };
    this.frames.push(frame);
    this.#notify();
    return frame;
  }

  appendChunk(frame: Frame, chunk: Uint8Array): void {
    if (this.done || chunk.length === 0) return;
    frame.chunks.push(chunk);
    frame.received += chunk.length;
    this.bytes += chunk.length;
    this.#onGrow?.(chunk.length);
    this.#notify();
  }

  finish(): void {
    if (this.done) return;
    this.complete = true;
    this.#notify();
  }

  abort(): void {
    if (this.done) return;
    this.aborted = true;
    this.#notify();
  }
}
