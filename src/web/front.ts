/**
 * The TCP front door of the HTTP server: our own accept loop on the public port. `Deno.serve`'s
 * accept loop (in Rust) has no connection cap and no deadline for a request head, and it ends for
 * good on its first accept error (EMFILE: out of file descriptors), leaving no TCP listener until
 * a restart. So connections are accepted here: past a cap they are closed at once; each must send
 * a whole request head before a deadline; an accept error is retried with a backoff. A connection
 * whose head arrived is piped, bytes unchanged, to the HTTP server proper (`Deno.serve` on
 * loopback), which looks the real peer up by the port it sees; any connection with no bytes
 * either way for a while is closed. With TLS, the handshake happens here and the inner hop is
 * plain HTTP on loopback.
 *
 * @module
 */
import { logger } from "../log.ts";

const log = logger("web", "front");

/** What the front door enforces. */
export interface HttpLimits {
  /** Connections open at once; one past it is closed as soon as it is accepted. */
  maxConnections: number;
  /** Time a new connection has to send a whole request head (a TLS handshake included). */
  headTimeoutMs: number;
  /** A connection with no bytes in either direction for this long is closed. */
  idleTimeoutMs: number;
  /** The largest request head accepted; a larger one is answered 431 and closed. */
  maxHeadBytes: number;
}

/**
 * Each connection holds three file descriptors (the peer's, and both ends of the loopback hop);
 * this many stay free for everything else (QUIC, certificates, cluster links, Deno itself).
 */
const RESERVED_FDS = 128;
/** The cap when the descriptor limit cannot be read. */
const FALLBACK_MAX_CONNECTIONS = 1024;
/** The cap never goes past this, however many descriptors there are. */
const CEILING_MAX_CONNECTIONS = 4096;

/** The soft limit on open files (Linux), or undefined when it cannot be read. */
function openFileLimit(): number | undefined {
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const soft = limits.match(/^Max open files\s+(\d+)/m)?.[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** A cap that leaves {@link RESERVED_FDS} descriptors free, at least 16. */
export function defaultMaxConnections(fdLimit = openFileLimit()): number {
  if (fdLimit === undefined) return FALLBACK_MAX_CONNECTIONS;
  return Math.max(16, Math.min(CEILING_MAX_CONNECTIONS, Math.floor((fdLimit - RESERVED_FDS) / 3)));
}

export function defaultHttpLimits(): HttpLimits {
  return {
    maxConnections: defaultMaxConnections(),
    // Browsers send the head at once; ten seconds covers a slow handshake on a bad network.
    headTimeoutMs: 10_000,
    // A WebSocket has a ping at least every 30 s (Deno's idle timeout), QMux-01 every 10 s.
    idleTimeoutMs: 60_000,
    // Node's default: a browser's upgrade, cookies and all, fits.
    maxHeadBytes: 16 * 1024,
  };
}

/** Accept retries start at this and double up to the maximum while accept keeps failing. */
const ACCEPT_BACKOFF_MS = 10;
const ACCEPT_BACKOFF_MAX_MS = 1000;
/** Bytes moved per read on each direction of a pipe (QMux records are at most 16 KiB). */
const PIPE_CHUNK = 16 * 1024;

interface Listener<C> {
  accept(): Promise<C>;
}

/**
 * Accepts until `closed()`; an accept error (EMFILE, ENFILE, ECONNABORTED...) is retried after a
 * backoff, with one warning when the failures start and one line when they end.
 */
export async function acceptLoop<C>(
  listener: Listener<C>,
  handle: (conn: C) => void,
  closed: () => boolean,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<void> {
  let failures = 0;
  while (!closed()) {
    let conn: C;
    try {
      conn = await listener.accept();
    } catch (e) {
      if (closed()) return;
      if (failures++ === 0) {
        log.warn("cannot accept TCP connections ({error}): retrying until it can", {
          error: e instanceof Error ? e.message : String(e),
        });
      }
      await sleep(Math.min(ACCEPT_BACKOFF_MAX_MS, ACCEPT_BACKOFF_MS * 2 ** Math.min(failures, 10)));
      continue;
    }
    if (failures > 0) {
      log.info("accepting TCP connections again, after {failures} failed attempts", { failures });
      failures = 0;
    }
    handle(conn);
  }
}

/** One peer's connection, from accept to close. */
export interface FrontConnection {
  readonly remote: Deno.NetAddr;
  /**
   * What the connection carried has ended (a WebSocket session closed): at most
   * {@link FINISH_INBOUND_BYTES} more of the peer's bytes are passed on (room for its close
   * frame), and the connection ends after `graceMs` unless it has ended before.
   */
  finish(graceMs: number): void;
  /** Aborts once the connection has ended (either side closed it, or it was closed here). */
  readonly gone: AbortSignal;
}

/** What a finished connection's peer may still send on (a close frame is a few bytes). */
export const FINISH_INBOUND_BYTES = 64 * 1024;

class Client implements FrontConnection {
  readonly conn: Deno.Conn;
  readonly remote: Deno.NetAddr;
  /** The head deadline at first; once piped, the time of the last byte either way. */
  deadline: number;
  piped = false;
  inner: Deno.TcpConn | undefined;
  /** Bytes from the peer, and to it. */
  bytesIn = 0;
  bytesOut = 0;
  /** Bytes of the peer's still passed on once finished; unlimited before. */
  inboundBudget = Infinity;
  readonly ended: Promise<void>;
  #ended!: () => void;
  readonly #gone = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(conn: Deno.Conn, headTimeoutMs: number) {
    this.conn = conn;
    this.remote = conn.remoteAddr as Deno.NetAddr;
    this.deadline = Date.now() + headTimeoutMs;
    this.ended = new Promise((resolve) => this.#ended = resolve);
  }

  get gone(): AbortSignal {
    return this.#gone.signal;
  }

  /** Keeps the loopback hop, or closes it if this connection has ended meanwhile. */
  attach(inner: Deno.TcpConn): boolean {
    this.inner = inner;
    if (this.#closed) inner.close();
    return !this.#closed;
  }

  finish(graceMs: number): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.inboundBudget = FINISH_INBOUND_BYTES;
    this.#timer = setTimeout(() => this.close(), graceMs);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#ended();
    this.#gone.abort();
    for (const c of [this.conn, this.inner]) {
      try {
        c?.close();
      } catch {
        // already closed
      }
    }
  }
}

/** Finds the end of a request head (CRLF CRLF) in `buf[0, length)`, searching from `from`. */
function headEnd(buf: Uint8Array, length: number, from: number): number {
  for (let i = Math.max(3, from); i < length; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

const HEAD_TOO_LARGE = new TextEncoder().encode(
  "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
);

/** The front door: accepts, caps, holds to the head deadline, pipes to `inner()`. */
export class Front {
  readonly addr: Deno.NetAddr;
  readonly limits: HttpLimits;
  #listener: Deno.Listener;
  readonly #inner: () => Promise<Deno.TcpConn>;
  readonly #clients = new Set<Client>();
  /** Piped connections by the local port of their loopback hop (what the inner server sees). */
  readonly #byInnerPort = new Map<number, Client>();
  readonly #sweeper: ReturnType<typeof setInterval>;
  /** Accept loops by listener, each until its listener is replaced or the door closes. */
  readonly #loops = new Map<Deno.Listener, Promise<void>>();
  readonly #serving = new Set<Promise<void>>();
  #closed = false;
  #refused = 0;

  constructor(listener: Deno.Listener, limits: HttpLimits, inner: () => Promise<Deno.TcpConn>) {
    this.#listener = listener;
    this.addr = listener.addr as Deno.NetAddr;
    this.limits = limits;
    this.#inner = inner;
    const tick = Math.max(20, Math.min(limits.headTimeoutMs, limits.idleTimeoutMs) / 4);
    this.#sweeper = setInterval(() => this.#sweep(), tick);
    Deno.unrefTimer(this.#sweeper);
    this.#acceptFrom(listener);
  }

  #acceptFrom(listener: Deno.Listener): void {
    const closed = () => this.#closed || this.#listener !== listener;
    const loop = acceptLoop(listener, (conn) => this.#admit(conn), closed)
      .finally(() => this.#loops.delete(listener));
    this.#loops.set(listener, loop);
  }

  /**
   * Accepts from `next` (on the same address) from now on and closes the listener before it;
   * connections it accepted go on. Resolves once the old socket is gone: Deno closes it when its
   * pending accept has ended, and until then the kernel may still queue connections on it (to be
   * reset when it closes).
   */
  async replaceListener(next: Deno.Listener): Promise<void> {
    if (this.#closed) return next.close();
    const previous = this.#listener;
    this.#listener = next;
    this.#acceptFrom(next);
    try {
      previous.close();
    } catch {
      // already closed
    }
    await this.#loops.get(previous);
  }

  /** Connections open now. */
  get open(): number {
    return this.#clients.size;
  }

  /** The connection the inner server sees as coming from loopback port `port`. */
  connectionAt(port: number): FrontConnection | undefined {
    return this.#byInnerPort.get(port);
  }

  #admit(conn: Deno.Conn): void {
    if (this.#clients.size >= this.limits.maxConnections) {
      if (this.#refused++ === 0) {
        log.info("{max} HTTP connections open: closing new ones until one ends", {
          max: this.limits.maxConnections,
        });
      }
      try {
        conn.close();
      } catch {
        // already gone
      }
      return;
    }
    if (this.#refused > 0 && this.#clients.size < this.limits.maxConnections / 2) {
      log.info("HTTP connections below the cap again ({refused} refused)", {
        refused: this.#refused,
      });
      this.#refused = 0;
    }
    const client = new Client(conn, this.limits.headTimeoutMs);
    this.#clients.add(client);
    const serving = this.#serve(client)
      .catch((e) => log.debug("HTTP connection failed: {error}", { error: String(e) }))
      .finally(() => {
        client.close();
        this.#clients.delete(client);
        if (client.inner) this.#byInnerPort.delete((client.inner.localAddr as Deno.NetAddr).port);
        this.#serving.delete(serving);
      });
    this.#serving.add(serving);
  }

  /** Closes connections past their head deadline, or idle too long. */
  #sweep(): void {
    const now = Date.now();
    for (const client of this.#clients) {
      const due = client.piped ? client.deadline + this.limits.idleTimeoutMs : client.deadline;
      if (now >= due) {
        log.debug("closing HTTP connection from {remote}: {why}", {
          remote: `${client.remote.hostname}:${client.remote.port}`,
          why: client.piped ? "idle" : "no whole request head in time",
        });
        client.close();
      }
    }
  }

  async #serve(client: Client): Promise<void> {
    // Read until the head is whole (anything after it goes along unchanged).
    let buf = new Uint8Array(4096);
    let length = 0;
    for (let end = -1; end < 0;) {
      if (length === buf.length) {
        if (buf.length >= this.limits.maxHeadBytes) {
          await writeAll(client.conn, HEAD_TOO_LARGE);
          await client.conn.closeWrite();
          // Closed with unread bytes, the connection would be reset and the answer lost with
          // it: read out the rest until the peer closes (or the head deadline comes).
          while ((await client.conn.read(buf)) !== null) { /* discarded */ }
          return;
        }
        const grown = new Uint8Array(Math.min(buf.length * 2, this.limits.maxHeadBytes));
        grown.set(buf);
        buf = grown;
      }
      const n = await client.conn.read(buf.subarray(length));
      if (n === null) return;
      const from = length - 3;
      length += n;
      end = headEnd(buf, length, from);
    }
    const inner = await this.#inner();
    if (!client.attach(inner)) return;
    this.#byInnerPort.set((inner.localAddr as Deno.NetAddr).port, client);
    client.piped = true;
    client.deadline = Date.now();
    await writeAll(inner, buf.subarray(0, length));
    client.bytesIn = length;
    // Either direction ending ends both: HTTP/1.1 and WebSocket peers do not half-close.
    await Promise.race([
      this.#pump(client.conn, inner, client, true),
      this.#pump(inner, client.conn, client, false),
    ]);
    log.debug("HTTP connection from {remote} ended: {bytesIn} bytes in, {bytesOut} out", {
      remote: `${client.remote.hostname}:${client.remote.port}`,
      bytesIn: client.bytesIn,
      bytesOut: client.bytesOut,
    });
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, client: Client, inbound: boolean): Promise<void> {
    const buf = new Uint8Array(PIPE_CHUNK);
    try {
      for (let n = await from.read(buf); n !== null; n = await from.read(buf)) {
        client.deadline = Date.now();
        if (!inbound) {
          await writeAll(to, buf.subarray(0, n));
          client.bytesOut += n;
          continue;
        }
        const passed = Math.min(n, client.inboundBudget);
        await writeAll(to, buf.subarray(0, passed));
        client.bytesIn += passed;
        client.inboundBudget -= passed;
        // Finished and past its budget: nothing more is read from the peer (TCP holds it back).
        if (client.inboundBudget <= 0) return await client.ended;
      }
    } catch {
      // the other side closed
    }
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const client of this.#clients) client.close();
    await Promise.allSettled([...this.#loops.values()]);
    await Promise.allSettled([...this.#serving]);
  }
}
