/**
 * Our transport, client and server, over loopback: WebTransport over HTTP/3 and raw QUIC with a
 * MoQ ALPN. The same stream checks run on both (and on WebSocket in websocket_test.ts).
 */
import { deepEqual, equal, ok, rejects } from "assert";
import { fingerprintBytes, generateCertificate } from "../src/tls/certificate.ts";
import { Endpoint } from "../src/transport/endpoint.ts";
import { type Session, StreamError } from "../src/transport/session.ts";
import { echo, readAll } from "./support/transport.ts";
import { ConnectRefused, connectWebTransport } from "../src/transport/webtransport.ts";
import { ALPNS } from "../src/codec/lite/version.ts";

const cert = await generateCertificate(["localhost", "127.0.0.1"]);
const hash = fingerprintBytes(cert.fingerprint);

/** A server that accepts with the newest offered MoQ protocol and runs `serve` on the session. */
function server(serve: (s: Session) => Promise<void>) {
  const endpoint = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: ALPNS,
  });
  const served: Promise<void>[] = [];
  const loop = (async () => {
    for (let incoming = await endpoint.accept(); incoming; incoming = await endpoint.accept()) {
      const offered = incoming.protocols;
      const protocol = ["moq-lite-06", "moq-lite-05", "moq-lite-04"].find((p) =>
        offered.includes(p)
      );
      served.push(incoming.accept(protocol).then(serve));
    }
  })();
  return {
    endpoint,
    url: (scheme: string, path = "/room?jwt=x") =>
      new URL(`${scheme}://127.0.0.1:${endpoint.addr.port}${path}`),
    async close() {
      await Promise.allSettled(served);
      endpoint.close();
      await loop;
    },
  };
}

for (const kind of ["webtransport", "quic"] as const) {
  const connect = (url: (s: string) => URL, protocols: string[]) =>
    kind === "webtransport"
      ? connectWebTransport(url("https"), { protocols, serverCertificateHashes: [hash] })
      : Endpoint.listen({
        hostname: "127.0.0.1",
        port: 0,
        certPem: cert.certPem,
        keyPem: cert.keyPem,
        alpns: [],
      })
        .connect(url("moql"), { rawQuic: true, protocols, serverCertificateHashes: [hash] });

  Deno.test(`${kind}: negotiates the newest common protocol and carries the URL`, async () => {
    const srv = server(async (s) => {
      if (kind === "webtransport") {
        equal(s.url?.pathname, "/room");
        equal(s.url?.searchParams.get("jwt"), "x");
      }
      await s.close({ code: 7, reason: "bye" });
    });
    const client = await connect(srv.url, ["moq-lite-03", "moq-lite-05", "moq-lite-04"]);
    equal(client.protocol, "moq-lite-05");
    const closed = await client.closed;
    deepEqual({ code: closed.code, reason: closed.reason, remote: closed.remote }, {
      code: 7,
      reason: "bye",
      remote: true,
    });
    await srv.close();
  });

  Deno.test(`${kind}: an open given up while it waited writes nothing and fails`, async () => {
    const srv = server(echo);
    const client = await connect(srv.url, ["moq-lite-05"]);
    let asked = 0;
    await rejects(
      client.openUni({
        initial: Uint8Array.of(1, 2, 3),
        abandoned: () => ++asked > 0,
      }),
      (e: unknown) => e instanceof StreamError && e.kind === "reset",
    );
    equal(asked, 1);
    // The session carries on.
    const bi = await client.openBi({ initial: new TextEncoder().encode("still ") });
    await bi.send.write(new TextEncoder().encode("here"));
    await bi.send.close();
    equal(new TextDecoder().decode(await readAll(bi.recv)), "still here");
    await client.close({ code: 0, reason: "done" });
    await srv.close();
  });

  Deno.test(`${kind}: uni to the end, uni back, bidi echo, 1000 streams in a row`, async () => {
    const srv = server(echo);
    const client = await connect(srv.url, ["moq-lite-05"]);
    // A 300 kB uni stream read to its end by the server, answered on a server uni stream.
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    const up = await client.openUni();
    await up.write(big);
    await up.close();
    const answer = await client.acceptUni();
    ok(answer);
    equal(new TextDecoder().decode(await readAll(answer)), `got ${big.length}`);
    // Bidi echo, with the first bytes coalesced into the stream header.
    const bi = await client.openBi({ initial: new TextEncoder().encode("hello ") });
    await bi.send.write(new TextEncoder().encode("world"));
    await bi.send.close();
    equal(new TextDecoder().decode(await readAll(bi.recv)), "hello world");
    // 1000 short bidi streams one after another: none stalls.
    for (let i = 0; i < 1000; i++) {
      const s = await client.openBi();
      await s.send.write(Uint8Array.of(i & 0xff, i >> 8));
      await s.send.close();
      deepEqual(Array.from(await readAll(s.recv)), [i & 0xff, i >> 8]);
    }
    await client.close({ code: 0, reason: "done" });
    await srv.close();
  });
}

Deno.test("webtransport: a refused CONNECT gets its HTTP status", async () => {
  const endpoint = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: ALPNS,
  });
  const loop = (async () => {
    const incoming = await endpoint.accept();
    await incoming?.reject(403, "no token");
  })();
  await rejects(
    connectWebTransport(new URL(`https://127.0.0.1:${endpoint.addr.port}/x`), {
      serverCertificateHashes: [hash],
    }),
    (e: unknown) => e instanceof ConnectRefused && e.status === 403,
  );
  await loop;
  endpoint.close();
});
