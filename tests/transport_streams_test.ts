/**
 * Reading a stream: chunks handed on never keep much more memory alive than their own bytes
 * (the cache holds them), and bulk data is still read in large pieces.
 */
import { deepEqual, equal, ok } from "assert";
import { MAX_READ, MIN_READ, ReadableRecvStream } from "../src/transport/streams.ts";
import { StreamError } from "../src/transport/session.ts";

const mapError = () => new StreamError("reset", null);

/**
 * A byte stream shaped like Deno's QUIC receive streams: the source fills the reader's buffer
 * (64 KiB allocated per read for a default reader), one chunk of `chunks` per pull at most.
 */
function byteStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  let offset = 0;
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 64 * 1024,
    pull(controller) {
      const request = controller.byobRequest;
      const chunk = chunks[next];
      if (!request?.view) throw new Error("expected a BYOB request");
      if (!chunk) {
        controller.close();
        request.respond(0);
        return;
      }
      const view = new Uint8Array(request.view.buffer, request.view.byteOffset);
      const n = Math.min(view.byteLength, request.view.byteLength, chunk.length - offset);
      view.set(chunk.subarray(offset, offset + n));
      offset += n;
      if (offset === chunk.length) {
        next++;
        offset = 0;
      }
      request.respond(n);
    },
  });
}

async function readAll(stream: ReadableRecvStream): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let chunk = await stream.read(); chunk; chunk = await stream.read()) out.push(chunk);
  return out;
}

Deno.test("small reads keep no large buffer alive", async () => {
  const frames = Array.from({ length: 20 }, (_, i) => new Uint8Array(160).fill(i));
  const chunks = await readAll(new ReadableRecvStream(byteStream(frames), mapError));
  deepEqual(chunks.map((c) => c[0]), frames.map((f) => f[0]));
  for (const c of chunks) {
    equal(c.length, 160);
    ok(c.buffer.byteLength <= 2 * c.length, `${c.length} bytes holding ${c.buffer.byteLength}`);
  }
});

Deno.test("bulk data is read in growing pieces, up to the largest read", async () => {
  const bulk = new Uint8Array(400_000).map((_, i) => i % 251);
  const chunks = await readAll(new ReadableRecvStream(byteStream([bulk]), mapError));
  const sizes = chunks.map((c) => c.length);
  // Doubling from the smallest read while each read fills its buffer, then capped.
  deepEqual(sizes.slice(0, 7), [
    MIN_READ,
    2 * MIN_READ,
    4 * MIN_READ,
    8 * MIN_READ,
    16 * MIN_READ,
    32 * MIN_READ,
    MAX_READ,
  ]);
  ok(Math.max(...sizes) <= MAX_READ);
  const joined = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const c of chunks) {
    joined.set(c, at);
    at += c.length;
  }
  deepEqual(joined, bulk);
});

Deno.test("a prefix read past a header comes first; a stream of plain chunks is read as is", async () => {
  const withPrefix = new ReadableRecvStream(
    byteStream([Uint8Array.of(3, 4)]),
    mapError,
    Uint8Array.of(1, 2),
  );
  deepEqual((await readAll(withPrefix)).map((c) => [...c]), [[1, 2], [3, 4]]);
  // Not a byte stream (as @moq/qmux's): no BYOB reader, chunks pass through unchanged.
  const plain = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(Uint8Array.of(9, 9, 9));
      controller.close();
    },
  });
  deepEqual((await readAll(new ReadableRecvStream(plain, mapError))).map((c) => [...c]), [[
    9,
    9,
    9,
  ]]);
});
