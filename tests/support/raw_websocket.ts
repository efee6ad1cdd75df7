/**
 * A WebSocket client written by hand on a raw TCP connection, for attacks no well-behaved client
 * makes: any handshake (or none), and QMux or legacy `webtransport` frames that ignore flow
 * control. It sees the HTTP answer as sent, and notices when the relay closes the connection.
 */
import { encodeSetup, setupParameters } from "../../src/codec/lite/setup.ts";
import { UniType } from "../../src/codec/lite/stream.ts";

const encoder = new TextEncoder();

/** The relay's answer to an upgrade, and the connection (open only after a 101). */
export interface RawUpgrade {
  /** The HTTP status, e.g. 101 or 400. */
  readonly status: number;
  /** The status line and headers (with a refusal: and the body that came with them). */
  readonly head: string;
  readonly conn: Deno.TcpConn;
  /** Settles when the relay closes the connection (EOF or reset). */
  readonly closed: Promise<void>;
  /** Settles when the relay sends a WebSocket close frame (or closes the connection). */
  readonly closing: Promise<void>;
  /** Bytes received after the head. */
  readonly received: () => number;
  /** Sends a WebSocket frame or raw bytes; false once the connection is gone. */
  send(bytes: Uint8Array): Promise<boolean>;
  close(): void;
}

/**
 * Sends an upgrade request offering `protocols` (none: no header at all) and reads the answer;
 * with none after `timeoutMs`, closes the connection and reports status 0. With `read: false`
 * nothing after the answer is read (`closed` and `closing` then never settle). `path` is the
 * request target (default `/attack`).
 */
export async function rawUpgrade(
  port: number,
  protocols: string[] | undefined,
  { extraHeaders = "", timeoutMs = 5000, read = true, path = "/attack" } = {},
): Promise<RawUpgrade> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const offer = protocols ? `Sec-WebSocket-Protocol: ${protocols.join(", ")}\r\n` : "";
  await conn.write(encoder.encode(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      offer + extraHeaders + "\r\n",
  ));
  const buf = new Uint8Array(64 * 1024);
  let received = 0;
  let gone = false;
  const deadline = setTimeout(() => {
    gone = true;
    conn.close();
  }, timeoutMs);
  // The head, and whatever came after it in the same reads (kept as bytes: frames follow).
  let bytes = new Uint8Array(0);
  let end = -1;
  while (!gone && end < 0) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) {
      gone = true;
      break;
    }
    const more = new Uint8Array(bytes.length + n);
    more.set(bytes);
    more.set(buf.subarray(0, n), bytes.length);
    bytes = more;
    end = new TextDecoder("latin1").decode(bytes).indexOf("\r\n\r\n");
  }
  clearTimeout(deadline);
  let head = new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end + 4));
  const status = Number(head.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);
  // A refusal's reason is its body, which came with the head.
  if (status !== 101) head = new TextDecoder().decode(bytes);
  const frames = new FrameWatcher();
  if (end >= 0) frames.push(bytes.subarray(end + 4));
  // Not reading (a peer that lets the relay's answers pile up): a failed write is the sign.
  const closed = gone ? Promise.resolve() : !read ? new Promise<void>(() => {}) : (async () => {
    try {
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        received += n;
        frames.push(buf.subarray(0, n));
      }
    } catch {
      // reset
    }
    gone = true;
  })();
  const closing = Promise.race([frames.close, closed]);
  return {
    status,
    head,
    conn,
    closed,
    closing,
    received: () => received,
    async send(bytes) {
      if (gone) return false;
      try {
        for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
        return true;
      } catch {
        gone = true;
        return false;
      }
    },
    close() {
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

/** Follows the server's (unmasked) WebSocket frames, to notice its close frame. */
class FrameWatcher {
  readonly close: Promise<void>;
  #closed!: () => void;
  #pending = new Uint8Array(0);
  /** Payload bytes of the current frame still to skip. */
  #skip = 0;

  constructor() {
    this.close = new Promise((resolve) => this.#closed = resolve);
  }

  push(bytes: Uint8Array): void {
    let data = new Uint8Array(this.#pending.length + bytes.length);
    data.set(this.#pending);
    data.set(bytes, this.#pending.length);
    for (;;) {
      const skipped = Math.min(this.#skip, data.length);
      this.#skip -= skipped;
      data = data.subarray(skipped);
      if (this.#skip > 0 || data.length < 2) break;
      const short = data[1]! & 0x7f;
      const headLength = short === 126 ? 4 : short === 127 ? 10 : 2;
      if (data.length < headLength) break;
      let length = short;
      if (short === 126) length = (data[2]! << 8) | data[3]!;
      if (short === 127) {
        length = Number(new DataView(data.buffer, data.byteOffset + 2).getBigUint64(0));
      }
      if ((data[0]! & 0x0f) === 0x8) this.#closed();
      data = data.subarray(headLength);
      this.#skip = length;
    }
    this.#pending = data.slice();
  }
}

/** A record of QX_PING requests (qmux-01), numbered from `first`, about `size` bytes long. */
export function qmuxPings(first: number, size = 16_000): { record: Uint8Array; next: number } {
  const out: number[] = [];
  let next = first;
  while (out.length < size) out.push(...varint(0x348c67529ef8c7bdn), ...varint(next++));
  return { record: Uint8Array.from(out), next };
}

/** A QUIC variable-length integer. */
export function varint(n: number | bigint): number[] {
  const v = BigInt(n);
  if (v < 64n) return [Number(v)];
  if (v < 16384n) return [0x40 | Number(v >> 8n), Number(v & 0xffn)];
  if (v < 2n ** 30n) {
    return [
      0x80 | Number(v >> 24n),
      Number((v >> 16n) & 0xffn),
      Number((v >> 8n) & 0xffn),
      Number(v & 0xffn),
    ];
  }
  const out = [0xc0 | Number(v >> 56n)];
  for (let i = 6; i >= 0; i--) out.push(Number((v >> BigInt(i * 8)) & 0xffn));
  return out;
}

/** A client's binary WebSocket frame (masked, with an all-zero key, as RFC 6455 allows). */
export function wsFrame(payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const head = len < 126
    ? [0x82, 0x80 | len]
    : len < 65536
    ? [0x82, 0x80 | 126, len >> 8, len & 0xff]
    : [0x82, 0x80 | 127, 0, 0, 0, 0, len >>> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff];
  const out = new Uint8Array(head.length + 4 + len);
  out.set(head);
  out.set(payload, head.length + 4);
  return out;
}

/** The id of the client's `index`-th unidirectional (or bidirectional) stream. */
export const clientStream = (index: number, bidi = false): number => (index << 2) | (bidi ? 0 : 2);

/** A legacy `webtransport` STREAM frame: type, id, then the payload to the end of the message. */
export function legacyStream(id: number, data: Uint8Array): Uint8Array {
  return concat([0x08, ...varint(id)], data);
}

/** A QMux STREAM frame with offset and length (type 0x0e, or 0x0f with FIN). */
export function qmuxStream(id: number, data: Uint8Array, offset = 0, fin = false): Uint8Array {
  return concat(
    [fin ? 0x0f : 0x0e, ...varint(id), ...varint(offset), ...varint(data.length)],
    data,
  );
}

/**
 * QX_TRANSPORT_PARAMETERS granting the relay room to open its streams and send: `maxData` in
 * all, and (by default) 1 MiB per stream on 100 streams of each kind.
 */
export function qmuxTransportParameters(
  maxData = 1 << 24,
  perStream = 1 << 20,
  streams = 100,
): Uint8Array {
  const param = (id: number, value: number) => {
    const v = varint(value);
    return [...varint(id), ...varint(v.length), ...v];
  };
  const payload = [
    ...param(0x04, maxData), // initial_max_data
    ...param(0x05, perStream), // initial_max_stream_data_bidi_local
    ...param(0x06, perStream), // initial_max_stream_data_bidi_remote
    ...param(0x07, perStream), // initial_max_stream_data_uni
    ...param(0x08, streams), // initial_max_streams_bidi
    ...param(0x09, streams), // initial_max_streams_uni
  ];
  return Uint8Array.from([...varint(0x3f5153300d0a0d0an), ...varint(payload.length), ...payload]);
}

/** A lite-05+ SETUP stream's whole content: its type, then the size-prefixed SETUP. */
export function liteSetupStream(): Uint8Array {
  return concat([UniType.Setup], encodeSetup(setupParameters({})));
}

function concat(head: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** A process's resident set, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = status.match(/VmRSS:\s+(\d+) kB/)?.[1];
  if (!kib) throw new Error(`no VmRSS for ${pid}`);
  return Number(kib) / 1024;
}
