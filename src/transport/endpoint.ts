/**
 * One QUIC endpoint (one UDP port) serving WebTransport (ALPN `h3`) and the raw MoQ ALPNs, and
 * dialing out from the same port for relay-to-relay links.
 *
 * @module
 */
import { logger } from "../log.ts";
import { DEFAULT_H3_LIMITS, type H3Limits } from "./h3_connection.ts";
import { QuicSession } from "./quic.ts";
import { AsyncQueue } from "./queue.ts";
import type { IncomingSession, Session } from "./session.ts";
import {
  connectWebTransport,
  dialQuic,
  serveHttp3,
  type WebTransportConnectOptions,
} from "./webtransport.ts";

const log = logger("transport");

export interface TransportLimits {
  /** Streams a peer may hold open at once, per connection. */
  maxIncomingBidiStreams: number;
  maxIncomingUniStreams: number;
  /** Close a connection silent for this long. */
  idleTimeoutMs: number;
  /** Send a keep-alive after this much silence. */
  keepAliveMs: number;
  /**
   * Connections peers may hold at once, counted from the first packet, whether or not they
   * ever open a session: past it new ones are refused (QUIC CONNECTION_REFUSED).
   */
  maxConnections: number;
  h3: H3Limits;
}

/**
 * Stream credit is modest because Deno's QUIC (quinn) reserves state for every stream a peer may
 * open, at connect: measured on Deno 2.9.6, a connection allowing 10,000 streams of each kind
 * holds about 1.2 MiB before any is opened, one allowing 256 about 80 KiB. A peer at the limit
 * waits for a stream to end (flow control), it is not refused.
 */
export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxIncomingBidiStreams: 256,
  maxIncomingUniStreams: 256,
  idleTimeoutMs: 10_000,
  keepAliveMs: 4_000,
  maxConnections: 10_000,
  h3: DEFAULT_H3_LIMITS,
};

export interface EndpointOptions {
  hostname: string;
  port: number;
  certPem: string;
  keyPem: string;
  /** The application's ALPNs served on raw QUIC besides `h3`, most preferred first. */
  alpns: readonly string[];
  limits?: Partial<TransportLimits>;
}

function transportOptions(limits: TransportLimits): Deno.QuicTransportOptions {
  return {
    maxConcurrentBidirectionalStreams: limits.maxIncomingBidiStreams,
    maxConcurrentUnidirectionalStreams: limits.maxIncomingUniStreams,
    maxIdleTimeout: limits.idleTimeoutMs,
    keepAliveInterval: limits.keepAliveMs,
    congestionControl: "low-latency",
  };
}

function formatAddr(addr: Deno.NetAddr): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/** A raw QUIC connection whose ALPN named a MoQ version. */
class IncomingQuic implements IncomingSession {
  readonly kind = "quic" as const;
  readonly url = undefined;
  readonly protocols: readonly string[];
  readonly headers = new Headers();
  readonly remote: Deno.NetAddr;
  readonly #conn: Deno.QuicConn;

  constructor(conn: Deno.QuicConn) {
    this.#conn = conn;
    this.protocols = conn.protocol ? [conn.protocol] : [];
    this.remote = conn.remoteAddr;
  }

  accept(): Promise<Session> {
    return Promise.resolve(new QuicSession(this.#conn));
  }

  reject(status: number, reason = ""): Promise<void> {
    log.info("refused a QUIC session from {remote}: {status} {reason}", {
      remote: formatAddr(this.remote),
      status,
      reason,
    });
    try {
      this.#conn.close({ closeCode: status, reason });
    } catch {
      // already closed
    }
    return Promise.resolve();
  }
}

export class Endpoint implements AsyncDisposable {
  readonly quic: Deno.QuicEndpoint;
  readonly limits: TransportLimits;
  readonly alpns: readonly string[];
  readonly #incoming = new AsyncQueue<IncomingSession>((s) => void s.reject(503, "shutting down"));
  #listener: Deno.QuicListener;
  /** The certificate and key served now. */
  #served: { certPem: string; keyPem: string };
  #closed = false;
  /** Incoming connections from their first packet until they close. */
  #connections = 0;
  #refused = 0;

  private constructor(
    quic: Deno.QuicEndpoint,
    served: { certPem: string; keyPem: string },
    limits: TransportLimits,
    alpns: readonly string[],
  ) {
    this.quic = quic;
    this.limits = limits;
    this.alpns = alpns;
    this.#served = served;
    this.#listener = this.#listen(served.certPem, served.keyPem);
    this.#startAccepting(this.#listener);
  }

  /** Binds the UDP port and starts accepting. */
  static listen(options: EndpointOptions): Endpoint {
    const limits = { ...DEFAULT_TRANSPORT_LIMITS, ...options.limits };
    const quic = new Deno.QuicEndpoint({ hostname: options.hostname, port: options.port });
    try {
      const served = { certPem: options.certPem, keyPem: options.keyPem };
      return new Endpoint(quic, served, limits, options.alpns);
    } catch (e) {
      quic.close();
      throw e;
    }
  }

  get addr(): Deno.NetAddr {
    return this.quic.addr;
  }

  /**
   * Serves a new certificate to new connections (existing ones keep theirs). Throws when QUIC
   * does not take it: the old one is served again.
   */
  replaceCertificate(certPem: string, keyPem: string): void {
    // Deno 2.9.6 serves the first listener's certificate while it runs: stop it, then listen
    // again (a handshake arriving in between is refused and retried by the client).
    this.#listener.stop();
    let next: Deno.QuicListener;
    try {
      next = this.#listen(certPem, keyPem);
    } catch (e) {
      this.#startAccepting(this.#listen(this.#served.certPem, this.#served.keyPem));
      throw e;
    }
    this.#served = { certPem, keyPem };
    this.#startAccepting(next);
  }

  #listen(certPem: string, keyPem: string): Deno.QuicListener {
    return this.quic.listen({
      cert: certPem,
      key: keyPem,
      alpnProtocols: ["h3", ...this.alpns],
      ...transportOptions(this.limits),
    });
  }

  #startAccepting(listener: Deno.QuicListener): void {
    this.#listener = listener;
    this.#acceptLoop(listener).catch((e) =>
      log.error("accept loop failed: {error}", { error: String(e) })
    );
  }

  /** Queues a session offered through another door (the WebSocket upgrade on TCP). */
  offer(incoming: IncomingSession): void {
    this.#incoming.push(incoming);
  }

  /** The next session a peer offers, or null once the endpoint is closed. */
  accept(): Promise<IncomingSession | null> {
    return this.#incoming.next();
  }

  async #acceptLoop(listener: Deno.QuicListener): Promise<void> {
    while (!this.#closed) {
      let incoming: Deno.QuicIncoming;
      try {
        incoming = await listener.incoming();
      } catch {
        return; // stopped
      }
      if (this.#connections >= this.limits.maxConnections) {
        incoming.refuse();
        // One line per hundred refusals: a flood must not flood the log too.
        if (this.#refused++ % 100 === 0) {
          log.info("refusing connections: {open} open, the limit ({refused} refused so far)", {
            open: this.#connections,
            refused: this.#refused,
          });
        }
        continue;
      }
      this.#connections++;
      this.#handshake(incoming).catch((e) =>
        log.error("connection setup failed: {error}", { error: String(e) })
      );
    }
  }

  /** Incoming connections open now (handshaking, or serving, with or without a session). */
  get connections(): number {
    return this.#connections;
  }

  async #handshake(incoming: Deno.QuicIncoming): Promise<void> {
    let conn: Deno.QuicConn;
    try {
      conn = await incoming.accept();
    } catch (e) {
      this.#connections--;
      log.debug("connection from {remote} failed: {error}", {
        remote: formatAddr(incoming.remoteAddr),
        error: String(e),
      });
      return;
    }
    // Released once, whichever comes first: the close, or a failed handshake (closed here).
    let counted = true;
    const release = () => {
      if (counted) this.#connections--;
      counted = false;
    };
    conn.closed.then(release, release);
    try {
      await conn.handshake;
    } catch (e) {
      log.debug("handshake with {remote} failed: {error}", {
        remote: formatAddr(incoming.remoteAddr),
        error: String(e),
      });
      release();
      try {
        conn.close();
      } catch {
        // already closed
      }
      return;
    }
    if (conn.protocol === "h3") {
      await serveHttp3(conn, (session) => this.#incoming.push(session), this.limits.h3).catch(
        (e) => {
          log.debug("HTTP/3 setup with {remote} failed: {error}", {
            remote: formatAddr(conn.remoteAddr),
            error: String(e),
          });
        },
      );
    } else {
      this.#incoming.push(new IncomingQuic(conn));
    }
  }

  /**
   * Opens a session to another server from this endpoint's port: WebTransport for `https:` URLs,
   * raw QUIC with the given ALPNs for `moqt:`/`moql:` (or when `rawQuic` is set).
   */
  async connect(
    url: URL,
    options: WebTransportConnectOptions & { rawQuic?: boolean } = {},
  ): Promise<Session> {
    const transport = { ...transportOptions(this.limits), ...options.transport };
    if (options.rawQuic || url.protocol !== "https:") {
      const conn = await dialQuic(url, options.protocols ?? [...this.alpns], {
        ...options,
        endpoint: this.quic,
        transport,
      });
      await conn.handshake;
      return new QuicSession(conn, url);
    }
    return connectWebTransport(url, {
      ...options,
      endpoint: this.quic,
      transport,
      limits: this.limits.h3,
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.stop();
    this.#incoming.close();
    this.quic.close();
  }
}
