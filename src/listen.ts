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

/** Binds `quic(port)`, then `web(quic's port)`; for port 0, retries while TCP is taken. */
export function listenOnOnePort<Q extends { readonly addr: Deno.NetAddr; close(): void }, W>(
  port: number,
  quic: (port: number) => Q,
  web: (port: number, quic: Q) => W,
): { quic: Q; web: W } {
  for (let attempt = 1;; attempt++) {
    const bound = quic(port);
    try {
      return { quic: bound, web: web(bound.addr.port, bound) };
    } catch (e) {
      bound.close();
      const retry = port === 0 && e instanceof Deno.errors.AddrInUse;
      if (!retry || attempt >= BIND_ATTEMPTS) throw e;
    }
  }
}
