/**
 * Pins `@moq/net` 0.3.4 to moq-transport draft 14, for Deno and for browser pages alike (no Deno
 * API here: page scripts import this module and `deno bundle` inlines it).
 *
 * Why a shim is needed: draft 14 has no ALPN of its own that `@moq/net` accepts (it refuses
 * `moq-00`). It reaches draft 14 only through the legacy SETUP: with the negotiated protocol
 * `moql`, `""` or none at all (`connection/connect.js` `connectTransport`), it opens the first
 * bidirectional stream and writes `0x20` (CLIENT_SETUP), a u16 length, then the version list
 * `[lite-02 0xff0dad02, lite-01 0xff0dad01, draft-14 0xff00000e]` and its setup options. The
 * server picks, and both upstream (`moq-net` `server.rs`: the client's first supported entry) and
 * our relay (`chooseLegacyVersion`) pick the client's first choice, lite-02. So, unaided,
 * `@moq/net` never lands on draft 14 against either.
 *
 * {@link offerOnlyDraft14} wraps the transport handed to `Connection.connect(url, { transport })`
 * and rewrites that one message on its way out so the list is `[0xff00000e]` alone; everything
 * else (the SERVER_SETUP it then reads, and every later message) is `@moq/net`'s own draft-14
 * code, chosen because the server answered 0xff00000e.
 *
 * @module
 */

/** The draft-14 version code. */
export const DRAFT_14_CODE = 0xff00000e;
/** The legacy CLIENT_SETUP type (`Lite.StreamId.ClientCompat`). */
const CLIENT_SETUP = 0x20;

interface Bidi {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

interface HasBidi {
  createBidirectionalStream(options?: unknown): Promise<Bidi>;
}

/** A QUIC varint at `at`: [value, next offset], or undefined when cut short. */
function readVarint(bytes: Uint8Array, at: number): [number, number] | undefined {
  if (at >= bytes.length) return undefined;
  const first = bytes[at]!;
  const length = 1 << (first >> 6);
  if (at + length > bytes.length) return undefined;
  let value = first & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + bytes[at + i]!;
  return [value, at + length];
}

function writeVarint(value: number): number[] {
  if (value < 0x40) return [value];
  if (value < 0x4000) return [0x40 | (value >> 8), value & 0xff];
  if (value < 0x40000000) {
    return [0x80 | (value >>> 24), (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
  }
  const out = [0xc0, 0, 0, 0];
  for (let shift = 24; shift >= 0; shift -= 8) out.push(Math.floor(value / 2 ** shift) & 0xff);
  return out;
}

/**
 * The CLIENT_SETUP at the head of `bytes` with its version list cut to draft 14, and how many
 * input bytes it replaces; undefined until the whole message is there.
 */
export function rewriteClientSetup(
  bytes: Uint8Array,
): { message: Uint8Array; consumed: number } | undefined {
  if (bytes.length < 3) return undefined;
  if (bytes[0] !== CLIENT_SETUP) {
    throw new Error(`draft-14 offer: the first stream starts with 0x${bytes[0]!.toString(16)}`);
  }
  const length = (bytes[1]! << 8) | bytes[2]!;
  const end = 3 + length;
  if (bytes.length < end) return undefined;
  const count = readVarint(bytes, 3);
  if (!count) throw new Error("draft-14 offer: CLIENT_SETUP without a version count");
  let at = count[1];
  const versions: number[] = [];
  for (let i = 0; i < count[0]; i++) {
    const v = readVarint(bytes, at);
    if (!v || v[1] > end) throw new Error("draft-14 offer: CLIENT_SETUP versions cut short");
    versions.push(v[0]);
    at = v[1];
  }
  if (!versions.includes(DRAFT_14_CODE)) {
    throw new Error(`draft-14 offer: @moq/net offered ${versions.map((v) => v.toString(16))}`);
  }
  const body = [...writeVarint(1), ...writeVarint(DRAFT_14_CODE), ...bytes.subarray(at, end)];
  const message = Uint8Array.from([CLIENT_SETUP, body.length >> 8, body.length & 0xff, ...body]);
  return { message, consumed: end };
}

/** A writable that passes everything to `inner`, its leading CLIENT_SETUP rewritten. */
function rewriting(inner: WritableStream<Uint8Array>): WritableStream<Uint8Array> {
  const writer = inner.getWriter();
  let head: Uint8Array | undefined = new Uint8Array(0);
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      if (!head) return await writer.write(chunk);
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      const done = rewriteClientSetup(joined);
      if (!done) {
        head = joined;
        return;
      }
      head = undefined;
      await writer.write(done.message);
      if (done.consumed < joined.length) await writer.write(joined.subarray(done.consumed));
    },
    close: () => writer.close(),
    abort: (reason) => writer.abort(reason),
  });
}

/**
 * `transport` (a `@moq/qmux` Session or a browser `WebTransport` negotiated on `moql` or on no
 * protocol) with the CLIENT_SETUP on its first client bidirectional stream offering draft 14
 * only. Every other member is the transport's own, bound to it.
 */
export function offerOnlyDraft14<T extends HasBidi>(transport: T): T {
  let first = true;
  return new Proxy(transport, {
    get(target, prop) {
      if (prop === "createBidirectionalStream" && first) {
        return async (options?: unknown): Promise<Bidi> => {
          first = false;
          const stream = await target.createBidirectionalStream(options);
          return { readable: stream.readable, writable: rewriting(stream.writable) };
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
