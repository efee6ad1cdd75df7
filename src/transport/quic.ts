/**
 * Raw QUIC sessions: a MoQ ALPN (`moq-lite-06`, ...) negotiated in the TLS handshake, and the
 * QUIC connection itself is the session. Nearly 1:1 over Deno's `QuicConn`.
 *
 * @module
 */
import { DatagramSender, readDatagrams } from "./datagrams.ts";
import { AsyncQueue } from "./queue.ts";
import {
  abandonOpen,
  type BiStream,
  type ByteMeter,
  type Capabilities,
  type CloseInfo,
  MAX_QUEUED_DATAGRAMS,
  type OpenOptions,
  quicStreamError,
  type RecvStream,
  type SendStream,
  type Session,
  type StreamError,
} from "./session.ts";
import { type StreamOpener, uniOpener } from "./opener.ts";
import { ReadableRecvStream, WritableSendStream } from "./streams.ts";

/** Deno 2.9.6's QUIC sends neither reset nor stop codes (see shared/docs/transport.md). */
export const DENO_QUIC_CAPS: Capabilities = {
  resetCode: false,
  stopCode: false,
  datagrams: true,
  maxStreamCode: 2 ** 32 - 1,
};

const mapError = (e: unknown): StreamError => quicStreamError(e, false);

/**
 * Wraps an opened stream, `initial` (if any) queued first so it goes out in one write; not
 * awaited, so a stalled peer's flow control holds up the writes, never the open.
 */
export function wrapSend(
  stream: Deno.QuicSendStream,
  mapper: (e: unknown) => StreamError,
  options?: OpenOptions,
  meter?: ByteMeter,
): SendStream {
  const send = new WritableSendStream(stream, mapper, stream, meter);
  if (options?.abandoned?.()) abandonOpen(send);
  if (options?.priority !== undefined) send.priority = options.priority;
  const initial = options?.initial;
  if (initial && initial.length > 0) send.write(initial).catch(() => {});
  return send;
}

/** Reads the next item of a WHATWG stream of streams, or null when it ends or errors. */
export async function nextIncoming<T>(reader: ReadableStreamDefaultReader<T>): Promise<T | null> {
  try {
    const { value, done } = await reader.read();
    return done ? null : value;
  } catch {
    return null;
  }
}

/** A session over a raw QUIC connection whose ALPN named the protocol. */
export class QuicSession implements Session {
  readonly kind = "quic" as const;
  readonly protocol: string;
  readonly url: URL | undefined;
  readonly remote: Deno.NetAddr;
  readonly bytes: ByteMeter = { sent: 0, received: 0 };
  readonly caps: Capabilities;
  readonly closed: Promise<CloseInfo & { remote: boolean }>;
  readonly #conn: Deno.QuicConn;
  readonly #uni: ReadableStreamDefaultReader<Deno.QuicReceiveStream>;
  readonly #bidi: ReadableStreamDefaultReader<Deno.QuicBidirectionalStream>;
  readonly #datagrams = new AsyncQueue<Uint8Array>(undefined, MAX_QUEUED_DATAGRAMS);
  readonly #sender: DatagramSender;
  readonly #opener: StreamOpener<Deno.QuicSendStream>;
  #closedLocally: CloseInfo | undefined;

  constructor(conn: Deno.QuicConn, url?: URL) {
    this.#conn = conn;
    this.protocol = conn.protocol ?? "";
    this.url = url;
    this.remote = conn.remoteAddr;
    // Deno reports 0 when the peer's transport parameters refuse datagrams.
    this.caps = conn.maxDatagramSize > 0 ? DENO_QUIC_CAPS : { ...DENO_QUIC_CAPS, datagrams: false };
    this.#sender = new DatagramSender(conn);
    this.#opener = uniOpener(conn);
    readDatagrams(conn, (d) => this.#datagrams.push(d)).finally(() => this.#datagrams.close());
    this.#uni = conn.incomingUnidirectionalStreams.getReader();
    this.#bidi = conn.incomingBidirectionalStreams.getReader();
    this.closed = conn.closed.then(
      (info) =>
        this.#closedLocally
          ? { ...this.#closedLocally, remote: false }
          : { code: info.closeCode, reason: info.reason, remote: true },
      (e) => ({ code: 0, reason: e instanceof Error ? e.message : String(e), remote: true }),
    );
    this.closed.then(() => this.#datagrams.close());
  }

  get maxDatagramSize(): number {
    // Deno keeps reporting the last size after the connection closed.
    return this.#datagrams.closed || !this.caps.datagrams ? 0 : this.#sender.maxSize;
  }

  sendDatagram(payload: Uint8Array): void {
    // The queue closes when the session ends, whichever side ends it.
    if (!this.#datagrams.closed) this.#sender.send(payload);
  }

  readDatagram(): Promise<Uint8Array | null> {
    return this.#datagrams.next();
  }

  async openUni(options?: OpenOptions): Promise<SendStream> {
    const stream = await this.#opener.open(options?.priority ?? 0, options?.cancel);
    return wrapSend(stream, mapError, options, this.bytes);
  }

  async openBi(options?: OpenOptions): Promise<BiStream> {
    const stream = await this.#conn.createBidirectionalStream({
      sendOrder: options?.priority ?? 0,
      waitUntilAvailable: true,
    });
    return {
      send: wrapSend(stream.writable, mapError, options, this.bytes),
      recv: new ReadableRecvStream(stream.readable, mapError, undefined, this.bytes),
    };
  }

  async acceptUni(): Promise<RecvStream | null> {
    const stream = await nextIncoming(this.#uni);
    return stream ? new ReadableRecvStream(stream, mapError, undefined, this.bytes) : null;
  }

  async acceptBi(): Promise<BiStream | null> {
    const stream = await nextIncoming(this.#bidi);
    if (!stream) return null;
    return {
      send: new WritableSendStream(stream.writable, mapError, stream.writable, this.bytes),
      recv: new ReadableRecvStream(stream.readable, mapError, undefined, this.bytes),
    };
  }

  async close(info?: Partial<CloseInfo>): Promise<void> {
    if (!this.#closedLocally) {
      this.#closedLocally = { code: info?.code ?? 0, reason: info?.reason ?? "" };
      this.#datagrams.close();
      try {
        this.#conn.close({
          closeCode: this.#closedLocally.code,
          reason: this.#closedLocally.reason,
        });
      } catch {
        // already closed
      }
    }
    await this.closed;
  }
}
