/**
 * HTTP on TCP, on the same port number as QUIC: the certificate fingerprint (what `@moq/net`
 * fetches for `http://` URLs in development, and the seed's `/fingerprint`), a health check,
 * `/stats`, upstream's HTTP API (`/announced[/<prefix>]`, `/fetch/<broadcast>/<track>`, its CORS
 * answers and a 404 page for anything else), and the WebSocket upgrade for the QMux fallback.
 * Plain HTTP with a generated certificate (as upstream does in development), HTTPS with real ones.
 *
 * Connections arrive through the front door (`front.ts`: connection cap, head and idle
 * deadlines, an accept loop that survives running out of file descriptors), which pipes each to
 * the HTTP server proper: `Deno.serve` on a loopback port, started again if it ever stops.
 *
 * @module
 */
import { normalizePath } from "../codec/path.ts";
import { RELAY_PROTOCOLS } from "../session/family.ts";
import { logger } from "../log.ts";
import type { IncomingSession } from "../transport/session.ts";
import { IncomingWebSocket, upgradeRefusal } from "../transport/websocket.ts";
import { type FetchRequest, parseFetchRequest } from "./fetch_request.ts";
import { defaultHttpLimits, Front, type FrontConnection, type HttpLimits } from "./front.ts";
import { BodyCut } from "./group_body.ts";

const log = logger("web");

export type { HttpLimits };

export interface WebOptions {
  hostname: string;
  port: number;
  /** Serve HTTPS with this certificate; plain HTTP when absent. */
  tls?: TlsPair;
  /** The current leaf certificate's SHA-256, lowercase hex. */
  fingerprint: () => string;
  /** Receives WebSocket sessions; the upgrade completes when the session is accepted. */
  offer: (incoming: IncomingSession) => void;
  /** Extra facts for /health. */
  health?: () => Record<string, unknown>;
  /** While true /health answers 503 "draining" (the relay is shutting down). */
  draining?: () => boolean;
  /** What /stats reports. */
  stats?: () => Record<string, unknown>;
  /** Whether /stats may be shown to this request: undefined when it may, else the status. */
  statsRefusal?: (url: URL, remote: Deno.NetAddr) => Promise<number | undefined>;
  /** `GET /live`: the relay page's event stream (ends when the client goes: `gone`). */
  live?: (url: URL, remote: Deno.NetAddr, gone: AbortSignal) => Promise<Response>;
  /** The relay's own page and its assets, by path (`/` and what it loads); undefined: none. */
  page?: (pathname: string) => Response | undefined;
  /** `GET /announced[/<prefix>]`: the broadcasts under the prefix this request may see. */
  announced?: (prefix: string, url: URL, remote: Deno.NetAddr) => Promise<Response>;
  /**
   * `GET /fetch/<broadcast>/<track>?group=`: one group's payloads; `gone` aborts when the
   * client's connection ends.
   */
  fetch?: (
    request: FetchRequest,
    url: URL,
    remote: Deno.NetAddr,
    gone: AbortSignal,
  ) => Promise<Response>;
  /** The application protocols a WebSocket may carry (default: every version the relay speaks). */
  protocols?: readonly string[];
  /** Connection cap and deadlines (default: {@link defaultHttpLimits}; tests shorten them). */
  limits?: Partial<HttpLimits>;
}

/** Every answer to a GET may be read cross-origin (upstream's CORS layer). */
const ALLOW_ORIGIN = "access-control-allow-origin";

function text(body: string, status = 200, type = "text/plain; charset=utf-8"): Response {
  return new Response(body, {
    status,
    headers: { "content-type": type, "cache-control": "no-store" },
  });
}

/** A CORS preflight for a GET, answered as upstream does: 200, the requested headers echoed. */
function preflight(request: Request): Response {
  const headers = new Headers({
    [ALLOW_ORIGIN]: "*",
    "access-control-allow-methods": "GET",
  });
  const requested = request.headers.get("access-control-request-headers");
  if (requested !== null) headers.set("access-control-allow-headers", requested);
  return new Response(null, { status: 200, headers });
}

/** What an unknown route gets (upstream serves a short HTML page with a 404 too). */
const LANDING_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>moq-relay</title></head>
<body>
<h1>moq-relay</h1>
<p>This is a Media over QUIC relay. MoQ clients connect over WebTransport, QUIC or WebSocket.</p>
<p>See <a href="https://moq.dev">https://moq.dev</a>.</p>
</body>
</html>
`;

export interface WebServer extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  readonly secure: boolean;
  /** Connections open now (through the front door). */
  readonly connections: number;
  /**
   * HTTPS only: new connections get this certificate, open ones keep theirs. Rejects (and the
   * old certificate stays) when no listener takes it.
   */
  replaceCertificate(tls: TlsPair): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TlsPair {
  certPem: string;
  keyPem: string;
}

type Handler = (request: Request, connection: FrontConnection) => Response | Promise<Response>;

/** The relay's endpoints. */
function routes(options: WebOptions): Handler {
  const answer = endpoints(options);
  return async (request, connection) => {
    const response = await answer(request, connection);
    // A 101's headers are the upgrade's; anything else a GET gets is readable cross-origin.
    if (
      request.method === "GET" && response.status !== 101 && !response.headers.has(ALLOW_ORIGIN)
    ) {
      response.headers.set(ALLOW_ORIGIN, "*");
    }
    return response;
  };
}

function endpoints(options: WebOptions): Handler {
  const protocols = options.protocols ?? RELAY_PROTOCOLS;
  return (request, connection) => {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const refusal = upgradeRefusal(request, protocols);
      if (refusal) {
        log.debug("refused a WebSocket upgrade from {remote}: {refusal}", {
          remote: `${connection.remote.hostname}:${connection.remote.port}`,
          refusal,
        });
        return text(`${refusal}\n`, 400);
      }
      const incoming = new IncomingWebSocket(request, connection);
      options.offer(incoming);
      return incoming.response;
    }
    if (
      request.method === "OPTIONS" &&
      request.headers.get("access-control-request-method") === "GET"
    ) {
      return preflight(request);
    }
    const url = new URL(request.url);
    const route = routeOf(url.pathname, options);
    if (!route) return text(LANDING_PAGE, 404, "text/html; charset=utf-8");
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text("method not allowed\n", 405);
    }
    return route(url, connection);
  };
}

type Route = (url: URL, connection: FrontConnection) => Response | Promise<Response>;

/** The route serving `pathname`, if any (upstream's paths; `/fingerprint` is the seed's). */
function routeOf(pathname: string, options: WebOptions): Route | undefined {
  // As upstream's `/announced/{*prefix}`: the prefix, when there is a slash, is not empty.
  const announced = pathname.match(/^\/announced(?:\/(.+))?$/);
  if (announced && options.announced) {
    const announce = options.announced;
    return (url, connection) => {
      let prefix: string;
      try {
        prefix = normalizePath(decodeURIComponent(announced[1] ?? ""));
      } catch {
        return text("the path is not valid percent-encoding\n", 400);
      }
      return announce(prefix, url, connection.remote);
    };
  }
  const fetched = pathname.match(/^\/fetch\/(.+)$/);
  if (fetched && options.fetch) {
    const serve = options.fetch;
    return (url, connection) => {
      const request = parseFetchRequest(fetched[1] ?? "", url.searchParams);
      if ("malformed" in request) return text(`${request.malformed}\n`, 400);
      return serve(request, url, connection.remote, connection.gone);
    };
  }
  const page = options.page?.(pathname);
  if (page) return () => page;
  switch (pathname) {
    case "/live": {
      const live = options.live;
      return live ? (url, connection) => live(url, connection.remote, connection.gone) : undefined;
    }
    case "/certificate.sha256":
    case "/fingerprint":
      return () => text(options.fingerprint());
    case "/stats":
      return (url, connection) =>
        (options.statsRefusal?.(url, connection.remote) ?? Promise.resolve(undefined))
          .then((refused) =>
            refused !== undefined
              ? text(refused === 403 ? "forbidden\n" : "unauthorized\n", refused)
              : text(
                JSON.stringify(options.stats?.() ?? {}, null, 2) + "\n",
                200,
                "application/json",
              )
          );
    case "/health":
      return () =>
        options.draining?.()
          ? text(JSON.stringify({ status: "draining" }) + "\n", 503, "application/json")
          : text(
            JSON.stringify({ status: "ok", ...options.health?.() }) + "\n",
            200,
            "application/json",
          );
    default:
      return undefined;
  }
}

/** Retries of a stopped inner server start at this and double up to the maximum. */
const RESTART_BACKOFF_MS = 50;
const RESTART_BACKOFF_MAX_MS = 2000;

/**
 * `Deno.serve` on a loopback port, fed only by the front door. Its accept loop ends for good on
 * an accept error; should that happen (the front door's cap leaves descriptors free, but other
 * things use them too), it is started again, on a new port, with a backoff.
 */
class InnerServer {
  readonly #handler: Deno.ServeHandler<Deno.NetAddr>;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #failures = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closing = false;

  constructor(handler: Deno.ServeHandler<Deno.NetAddr>) {
    this.#handler = handler;
    this.#start();
  }

  #start(): void {
    this.#retry = undefined;
    if (this.#closing) return;
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: () => {},
        onError: (e: unknown) => {
          // A body failed on purpose (a group cut short): the connection closing says so.
          if (!(e instanceof BodyCut)) {
            log.warn("HTTP handler failed: {error}", { error: String(e) });
          }
          return text("internal error\n", 500);
        },
      }, this.#handler);
    } catch (e) {
      return this.#stopped(e);
    }
    if (this.#failures > 0) log.info("the HTTP server is serving again");
    this.#failures = 0;
    this.#server = server;
    server.finished.then(() => this.#stopped("it finished"), (e) => this.#stopped(e));
  }

  #stopped(e: unknown): void {
    this.#server = undefined;
    if (this.#closing) return;
    if (this.#failures++ === 0) {
      log.warn("the HTTP server stopped ({error}): starting it again", { error: String(e) });
    }
    const delay = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MS * 2 ** this.#failures);
    this.#retry = setTimeout(() => this.#start(), delay);
  }

  /** A new connection to it; fails while it is being started again. */
  async connect(): Promise<Deno.TcpConn> {
    if (!this.#server) throw new Error("the HTTP server is starting again");
    return await Deno.connect({ hostname: "127.0.0.1", port: this.#server.addr.port });
  }

  async shutdown(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retry);
    await this.#server?.shutdown();
  }
}

/**
 * Deno's TLS listener takes its certificate once: a new certificate needs a new listener on the
 * same port, bound before the old one closes so that no connection is refused meanwhile.
 * SO_REUSEPORT (`reusePort`) lets both be bound for that moment. The kernel spreads connections
 * over both while they are; the old one is closed at once, and one whose handshake completes on
 * it in that instant is reset (the client retries; Linux 5.14's `net.ipv4.tcp_migrate_req`
 * hands such connections to the new listener instead). Linux only: elsewhere Deno ignores
 * `reusePort`, the second bind fails (address in use) and the new certificate is refused, the
 * old one serving on.
 *
 * (Without SO_REUSEPORT, the public port would have to stay one plain TCP listener, with TLS
 * ended behind it on a loopback listener that can be replaced: a third hop, and every byte
 * copied once more.)
 */
function listenTls(hostname: string, port: number, tls: TlsPair): Deno.TlsListener {
  return Deno.listenTls({
    hostname,
    port,
    cert: tls.certPem,
    key: tls.keyPem,
    alpnProtocols: ["http/1.1"],
    reusePort: true,
  });
}

/**
 * The first HTTPS listener. SO_REUSEPORT would also let it bind beside another socket that set
 * it (another relay of this user, say), the two silently sharing connections: so the port is
 * first bound without it, which fails on a port anyone holds, and at once bound again with it.
 */
function listenTlsAlone(hostname: string, port: number, tls: TlsPair): Deno.TlsListener {
  const probe = Deno.listen({ hostname, port });
  const bound = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return listenTls(hostname, bound, tls);
}

/** Starts the HTTP(S) server. */
export function serveWeb(options: WebOptions): WebServer {
  const limits = { ...defaultHttpLimits(), ...options.limits };
  const handle = routes(options);
  // Bound first: a taken port fails here, before anything else has started.
  const listener = options.tls
    ? listenTlsAlone(options.hostname, options.port, options.tls)
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const inner: InnerServer = new InnerServer((request, info): Response | Promise<Response> => {
    const connection = info.remoteAddr.hostname === "127.0.0.1"
      ? door.connectionAt(info.remoteAddr.port)
      : undefined;
    // Only the front door connects here; anyone else on this host is turned away.
    if (!connection) return text("forbidden\n", 403);
    return handle(request, connection);
  });
  const door: Front = new Front(listener, limits, () => inner.connect());
  const shutdown = async () => {
    await door.close();
    await inner.shutdown();
  };
  const replaceCertificate = async (tls: TlsPair) => {
    if (!options.tls) throw new Error("plain HTTP serves no certificate");
    await door.replaceListener(listenTls(door.addr.hostname, door.addr.port, tls));
  };
  return {
    addr: door.addr,
    secure: options.tls !== undefined,
    get connections() {
      return door.open;
    },
    replaceCertificate,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
