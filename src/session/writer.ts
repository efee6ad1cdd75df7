/**
 * Serialises writes to one stream from several tasks (announce updates, responses), so
 * messages never interleave; the first failure is kept and every later write is skipped.
 * What waits in the queue is bounded: a peer that stops reading a control stream while updates
 * keep coming loses that stream, not the relay's memory.
 *
 * @module
 */
import { StreamCode } from "../codec/error.ts";
import type { SendStream } from "../transport/session.ts";

/** Bytes a control stream may have queued behind a peer that does not read. */
export const MAX_QUEUED_BYTES = 1024 * 1024;

export class SerialWriter {
  readonly stream: SendStream;
  #tail: Promise<void> = Promise.resolve();
  #failed: unknown;
  #closed = false;
  #queued = 0;

  constructor(stream: SendStream) {
    this.stream = stream;
  }

  get failed(): boolean {
    return this.#failed !== undefined;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#queued += bytes.length;
    if (this.#queued > MAX_QUEUED_BYTES) {
      this.#failed = new Error("the peer is not reading this stream");
      this.reset(StreamCode.TooFarBehind);
      return this.#tail;
    }
    this.#tail = this.#tail.then(async () => {
      try {
        if (this.#failed === undefined) await this.stream.write(bytes);
      } catch (e) {
        this.#failed = e ?? new Error("write failed");
      } finally {
        this.#queued -= bytes.length;
      }
    });
    return this.#tail;
  }

  /** FIN after everything queued. */
  close(): Promise<void> {
    if (this.#closed) return this.#tail;
    this.#closed = true;
    this.#tail = this.#tail.then(() => this.stream.close().catch(() => {}));
    return this.#tail;
  }

  reset(code: number): void {
    this.#closed = true;
    this.stream.reset(code);
  }
}
