/**
 * A test-only stand-in for a relay: `Deno.serve` on 127.0.0.1 that upgrades WebSockets with
 * `@moq/qmux` in server mode and runs upstream's own `@moq/net` `accept()` on each session. It
 * relays nothing: the server end of every session is handed to the test (see
 * {@link LoopbackServer.next}), which can publish or subscribe on it like any other peer. Used to
 * prove the real-client harness in `moqnet_client.ts` over a real WebSocket before the relay
 * exists.
 *
 * @module
 */
import QmuxSession, { selectSubprotocol } from "@moq/qmux";
import { Connection } from "@moq/net";
import { sleep, withTimeout } from "./moqnet_client.ts";

/** The application protocols the loopback accepts, in its preference order. */
export const LOOPBACK_PROTOCOLS: readonly string[] = [
  "moq-lite-05",
  "moq-lite-04",
  "moq-lite-03",
  "moql",
];

/** One accepted session: the server's @moq/net connection and what was negotiated. */
export interface LoopbackSession {
  /** The server end, as `@moq/net` `accept()` returned it. */
  readonly connection: Connection.Established;
  /** The `Sec-WebSocket-Protocol` value the server accepted, e.g. `qmux-01.moq-lite-05`. */
  readonly subprotocol: string;
  /** The request URL the client dialled. */
  readonly url: URL;
}

export interface LoopbackServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT/anon`, ready for `connectMoq`. */
  readonly url: string;
  readonly port: number;
  /** Every `Sec-WebSocket-Protocol` offer the server saw, in arrival order. */
  readonly offers: string[];
  /** The next accepted session (in accept order); rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<LoopbackSession>;
  /** Closes every accepted session and stops listening. */
  close(): Promise<void>;
}

export interface LoopbackOptions {
  /** Passed to `accept(transport, url, { version })`: overrides the legacy SETUP choice. */
  acceptVersion?: number;
  /** The application protocols to accept (default {@link LOOPBACK_PROTOCOLS}). */
  protocols?: readonly string[];
}

/** Hex served at `/certificate.sha256` (any value: the harness never does WebTransport). */
const FAKE_FINGERPRINT = "00".repeat(32);

/** Starts the loopback server. */
export function startLoopback(options: LoopbackOptions = {}): LoopbackServer {
  const accepted: LoopbackSession[] = [];
  const waiters: ((s: LoopbackSession) => void)[] = [];
  const failures: Promise<void>[] = [];
  const offers: string[] = [];
  const all: LoopbackSession[] = [];
  const sockets: QmuxSession[] = [];

  const deliver = (session: LoopbackSession) => {
    all.push(session);
    const waiter = waiters.shift();
    if (waiter) waiter(session);
    else accepted.push(session);
  };

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (request) => {
    const url = new URL(request.url);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      if (url.pathname === "/certificate.sha256") return new Response(FAKE_FINGERPRINT);
      return new Response("not found", { status: 404 });
    }
    const offer = request.headers.get("sec-websocket-protocol") ?? "";
    offers.push(offer);
    const protocols = options.protocols ?? LOOPBACK_PROTOCOLS;
    const subprotocol = selectSubprotocol(offer, {
      protocols: [...protocols],
      versions: Object.fromEntries(protocols.map((p) => [p, null])),
    });
    if (!subprotocol) return new Response("no supported protocol", { status: 400 });
    const { socket, response } = Deno.upgradeWebSocket(request, { protocol: subprotocol });
    // Deno's socket does not report the negotiated protocol: pass it explicitly.
    const socketLike = socket as unknown as Parameters<typeof QmuxSession.accept>[0];
    const qmux = QmuxSession.accept(socketLike, { protocol: subprotocol });
    qmux.closed.catch(() => {});
    sockets.push(qmux);
    const props = options.acceptVersion === undefined ? {} : { version: options.acceptVersion };
    failures.push(
      // @moq/net's accept() reads `protocol` at once, and the session only knows it once open.
      qmux.ready.then(() => Connection.accept(qmux as unknown as WebTransport, url, props)).then(
        (connection) => deliver({ connection, subprotocol, url }),
        (err) => {
          console.error("loopback: accept failed", err);
          qmux.close({ closeCode: 1, reason: "accept failed" });
        },
      ),
    );
    return response;
  });

  const port = server.addr.port;
  return {
    url: `http://127.0.0.1:${port}/anon`,
    port,
    offers,
    next(timeoutMs = 5000) {
      const ready = accepted.shift();
      if (ready) return Promise.resolve(ready);
      const { promise, resolve } = Promise.withResolvers<LoopbackSession>();
      waiters.push(resolve);
      return withTimeout(promise, timeoutMs, "loopback: no session accepted").catch((err) => {
        const i = waiters.indexOf(resolve);
        if (i >= 0) waiters.splice(i, 1);
        throw err;
      });
    },
    async close() {
      for (const session of all) session.connection.close();
      for (const qmux of sockets) qmux.close();
      await Promise.allSettled(failures);
      await Promise.allSettled(sockets.map((s) => s.closed));
      // @moq/qmux tears the WebSocket down 100 ms after queueing its APPLICATION_CLOSE.
      await sleep(120);
      await server.shutdown();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}
