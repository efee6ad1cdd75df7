/** The control-stream writer: ordered, and bounded behind a peer that stops reading. */
import { equal, ok } from "assert";
import { StreamCode } from "../src/codec/error.ts";
import type { SendStream } from "../src/transport/session.ts";
import { MAX_QUEUED_BYTES, SerialWriter } from "../src/session/writer.ts";

function stalledStream(): SendStream & { resets: number[]; written: number } {
  const stream = {
    resets: [] as number[],
    written: 0,
    priority: 0,
    closed: Promise.resolve(),
    write: (bytes: Uint8Array) => {
      stream.written += bytes.length;
      return new Promise<void>(() => {}); // the peer never reads: every write hangs
    },
    close: () => Promise.resolve(),
    reset: (code: number) => void stream.resets.push(code),
  };
  return stream;
}

Deno.test("a control stream whose peer stops reading is reset once its queue is full", () => {
  const stream = stalledStream();
  const writer = new SerialWriter(stream);
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < (MAX_QUEUED_BYTES / chunk.length) * 4; i++) void writer.write(chunk);
  equal(writer.failed, true);
  equal(stream.resets[0], StreamCode.TooFarBehind);
  ok(stream.written <= chunk.length, "only the first write reached the stream");
});
