/**
 * QUIC on UDP and HTTP on TCP share one port number (browsers find the certificate hash and the
 * WebSocket fallback beside WebTransport). With port 0 the kernel picks a free UDP port, but the
 * TCP port of that number may be taken (on a busy host, often by a client socket in TIME_WAIT):
 * then both are bound again, until they agree.
 *
 * @module
 */

/** Tries for port 0 before giving up. */
const BIND_ATTEMPTS = 20;

/** `::1`, 4443 -> `[::1]:4443`; `127.0.0.1`, 4443 -> `127.0.0.1:4443`. */
export function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** A port that could not be bound; the message names the protocol and address in one line. */
export class ListenError extends Error {
  override name = "ListenError";

  constructor(transport: "UDP" | "TCP", address: string, cause: unknown) {
    const reason = cause instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : (cause instanceof Error ? cause.message : String(cause)).split("\n")[0];
    super(`cannot listen on ${transport} ${address}: ${reason}`, { cause });
  }
}

/**
 * Binds `quic(port)` (UDP), then `web(quic's port)` (TCP), on `hostname`; for port 0, retries
 * while TCP is taken. A failure to bind either is a {@link ListenError}.
 */
export function listenOnOnePort<Q extends { readonly addr: Deno.NetAddr; close(): void }, W>(
  bind: { hostname: string; port: number },
  quic: (port: number) => Q,
  web: (port: number, quic: Q) => W,
): { quic: Q; web: W } {
  for (let attempt = 1;; attempt++) {
    let bound: Q;
    try {
      bound = quic(bind.port);
    } catch (e) {
      throw new ListenError("UDP", formatAddress(bind.hostname, bind.port), e);
    }
    const port = bound.addr.port;
    try {
      return { quic: bound, web: web(port, bound) };
    } catch (e) {
      bound.close();
      const retry = bind.port === 0 && e instanceof Deno.errors.AddrInUse;
      if (!retry || attempt >= BIND_ATTEMPTS) {
        throw new ListenError("TCP", formatAddress(bind.hostname, port), e);
      }
    }
  }
}
