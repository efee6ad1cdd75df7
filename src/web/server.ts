/**
 * HTTP on TCP, on the same port number as QUIC: the certificate fingerprint (what `@moq/net`
 * fetches for `http://` URLs in development, and the seed's `/fingerprint`), a health check, and
 * the WebSocket upgrade for the QMux fallback. Plain HTTP with a generated certificate (as
 * upstream does in development), HTTPS with real ones.
 *
 * @module
 */
import { logger } from "../log.ts";
import type { IncomingSession } from "../transport/session.ts";
import { IncomingWebSocket } from "../transport/websocket.ts";

const log = logger("web");

export interface WebOptions {
  hostname: string;
  port: number;
  /** Serve HTTPS with this certificate; plain HTTP when absent. */
  tls?: { certPem: string; keyPem: string };
  /** The current leaf certificate's SHA-256, lowercase hex. */
  fingerprint: () => string;
  /** Receives WebSocket sessions; the upgrade completes when the session is accepted. */
  offer: (incoming: IncomingSession) => void;
  /** Extra facts for /health. */
  health?: () => Record<string, unknown>;
  /** What /stats reports. */
  stats?: () => Record<string, unknown>;
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, OPTIONS",
  "access-control-allow-headers": "*",
};

function text(body: string, status = 200, type = "text/plain; charset=utf-8"): Response {
  return new Response(body, {
    status,
    headers: { ...CORS, "content-type": type, "cache-control": "no-store" },
  });
}

export interface WebServer extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  readonly secure: boolean;
  shutdown(): Promise<void>;
}

/** Starts the HTTP(S) server. */
export function serveWeb(options: WebOptions): WebServer {
  const handler = (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response> => {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const incoming = new IncomingWebSocket(request, info.remoteAddr);
      options.offer(incoming);
      return incoming.response;
    }
    const { pathname } = new URL(request.url);
    if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text("method not allowed\n", 405);
    }
    switch (pathname) {
      case "/certificate.sha256":
      case "/fingerprint":
        return text(options.fingerprint());
      case "/stats":
        return text(
          JSON.stringify(options.stats?.() ?? {}, null, 2) + "\n",
          200,
          "application/json",
        );
      case "/health":
        return text(
          JSON.stringify({ status: "ok", ...options.health?.() }) + "\n",
          200,
          "application/json",
        );
      default:
        return text("not found\n", 404);
    }
  };
  const common = {
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
    onError: (e: unknown) => {
      log.warn("HTTP handler failed: {error}", { error: String(e) });
      return text("internal error\n", 500);
    },
  };
  const server = options.tls
    ? Deno.serve({ ...common, cert: options.tls.certPem, key: options.tls.keyPem }, handler)
    : Deno.serve(common, handler);
  return {
    addr: server.addr,
    secure: options.tls !== undefined,
    shutdown: () => server.shutdown(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
