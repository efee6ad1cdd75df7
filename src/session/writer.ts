/**
 * Serialises writes to one stream from several tasks (announce updates, responses), so
 * messages never interleave; the first failure is kept and every later write is skipped.
 *
 * @module
 */
import type { SendStream } from "../transport/session.ts";

export class SerialWriter {
  readonly stream: SendStream;
  #tail: Promise<void> = Promise.resolve();
  #failed: unknown;
  #closed = false;

  constructor(stream: SendStream) {
    this.stream = stream;
  }

  get failed(): boolean {
    return this.#failed !== undefined;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#tail = this.#tail.then(async () => {
      if (this.#failed !== undefined) return;
      try {
        await this.stream.write(bytes);
      } catch (e) {
        this.#failed = e ?? new Error("write failed");
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
