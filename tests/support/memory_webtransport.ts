/**
 * An in-memory pair of WebTransport-shaped sessions that records every byte each side writes.
 *
 * Built for running `@moq/net` on both ends of a connection inside one Deno process (see
 * `moqnet_capture.ts`), but nothing here is specific to it: any code that drives a
 * `WebTransport` through `createBidirectionalStream`, `createUnidirectionalStream`,
 * `incomingBidirectionalStreams`, `incomingUnidirectionalStreams`, `datagrams`, `protocol`,
 * `ready`, `closed`, `close()` and (optionally) `getStats()` can run on it.
 *
 * Semantics, modelled on WebTransport over QUIC:
 * - Each stream direction is a `WritableStream` on the sending end and a `ReadableStream` on
 *   the receiving end. Every chunk is copied on write (callers such as `@moq/net` reuse a
 *   scratch buffer) and empty chunks are dropped, as a real transport would never deliver one.
 * - `writer.close()` is a FIN: the peer's reader drains the queued bytes and then sees `done`.
 * - `writer.abort(reason)` is a RESET_STREAM: the peer's reader errors with a
 *   {@link MemoryTransportError} (`source: "stream"`, `streamErrorCode` from `reason` if it
 *   carries one, else 0).
 * - `reader.cancel(reason)` is a STOP_SENDING: the peer's writable errors the same way. A
 *   direction that already ended (FIN or reset) keeps that end.
 * - `close()` on either end closes the session for both: open stream directions error with a
 *   `source: "session"` error, both incoming stream queues and the datagram readables close,
 *   both `closed` promises resolve with the close info, and new opens reject.
 *
 * Everything is delivered through promise jobs only (no timers), so once the microtask queue
 * drains the pair is quiescent and the recording is in a stable state.
 *
 * @module
 */
import { concatBytes } from "../../src/bytes/concat.ts";

/** Which end of the pair. The client is whoever calls `connect`; the server calls `accept`. */
export type Side = "client" | "server";

/** A bidirectional stream, or a unidirectional one (which only its opener writes). */
export type StreamKind = "bidi" | "uni";

/**
 * How one direction of a stream ended, as seen by the recorder.
 *
 * - `open`: still open (never finished, reset or stopped).
 * - `fin`: the writer closed it cleanly.
 * - `reset`: the writer aborted it (RESET_STREAM).
 * - `stop-sending`: the reader cancelled it before the writer finished (STOP_SENDING).
 * - `session-closed`: still open when the session closed.
 */
export type DirectionEnd = "open" | "fin" | "reset" | "stop-sending" | "session-closed";

/** What was written in one direction of a stream. */
export interface DirectionRecord {
  /** Every byte written in this direction, concatenated in write order. */
  readonly bytes: Uint8Array;
  /** How the direction ended. */
  readonly end: DirectionEnd;
  /** The error code of a reset or stop-sending (always 0 unless the reason carried one). */
  readonly code?: number;
}

/** One recorded stream. */
export interface StreamRecord {
  /** Open order across the whole session (both sides), starting at 0. */
  readonly index: number;
  readonly kind: StreamKind;
  /** The side that called `create*Stream`. */
  readonly opener: Side;
  /**
   * True when the stream was opened through
   * {@link MemoryWebTransportPair.injectBidirectionalStream} (the test harness writing by hand
   * on the opener's behalf) rather than by the code under test.
   */
  readonly injected: boolean;
  /** Bytes the client wrote (empty for a uni stream the server opened). */
  readonly clientToServer: DirectionRecord;
  /** Bytes the server wrote (empty for a uni stream the client opened). */
  readonly serverToClient: DirectionRecord;
}

/** One recorded datagram. */
export interface DatagramRecord {
  /** Send order across the session (both sides), starting at 0. */
  readonly index: number;
  readonly from: Side;
  readonly bytes: Uint8Array;
}

/** How the session was closed. */
export interface CloseRecord {
  /** The side whose `close()` call closed the session. */
  readonly by: Side;
  readonly closeCode: number;
  readonly reason: string;
}

/** The subset of `WebTransportConnectionStats` this transport reports from `getStats()`. */
export interface MemoryStats {
  /** Smoothed RTT in milliseconds. */
  smoothedRtt?: number;
  /** Estimated send rate in bits per second. */
  estimatedSendRate?: number;
}

/** What `getStats()` resolves with: the configured {@link MemoryStats} plus byte counters. */
export interface MemoryStatsSnapshot extends MemoryStats {
  bytesSent: number;
  bytesReceived: number;
  datagramsSent: number;
  datagramsReceived: number;
}

/** Options for {@link createMemoryWebTransportPair}. */
export interface MemoryPairOptions {
  /**
   * The negotiated subprotocol both ends report as `protocol` (`"moq-lite-05"`, `"moql"`,
   * ... or `""` for none). Defaults to `""`.
   */
  protocol?: string;
  /**
   * When set, both ends implement `getStats()` resolving these values (plus byte counters).
   * When absent, `getStats` is not defined at all, like the WebSocket fallback.
   */
  stats?: MemoryStats;
  /** `datagrams.maxDatagramSize` on both ends. 0 disables datagrams. Defaults to 1200. */
  maxDatagramSize?: number;
}

/** The error a stream read/write or session operation rejects with. */
export class MemoryTransportError extends Error {
  /** `"stream"` for a reset or stop-sending, `"session"` once the session closed. */
  readonly source: "stream" | "session";
  /** The application error code of a stream reset/stop-sending; null for session errors. */
  readonly streamErrorCode: number | null;

  constructor(message: string, source: "stream" | "session", streamErrorCode: number | null) {
    super(message);
    this.name = "MemoryTransportError";
    this.source = source;
    this.streamErrorCode = streamErrorCode;
  }
}

/** The error code WebTransport derives from an abort/cancel reason: its own code, else 0. */
function codeOf(reason: unknown): number {
  if (typeof reason === "object" && reason !== null && "streamErrorCode" in reason) {
    const code = reason.streamErrorCode;
    if (typeof code === "number") return code;
  }
  return 0;
}

/** One direction of a stream: a writable on the sender, a readable on the receiver. */
class Pipe {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #end: DirectionEnd = "open";
  #code: number | undefined;
  #readableDone = false;
  #readController: ReadableStreamDefaultController<Uint8Array> | undefined;
  #writeController: WritableStreamDefaultController | undefined;

  constructor() {
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
      cancel: (reason) => this.#stopSending(reason),
    });
    this.writable = new WritableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#writeController = controller;
        },
        write: (chunk) => this.#write(chunk),
        close: () => this.#fin(),
        abort: (reason) => this.#reset(reason),
      },
      // Never apply backpressure: a real transport has kernel buffers, and the recording
      // must not depend on when the reader gets around to reading.
      new CountQueuingStrategy({ highWaterMark: 1 << 20 }),
    );
  }

  get length(): number {
    return this.#length;
  }

  record(): DirectionRecord {
    const base = { bytes: concatBytes(this.#chunks), end: this.#end };
    return this.#code === undefined ? base : { ...base, code: this.#code };
  }

  #write(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("memory transport streams only carry Uint8Array chunks");
    }
    if (chunk.byteLength === 0) return;
    const copy = chunk.slice();
    this.#chunks.push(copy);
    this.#length += copy.byteLength;
    if (this.#readableDone) return; // The reader cancelled; the bytes are recorded but dropped.
    this.#readController?.enqueue(copy.slice());
  }

  #fin(): void {
    if (this.#end === "open") this.#end = "fin";
    this.#closeReadable();
  }

  #reset(reason: unknown): void {
    const code = codeOf(reason);
    if (this.#end === "open") {
      this.#end = "reset";
      this.#code = code;
    }
    this.#errorReadable(new MemoryTransportError(`stream reset (code ${code})`, "stream", code));
  }

  #stopSending(reason: unknown): void {
    this.#readableDone = true;
    if (this.#end !== "open") return;
    const code = codeOf(reason);
    this.#end = "stop-sending";
    this.#code = code;
    this.#writeController?.error(
      new MemoryTransportError(`stop sending (code ${code})`, "stream", code),
    );
  }

  /** The session closed: abort whatever is still open in both halves. */
  sessionClosed(): void {
    if (this.#end !== "open") return;
    this.#end = "session-closed";
    const err = new MemoryTransportError("The session is closed.", "session", null);
    this.#errorReadable(err);
    this.#writeController?.error(err);
  }

  #closeReadable(): void {
    if (this.#readableDone) return;
    this.#readableDone = true;
    this.#readController?.close();
  }

  #errorReadable(err: Error): void {
    if (this.#readableDone) return;
    this.#readableDone = true;
    this.#readController?.error(err);
  }
}

interface StreamEntry {
  index: number;
  kind: StreamKind;
  opener: Side;
  injected: boolean;
  clientToServer: Pipe | undefined;
  serverToClient: Pipe | undefined;
}

/** The two halves handed to the local end of a bidirectional stream. */
export interface MemoryBidirectionalStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** `transport.datagrams`, shaped like `WebTransportDatagramDuplexStream`. */
export interface MemoryDatagramDuplex {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly maxDatagramSize: number;
  incomingHighWaterMark: number;
  outgoingHighWaterMark: number;
  incomingMaxAge: number | null;
  outgoingMaxAge: number | null;
}

/** The close info `closed` resolves with. */
export interface MemoryCloseInfo {
  closeCode: number;
  reason: string;
}

/** Shared state of a connected pair: the recording and the session lifecycle. */
class Hub {
  readonly protocol: string;
  readonly stats: MemoryStats | undefined;
  readonly maxDatagramSize: number;
  readonly streams: StreamEntry[] = [];
  readonly datagrams: DatagramRecord[] = [];
  closeRecord: CloseRecord | undefined;
  readonly ends = new Map<Side, MemoryWebTransport>();

  constructor(options: MemoryPairOptions) {
    this.protocol = options.protocol ?? "";
    this.stats = options.stats;
    this.maxDatagramSize = options.maxDatagramSize ?? 1200;
  }

  end(side: Side): MemoryWebTransport {
    const end = this.ends.get(side);
    if (!end) throw new Error(`memory transport: no ${side} end`);
    return end;
  }

  close(by: Side, info: MemoryCloseInfo): void {
    if (this.closeRecord) return;
    this.closeRecord = { by, closeCode: info.closeCode, reason: info.reason };
    for (const entry of this.streams) {
      entry.clientToServer?.sessionClosed();
      entry.serverToClient?.sessionClosed();
    }
    for (const end of this.ends.values()) end.shutdown(info);
  }
}

function other(side: Side): Side {
  return side === "client" ? "server" : "client";
}

/**
 * One end of an in-memory session. Pass it to code that expects a `WebTransport` with
 * {@link MemoryWebTransport.asWebTransport}.
 */
export class MemoryWebTransport {
  readonly side: Side;
  /** The negotiated subprotocol (WebTransport's `protocol`), `""` when none was negotiated. */
  readonly protocol: string;
  readonly ready: Promise<undefined>;
  readonly closed: Promise<MemoryCloseInfo>;
  readonly incomingBidirectionalStreams: ReadableStream<MemoryBidirectionalStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  readonly datagrams: MemoryDatagramDuplex;
  readonly congestionControl = "default";
  readonly reliability = "supports-unreliable";
  /** Present only when the pair was created with `stats` (see {@link MemoryPairOptions}). */
  readonly getStats?: () => Promise<MemoryStatsSnapshot>;

  readonly #hub: Hub;
  #resolveClosed: (info: MemoryCloseInfo) => void = () => {};
  #bidiController: ReadableStreamDefaultController<MemoryBidirectionalStream> | undefined;
  #uniController: ReadableStreamDefaultController<ReadableStream<Uint8Array>> | undefined;
  #datagramIn: ReadableStreamDefaultController<Uint8Array> | undefined;
  #datagramOut: WritableStreamDefaultController | undefined;
  #datagramsSent = 0;
  #datagramsReceived = 0;

  /** @internal Use {@link createMemoryWebTransportPair}. */
  constructor(hub: Hub, side: Side) {
    this.#hub = hub;
    this.side = side;
    this.protocol = hub.protocol;
    this.ready = Promise.resolve(undefined);
    this.closed = new Promise<MemoryCloseInfo>((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.incomingBidirectionalStreams = new ReadableStream<MemoryBidirectionalStream>({
      start: (controller) => {
        this.#bidiController = controller;
      },
    });
    this.incomingUnidirectionalStreams = new ReadableStream<ReadableStream<Uint8Array>>({
      start: (controller) => {
        this.#uniController = controller;
      },
    });
    const readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#datagramIn = controller;
      },
    });
    const writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#datagramOut = controller;
      },
      write: (chunk) => this.#sendDatagram(chunk),
    });
    this.datagrams = {
      readable,
      writable,
      maxDatagramSize: hub.maxDatagramSize,
      incomingHighWaterMark: 1 << 20,
      outgoingHighWaterMark: 1 << 20,
      incomingMaxAge: null,
      outgoingMaxAge: null,
    };
    const stats = hub.stats;
    if (stats) {
      this.getStats = () => Promise.resolve(this.#snapshot(stats));
    }
  }

  /** This end, typed as the DOM `WebTransport` that `@moq/net` and friends ask for. */
  asWebTransport(): WebTransport {
    return this as unknown as WebTransport;
  }

  createBidirectionalStream(_options?: unknown): Promise<MemoryBidirectionalStream> {
    return this.openBidi(false);
  }

  /** @internal Shared by `createBidirectionalStream` and the pair's injection helper. */
  openBidi(injected: boolean): Promise<MemoryBidirectionalStream> {
    if (this.#hub.closeRecord) return Promise.reject(this.#closedError());
    const clientToServer = new Pipe();
    const serverToClient = new Pipe();
    this.#hub.streams.push({
      index: this.#hub.streams.length,
      kind: "bidi",
      opener: this.side,
      injected,
      clientToServer,
      serverToClient,
    });
    const [mine, theirs] = this.side === "client"
      ? [clientToServer, serverToClient]
      : [serverToClient, clientToServer];
    const local = { readable: theirs.readable, writable: mine.writable };
    const remote = { readable: mine.readable, writable: theirs.writable };
    this.#hub.end(other(this.side)).#bidiController?.enqueue(remote);
    return Promise.resolve(local);
  }

  createUnidirectionalStream(_options?: unknown): Promise<WritableStream<Uint8Array>> {
    if (this.#hub.closeRecord) return Promise.reject(this.#closedError());
    const pipe = new Pipe();
    this.#hub.streams.push({
      index: this.#hub.streams.length,
      kind: "uni",
      opener: this.side,
      injected: false,
      clientToServer: this.side === "client" ? pipe : undefined,
      serverToClient: this.side === "server" ? pipe : undefined,
    });
    this.#hub.end(other(this.side)).#uniController?.enqueue(pipe.readable);
    return Promise.resolve(pipe.writable);
  }

  /** Close the session for both ends (idempotent; later calls are ignored). */
  close(closeInfo?: { closeCode?: number; reason?: string }): void {
    this.#hub.close(this.side, {
      closeCode: closeInfo?.closeCode ?? 0,
      reason: closeInfo?.reason ?? "",
    });
  }

  /** @internal Called by the hub once per end when the session closes. */
  shutdown(info: MemoryCloseInfo): void {
    const tryClose = (fn: () => void) => {
      try {
        fn();
      } catch {
        // Already closed or cancelled by the application.
      }
    };
    tryClose(() => this.#bidiController?.close());
    tryClose(() => this.#uniController?.close());
    tryClose(() => this.#datagramIn?.close());
    this.#datagramOut?.error(new MemoryTransportError("The session is closed.", "session", null));
    this.#resolveClosed(info);
  }

  #sendDatagram(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("memory transport datagrams only carry Uint8Array chunks");
    }
    if (this.#hub.closeRecord) throw this.#closedError();
    if (chunk.byteLength > this.#hub.maxDatagramSize) return; // Dropped, as on a real path.
    const bytes = chunk.slice();
    this.#hub.datagrams.push({ index: this.#hub.datagrams.length, from: this.side, bytes });
    this.#datagramsSent++;
    const peer = this.#hub.end(other(this.side));
    peer.#datagramsReceived++;
    try {
      peer.#datagramIn?.enqueue(bytes.slice());
    } catch {
      // The peer cancelled its datagram reader: best-effort, drop it.
    }
  }

  #snapshot(stats: MemoryStats): MemoryStatsSnapshot {
    let bytesSent = 0;
    let bytesReceived = 0;
    for (const entry of this.#hub.streams) {
      const out = this.side === "client" ? entry.clientToServer : entry.serverToClient;
      const inc = this.side === "client" ? entry.serverToClient : entry.clientToServer;
      bytesSent += out?.length ?? 0;
      bytesReceived += inc?.length ?? 0;
    }
    return {
      ...stats,
      bytesSent,
      bytesReceived,
      datagramsSent: this.#datagramsSent,
      datagramsReceived: this.#datagramsReceived,
    };
  }

  #closedError(): MemoryTransportError {
    return new MemoryTransportError("The session is closed.", "session", null);
  }
}

const EMPTY: DirectionRecord = { bytes: new Uint8Array(0), end: "open" };

/** A connected client/server pair plus access to the recording. */
export class MemoryWebTransportPair {
  readonly client: MemoryWebTransport;
  readonly server: MemoryWebTransport;
  readonly #hub: Hub;

  /** @internal Use {@link createMemoryWebTransportPair}. */
  constructor(hub: Hub) {
    this.#hub = hub;
    this.client = new MemoryWebTransport(hub, "client");
    this.server = new MemoryWebTransport(hub, "server");
    hub.ends.set("client", this.client);
    hub.ends.set("server", this.server);
  }

  /** The negotiated subprotocol both ends report. */
  get protocol(): string {
    return this.#hub.protocol;
  }

  /** A snapshot of every stream opened so far, in open order. */
  streams(): StreamRecord[] {
    return this.#hub.streams.map((entry) => ({
      index: entry.index,
      kind: entry.kind,
      opener: entry.opener,
      injected: entry.injected,
      clientToServer: entry.clientToServer?.record() ?? EMPTY,
      serverToClient: entry.serverToClient?.record() ?? EMPTY,
    }));
  }

  /**
   * Open a bidirectional stream on `side`'s behalf for the test itself to drive (e.g. to send
   * the peer a request the code under test never sends). It is recorded like any other stream,
   * with `injected: true`.
   */
  injectBidirectionalStream(side: Side): Promise<MemoryBidirectionalStream> {
    return this.#hub.end(side).openBidi(true);
  }

  /** A snapshot of every datagram sent so far, in send order. */
  datagrams(): DatagramRecord[] {
    return this.#hub.datagrams.map((d) => ({ ...d, bytes: d.bytes.slice() }));
  }

  /** How the session closed, or undefined while it is open. */
  get closeRecord(): CloseRecord | undefined {
    return this.#hub.closeRecord;
  }

  /** Close the session from `side` (idempotent). */
  close(side: Side = "client", info?: { closeCode?: number; reason?: string }): void {
    this.#hub.end(side).close(info);
  }
}

/** Create a connected in-memory client/server pair. */
export function createMemoryWebTransportPair(
  options: MemoryPairOptions = {},
): MemoryWebTransportPair {
  return new MemoryWebTransportPair(new Hub(options));
}
