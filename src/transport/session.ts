/**
 * The one session interface the MoQ layer sees, whatever carries it: WebTransport over HTTP/3,
 * raw QUIC with a MoQ ALPN, or QMux over WebSocket. Streams stay WHATWG streams; resets, stops,
 * priorities and close codes go through the side-band methods here.
 *
 * @module
 */

export type TransportKind = "webtransport" | "quic" | "websocket";

export interface CloseInfo {
  code: number;
  reason: string;
}

/** What the carrier can express; Deno's QUIC cannot send reset or stop codes (see transport.md). */
export interface Capabilities {
  /** `reset(code)` sends a real RESET_STREAM; otherwise it degrades to FIN. */
  resetCode: boolean;
  /** `stop(code)` carries its code; otherwise the peer sees 0. */
  stopCode: boolean;
  /** The session carries datagrams (the carrier has them and the peer accepts them). */
  datagrams: boolean;
  /** Largest stream error code the peer can receive (Chromium carries 0..255). */
  maxStreamCode: number;
}

export interface OpenOptions {
  /** Send order: higher goes first. */
  priority?: number;
  /** Bytes to write first, coalesced with the transport's own stream header. */
  initial?: Uint8Array;
  /**
   * Asked once the peer's stream credit let the stream open, before anything is written (the
   * wait may be long behind a slow peer): true resets the empty stream and fails the open with
   * a StreamError, so nothing stale is sent.
   */
  abandoned?: () => boolean;
  /**
   * Gives up waiting for stream credit: once cancelled, a pending open fails at once with a
   * StreamError and keeps nothing of the caller's alive (see `opener.ts`).
   */
  cancel?: Cancelable;
}

/** A wait its owner may call off; `onCancel` sets (or, with undefined, clears) the one hook. */
export interface Cancelable {
  readonly cancelled: boolean;
  onCancel(hook: (() => void) | undefined): void;
}

/** Fails an open whose caller gave up while waiting for stream credit (see OpenOptions). */
export function abandonOpen(send: SendStream): never {
  send.reset(0);
  throw new StreamError("reset", 0, "given up before anything was written");
}

/**
 * The sending half of a stream. One writer is held inside, so `reset` works while writes are
 * pending; `write` resolves when the transport has taken the bytes (not when the peer has them).
 */
export interface SendStream {
  write(chunk: Uint8Array): Promise<void>;
  /** Finishes the stream (FIN) after the queued bytes. */
  close(): Promise<void>;
  /** Abandons the stream with an application code (a FIN where `resetCode` is false). */
  reset(code: number): void;
  /** Send order: higher goes first. */
  priority: number;
  /** Rejects with a {@link StreamError} when the peer stops the stream or the session ends. */
  readonly closed: Promise<void>;
}

/** The receiving half of a stream. */
export interface RecvStream {
  /** The next chunk, or null at FIN; rejects with a {@link StreamError} on reset. */
  read(): Promise<Uint8Array | null>;
  /** Asks the peer to stop sending, with an application code (0 where `stopCode` is false). */
  stop(code: number): void;
}

export interface BiStream {
  readonly send: SendStream;
  readonly recv: RecvStream;
}

/** Bytes a session's streams carried, each way (the carrier's own framing aside). */
export interface ByteMeter {
  sent: number;
  received: number;
}

export interface Session {
  readonly kind: TransportKind;
  /** What its streams carried so far (for an auth server's `end` event); absent: not counted. */
  readonly bytes?: ByteMeter;
  /** ALPN, `wt-protocol` or the WebSocket application protocol; "" when none was negotiated. */
  readonly protocol: string;
  /** The CONNECT or WebSocket URL (path = broadcast scope, query = token); undefined on raw QUIC. */
  readonly url: URL | undefined;
  readonly remote: Deno.NetAddr;
  readonly caps: Capabilities;
  /**
   * Opens a unidirectional stream, waiting for stream credit (callers queue by priority). The
   * `initial` bytes are queued, not awaited: a peer's flow control cannot hold up the open.
   */
  openUni(options?: OpenOptions): Promise<SendStream>;
  /** Opens a bidirectional stream, waiting for stream credit. */
  openBi(options?: OpenOptions): Promise<BiStream>;
  /** The next stream the peer opened, or null once the session has ended. */
  acceptUni(): Promise<RecvStream | null>;
  acceptBi(): Promise<BiStream | null>;
  /** Closes the session with a code and reason (sent to the peer where the carrier can). */
  close(info?: Partial<CloseInfo>): Promise<void>;
  /** Resolves once the session is over; `remote` tells who ended it. Never rejects. */
  readonly closed: Promise<CloseInfo & { remote: boolean }>;
  /** Largest datagram payload `sendDatagram` can carry now; 0 when the carrier has none (WebSocket). */
  readonly maxDatagramSize: number;
  /**
   * Sends one datagram, best effort and without waiting: dropped silently when larger than
   * `maxDatagramSize`, when the carrier is congested, or once the session is over. Never throws.
   */
  sendDatagram(payload: Uint8Array): void;
  /**
   * The next datagram the peer sent, or null once the session has ended (at once on a carrier
   * without datagrams). Incoming datagrams wait in a bounded queue (drop the oldest past
   * MAX_QUEUED_DATAGRAMS, a named constant, e.g. 256); nothing else buffers them.
   */
  readDatagram(): Promise<Uint8Array | null>;
}

/**
 * Incoming datagrams a session holds for an application that reads slower than the peer sends;
 * past it the oldest go (a datagram is worth less the older it gets, as for live media).
 */
export const MAX_QUEUED_DATAGRAMS = 256;

/** A session offered by a peer, before the application accepts or rejects it. */
export interface IncomingSession {
  readonly kind: TransportKind;
  readonly url: URL | undefined;
  /** What the peer offered: `wt-available-protocols`, the ALPN, or WebSocket subprotocols. */
  readonly protocols: readonly string[];
  readonly headers: Headers;
  readonly remote: Deno.NetAddr;
  /** Accepts with the chosen protocol (one of `protocols`; omit to select none). */
  accept(protocol?: string): Promise<Session>;
  /** Refuses: an HTTP status over WebTransport and WebSocket, a connection close on raw QUIC. */
  reject(status: number, reason?: string): Promise<void>;
}

/** Why a read or write failed. */
export class StreamError extends Error {
  override name = "StreamError";
  readonly kind: "reset" | "stopped" | "session-closed";
  /** The application code, when the carrier reported one. */
  readonly code: number | null;

  constructor(kind: "reset" | "stopped" | "session-closed", code: number | null, message?: string) {
    super(message ?? `${kind}${code === null ? "" : ` (code ${code})`}`);
    this.kind = kind;
    this.code = code;
  }
}

/**
 * A StreamError without a stack trace, for a reason a stream keeps (an abort waiting behind a
 * stuck write, a cancel): a captured stack holds on to the objects of its frames (here the group
 * being written) for as long as the error lives.
 */
export function keptStreamError(kind: StreamError["kind"], code: number | null): StreamError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new StreamError(kind, code);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

// ---- WebTransport error codes in the HTTP/3 space (draft-ietf-webtrans-http3) ----------------

const WT_CODE_FIRST = 0x52e4a40fa8db;
const WT_CODE_LAST = 0x52e5ac983162;

/** Maps a 32-bit WebTransport application code into the HTTP/3 error space. */
export function webtransportCodeToHttp3(code: number): number {
  return WT_CODE_FIRST + code + Math.floor(code / 0x1e);
}

/** Inverse of {@link webtransportCodeToHttp3}; null for codes outside the range or on GREASE points. */
export function http3CodeToWebtransport(h3: number): number | null {
  if (h3 < WT_CODE_FIRST || h3 > WT_CODE_LAST) return null;
  const shifted = h3 - WT_CODE_FIRST;
  if ((shifted - 0x1e) % 0x1f === 0) return null; // a reserved GREASE codepoint
  return shifted - Math.floor(shifted / 0x1f);
}

/**
 * Reads a Deno QUIC stream error ("stream reset by peer: error 42", "sending stopped by peer:
 * error 42") as a {@link StreamError}; `unmap` turns an HTTP/3-range code back into the
 * WebTransport code.
 */
export function quicStreamError(e: unknown, unmap: boolean): StreamError {
  if (e instanceof StreamError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const match = message.match(/(reset by peer|stopped by peer)[^0-9]*?(\d+)/);
  if (match) {
    const raw = Number(match[2]);
    const code = unmap ? http3CodeToWebtransport(raw) ?? raw : raw;
    return new StreamError(match[1] === "reset by peer" ? "reset" : "stopped", code, message);
  }
  return new StreamError("session-closed", null, message);
}
