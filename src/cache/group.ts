/**
 * A group in the cache: an append-only list of frames, each an append-only list of payload
 * chunks as they arrived. The cache holds bytes and frames only, no wire format; readers follow a
 * group while it is being written, so a relay forwards partial groups, and partial frames, at
 * once. A group is whole (`complete`) or it is not served as whole (`aborted`).
 *
 * @module
 */

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
}

/**
 * Replaces a complete frame's chunks with one buffer of the same bytes (a reader that copied
 * them into one buffer hands that back, so the payload is held once). The array is replaced,
 * never mutated: a reader holding the old one still sees every chunk.
 */
export function replaceChunks(frame: Frame, payload: Uint8Array): void {
  if (frame.received < frame.size || payload.length !== frame.size) {
    throw new RangeError("only a complete frame's payload can be replaced, by the same length");
  }
  frame.chunks = frame.size > 0 ? [payload] : [];
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
  /**
   * Lost before completion (the upstream reset or truncated it, eviction, cut off): readers stop
   * where they are, and a reader that has not started it skips it.
   */
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
