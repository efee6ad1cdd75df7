/**
 * Frames on the wire for fan-out: a complete frame is joined with its header once and shared by
 * every subscriber of the same header form; the cache then holds the payload inside that buffer
 * only, and knows nothing of headers.
 */
import { deepEqual, equal } from "assert";
import { Group } from "../src/cache/group.ts";
import { encodeFrameHeader, Version } from "../src/codec/lite/mod.ts";
import { MAX_JOINED_FRAME, wireFrame } from "../src/session/lite/publisher/frames.ts";

Deno.test("a complete frame is joined behind its header once, and shared by equal header forms", () => {
  const g = new Group(0);
  const frame = g.startFrame(1000, 5)!;
  g.appendChunk(frame, Uint8Array.of(1, 2));
  // Not yet complete: nothing to join.
  equal(wireFrame(frame, 0, Version.Lite06), undefined);
  const readerChunks = frame.chunks;
  g.appendChunk(frame, Uint8Array.of(3, 4, 5));
  const whole = wireFrame(frame, 0, Version.Lite06)!;
  const header = encodeFrameHeader({ timestampDelta: 1000, size: 5 }, Version.Lite06);
  deepEqual([...whole], [...header, 1, 2, 3, 4, 5]);
  // The same header form gets the same buffer; another form (no timestamps, or another delta)
  // gets nothing: it writes the header and the chunks itself.
  equal(wireFrame(frame, 0, Version.Lite05), whole);
  equal(wireFrame(frame, 0, Version.Lite04), undefined);
  equal(wireFrame(frame, 500, Version.Lite06), undefined);
  // The payload now lives in the joined buffer only; a reader that held the old chunk list
  // still has every chunk.
  deepEqual(frame.chunks.map((c) => [...c]), [[1, 2, 3, 4, 5]]);
  equal(frame.chunks[0]!.buffer, whole.buffer);
  deepEqual(readerChunks.map((c) => [...c]), [[1, 2], [3, 4, 5]]);
  // An empty frame is its header alone, and keeps no empty chunk.
  const empty = g.startFrame(1000, 0)!;
  deepEqual([...wireFrame(empty, 1000, Version.Lite04)!], [0x00]);
  deepEqual(empty.chunks, []);
  // Large frames are never copied.
  const big = g.startFrame(1000, MAX_JOINED_FRAME + 1)!;
  g.appendChunk(big, new Uint8Array(MAX_JOINED_FRAME + 1));
  equal(wireFrame(big, 1000, Version.Lite06), undefined);
});
