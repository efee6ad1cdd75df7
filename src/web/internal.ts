/**
 * The internal listener (`--internal-listen`, upstream's name): plain HTTP for operators only,
 * `GET /metrics` (Prometheus text format) and `GET /health`. It has no access control of its
 * own: bind it to loopback or a private network.
 *
 * @module
 */
import { ConfigError } from "../config.ts";
import type { HostPort } from "../config.ts";
import { formatAddress } from "../listen.ts";
import { logger } from "../log.ts";
import { EXPOSITION_CONTENT_TYPE } from "../ops/exposition.ts";

const log = logger("internal");

export interface InternalOptions {
  /** The exposition text of every metric. */
  metrics: () => string;
  /** The health answer: 200 "ok", or 503 while draining. */
  health: () => { status: number; body: string };
}

export interface InternalServer extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  shutdown(): Promise<void>;
}

/** Binds the internal listener; an address it cannot bind is a {@link ConfigError} (exit 2). */
export function serveInternal(bind: HostPort, options: InternalOptions): InternalServer {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: bind.hostname,
      port: bind.port,
      onListen: () => {},
      onError: (e) => {
        log.warn("internal request failed: {error}", { error: String(e) });
        return new Response("internal error\n", { status: 500 });
      },
    }, (request) => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("method not allowed\n", { status: 405 });
      }
      switch (new URL(request.url).pathname) {
        case "/metrics":
          return new Response(options.metrics(), {
            headers: { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" },
          });
        case "/health": {
          const { status, body } = options.health();
          return new Response(`${body}\n`, { status, headers: { "cache-control": "no-store" } });
        }
        default:
          return new Response("not found\n", { status: 404 });
      }
    });
  } catch (e) {
    const why = e instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new ConfigError(
      `--internal-listen: cannot listen on TCP ${formatAddress(bind.hostname, bind.port)}: ${why}`,
    );
  }
  log.info("internal listener (metrics, health) on {address}", {
    address: formatAddress(server.addr.hostname, server.addr.port),
  });
  const shutdown = () => server.shutdown();
  return { addr: server.addr, shutdown, [Symbol.asyncDispose]: shutdown };
}
