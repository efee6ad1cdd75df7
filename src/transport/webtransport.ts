/**
 * WebTransport over HTTP/3 on Deno's raw QUIC (draft-02 framing, as Chromium speaks it): the
 * extended CONNECT, subprotocol negotiation, stream prefixes, session close, and a client.
 *
 * @module
 */
import { concatBytes } from "../bytes/concat.ts";
import { logger, peerFault } from "../log.ts";
import {
  CapsuleType,
  decodeCapsule,
  decodeCloseCapsule,
  decodeFrame,
  encodeCloseCapsule,
  encodeFrame,
  FrameType,
  H3Code,
  H3Error,
  MAX_CONTROL_FRAME_SIZE,
  parseStringList,
  serializeString,
  supportsWebTransport,
  UniStreamType,
  varints,
} from "./h3.ts";
import {
  DEFAULT_H3_LIMITS,
  H3Connection,
  type H3Limits,
  type IncomingStream,
  refuseStream,
  type RequestStream,
} from "./h3_connection.ts";
import { decodeFieldSection, encodeFieldSection, QpackError } from "./qpack.ts";
import { ByteBuffer } from "../bytes/byte_buffer.ts";
import { AsyncQueue } from "./queue.ts";
import {
  abandonOpen,
  type BiStream,
  type ByteMeter,
  type Capabilities,
  type CloseInfo,
  type IncomingSession,
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

const log = logger("transport", "webtransport");

/** Chromium carries stream error codes 0..255 only. */
export const WEBTRANSPORT_CAPS: Capabilities = {
  resetCode: false,
  stopCode: false,
  datagrams: true,
  maxStreamCode: 255,
};

/** How long to wait for the peer's CONNECT-stream FIN after our close capsule. */
const CLOSE_WAIT_MS = 1000;

const mapError = (e: unknown): StreamError => quicStreamError(e, true);

function joined(a: Uint8Array, b: Uint8Array | undefined): Uint8Array {
  return b && b.length > 0 ? concatBytes([a, b]) : a;
}

function headerMap(fields: [string, string][]): Headers {
  const headers = new Headers();
  for (const [name, value] of fields) if (!name.startsWith(":")) headers.append(name, value);
  return headers;
}

/** Reads HTTP/3 frames from a request stream. */
class FrameReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #buffer = new ByteBuffer();

  constructor(readable: ReadableStream<Uint8Array>, head: Uint8Array) {
    this.#reader = readable.getReader();
    this.#buffer.append(head);
  }

  /** The next frame (type and payload), or null at FIN on a frame boundary. */
  async next(): Promise<{ type: number; payload: Uint8Array } | null> {
    while (true) {
      const frame = decodeFrame(this.#buffer.bytes, 0, MAX_CONTROL_FRAME_SIZE);
      if (frame) {
        const payload = this.#buffer.bytes.slice(frame.start, frame.end);
        this.#buffer.consume(frame.end);
        // Frame types beyond 2^53 are GREASE or extensions: report them as -1 (ignored).
        return { type: frame.type > 0xffffffffn ? -1 : Number(frame.type), payload };
      }
      const { value, done } = await this.#reader.read();
      if (done) {
        if (this.#buffer.length > 0) {
          throw new H3Error(H3Code.FrameError, "stream ended inside a frame");
        }
        return null;
      }
      this.#buffer.append(value);
    }
  }

  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}

/** A WebTransport session: one per connection (draft-02), identified by its CONNECT stream id. */
export class WebTransportSession implements Session {
  readonly kind = "webtransport" as const;
  readonly protocol: string;
  readonly url: URL | undefined;
  readonly remote: Deno.NetAddr;
  readonly bytes: ByteMeter = { sent: 0, received: 0 };
  readonly caps: Capabilities;
  readonly closed: Promise<CloseInfo & { remote: boolean }>;
  readonly id: number;
  readonly #h3: H3Connection;
  readonly #connect: WritableSendStream;
  readonly #frames: FrameReader;
  readonly #uni = new AsyncQueue<RecvStream>((s) => s.stop(0));
  readonly #bidi = new AsyncQueue<BiStream>((s) => {
    s.recv.stop(0);
    s.send.reset(0);
  });
  readonly #datagrams = new AsyncQueue<Uint8Array>(undefined, MAX_QUEUED_DATAGRAMS);
  readonly #prefixUni: Uint8Array;
  readonly #prefixBidi: Uint8Array;
  /** The quarter stream id (RFC 9297) that starts each of our datagrams. */
  readonly #prefixDatagram: Uint8Array;
  #resolveClosed!: (info: CloseInfo & { remote: boolean }) => void;
  #ended = false;
  #peerFin: Promise<void>;

  constructor(
    h3: H3Connection,
    id: number,
    connect: WritableSendStream,
    frames: FrameReader,
    protocol: string,
    url: URL | undefined,
  ) {
    this.#h3 = h3;
    this.id = id;
    this.protocol = protocol;
    this.url = url;
    this.remote = h3.conn.remoteAddr;
    this.#connect = connect;
    this.#frames = frames;
    this.#prefixUni = varints(UniStreamType.WebTransport, id);
    this.#prefixBidi = varints(FrameType.WebTransportStream, id);
    this.#prefixDatagram = varints(id / 4);
    this.caps = h3.datagramsAllowed
      ? WEBTRANSPORT_CAPS
      : { ...WEBTRANSPORT_CAPS, datagrams: false };
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    h3.claim(id, { deliver: (s) => this.#deliver(s), datagram: (d) => this.#datagrams.push(d) });
    this.#peerFin = this.#readConnectStream();
    h3.conn.closed.then(
      (info) => this.#end({ code: info.closeCode, reason: info.reason, remote: true }),
      (e) =>
        this.#end({ code: 0, reason: e instanceof Error ? e.message : String(e), remote: true }),
    );
  }

  #deliver(stream: IncomingStream): void {
    if (this.#ended) return refuseStream(stream);
    if (stream.kind === "uni") {
      this.#uni.push(new ReadableRecvStream(stream.readable, mapError, stream.rest, this.bytes));
    } else {
      this.#bidi.push({
        send: new WritableSendStream(
          stream.stream.writable,
          mapError,
          stream.stream.writable,
          this.bytes,
        ),
        recv: new ReadableRecvStream(stream.stream.readable, mapError, stream.rest, this.bytes),
      });
    }
  }

  /** Reads capsules (in DATA frames) from the CONNECT stream until the peer closes it. */
  async #readConnectStream(): Promise<void> {
    const capsules = new ByteBuffer();
    try {
      for (let frame = await this.#frames.next(); frame; frame = await this.#frames.next()) {
        if (frame.type !== FrameType.Data) continue; // HEADERS (trailers) and unknown frames
        capsules.append(frame.payload);
        let capsule;
        while ((capsule = decodeCapsule(capsules.bytes, 0, MAX_CONTROL_FRAME_SIZE))) {
          const value = capsules.bytes.subarray(capsule.start, capsule.end);
          if (capsule.type === BigInt(CapsuleType.CloseWebTransportSession)) {
            this.#end({ ...decodeCloseCapsule(value), remote: true });
          }
          capsules.consume(capsule.end);
        }
      }
      this.#end({ code: 0, reason: "", remote: true });
    } catch (e) {
      if (e instanceof H3Error) this.#h3.fail(e.code, e.message);
      this.#end({ code: 0, reason: e instanceof Error ? e.message : String(e), remote: true });
    }
    // One session per connection: once it is over, so is the connection.
    if (!this.#closingLocally) {
      this.#connect.close().catch(() => {});
      this.#h3.closeSoon(50);
    }
  }

  #closingLocally = false;

  #end(info: CloseInfo & { remote: boolean }): void {
    // Once close() has started, the peer's FIN, capsule or connection close answers ours: the
    // session ends with our code, reported by close() itself.
    if (this.#ended || (info.remote && this.#closingLocally)) return;
    this.#ended = true;
    this.#h3.release(this.id);
    this.#uni.close();
    this.#bidi.close();
    this.#datagrams.close();
    this.#resolveClosed(info);
  }

  get maxDatagramSize(): number {
    if (this.#ended || this.#closingLocally || !this.caps.datagrams) return 0;
    return Math.max(0, this.#h3.datagrams.maxSize - this.#prefixDatagram.length);
  }

  sendDatagram(payload: Uint8Array): void {
    const max = this.maxDatagramSize;
    if (max === 0 || payload.length > max) return;
    this.#h3.datagrams.send(concatBytes([this.#prefixDatagram, payload]));
  }

  readDatagram(): Promise<Uint8Array | null> {
    return this.#datagrams.next();
  }

  async openUni(options?: OpenOptions): Promise<SendStream> {
    this.#opener ??= uniOpener(this.#h3.conn);
    const stream = await this.#opener.open(options?.priority ?? 0, options?.cancel);
    const send = new WritableSendStream(stream, mapError, stream, this.bytes);
    if (options?.abandoned?.()) abandonOpen(send);
    if (options?.priority !== undefined) send.priority = options.priority;
    // Queued, not awaited: a stalled peer's flow control holds up the writes, not the open.
    send.write(joined(this.#prefixUni, options?.initial)).catch(() => {});
    return send;
  }

  #opener: StreamOpener<Deno.QuicSendStream> | undefined;

  async openBi(options?: OpenOptions): Promise<BiStream> {
    const stream = await this.#h3.conn.createBidirectionalStream({
      sendOrder: options?.priority ?? 0,
      waitUntilAvailable: true,
    });
    const send = new WritableSendStream(stream.writable, mapError, stream.writable, this.bytes);
    if (options?.abandoned?.()) abandonOpen(send);
    send.write(joined(this.#prefixBidi, options?.initial)).catch(() => {});
    return { send, recv: new ReadableRecvStream(stream.readable, mapError, undefined, this.bytes) };
  }

  acceptUni(): Promise<RecvStream | null> {
    return this.#uni.next();
  }

  acceptBi(): Promise<BiStream | null> {
    return this.#bidi.next();
  }

  /**
   * Sends the close capsule, FINs the CONNECT stream, waits briefly for the peer's FIN (without
   * it Chromium loses the capsule), then closes the connection.
   */
  async close(info?: Partial<CloseInfo>): Promise<void> {
    if (this.#ended || this.#closingLocally) return void await this.closed;
    this.#closingLocally = true;
    const code = info?.code ?? 0;
    const reason = info?.reason ?? "";
    try {
      await this.#connect.write(encodeCloseCapsule(code, reason));
      await this.#connect.close();
    } catch {
      // the stream or connection is already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#peerFin, new Promise((r) => timer = setTimeout(r, CLOSE_WAIT_MS))]);
    clearTimeout(timer);
    this.#end({ code, reason, remote: false });
    this.#h3.close(H3Code.NoError);
    await this.closed;
  }
}

/** Writes a HEADERS frame with `fields`. */
function headersFrame(fields: [string, string][]): Uint8Array {
  return encodeFrame(FrameType.Headers, encodeFieldSection(fields));
}

/** A CONNECT request the application has not answered yet. */
class IncomingWebTransport implements IncomingSession {
  readonly kind = "webtransport" as const;
  readonly url: URL;
  readonly protocols: readonly string[];
  readonly headers: Headers;
  readonly remote: Deno.NetAddr;
  readonly #h3: H3Connection;
  readonly #stream: Deno.QuicBidirectionalStream;
  readonly #frames: FrameReader;
  #answered = false;

  constructor(
    h3: H3Connection,
    stream: Deno.QuicBidirectionalStream,
    frames: FrameReader,
    url: URL,
    protocols: string[],
    headers: Headers,
  ) {
    this.#h3 = h3;
    this.#stream = stream;
    this.#frames = frames;
    this.url = url;
    this.protocols = protocols;
    this.headers = headers;
    this.remote = h3.conn.remoteAddr;
  }

  async accept(protocol?: string): Promise<Session> {
    if (this.#answered) throw new Error("this session was already answered");
    if (protocol !== undefined && !this.protocols.includes(protocol)) {
      throw new Error(`${protocol} was not offered`);
    }
    this.#answered = true;
    const fields: [string, string][] = [[":status", "200"]];
    if (protocol) fields.push(["wt-protocol", serializeString(protocol)]);
    const connect = new WritableSendStream(this.#stream.writable, mapError, this.#stream.writable);
    await connect.write(headersFrame(fields));
    const id = Number(this.#stream.writable.id);
    return new WebTransportSession(this.#h3, id, connect, this.#frames, protocol ?? "", this.url);
  }

  async reject(status: number, reason?: string): Promise<void> {
    if (this.#answered) return;
    this.#answered = true;
    peerFault(log, "refused a WebTransport session from {remote}: {status} {reason}", {
      remote: this.#h3.remote,
      status,
      reason: reason ?? "",
    });
    await respond(this.#stream, status);
    this.#frames.cancel();
    // One session per connection: nothing else will come on this one.
    this.#h3.closeSoon(100, H3Code.NoError, "session refused");
  }
}

/** Answers a request with a bare status and FIN. */
async function respond(stream: Deno.QuicBidirectionalStream, status: number): Promise<void> {
  const writer = stream.writable.getWriter();
  try {
    await writer.write(headersFrame([[":status", String(status)]]));
    await writer.close();
  } catch {
    // the peer is gone
  }
}

/**
 * Serves one HTTP/3 connection: every valid WebTransport CONNECT becomes an
 * {@link IncomingSession} handed to `onSession`; anything else is answered with an HTTP status.
 */
export async function serveHttp3(
  conn: Deno.QuicConn,
  onSession: (incoming: IncomingSession) => void,
  limits: H3Limits = DEFAULT_H3_LIMITS,
): Promise<void> {
  const h3 = new H3Connection(conn, "server", limits);
  let sessions = 0;
  // A connection that never asks for a session holds memory for nothing: it gets a deadline.
  const deadline = setTimeout(() => {
    log.debug("closing HTTP/3 connection from {remote}: no WebTransport session in time", {
      remote: h3.remote,
    });
    h3.close(H3Code.NoError, "no WebTransport session in time");
  }, limits.connectTimeoutMs);
  conn.closed.finally(() => clearTimeout(deadline)).catch(() => {});
  h3.onRequest = (request) => {
    handleRequest(h3, request, () => sessions++ === 0).then((incoming) => {
      if (!incoming) return;
      clearTimeout(deadline);
      onSession(incoming);
    }).catch((e) => {
      log.error("request from {remote} failed: {error}", { remote: h3.remote, error: String(e) });
      h3.fail(H3Code.InternalError, "internal error");
    });
  };
  await h3.start();
}

async function handleRequest(
  h3: H3Connection,
  request: RequestStream,
  firstSession: () => boolean,
): Promise<IncomingSession | undefined> {
  const frames = new FrameReader(request.stream.readable, request.head);
  let fields: [string, string][];
  try {
    let frame = await frames.next();
    // Unknown (e.g. GREASE) frames may precede HEADERS.
    while (frame && frame.type !== FrameType.Headers) {
      if (frame.type === FrameType.Data) {
        throw new H3Error(H3Code.FrameUnexpected, "DATA before HEADERS");
      }
      frame = await frames.next();
    }
    if (!frame) return void request.stream.writable.close().catch(() => {});
    fields = decodeFieldSection(frame.payload);
  } catch (e) {
    if (e instanceof QpackError) h3.fail(H3Code.QpackDecompressionFailed, e.message);
    else if (e instanceof H3Error) h3.fail(e.code, e.message);
    return undefined;
  }
  const pseudo = new Map<string, string>();
  for (const [name, value] of fields) if (name.startsWith(":")) pseudo.set(name, value);
  const method = pseudo.get(":method");
  const refuse = async (status: number, why: string) => {
    log.info("refused a request from {remote}: {status} {why}", { remote: h3.remote, status, why });
    await respond(request.stream, status);
    frames.cancel();
    return undefined;
  };
  if (method !== "CONNECT") {
    return refuse(405, `method ${method ?? "(none)"}: only WebTransport CONNECT is served here`);
  }
  const protocol = pseudo.get(":protocol");
  if (protocol === undefined) {
    return refuse(400, "CONNECT without :protocol (not a WebTransport request)");
  }
  if (protocol !== "webtransport") return refuse(501, `:protocol ${protocol} is not supported`);
  const authority = pseudo.get(":authority");
  const path = pseudo.get(":path");
  if (!authority || !path || pseudo.get(":scheme") !== "https") {
    return refuse(400, "CONNECT needs :scheme https, :authority and :path");
  }
  if (!firstSession()) return refuse(429, "one WebTransport session per connection");
  let settings;
  try {
    settings = await h3.peerSettings;
  } catch {
    return undefined;
  }
  if (!supportsWebTransport(settings)) {
    return refuse(400, "the client did not enable WebTransport in SETTINGS");
  }
  let url: URL;
  try {
    url = new URL(`https://${authority}${path}`);
  } catch {
    return refuse(400, "bad :authority or :path");
  }
  const headers = headerMap(fields);
  let protocols: string[] = [];
  const offered = headers.get("wt-available-protocols");
  if (offered) {
    try {
      protocols = parseStringList(offered);
    } catch {
      return refuse(400, "malformed wt-available-protocols");
    }
  }
  return new IncomingWebTransport(h3, request.stream, frames, url, protocols, headers);
}

// ---- client ---------------------------------------------------------------------------------

export interface WebTransportConnectOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string[];
  /** Trust these PEM roots in addition to the system's. */
  caCerts?: string[];
  /** Pin the server by certificate SHA-256 (as browsers do), for self-signed development certificates. */
  serverCertificateHashes?: Uint8Array[];
  /** Dial from this endpoint (a relay dials from its listening endpoint). */
  endpoint?: Deno.QuicEndpoint;
  /** The `origin` header to send. */
  origin?: string;
  limits?: H3Limits;
  /** QUIC transport settings for the connection. */
  transport?: Deno.QuicTransportOptions;
}

/** The options Deno accepts beyond its published types (see transport.md section 5). */
type ConnectOptions = Deno.ConnectQuicOptions<false> & {
  serverCertificateHashes?: { algorithm: string; value: Uint8Array }[];
};

/** Opens a QUIC connection with TLS options for development pins and extra roots. */
export function dialQuic(
  url: URL,
  alpnProtocols: string[],
  options: Pick<
    WebTransportConnectOptions,
    "caCerts" | "serverCertificateHashes" | "endpoint" | "transport"
  >,
): Promise<Deno.QuicConn> {
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const connect: ConnectOptions = {
    hostname,
    port: Number(url.port || 443),
    serverName: hostname,
    alpnProtocols,
    ...options.transport,
  };
  if (options.caCerts?.length) connect.caCerts = options.caCerts;
  if (options.endpoint) connect.endpoint = options.endpoint;
  if (options.serverCertificateHashes?.length) {
    connect.serverCertificateHashes = options.serverCertificateHashes.map((value) => ({
      algorithm: "sha-256",
      value,
    }));
  }
  return Deno.connectQuic(connect);
}

/** An HTTP status other than 200 in answer to our CONNECT. */
export class ConnectRefused extends Error {
  override name = "ConnectRefused";
  readonly status: number;
  constructor(status: number) {
    super(`the server answered ${status}`);
    this.status = status;
  }
}

/** Opens a WebTransport session to `url` (https). */
export async function connectWebTransport(
  url: URL,
  options: WebTransportConnectOptions = {},
): Promise<WebTransportSession> {
  const conn = await dialQuic(url, ["h3"], options);
  const h3 = new H3Connection(conn, "client", options.limits ?? DEFAULT_H3_LIMITS);
  try {
    await h3.start();
    const settings = await h3.peerSettings;
    if (!supportsWebTransport(settings)) {
      throw new Error("the server does not support WebTransport");
    }
    const stream = await conn.createBidirectionalStream();
    const connect = new WritableSendStream(stream.writable, mapError, stream.writable);
    const fields: [string, string][] = [
      [":method", "CONNECT"],
      [":scheme", "https"],
      [":authority", url.host],
      [":path", `${url.pathname}${url.search}`],
      [":protocol", "webtransport"],
      ["sec-webtransport-http3-draft02", "1"],
    ];
    if (options.origin) fields.push(["origin", options.origin]);
    if (options.protocols?.length) {
      fields.push(["wt-available-protocols", options.protocols.map(serializeString).join(", ")]);
    }
    await connect.write(headersFrame(fields));
    const frames = new FrameReader(stream.readable, new Uint8Array());
    let frame = await frames.next();
    while (frame && frame.type !== FrameType.Headers) frame = await frames.next();
    if (!frame) throw new Error("the server closed the CONNECT stream without answering");
    const response = decodeFieldSection(frame.payload);
    const status = response.find(([name]) => name === ":status")?.[1];
    if (status !== "200") throw new ConnectRefused(Number(status));
    const chosen = response.find(([name]) => name === "wt-protocol")?.[1];
    let protocol = "";
    if (chosen) {
      try {
        protocol = parseStringList(chosen)[0] ?? "";
      } catch {
        protocol = ""; // a malformed answer counts as none, as in browsers
      }
    }
    if (protocol && options.protocols && !options.protocols.includes(protocol)) protocol = "";
    return new WebTransportSession(h3, Number(stream.writable.id), connect, frames, protocol, url);
  } catch (e) {
    h3.close(H3Code.NoError);
    throw e;
  }
}
