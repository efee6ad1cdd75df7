/**
 * One cached group as an HTTP body: its frames' payloads back to back, no framing, streamed as
 * they arrive (a group still being written is followed to its end). A group is whole or it is
 * not served as whole: if it is cut short, or the fetch is cut off (its deadline, its grant), the
 * body fails instead of ending, and the HTTP server then closes the connection without the final
 * chunk, which every HTTP/1.1 client reads as a failed response.
 *
 * The payload chunks are the cache's own buffers (never copied), pulled one at a time as the
 * client reads, so a slow client holds no more than the group itself.
 *
 * @module
 */
import type { Group } from "../cache/group.ts";
import { unlessAborted } from "../session/abort.ts";

/** A body failed on purpose; the HTTP server closes its connection without logging it. */
export class BodyCut extends Error {
  override name = "BodyCut";
}

type Step = Uint8Array | "wait" | "end" | "cut";

/** Walks a group's payload chunks in order, frame by frame. */
class PayloadCursor {
  readonly #group: Group;
  #frame = 0;
  /** The current frame's chunks, held for the whole frame: a complete frame's array may be
   * replaced by one buffer of the same bytes (see `replaceChunks`). */
  #chunks: Uint8Array[] | undefined;
  #chunk = 0;

  constructor(group: Group) {
    this.#group = group;
  }

  next(): Step {
    const group = this.#group;
    for (;;) {
      const frame = group.frames[this.#frame];
      if (!frame) {
        if (group.complete) return "end";
        return group.aborted ? "cut" : "wait";
      }
      this.#chunks ??= frame.chunks;
      const chunk = this.#chunks[this.#chunk];
      if (chunk) {
        this.#chunk++;
        return chunk;
      }
      if (frame.received < frame.size) return group.aborted ? "cut" : "wait";
      this.#frame++;
      this.#chunks = undefined;
      this.#chunk = 0;
    }
  }
}

/**
 * The body; `signal` cuts it off (its reason says why), and `end` is called once with the
 * outcome: "done", "client gone", or why it failed.
 */
export function groupBody(
  group: Group,
  signal: AbortSignal,
  end: (outcome: string) => void,
): ReadableStream<Uint8Array> {
  const cursor = new PayloadCursor(group);
  let over = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const finish = (outcome: string) => {
    if (over) return;
    over = true;
    signal.removeEventListener("abort", onAbort);
    end(outcome);
  };
  const fail = (why: string) => {
    if (over) return;
    controller.error(new BodyCut(why));
    finish(why);
  };
  const onAbort = () => fail(String(signal.reason));
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(c) {
      while (!over) {
        const step = cursor.next();
        if (step === "wait") {
          await unlessAborted(group.changed(), signal);
          continue;
        }
        if (step === "cut") return fail("the group was cut short");
        if (step === "end") {
          c.close();
          return finish("done");
        }
        return c.enqueue(step);
      }
    },
    cancel() {
      finish("client gone");
    },
  }, { highWaterMark: 0 });
}
