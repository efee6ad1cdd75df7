/**
 * The WebSocket fallback: QMux over WebSocket, served with upstream's own `@moq/qmux` (server
 * mode: `selectSubprotocol` + `Session.accept`), adapted to our {@link Session} interface.
 *
 * Subprotocols carry the QMux wire version and the application protocol: `qmux-01.moq-lite-05`;
 * the bare `qmux-01`, `qmux-00` and legacy `webtransport` mean "no application protocol" (the
 * moq-lite version is then negotiated by the legacy SETUP).
 *
 * @module
 */
import QmuxSession, { selectSubprotocol, StreamError as QmuxStreamError } from "@moq/qmux";
import { logger } from "../log.ts";
import { nextIncoming } from "./quic.ts";
import {
  abandonOpen,
  type BiStream,
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
import { ReadableRecvStream, WritableSendStream } from "./streams.ts";

const log = logger("transport", "websocket");

export const WEBSOCKET_CAPS: Capabilities = {
  resetCode: true,
  stopCode: true,
  datagrams: false,
  maxStreamCode: 2 ** 32 - 1,
};

/** The bare wire formats: no application protocol attached. */
const BARE = ["qmux-01", "qmux-00", "webtransport"];

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
    const match = value.match(/^(?:qmux-\d\d|webtransport)\.(.+)$/);
    if (match?.[1] && !out.includes(match[1])) out.push(match[1]);
  }
  return out;
}

type SendOrdered = WritableStream<Uint8Array> & { sendOrder?: number };

function sendStream(writable: SendOrdered): WritableSendStream {
  const order = "sendOrder" in writable ? (writable as { sendOrder: number }) : undefined;
  return new WritableSendStream(writable, mapError, order);
}

/** A QMux session over an accepted WebSocket. */
export class WebSocketSession implements Session {
  readonly kind = "websocket" as const;
  readonly protocol: string;
  readonly url: URL;
  readonly remote: Deno.NetAddr;
  readonly caps = WEBSOCKET_CAPS;
  readonly closed: Promise<CloseInfo & { remote: boolean }>;
  readonly #session: QmuxSession;
  readonly #uni: ReadableStreamDefaultReader<ReadableStream<Uint8Array>>;
  readonly #bidi: ReadableStreamDefaultReader<WebTransportBidirectionalStream>;
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
  }

  async openUni(options?: OpenOptions): Promise<SendStream> {
    const writable = await this.#opener.open(options?.priority ?? 0, options?.cancel);
    const send = sendStream(writable);
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
    const send = sendStream(stream.writable);
    if (options?.initial?.length) send.write(options.initial).catch(() => {});
    return { send, recv: new ReadableRecvStream(stream.readable, mapError) };
  }

  async acceptUni(): Promise<RecvStream | null> {
    const stream = await nextIncoming(this.#uni);
    return stream ? new ReadableRecvStream(stream, mapError) : null;
  }

  async acceptBi(): Promise<BiStream | null> {
    const stream = await nextIncoming(this.#bidi);
    return stream
      ? {
        send: sendStream(stream.writable),
        recv: new ReadableRecvStream(stream.readable, mapError),
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
  #answer!: (response: Response) => void;
  #answered = false;

  constructor(request: Request, remote: Deno.NetAddr) {
    this.#request = request;
    this.url = new URL(request.url);
    this.headers = request.headers;
    this.remote = remote;
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
      return Promise.reject(
        new Error(`the client did not offer ${protocol ?? "a bare QMux version"}`),
      );
    }
    this.#answered = true;
    const { socket, response } = Deno.upgradeWebSocket(this.#request, {
      protocol: wire,
      idleTimeout: 30,
    });
    // Deno's socket does not report its protocol yet at this point: pass the chosen one.
    // Deno's WebSocket has the shape @moq/qmux expects; only the DOM event typings differ.
    const socketLike = socket as unknown as Parameters<typeof QmuxSession.accept>[0];
    const session = QmuxSession.accept(socketLike, { protocol: wire });
    session.closed.catch(() => {});
    this.#answer(response);
    await session.ready;
    return new WebSocketSession(session, protocol ?? "", this.url, this.remote);
  }

  reject(status: number, reason = ""): Promise<void> {
    if (this.#answered) return Promise.resolve();
    this.#answered = true;
    log.info("refused a WebSocket session from {remote}: {status} {reason}", {
      remote: `${this.remote.hostname}:${this.remote.port}`,
      status,
      reason,
    });
    this.#answer(new Response(reason, { status }));
    return Promise.resolve();
  }
}
