/**
 * QUIC datagrams on a Deno `QuicConn`, shared by raw QUIC and WebTransport sessions.
 *
 * Receiving is eager: one loop per connection reads each datagram as it arrives and hands it to
 * the session's bounded queue (see MAX_QUEUED_DATAGRAMS). Reading lazily, only when the
 * application asks, would leave the backlog in quinn's receive buffer, which Deno 2.9.6 gives no
 * way to size: about 1.25 MB, bounded in bytes rather than count (so thousands of small
 * datagrams), all of it stale by the time it is read. WebTransport needs the loop anyway, to
 * demultiplex.
 *
 * @module
 */

/**
 * Sends still unsettled on one connection past which new datagrams are dropped. Deno's
 * `sendDatagram` waits for room in quinn's 1 MB send buffer instead of dropping, so one still
 * pending means congestion (or a burst within one tick); queueing more only delivers them late.
 */
export const MAX_PENDING_DATAGRAM_SENDS = 256;

/**
 * Calls `onDatagram` for every datagram the peer sends, until the connection closes: Deno then
 * rejects the pending read and every later one, so the loop ends and holds nothing.
 */
export async function readDatagrams(
  conn: Deno.QuicConn,
  onDatagram: (datagram: Uint8Array) => void,
): Promise<void> {
  while (true) {
    let datagram: Uint8Array;
    try {
      datagram = await conn.readDatagram();
    } catch {
      return;
    }
    onDatagram(datagram);
  }
}

/** Best-effort datagram sending on one connection: never waits, never throws. */
export class DatagramSender {
  readonly #conn: Deno.QuicConn;
  #pending = 0;

  constructor(conn: Deno.QuicConn) {
    this.#conn = conn;
  }

  /** The connection's current limit (it grows as path MTU discovery proceeds). */
  get maxSize(): number {
    return this.#conn.maxDatagramSize;
  }

  /** Hands `datagram` to Deno (which copies it at once), or drops it. */
  send(datagram: Uint8Array): void {
    if (this.#pending >= MAX_PENDING_DATAGRAM_SENDS || datagram.length > this.maxSize) return;
    this.#pending++;
    // Rejects when the connection is gone or the limit shrank since the check: dropped.
    this.#conn.sendDatagram(datagram).catch(() => {}).finally(() => this.#pending--);
  }
}
