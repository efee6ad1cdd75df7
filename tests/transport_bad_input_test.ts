/**
 * Bad input on the HTTP/3 side closes only the offending connection (or stream) with the right
 * code; the endpoint and a well-behaved client connected at the same time keep working.
 */
import { equal, ok } from "assert";
import { fingerprintBytes, generateCertificate } from "../src/tls/certificate.ts";
import {
  decodeFrame,
  encodeFrame,
  encodeSettings,
  FrameType,
  H3Code,
  varints,
} from "../src/transport/h3.ts";
import { DEFAULT_TRANSPORT_LIMITS, Endpoint } from "../src/transport/endpoint.ts";
import { decodeFieldSection, encodeFieldSection } from "../src/transport/qpack.ts";
import { connectWebTransport } from "../src/transport/webtransport.ts";
import { echo, readAll } from "./support/transport.ts";
import { ALPNS } from "../src/codec/lite/version.ts";

const cert = await generateCertificate(["localhost", "127.0.0.1"]);
const hash = fingerprintBytes(cert.fingerprint);

function start() {
  const endpoint = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: ALPNS,
    limits: {
      h3: {
        maxPendingStreams: 64,
        pendingTimeoutMs: 500,
        settingsTimeoutMs: 2000,
        headerTimeoutMs: 2000,
        connectTimeoutMs: 10_000,
      },
    },
  });
  const served: Promise<void>[] = [];
  const loop = (async () => {
    for (let incoming = await endpoint.accept(); incoming; incoming = await endpoint.accept()) {
      served.push(incoming.accept(incoming.protocols[0]).then(echo));
    }
  })();
  return {
    endpoint,
    port: endpoint.addr.port,
    async close() {
      endpoint.close();
      await loop;
      await Promise.allSettled(served);
    },
  };
}

/** A hand-driven HTTP/3 client: raw QUIC with ALPN h3 and our SETTINGS. */
async function rawH3(port: number, settings = true) {
  // serverCertificateHashes works in Deno 2.9.6 but is not in its types (transport.md section 5).
  const options = {
    hostname: "127.0.0.1",
    port,
    alpnProtocols: ["h3"],
    serverCertificateHashes: [{ algorithm: "sha-256", value: hash }],
  } as Deno.ConnectQuicOptions<false>;
  const conn = await Deno.connectQuic(options);
  const control = (await conn.createUnidirectionalStream()).getWriter();
  if (settings) await control.write(Uint8Array.from([...varints(0), ...encodeSettings()]));
  return { conn, control };
}

async function request(
  conn: Deno.QuicConn,
  fields: [string, string][],
): Promise<string | undefined> {
  const stream = await conn.createBidirectionalStream();
  const w = stream.writable.getWriter();
  await w.write(encodeFrame(FrameType.Headers, encodeFieldSection(fields)));
  const reader = stream.readable.getReader();
  let buf = new Uint8Array(0);
  while (true) {
    const frame = decodeFrame(buf, 0, 1 << 16);
    if (frame) {
      return decodeFieldSection(buf.subarray(frame.start, frame.end)).find(([n]) => n === ":status")
        ?.[1];
    }
    const { value, done } = await reader.read();
    if (done) return undefined;
    buf = Uint8Array.from([...buf, ...value]);
  }
}

const connect = (port: number, path = "/x"): [string, string][] => [
  [":method", "CONNECT"],
  [":scheme", "https"],
  [":authority", `127.0.0.1:${port}`],
  [":path", path],
  [":protocol", "webtransport"],
];

/** A proper client doing an echo, to show the endpoint still serves. */
async function wellBehaved(port: number): Promise<void> {
  const session = await connectWebTransport(new URL(`https://127.0.0.1:${port}/ok`), {
    serverCertificateHashes: [hash],
  });
  const s = await session.openBi();
  await s.send.write(new TextEncoder().encode("still here"));
  await s.send.close();
  equal(new TextDecoder().decode(await readAll(s.recv)), "still here");
  await session.close();
}

Deno.test("random bytes on the control stream close that connection with H3_MISSING_SETTINGS", async () => {
  const srv = start();
  const { conn, control } = await rawH3(srv.port, false);
  const garbage = crypto.getRandomValues(new Uint8Array(64));
  garbage[0] = 0xff; // an 8-byte frame type that is not SETTINGS
  await control.write(Uint8Array.from([0x00, ...garbage]));
  const closed = await conn.closed;
  equal(closed.closeCode, H3Code.MissingSettings);
  await wellBehaved(srv.port);
  await srv.close();
});

Deno.test("requests that are not WebTransport CONNECTs get an HTTP status, not a crash", async () => {
  const srv = start();
  const { conn } = await rawH3(srv.port);
  equal(await request(conn, connect(srv.port).filter(([n]) => n !== ":protocol")), "400");
  conn.close();
  const second = await rawH3(srv.port);
  equal(
    await request(second.conn, [[":method", "GET"], [":scheme", "https"], [":authority", "x"], [
      ":path",
      "/",
    ]]),
    "405",
  );
  second.conn.close();
  const third = await rawH3(srv.port);
  equal(
    await request(
      third.conn,
      connect(srv.port).map(([n, v]) => n === ":protocol" ? [n, "websocket"] : [n, v]),
    ),
    "501",
  );
  third.conn.close();
  await wellBehaved(srv.port);
  await srv.close();
});

Deno.test("a stream for an unknown session is refused; an impossible session id closes the connection", async () => {
  const srv = start();
  const { conn } = await rawH3(srv.port);
  const orphan = await conn.createUnidirectionalStream();
  const writer = orphan.getWriter();
  await writer.write(Uint8Array.from([...varints(0x54, 8), 1, 2, 3]));
  // Held for the pending timeout (500 ms here), then refused with STOP_SENDING: a later write fails.
  let refused = false;
  for (let i = 0; i < 30 && !refused; i++) {
    await new Promise((r) => setTimeout(r, 100));
    refused = await writer.write(Uint8Array.of(0)).then(() => false, () => true);
  }
  ok(refused, "the orphan stream was never refused");
  // Session ids are client bidirectional stream ids (multiples of 4): 1 is impossible.
  const bad = (await conn.createUnidirectionalStream()).getWriter();
  await bad.write(Uint8Array.from([...varints(0x54, 1)]));
  equal((await conn.closed).closeCode, H3Code.IdError);
  await wellBehaved(srv.port);
  await srv.close();
});

Deno.test("20,000 streams opened at once: each opens or gets its error; others keep working", async () => {
  const srv = start();
  const { conn } = await rawH3(srv.port);
  equal(await request(conn, connect(srv.port)), "200");
  let opened = 0;
  let refused = 0;
  await Promise.all(Array.from({ length: 20_000 }, async () => {
    try {
      const s = await conn.createUnidirectionalStream();
      opened++;
      const w = s.getWriter();
      await w.write(Uint8Array.from([...varints(0x54, 0), 0x00]));
      await w.close();
    } catch (e) {
      ok(e instanceof RangeError || e instanceof Error, String(e));
      refused++;
    }
  }));
  equal(opened + refused, 20_000);
  // The server allows its stream credit of concurrent uni streams, our control stream among
  // them; beyond it, opening fails at once rather than queueing without bound.
  const credit = DEFAULT_TRANSPORT_LIMITS.maxIncomingUniStreams;
  ok(
    opened >= credit - 2 && opened < credit && refused > 0,
    `opened ${opened}, refused ${refused}`,
  );
  await wellBehaved(srv.port);
  conn.close();
  await srv.close();
});

Deno.test("a stream whose header never completes is cancelled after the header timeout", async () => {
  const srv = start();
  const { conn } = await rawH3(srv.port);
  // A real session first, so that a late header would be a valid stream of it.
  equal(await request(conn, connect(srv.port)), "200");
  const stalled = (await conn.createUnidirectionalStream()).getWriter();
  await stalled.write(Uint8Array.of(0x40)); // the first byte of a two-byte stream type, then nothing
  // The header timeout here is 2 s, checked by a sweep every second: after 3.5 s the server has
  // stopped reading, so further writes fail (STOP_SENDING). Without the timeout these bytes would
  // complete a valid WebTransport stream header for session 0, and the writes would go through.
  await new Promise((r) => setTimeout(r, 3500));
  let refused = false;
  for (let i = 0; i < 30 && !refused; i++) {
    refused = await stalled.write(Uint8Array.of(0x54, 0x00, 0x01)).then(() => false, () => true);
    await new Promise((r) => setTimeout(r, 100));
  }
  ok(refused, "the stalled stream was never cancelled");
  conn.close();
  await srv.close();
});
