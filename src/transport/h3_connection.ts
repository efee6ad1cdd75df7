/**
 * One HTTP/3 connection carrying WebTransport: our control and QPACK streams, the peer's, and
 * the demultiplexing of incoming streams to WebTransport sessions (or, on a server, to CONNECT
 * requests). Protocol errors close this connection with the HTTP/3 code, never the endpoint.
 *
 * @module
 */
import { readVarintBig } from "../bytes/varint.ts";
import { logger, peerFault } from "../log.ts";
import {
  decodeFrame,
  decodeSettings,
  encodeSettings,
  FrameType,
  H3Code,
  H3Error,
  MAX_CONTROL_FRAME_SIZE,
  supportsDatagrams,
  UniStreamType,
  varints,
} from "./h3.ts";
import { ByteBuffer } from "../bytes/byte_buffer.ts";
import { DatagramSender, readDatagrams } from "./datagrams.ts";
import { nextIncoming } from "./quic.ts";
import { readHeader, type StreamHeader } from "./streams.ts";

const log = logger("transport", "h3");

/** Bounds on what a peer can make us hold. */
export interface H3Limits {
  /** Streams held for a session that is not (yet) known. */
  maxPendingStreams: number;
  /** How long such a stream may wait for its session. */
  pendingTimeoutMs: number;
  /** How long the peer has to send its SETTINGS. */
  settingsTimeoutMs: number;
  /** How long a stream has to deliver its header. */
  headerTimeoutMs: number;
  /** How long a client connection has to ask for its WebTransport session (CONNECT). */
  connectTimeoutMs: number;
}

export const DEFAULT_H3_LIMITS: H3Limits = {
  maxPendingStreams: 64,
  pendingTimeoutMs: 2000,
  settingsTimeoutMs: 5000,
  headerTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
};

/** A WebTransport stream before its session claims it. */
export type IncomingStream =
  | { kind: "uni"; readable: Deno.QuicReceiveStream; rest: Uint8Array }
  | { kind: "bidi"; stream: Deno.QuicBidirectionalStream; rest: Uint8Array };

/** A request stream (server side): its first frame bytes so far, and the stream. */
export interface RequestStream {
  stream: Deno.QuicBidirectionalStream;
  /** Bytes already read: the first frame's type and length, re-encoded, then what followed. */
  head: Uint8Array;
}

/** Who claims WebTransport streams and datagrams for a session id. */
export interface SessionSink {
  deliver(stream: IncomingStream): void;
  /** An HTTP/3 datagram's payload (its quarter stream id already stripped). */
  datagram(payload: Uint8Array): void;
}

/** Rejects a stream we will not serve (Deno sends STOP_SENDING code 0 / FIN: see transport.md). */
export function refuseStream(stream: IncomingStream): void {
  if (stream.kind === "uni") stream.readable.cancel().catch(() => {});
  else {
    stream.stream.readable.cancel().catch(() => {});
    stream.stream.writable.close().catch(() => {});
  }
}

export class H3Connection {
  readonly conn: Deno.QuicConn;
  readonly role: "server" | "client";
  readonly limits: H3Limits;
  /** Resolves with the peer's SETTINGS; rejects if they do not arrive in time. */
  readonly peerSettings: Promise<Map<bigint, bigint>>;
  /** Called for each request stream (server only). */
  onRequest: ((request: RequestStream) => void) | undefined;
  readonly datagrams: DatagramSender;

  readonly #sinks = new Map<number, SessionSink>();
  readonly #refused = new Set<number>();
  readonly #pending = new Map<
    number,
    { streams: IncomingStream[]; timer: ReturnType<typeof setTimeout> }
  >();
  #pendingCount = 0;
  #resolveSettings!: (s: Map<bigint, bigint>) => void;
  #rejectSettings!: (e: Error) => void;
  #settingsTimer: ReturnType<typeof setTimeout> | undefined;
  // Our critical streams stay referenced: if collected, Deno would FIN them and the peer would
  // fail the connection (H3_CLOSED_CRITICAL_STREAM).
  readonly #critical: WritableStreamDefaultWriter<Uint8Array>[] = [];
  #peerControl = false;
  #peerDatagrams = false;
  #failed = false;
  #closing = false;

  constructor(
    conn: Deno.QuicConn,
    role: "server" | "client",
    limits: H3Limits = DEFAULT_H3_LIMITS,
  ) {
    this.conn = conn;
    this.role = role;
    this.limits = limits;
    this.peerSettings = new Promise((resolve, reject) => {
      this.#resolveSettings = resolve;
      this.#rejectSettings = reject;
    });
    this.peerSettings.catch(() => {});
    this.datagrams = new DatagramSender(conn);
    conn.closed.then(() => this.#onClosed(), () => this.#onClosed());
  }

  get remote(): string {
    const a = this.conn.remoteAddr;
    return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
  }

  /** Opens our control and QPACK streams and starts reading the peer's streams. */
  async start(): Promise<void> {
    this.#settingsTimer = setTimeout(() => {
      this.fail(H3Code.MissingSettings, "no SETTINGS from the peer in time");
    }, this.limits.settingsTimeoutMs);
    const control = await this.conn.createUnidirectionalStream({ sendOrder: 1 << 30 });
    const encoder = await this.conn.createUnidirectionalStream();
    const decoder = await this.conn.createUnidirectionalStream();
    for (
      const [stream, bytes] of [
        [control, new Uint8Array([...varints(UniStreamType.Control), ...encodeSettings()])],
        [encoder, varints(UniStreamType.QpackEncoder)],
        [decoder, varints(UniStreamType.QpackDecoder)],
      ] as const
    ) {
      const writer = stream.getWriter();
      this.#critical.push(writer);
      writer.write(bytes).catch(() => {});
    }
    this.#acceptUni().catch((e) => this.#unexpected(e));
    this.#acceptBidi().catch((e) => this.#unexpected(e));
    readDatagrams(this.conn, (d) => this.#onDatagram(d)).catch((e) => this.#unexpected(e));
  }

  /**
   * Whether HTTP/3 datagrams may be sent: the peer's SETTINGS allow them (RFC 9297 forbids them
   * otherwise) and so do its QUIC transport parameters. Known once `peerSettings` resolved.
   */
  get datagramsAllowed(): boolean {
    return this.#peerDatagrams && this.conn.maxDatagramSize > 0;
  }

  /**
   * Hands a datagram to its session by quarter stream id (RFC 9297). Datagrams for unknown or
   * ended sessions are dropped, and so are malformed ones (no complete varint): RFC 9297 allows
   * failing the connection with H3_DATAGRAM_ERROR instead, but datagrams are unreliable anyway
   * and one bad one is not worth the streams.
   */
  #onDatagram(datagram: Uint8Array): void {
    const quarter = readVarintBig(datagram, 0);
    if (!quarter) return;
    const sessionId = quarter[0] * 4n;
    if (sessionId > BigInt(Number.MAX_SAFE_INTEGER)) return; // no session has such an id
    this.#sinks.get(Number(sessionId))?.datagram(datagram.subarray(quarter[1]));
  }

  /** Registers the sink for a session id and hands it the streams that arrived early. */
  claim(sessionId: number, sink: SessionSink): void {
    this.#sinks.set(sessionId, sink);
    const pending = this.#pending.get(sessionId);
    if (pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(sessionId);
      this.#pendingCount -= pending.streams.length;
      for (const s of pending.streams) sink.deliver(s);
    }
  }

  /** Stops serving a session id: its later streams are refused. */
  release(sessionId: number): void {
    this.#sinks.delete(sessionId);
    this.#refused.add(sessionId);
    this.#dropPending(sessionId);
  }

  /** Closes the connection with an HTTP/3 error; logged once. */
  fail(code: number, message: string): void {
    if (this.#failed || this.#closing) return;
    this.#failed = true;
    peerFault(log, "closing HTTP/3 connection from {remote}: {message}", {
      remote: this.remote,
      message,
      code: `0x${code.toString(16)}`,
    });
    this.close(code, message);
  }

  /**
   * Closes the QUIC connection. A graceful close (H3_NO_ERROR) carries the reason prefix "0:":
   * Chromium's QUIC stack (quiche) reads a leading "<n>:" of the reason as its own error code, and
   * only code 0 (QUIC_NO_ERROR) counts as a clean close. Without it, a close that overtakes
   * Chromium's handling of our session-close capsule turns `wt.closed` into "Connection lost."
   */
  close(code: number = H3Code.NoError, reason = ""): void {
    this.#closing = true;
    clearTimeout(this.#closeTimer);
    try {
      this.conn.close({
        closeCode: code,
        reason: code === H3Code.NoError ? `0:${reason}` : reason,
      });
    } catch {
      // already closed
    }
  }

  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Closes the connection after `ms` (time for a final answer or FIN to go out first); the
   * timer goes with the connection, whichever closes it first.
   */
  closeSoon(ms: number, code: number = H3Code.NoError, reason = ""): void {
    if (this.#closing || this.#closeTimer !== undefined) return;
    this.#closeTimer = setTimeout(() => this.close(code, reason), ms);
  }

  /** A bug or an unforeseen input: fail this connection, never the process. */
  #unexpected(e: unknown): void {
    log.error("unexpected error on HTTP/3 connection from {remote}: {error}", {
      remote: this.remote,
      error: String(e),
    });
    this.fail(H3Code.InternalError, "internal error");
  }

  #onClosed(): void {
    clearTimeout(this.#closeTimer);
    this.#closing = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    clearTimeout(this.#settingsTimer);
    this.#rejectSettings(new Error("connection closed"));
    for (const id of [...this.#pending.keys()]) this.#dropPending(id);
  }

  #dropPending(sessionId: number): void {
    const pending = this.#pending.get(sessionId);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pending.delete(sessionId);
    this.#pendingCount -= pending.streams.length;
    for (const s of pending.streams) refuseStream(s);
  }

  #deliver(sessionId: number, stream: IncomingStream): void {
    const sink = this.#sinks.get(sessionId);
    if (sink) return sink.deliver(stream);
    if (this.#refused.has(sessionId) || this.#closing) return refuseStream(stream);
    // A session id is the QUIC id of a client-initiated bidirectional (CONNECT) stream.
    if (sessionId % 4 !== 0) {
      return this.fail(H3Code.IdError, `stream for invalid session id ${sessionId}`);
    }
    if (this.#pendingCount >= this.limits.maxPendingStreams) {
      log.debug("refusing a stream for unknown session {sessionId} from {remote}", {
        sessionId,
        remote: this.remote,
      });
      return refuseStream(stream);
    }
    let pending = this.#pending.get(sessionId);
    if (!pending) {
      const timer = setTimeout(() => {
        log.debug("no session {sessionId} from {remote}: dropping its early streams", {
          sessionId,
          remote: this.remote,
        });
        this.#dropPending(sessionId);
      }, this.limits.pendingTimeoutMs);
      pending = { streams: [], timer };
      this.#pending.set(sessionId, pending);
    }
    pending.streams.push(stream);
    this.#pendingCount++;
  }

  /** Reads a stream header in its own task, bounded in time, so one slow stream blocks nothing. */
  /**
   * Reads a stream header in its own task, so one slow stream blocks nothing. A stream whose
   * header does not arrive in time is cancelled by a sweep (one timer per connection, not one
   * per stream: streams are opened by the thousand).
   */
  async #header(readable: ReadableStream<Uint8Array>): Promise<StreamHeader | null> {
    const entry = {
      deadline: Date.now() + this.limits.headerTimeoutMs,
      reader: undefined as ReadableStreamBYOBReader | undefined,
    };
    this.#awaitingHeaders.add(entry);
    this.#sweeper ??= setInterval(() => this.#sweepHeaders(), 1000);
    try {
      return await readHeader(readable, 2, 3, (reader) => entry.reader = reader).catch(() => null);
    } finally {
      this.#awaitingHeaders.delete(entry);
    }
  }

  readonly #awaitingHeaders = new Set<
    { deadline: number; reader: ReadableStreamBYOBReader | undefined }
  >();
  #sweeper: ReturnType<typeof setInterval> | undefined;

  #sweepHeaders(): void {
    const now = Date.now();
    for (const entry of this.#awaitingHeaders) {
      if (entry.deadline > now) continue;
      this.#awaitingHeaders.delete(entry);
      entry.reader?.cancel().catch(() => {});
    }
    if (this.#awaitingHeaders.size === 0 || this.#closing) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  async #acceptUni(): Promise<void> {
    const reader = this.conn.incomingUnidirectionalStreams.getReader();
    for (let stream = await nextIncoming(reader); stream; stream = await nextIncoming(reader)) {
      this.#handleUni(stream).catch((e) => this.#unexpected(e));
    }
  }

  async #handleUni(stream: Deno.QuicReceiveStream): Promise<void> {
    const header = await this.#header(stream);
    if (!header) return; // ended or reset before its header: nothing to match it to
    const [type = -1, second = 0] = header.values;
    switch (type) {
      case UniStreamType.WebTransport:
        return this.#deliver(second, { kind: "uni", readable: stream, rest: header.rest });
      case UniStreamType.Control:
        if (this.#peerControl) {
          return this.fail(H3Code.StreamCreationError, "a second control stream");
        }
        this.#peerControl = true;
        return this.#readControl(stream, header.bytes.subarray(header.sizes[0] ?? 1));
      case UniStreamType.QpackEncoder:
      case UniStreamType.QpackDecoder:
        // We allow no dynamic table, so these carry nothing we need: drain them.
        return void stream.pipeTo(new WritableStream()).catch(() => {});
      case UniStreamType.Push:
        if (this.role === "server") {
          return this.fail(H3Code.StreamCreationError, "a push stream from a client");
        }
        return void stream.cancel().catch(() => {});
      default:
        // Unknown (e.g. GREASE) stream types are ignored.
        return void stream.cancel().catch(() => {});
    }
  }

  async #readControl(stream: Deno.QuicReceiveStream, head: Uint8Array): Promise<void> {
    const buffer = new ByteBuffer();
    buffer.append(head);
    const reader = stream.getReader();
    let first = true;
    try {
      while (true) {
        let frame;
        if (first) {
          // Check the first frame's type before its length, so garbage reads as missing SETTINGS.
          const type = readVarintBig(buffer.bytes, 0);
          if (type && type[0] !== BigInt(FrameType.Settings)) {
            throw new H3Error(
              H3Code.MissingSettings,
              "the control stream must start with SETTINGS",
            );
          }
        }
        while ((frame = decodeFrame(buffer.bytes, 0, MAX_CONTROL_FRAME_SIZE))) {
          const payload = buffer.bytes.subarray(frame.start, frame.end);
          const type = Number(frame.type);
          if (first && type !== FrameType.Settings) {
            throw new H3Error(
              H3Code.MissingSettings,
              "the control stream must start with SETTINGS",
            );
          }
          if (type === FrameType.Settings) {
            if (!first) throw new H3Error(H3Code.FrameUnexpected, "a second SETTINGS frame");
            clearTimeout(this.#settingsTimer);
            const settings = decodeSettings(payload);
            this.#peerDatagrams = supportsDatagrams(settings);
            this.#resolveSettings(settings);
          } else if (
            type === FrameType.Data || type === FrameType.Headers || type === FrameType.PushPromise
          ) {
            throw new H3Error(H3Code.FrameUnexpected, `frame type ${type} on the control stream`);
          } else if (type === FrameType.Goaway) {
            log.debug("peer {remote} sent GOAWAY", { remote: this.remote });
          }
          first = false;
          buffer.consume(frame.end);
        }
        const { value, done } = await reader.read();
        if (done) {
          throw new H3Error(H3Code.ClosedCriticalStream, "the peer closed its control stream");
        }
        buffer.append(value);
      }
    } catch (e) {
      if (e instanceof H3Error) return this.fail(e.code, e.message);
      if (!this.#closing) {
        this.fail(H3Code.ClosedCriticalStream, "the peer's control stream failed");
      }
    }
  }

  async #acceptBidi(): Promise<void> {
    const reader = this.conn.incomingBidirectionalStreams.getReader();
    for (let stream = await nextIncoming(reader); stream; stream = await nextIncoming(reader)) {
      this.#handleBidi(stream).catch((e) => this.#unexpected(e));
    }
  }

  async #handleBidi(stream: Deno.QuicBidirectionalStream): Promise<void> {
    const header = await this.#header(stream.readable);
    if (!header) {
      stream.writable.close().catch(() => {});
      return;
    }
    const [type = -1, second = 0] = header.values;
    if (type === FrameType.WebTransportStream) {
      return this.#deliver(second, { kind: "bidi", stream, rest: header.rest });
    }
    if (this.role === "client") {
      return this.fail(H3Code.StreamCreationError, "a server-initiated request stream");
    }
    const head = header.bytes;
    if (this.onRequest) this.onRequest({ stream, head });
    else stream.writable.close().catch(() => {});
  }
}
