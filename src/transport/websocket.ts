/**
 * The WebSocket fallback: QMux over WebSocket, served with upstream's own `@moq/qmux` (server
 * mode: `selectSubprotocol` + `Session.accept`), adapted to our {@link Session} interface.
 *
 * Subprotocols carry the QMux wire version and the application protocol: `qmux-01.moq-lite-05`;
 * the bare `qmux-01` and `qmux-00` mean "no application protocol" (the moq-lite version is then
 * negotiated by the legacy SETUP). The legacy `webtransport` binding (the pre-QMux polyfill,
 * `@moq/web-transport-ws`) is refused: it has no flow control and no stream limit, so a peer
 * could make the relay buffer without bound (1 MiB frames on new streams before SETUP took a
 * relay from 73 MiB to 1.5 GiB in 4 s), and closing it past a byte count would cut off
 * well-behaved peers too, having no way to tell them to slow down. `@moq/net` 0.3.4 offers
 * `qmux-00`/`qmux-01` (prefixed and bare) before it; only pre-QMux clients lose the fallback.
 *
 * Deno takes whole WebSocket messages of up to 64 MiB (a fixed limit `Deno.upgradeWebSocket`
 * does not let us lower) before QMux sees them and refuses anything above 16 KiB; the web
 * server's connection cap bounds how many such messages can be in the air at once.
 *
 * @module
 */
import QmuxSession, { selectSubprotocol, StreamError as QmuxStreamError } from "@moq/qmux";
import { logger, peerFault } from "../log.ts";
import { nextIncoming } from "./quic.ts";
import {
  abandonOpen,
  type BiStream,
  type ByteMeter,
  type Capabilities,
  type CloseInfo,
  type IncomingSession,
  type OpenOptions,
  type RecvStream,
  type SendStream,
  type Session,
  StreamError,
} from "./session.ts";
import { StreamOpener } from "./opener.ts";
import { PacedSendStream, SendPacer } from "./pacer.ts";
import { ReadableRecvStream, WritableSendStream } from "./streams.ts";

const log = logger("transport", "websocket");

export const WEBSOCKET_CAPS: Capabilities = {
  resetCode: true,
  stopCode: true,
  datagrams: false,
  maxStreamCode: 2 ** 32 - 1,
};

/** The bare wire formats: no application protocol attached (not the legacy `webtransport`). */
const BARE = ["qmux-01", "qmux-00"];
/** QMux versions `@moq/qmux` 0.3.3 speaks, as subprotocol prefixes. */
const QMUX_VERSIONS = ["qmux-02", "qmux-01", "qmux-00"];

/**
 * What one WebSocket peer may make the relay hold, stated here rather than left to the library's
 * defaults (the same values today): streams it may open and not yet have read, and bytes it may
 * send ahead of what the relay has read, per stream and in all. Past them QMux closes the session.
 */
const QMUX_LIMITS = {
  maxStreamsBidi: 100n,
  maxStreamsUni: 100n,
  maxData: 1024n * 1024n,
  maxStreamDataBidiLocal: 256n * 1024n,
  maxStreamDataBidiRemote: 256n * 1024n,
  maxStreamDataUni: 256n * 1024n,
};

/**
 * How long a closed session's peer has to finish the WebSocket close handshake before its TCP
 * connection is dropped (Deno waits for the peer's close frame for ever).
 */
const CLOSE_GRACE_MS = 2000;

/** The QX_PING request frame type (an 8-byte varint) as it appears on the wire. */
const PING_REQUEST = Uint8Array.of(0xf4, 0x8c, 0x67, 0x52, 0x9e, 0xf8, 0xc7, 0xbd);
/**
 * Pings a peer may send in a second (`@moq/qmux` sends one every 10 s when idle). QMux answers
 * each, and queues its answers without a limit: a peer that sends pings (1,600 fit in a record)
 * and does not read took a relay from 71 MiB to 738 MiB in 45 s.
 */
const MAX_PINGS_PER_SECOND = 20;

/** How many QX_PING requests a message holds (stream data that happens to match counts too). */
function countPings(data: Uint8Array): number {
  let count = 0;
  for (let i = data.indexOf(PING_REQUEST[0]!); i >= 0; i = data.indexOf(PING_REQUEST[0]!, i + 1)) {
    if (i + PING_REQUEST.length > data.length) break;
    let match = true;
    for (let j = 1; j < PING_REQUEST.length && match; j++) match = data[i + j] === PING_REQUEST[j];
    if (match) count++;
  }
  return count;
}

function mapError(e: unknown): StreamError {
  if (e instanceof StreamError) return e;
  if (e instanceof QmuxStreamError) return new StreamError("reset", e.streamErrorCode, e.message);
  const code = typeof e === "object" && e !== null && "streamErrorCode" in e
    ? e.streamErrorCode
    : null;
  return new StreamError(
    typeof code === "number" ? "reset" : "session-closed",
    typeof code === "number" ? code : null,
    e instanceof Error ? e.message : String(e),
  );
}

/** The application protocols in a `Sec-WebSocket-Protocol` offer, in order, without duplicates. */
export function offeredApplicationProtocols(header: string | null): string[] {
  const out: string[] = [];
  for (const raw of (header ?? "").split(",")) {
    const value = raw.trim();
    const dot = value.indexOf(".");
    const alpn = value.slice(dot + 1);
    if (dot > 0 && QMUX_VERSIONS.includes(value.slice(0, dot)) && alpn && !out.includes(alpn)) {
      out.push(alpn);
    }
  }
  return out;
}

/**
 * Why an upgrade cannot be served, or undefined if it can: the answer is a 400 with this reason
 * (upstream answers these 400 too), given at once, before the relay sees an offer.
 */
export function upgradeRefusal(request: Request, supported: readonly string[]): string | undefined {
  if (request.method !== "GET") return "a WebSocket upgrade must be a GET";
  if (request.headers.get("sec-websocket-version") !== "13") {
    return "unsupported Sec-WebSocket-Version (13 expected)";
  }
  if (!request.headers.get("sec-websocket-key")) return "no Sec-WebSocket-Key";
  const connection = request.headers.get("connection") ?? "";
  if (!connection.split(",").some((t) => t.trim().toLowerCase() === "upgrade")) {
    return "no Connection: upgrade";
  }
  const header = request.headers.get("sec-websocket-protocol");
  const offered = (header ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (offered.length === 0) {
    return `no WebSocket subprotocol offered (expected qmux-01.<protocol> or qmux-01)`;
  }
  if (offered.some((p) => BARE.includes(p))) return undefined;
  if (offeredApplicationProtocols(header).some((p) => supported.includes(p))) return undefined;
  if (offered.includes("webtransport")) {
    return "the legacy webtransport subprotocol is not supported (no flow control): " +
      "offer qmux-01 or qmux-00";
  }
  return `no supported WebSocket subprotocol in ${offered.join(", ")} ` +
    `(expected qmux-01.<protocol> or qmux-01, with one of ${supported.join(", ")})`;
}

/**
 * `@moq/qmux` 0.3.3 reports each bad frame from a peer with `console.error("Protocol
 * violation:", error)` (and every further message until the socket is gone), and a peer that
 * does not read with `console.warn("qmux: control backlog ...")`: peer faults, which must not
 * reach the error level (nor flood standard error). They go to our log at debug instead; any
 * other console line is passed on unchanged.
 */
function quietQmuxConsole(): void {
  const { error, warn } = console;
  console.error = (...args: unknown[]) => {
    if (args[0] !== "Protocol violation:") return error.apply(console, args);
    log.debug("QMux protocol violation by a peer: {error}", {
      error: args[1] instanceof Error ? args[1].message : String(args[1]),
    });
  };
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] !== "string" || !args[0].startsWith("qmux: ")) {
      return warn.apply(console, args);
    }
    log.debug("{message}", { message: args.map(String).join(" ") });
  };
}
quietQmuxConsole();

/** The TCP connection under an upgrade, as the web server holds it. */
export interface UpgradeConnection {
  readonly remote: Deno.NetAddr;
  /**
   * The session has ended: the peer may send little more (its close), and the connection ends
   * after `graceMs` unless it has ended before.
   */
  finish(graceMs: number): void;
}

type SendOrdered = WritableStream<Uint8Array> & { sendOrder?: number };

function sendStream(writable: SendOrdered, pacer: SendPacer, meter: ByteMeter): SendStream {
  const order = "sendOrder" in writable ? (writable as { sendOrder: number }) : undefined;
  return new PacedSendStream(new WritableSendStream(writable, mapError, order, meter), pacer);
}

/** A QMux session over an accepted WebSocket. */
export class WebSocketSession implements Session {
  readonly kind = "websocket" as const;
  readonly protocol: string;
  readonly url: URL;
  readonly remote: Deno.NetAddr;
  readonly bytes: ByteMeter = { sent: 0, received: 0 };
  readonly caps = WEBSOCKET_CAPS;
  readonly closed: Promise<CloseInfo & { remote: boolean }>;
  readonly #session: QmuxSession;
  readonly #uni: ReadableStreamDefaultReader<ReadableStream<Uint8Array>>;
  readonly #bidi: ReadableStreamDefaultReader<WebTransportBidirectionalStream>;
  /** Writers wait while too much is handed to QMux and not written (see `pacer.ts`). */
  readonly #pacer = new SendPacer();
  #local: CloseInfo | undefined;

  constructor(session: QmuxSession, protocol: string, url: URL, remote: Deno.NetAddr) {
    this.#session = session;
    // The application protocol we selected (qmux reports it only once the socket is open).
    this.protocol = protocol;
    this.url = url;
    this.remote = remote;
    this.#uni = session.incomingUnidirectionalStreams.getReader();
    this.#bidi = session.incomingBidirectionalStreams.getReader();
    this.closed = session.closed.then(
      (info) =>
        this.#local
          ? { ...this.#local, remote: false }
          : { code: info.closeCode ?? 0, reason: info.reason ?? "", remote: true },
      (e) =>
        this.#local
          ? { ...this.#local, remote: false }
          : { code: 0, reason: e instanceof Error ? e.message : String(e), remote: true },
    );
    this.closed.then(() => this.#pacer.close());
  }

  async openUni(options?: OpenOptions): Promise<SendStream> {
    // No new stream while the carrier is backed up: a group dropped meanwhile never starts.
    await this.#pacer.room(options?.cancel);
    const writable = await this.#opener.open(options?.priority ?? 0, options?.cancel);
    const send = sendStream(writable, this.#pacer, this.bytes);
    if (options?.abandoned?.()) abandonOpen(send);
    if (options?.priority !== undefined) send.priority = options.priority;
    // Queued, not awaited: a stalled peer's flow control holds up the writes, not the open.
    if (options?.initial?.length) send.write(options.initial).catch(() => {});
    return send;
  }

  /** Unidirectional opens queue here while the peer grants no stream credit (`opener.ts`). */
  readonly #opener = new StreamOpener<SendOrdered>(
    (priority) => this.#session.createUnidirectionalStream({ sendOrder: priority }),
    (writable) => void writable.close().catch(() => {}),
  );

  async openBi(options?: OpenOptions): Promise<BiStream> {
    const stream = await this.#session.createBidirectionalStream({
      sendOrder: options?.priority ?? 0,
    });
    const send = sendStream(stream.writable, this.#pacer, this.bytes);
    if (options?.initial?.length) send.write(options.initial).catch(() => {});
    return { send, recv: new ReadableRecvStream(stream.readable, mapError, undefined, this.bytes) };
  }

  async acceptUni(): Promise<RecvStream | null> {
    const stream = await nextIncoming(this.#uni);
    return stream ? new ReadableRecvStream(stream, mapError, undefined, this.bytes) : null;
  }

  async acceptBi(): Promise<BiStream | null> {
    const stream = await nextIncoming(this.#bidi);
    return stream
      ? {
        send: sendStream(stream.writable, this.#pacer, this.bytes),
        recv: new ReadableRecvStream(stream.readable, mapError, undefined, this.bytes),
      }
      : null;
  }

  /**
   * No datagrams over WebSocket: on TCP they would queue behind everything else and never be
   * dropped (@moq/qmux 0.3.3 has QMux DATAGRAM frames; not used here).
   */
  readonly maxDatagramSize = 0;

  sendDatagram(_payload: Uint8Array): void {}

  readDatagram(): Promise<Uint8Array | null> {
    return Promise.resolve(null);
  }

  async close(info?: Partial<CloseInfo>): Promise<void> {
    if (!this.#local) {
      this.#local = { code: info?.code ?? 0, reason: info?.reason ?? "" };
      try {
        this.#session.close({ closeCode: this.#local.code, reason: this.#local.reason });
      } catch {
        // already closed
      }
    }
    await this.closed;
  }
}

/** A WebSocket upgrade request the application has not answered yet. */
export class IncomingWebSocket implements IncomingSession {
  readonly kind = "websocket" as const;
  readonly url: URL;
  readonly protocols: readonly string[];
  readonly headers: Headers;
  readonly remote: Deno.NetAddr;
  /** The HTTP response to send: the upgrade, or a refusal. */
  readonly response: Promise<Response>;
  readonly #request: Request;
  readonly #offer: string | null;
  readonly #connection: UpgradeConnection;
  #answer!: (response: Response) => void;
  #answered = false;

  constructor(request: Request, connection: UpgradeConnection) {
    this.#request = request;
    this.#connection = connection;
    this.url = new URL(request.url);
    this.headers = request.headers;
    this.remote = connection.remote;
    this.#offer = request.headers.get("sec-websocket-protocol");
    this.protocols = offeredApplicationProtocols(this.#offer);
    this.response = new Promise((resolve) => this.#answer = resolve);
  }

  async accept(protocol?: string): Promise<Session> {
    if (this.#answered) throw new Error("this session was already answered");
    const wire = protocol
      ? selectSubprotocol(this.#offer, {
        protocols: [protocol],
        versions: { [protocol]: null },
        requireProtocol: true,
      })
      : BARE.find((bare) => (this.#offer ?? "").split(",").map((s) => s.trim()).includes(bare));
    if (!wire) {
      // The web server answers unservable offers itself; reaching this is our bug, not the peer's.
      const reason = `the client did not offer ${protocol ?? "a bare QMux version"}`;
      await this.reject(400, reason);
      throw new Error(reason);
    }
    this.#answered = true;
    let upgrade: ReturnType<typeof Deno.upgradeWebSocket>;
    try {
      upgrade = Deno.upgradeWebSocket(this.#request, { protocol: wire, idleTimeout: 30 });
    } catch (e) {
      this.#answer(new Response("not a valid WebSocket upgrade\n", { status: 400 }));
      throw e;
    }
    const { socket, response } = upgrade;
    // Deno's socket does not report its protocol yet at this point: pass the chosen one.
    // Deno's WebSocket has the shape @moq/qmux expects; only the DOM event typings differ.
    const socketLike = socket as unknown as Parameters<typeof QmuxSession.accept>[0];
    const session = QmuxSession.accept(socketLike, { protocol: wire, config: QMUX_LIMITS });
    this.#limitPings(socket, session);
    session.closed.catch(() => {}).finally(() => {
      // Whatever the peer sends after the end is dropped undecoded; the connection takes little
      // more from it and, however the session ended, does not outlive the grace period.
      socket.onmessage = null;
      this.#connection.finish(CLOSE_GRACE_MS);
    });
    this.#answer(response);
    // A peer that vanishes right after the 101 is an ordinary close: the session reports it.
    await session.ready.catch(() => {});
    return new WebSocketSession(session, protocol ?? "", this.url, this.remote);
  }

  /** Closes the session of a peer that sends more pings than {@link MAX_PINGS_PER_SECOND}. */
  #limitPings(socket: WebSocket, session: QmuxSession): void {
    let windowStart = Date.now();
    let pings = 0;
    socket.addEventListener("message", (event: MessageEvent) => {
      if (!(event.data instanceof ArrayBuffer)) return;
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        pings = 0;
      }
      pings += countPings(new Uint8Array(event.data));
      if (pings <= MAX_PINGS_PER_SECOND) return;
      log.info("closing a WebSocket session from {remote}: {pings} pings in a second", {
        remote: `${this.remote.hostname}:${this.remote.port}`,
        pings,
      });
      // Closed, QMux answers nothing more (the messages already queued included). The code is
      // moq-lite's PROTOCOL_VIOLATION (the transport knows no codes of the protocol above it).
      session.close({ closeCode: 0x3, reason: "too many pings" });
    });
  }

  reject(status: number, reason = ""): Promise<void> {
    if (this.#answered) return Promise.resolve();
    this.#answered = true;
    peerFault(log, "refused a WebSocket session from {remote}: {status} {reason}", {
      remote: `${this.remote.hostname}:${this.remote.port}`,
      status,
      reason,
    });
    this.#answer(new Response(reason, { status }));
    return Promise.resolve();
  }
}
