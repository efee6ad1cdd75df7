/**
 * Datagrams on every carrier, Deno to Deno through our Endpoint: raw QUIC and WebTransport carry
 * them both ways intact, drop what is too large, end with the session, keep sessions apart, and
 * hold at most MAX_QUEUED_DATAGRAMS (the newest) for an application that does not read.
 * WebSocket has none.
 */
import { deepEqual, equal, ok } from "assert";
import QmuxSession from "@moq/qmux";
import { ALPNS } from "../src/codec/lite/version.ts";
import { fingerprintBytes, generateCertificate } from "../src/tls/certificate.ts";
import { listenOnOnePort } from "../src/listen.ts";
import { Endpoint } from "../src/transport/endpoint.ts";
import { QuicSession } from "../src/transport/quic.ts";
import {
  encodeFrame,
  encodeSettings,
  FrameType,
  OUR_SETTINGS,
  Setting,
  UniStreamType,
  varints,
} from "../src/transport/h3.ts";
import { encodeFieldSection } from "../src/transport/qpack.ts";
import { MAX_QUEUED_DATAGRAMS, type Session } from "../src/transport/session.ts";
import { serveHttp3 } from "../src/transport/webtransport.ts";
import { serveWeb } from "../src/web/server.ts";
import { withTimeout } from "./support/wait.ts";

const cert = await generateCertificate(["localhost", "127.0.0.1"]);
const hash = fingerprintBytes(cert.fingerprint);
const PROTOCOL = "moq-lite-05";
const BIND = { hostname: "127.0.0.1", port: 0, certPem: cert.certPem, keyPem: cert.keyPem };
/** How long a reader waits for one more datagram before counting the rest as lost. */
const QUIET_MS = 1000;
/** Bound on any one wait, so a lost signal fails the test instead of hanging it. */
const WAIT_MS = 10_000;
/** Datagrams sent each way in the round trip checks. */
const COUNT = 100;
/** Of which at least this many must arrive (loopback may drop a few under load). */
const MAJORITY = 90;
/** Datagrams of the flood at a session that never reads. */
const FLOOD = 10_000;

type Kind = "webtransport" | "quic";

/** `promise`, or a rejection after `ms` (by default the test's wait). */
const within = <T>(promise: Promise<T>, what: string, ms = WAIT_MS) =>
  withTimeout(promise, ms, what);

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Reads a session's datagrams with a quiet timeout. A read the timeout overtook stays pending
 * and is the next one handed out, so no datagram is lost between calls.
 */
class Reader {
  readonly #session: Session;
  #pending: Promise<Uint8Array | null> | undefined;

  constructor(session: Session) {
    this.#session = session;
  }

  /** The next datagram, null at the session's end, or undefined after `quietMs` of nothing. */
  async next(quietMs = QUIET_MS): Promise<Uint8Array | null | undefined> {
    const read = this.#pending ??= this.#session.readDatagram();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quiet = new Promise<undefined>((resolve) =>
      timer = setTimeout(() => resolve(undefined), quietMs)
    );
    const result = await Promise.race([read, quiet]);
    clearTimeout(timer);
    if (result !== undefined) this.#pending = undefined;
    return result;
  }

  /** Up to `count` datagrams, stopping early once `quietMs` pass without one. */
  async collect(count: number): Promise<Uint8Array[]> {
    const got: Uint8Array[] = [];
    while (got.length < count) {
      const datagram = await this.next();
      if (!datagram) break;
      got.push(datagram);
    }
    return got;
  }
}

/** Datagram `index` of a batch tagged `tag`: its first two bytes name it, the rest is a pattern. */
function payload(tag: number, index: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size).map((_, j) => (tag * 31 + index * 7 + j) % 251);
  bytes[0] = tag;
  bytes[1] = index;
  return bytes;
}

/**
 * Sizes from small to the session's maximum; every tenth is exactly the maximum, so an off-by-one
 * in the limit shows even if a few are lost.
 */
function batch(tag: number, max: number): Uint8Array[] {
  return Array.from({ length: COUNT }, (_, i) => {
    const size = i % 10 === 9 ? max : Math.max(2, Math.round((max * (i + 1)) / COUNT));
    return payload(tag, i, size);
  });
}

/** Datagrams sent between yields to the event loop in {@link sendAll}. */
const BURST = 10;

/**
 * Sends `datagrams`, yielding every BURST. Both ends share this process's one thread: an unbroken
 * burst of a few hundred overflows the receiving UDP socket's buffer (about 200 kB on Linux)
 * before the receiver gets to run, and the kernel drops the rest.
 */
async function sendAll(session: Session, datagrams: Uint8Array[]): Promise<void> {
  for (const [i, datagram] of datagrams.entries()) {
    session.sendDatagram(datagram);
    if (i % BURST === BURST - 1) await delay(0);
  }
}

/** Checks that most of `sent` arrived, byte for byte, each once, and nothing else did. */
function checkArrived(arrived: Uint8Array[], sent: Uint8Array[], what: string): void {
  ok(arrived.length >= MAJORITY, `${what}: ${arrived.length} of ${sent.length} arrived`);
  const seen = new Set<number>();
  for (const datagram of arrived) {
    const index = datagram[1] ?? -1;
    const expected = sent[index];
    ok(expected && datagram[0] === expected[0], `${what}: a datagram that was not sent`);
    deepEqual(datagram, expected, `${what}: datagram ${index} changed on the way`);
    ok(!seen.has(index), `${what}: datagram ${index} arrived twice`);
    seen.add(index);
  }
  const maxSize = Math.max(...sent.map((d) => d.length));
  ok(arrived.some((d) => d.length === maxSize), `${what}: no datagram of the maximum size arrived`);
}

/** A server endpoint and a client endpoint that dials it. */
function endpoints() {
  const server = Endpoint.listen({ ...BIND, alpns: ALPNS });
  const client = Endpoint.listen({ ...BIND, alpns: [] });
  return {
    server,
    client,
    /** Opens a session from the client; returns both ends. */
    async pair(kind: Kind): Promise<{ client: Session; server: Session }> {
      const accepted = server.accept().then((incoming) => {
        if (!incoming) throw new Error("the server endpoint closed");
        return incoming.accept(PROTOCOL);
      });
      const scheme = kind === "webtransport" ? "https" : "moql";
      const session = await client.connect(
        new URL(`${scheme}://127.0.0.1:${server.addr.port}/room`),
        { rawQuic: kind === "quic", protocols: [PROTOCOL], serverCertificateHashes: [hash] },
      );
      return { client: session, server: await within(accepted, "the server's session") };
    },
    close() {
      client.close();
      server.close();
    },
  };
}

for (const kind of ["quic", "webtransport"] as const) {
  Deno.test(`${kind}: datagrams both ways arrive intact; too large ones are dropped`, async () => {
    const net = endpoints();
    const { client, server } = await net.pair(kind);
    equal(client.caps.datagrams, true);
    equal(server.caps.datagrams, true);
    for (
      const [from, to, tag, what] of [
        [client, new Reader(server), 1, "client to server"],
        [server, new Reader(client), 2, "server to client"],
      ] as const
    ) {
      const max = from.maxDatagramSize;
      ok(max >= 1000, `${what}: maxDatagramSize ${max}`);
      const sent = batch(tag, max);
      await sendAll(from, sent);
      checkArrived(await to.collect(COUNT), sent, what);

      // One byte too many: dropped without an exception; the next ones still arrive.
      from.sendDatagram(payload(tag, 200, from.maxDatagramSize + 1));
      for (const index of [201, 202, 203]) from.sendDatagram(payload(tag, index, 10));
      const after = (await to.collect(3)).map((d) => d[1]);
      ok(after.length > 0, `${what}: nothing arrived after the oversize datagram`);
      ok(after.every((i) => i !== undefined && i > 200), `${what}: ${after} arrived`);
    }
    await client.close({ code: 0, reason: "done" });
    await server.closed;
    net.close();
  });

  Deno.test(`${kind}: readDatagram returns null once the session is over`, async () => {
    const net = endpoints();
    const { client, server } = await net.pair(kind);
    const pendingServer = server.readDatagram();
    const pendingClient = client.readDatagram();
    await client.close({ code: 0, reason: "done" });
    await within(server.closed, "the server session's end");
    equal(await within(pendingServer, "the server's pending read"), null);
    equal(await within(pendingClient, "the client's pending read"), null);
    for (const session of [client, server]) {
      equal(await within(session.readDatagram(), "a read after the end"), null);
      equal(session.maxDatagramSize, 0);
      session.sendDatagram(Uint8Array.of(1, 2, 3)); // a no-op, no exception
    }
    net.close();
  });
}

Deno.test("webtransport: sessions on two connections do not see each other's datagrams", async () => {
  const net = endpoints();
  const a = await net.pair("webtransport");
  const b = await net.pair("webtransport");
  const batches = [
    { pair: a, up: batch(11, a.client.maxDatagramSize), down: batch(12, a.server.maxDatagramSize) },
    { pair: b, up: batch(21, b.client.maxDatagramSize), down: batch(22, b.server.maxDatagramSize) },
  ];
  // All sent before any is read: each session's queue holds its own until then.
  for (const { pair, up, down } of batches) {
    await sendAll(pair.client, up);
    await sendAll(pair.server, down);
  }
  for (const [i, { pair, up, down }] of batches.entries()) {
    // checkArrived fails on any datagram whose tag is not this session's.
    checkArrived(await new Reader(pair.server).collect(COUNT), up, `session ${i} at the server`);
    checkArrived(await new Reader(pair.client).collect(COUNT), down, `session ${i} at the client`);
  }
  await a.client.close();
  await b.client.close();
  await Promise.all([a.server.closed, b.server.closed]);
  net.close();
});

// ---- a hand-driven HTTP/3 client -------------------------------------------------------------

/**
 * Raw QUIC with ALPN h3, our SETTINGS (or `settings`), and one CONNECT: the server's session,
 * and the client's connection to send datagrams on by hand.
 */
async function rawWebTransport(settings = OUR_SETTINGS) {
  const server = Endpoint.listen({ ...BIND, alpns: ALPNS });
  const accepted = server.accept().then((incoming) => incoming?.accept(PROTOCOL));
  // serverCertificateHashes works in Deno 2.9.6 but is not in its types (transport.md section 5).
  const conn = await Deno.connectQuic({
    hostname: "127.0.0.1",
    port: server.addr.port,
    alpnProtocols: ["h3"],
    serverCertificateHashes: [{ algorithm: "sha-256", value: hash }],
  } as Deno.ConnectQuicOptions<false>);
  // Held to the end: a control stream that is closed or collected fails the connection.
  const control = (await conn.createUnidirectionalStream()).getWriter();
  await control.write(
    Uint8Array.from([...varints(UniStreamType.Control), ...encodeSettings(settings)]),
  );
  const connect = await conn.createBidirectionalStream();
  const writer = connect.writable.getWriter();
  await writer.write(encodeFrame(
    FrameType.Headers,
    encodeFieldSection([
      [":method", "CONNECT"],
      [":scheme", "https"],
      [":authority", `127.0.0.1:${server.addr.port}`],
      [":path", "/raw"],
      [":protocol", "webtransport"],
      ["wt-available-protocols", `"${PROTOCOL}"`],
    ]),
  ));
  const session = await within(accepted, "the server's session");
  ok(session);
  return {
    conn,
    session,
    async close() {
      conn.close();
      await session.closed;
      server.close();
    },
  };
}

Deno.test("webtransport: malformed datagrams and ones for unknown sessions are dropped", async () => {
  const raw = await rawWebTransport();
  const reader = new Reader(raw.session);
  for (let round = 0; round < 3; round++) {
    for (
      const bytes of [
        [], // no quarter stream id at all
        [0x40], // a 2-byte varint cut short
        [0xc0, 0, 0], // an 8-byte varint cut short
        [0x01, 9, 9], // quarter stream id 1: session 4, which does not exist
        [0x80, 0, 0, 0, 9], // quarter stream id 0 in 4 bytes: a valid long form, delivered
      ]
    ) {
      await raw.conn.sendDatagram(Uint8Array.from(bytes));
    }
    await raw.conn.sendDatagram(Uint8Array.of(0x00, 7, round));
  }
  const good = new Set(["[9]", "[7,0]", "[7,1]", "[7,2]"]);
  const arrived = (await reader.collect(6)).map((d) => JSON.stringify(Array.from(d)));
  ok(arrived.length >= 4, `only ${arrived.length} of 6 good datagrams arrived`);
  for (const d of arrived) ok(good.has(d), `${d} should have been dropped`);
  // The connection survived: the session still echoes a datagram back.
  raw.session.sendDatagram(Uint8Array.of(5));
  deepEqual(Array.from(await within(raw.conn.readDatagram(), "a datagram back")), [0, 5]);
  await raw.close();
});

Deno.test("webtransport: no datagrams to a peer whose SETTINGS do not allow them", async () => {
  const settings = OUR_SETTINGS.filter(([id]) =>
    id !== Setting.H3Datagram && id !== Setting.H3DatagramDraft04
  );
  const raw = await rawWebTransport(settings);
  equal(raw.session.caps.datagrams, false);
  equal(raw.session.maxDatagramSize, 0);
  raw.session.sendDatagram(Uint8Array.of(1)); // dropped, no exception
  await raw.close();
});

// ---- a flood at a session that never reads ----------------------------------------------------

const seq = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset).getUint32(d.length - 4);
const MARKER = 0xffffffff;

/**
 * `conn`, recording every datagram our transport reads from it (`strip` bytes of HTTP/3 prefix
 * removed) and resolving `markerHandled` once the transport, having read a marker, asks for the
 * next datagram: it has queued the marker by then, and everything before it.
 */
function observed(conn: Deno.QuicConn, strip: number) {
  const arrivals: Uint8Array[] = [];
  let resolveHandled!: () => void;
  const markerHandled = new Promise<void>((resolve) => resolveHandled = resolve);
  const readDatagram = async () => {
    const last = arrivals.at(-1);
    if (last && seq(last) === MARKER) resolveHandled();
    const datagram = await conn.readDatagram();
    arrivals.push(datagram.subarray(strip));
    return datagram;
  };
  const proxy = new Proxy(conn, {
    get(target, key) {
      if (key === "readDatagram") return readDatagram;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { conn: proxy, arrivals, markerHandled };
}

for (const kind of ["quic", "webtransport"] as const) {
  Deno.test(`${kind}: a session that never reads holds only the newest datagrams`, async () => {
    // Our own listener on the receiving side, so the test can watch the connection.
    const quic = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    const listener = quic.listen({
      cert: cert.certPem,
      key: cert.keyPem,
      alpnProtocols: [kind === "webtransport" ? "h3" : PROTOCOL],
    });
    const dialer = Endpoint.listen({ ...BIND, alpns: [] });
    const scheme = kind === "webtransport" ? "https" : "moql";
    const connecting = dialer.connect(new URL(`${scheme}://127.0.0.1:${quic.addr.port}/flood`), {
      rawQuic: kind === "quic",
      protocols: [PROTOCOL],
      serverCertificateHashes: [hash],
    });
    const conn = await within(listener.accept(), "the QUIC connection");
    await conn.handshake;
    // The first CONNECT's session id is 0: its datagrams start with the one byte 0x00.
    const watch = observed(conn, kind === "webtransport" ? 1 : 0);
    let receiver: Session;
    if (kind === "quic") receiver = new QuicSession(watch.conn);
    else {
      const offered = new Promise<Session>((resolve) =>
        serveHttp3(watch.conn, (incoming) => resolve(incoming.accept(PROTOCOL))).catch(() => {})
      );
      receiver = await within(offered, "the WebTransport session");
    }
    const sender = await connecting;

    const datagram = (n: number) => {
      const d = new Uint8Array(8);
      new DataView(d.buffer).setUint32(4, n);
      return d;
    };
    // Paced (sendAll), so most of the flood is sent rather than dropped as a burst.
    await sendAll(sender, Array.from({ length: FLOOD }, (_, i) => datagram(i)));
    await delay(50); // let the flood land before the marker
    // Repeated until the receiver has it: a marker can be lost like any datagram.
    let handled = false;
    while (!handled) {
      sender.sendDatagram(datagram(MARKER));
      handled = await within(watch.markerHandled, "marker", 500).then(() => true, () => false);
    }

    const arrived = watch.arrivals.map(seq);
    ok(
      arrived.length > 2 * MAX_QUEUED_DATAGRAMS,
      `only ${arrived.length} of ${FLOOD} arrived: the flood proves nothing`,
    );
    const queued: number[] = [];
    for (let i = 0; i < MAX_QUEUED_DATAGRAMS; i++) {
      const d = await within(receiver.readDatagram(), "a queued datagram");
      ok(d);
      queued.push(seq(d));
    }
    deepEqual(queued, arrived.slice(-MAX_QUEUED_DATAGRAMS), "the newest arrivals, in order");
    // Nothing more was queued: the next read waits until the session ends.
    const next = receiver.readDatagram();
    await sender.close();
    equal(await within(next, "the read after the queue"), null);
    await receiver.closed;
    dialer.close();
    listener.stop();
    quic.close();
  });
}

// ---- WebSocket ----------------------------------------------------------------------------------

Deno.test("websocket: no datagrams; readDatagram resolves null at once", async () => {
  // One port number for both, bound again while the TCP side is taken (as the relay does).
  const { quic: endpoint, web } = listenOnOnePort(
    { hostname: "127.0.0.1", port: 0 },
    (port) => Endpoint.listen({ ...BIND, port, alpns: ALPNS }),
    (port, quic) =>
      serveWeb({
        hostname: "127.0.0.1",
        port,
        fingerprint: () => cert.fingerprint,
        offer: (incoming) => quic.offer(incoming),
      }),
  );
  const accepted = endpoint.accept().then((incoming) => incoming?.accept(PROTOCOL));
  const client = new QmuxSession(`http://127.0.0.1:${endpoint.addr.port}/room`, {
    protocols: [PROTOCOL],
    versions: { [PROTOCOL]: ["qmux-01", "qmux-00"] },
  });
  await client.ready;
  const session = await within(accepted, "the WebSocket session");
  ok(session);
  equal(session.kind, "websocket");
  equal(session.caps.datagrams, false);
  equal(session.maxDatagramSize, 0);
  session.sendDatagram(Uint8Array.of(1, 2, 3)); // a no-op, no exception
  // While the session is still open.
  equal(await within(session.readDatagram(), "readDatagram"), null);
  client.close({ closeCode: 0, reason: "done" });
  await client.closed.catch(() => {});
  await session.closed;
  await web.shutdown();
  endpoint.close();
});
