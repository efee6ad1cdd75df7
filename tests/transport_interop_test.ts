/**
 * Interop beyond our own code: our WebTransport client against Deno's built-in WebTransport
 * server (an independent HTTP/3 implementation), and certificate renewal on a live endpoint.
 */
import { equal } from "assert";
import { fingerprintBytes, generateCertificate } from "../src/tls/certificate.ts";
import { Endpoint } from "../src/transport/endpoint.ts";
import { connectWebTransport } from "../src/transport/webtransport.ts";
import { ALPNS } from "../src/codec/lite/version.ts";

Deno.test("our client against Deno's built-in WebTransport server: handshake, protocol-less session, bidi echo", async () => {
  const cert = await generateCertificate(["127.0.0.1"]);
  const quic = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = quic.listen({ cert: cert.certPem, key: cert.keyPem, alpnProtocols: ["h3"] });
  const served = (async () => {
    const conn = await listener.accept();
    const wt = await Deno.upgradeWebTransport(conn);
    await wt.ready;
    const reader = wt.incomingBidirectionalStreams.getReader();
    const { value: stream } = await reader.read();
    if (!stream) return;
    // Deno's server never sees nor sends a FIN (denoland/deno#36822): echo a fixed length.
    const r = stream.readable.getReader();
    let got = new Uint8Array(0);
    while (got.length < 5) {
      const { value } = await r.read();
      if (!value) break;
      got = Uint8Array.from([...got, ...value]);
    }
    const w = stream.writable.getWriter();
    await w.write(got);
    return { wt, reader, r, w };
  })();
  const session = await connectWebTransport(new URL(`https://127.0.0.1:${quic.addr.port}/`), {
    serverCertificateHashes: [fingerprintBytes(cert.fingerprint)],
  });
  equal(session.protocol, "");
  const s = await session.openBi();
  await s.send.write(new TextEncoder().encode("hello"));
  let echoed = "";
  while (echoed.length < 5) {
    const chunk = await s.recv.read();
    if (!chunk) break;
    echoed += new TextDecoder().decode(chunk);
  }
  equal(echoed, "hello");
  const server = await served;
  server?.reader.releaseLock();
  await session.close({ code: 0, reason: "" });
  server?.wt.close();
  listener.stop();
  quic.close();
});

Deno.test("a renewed certificate is served to new connections without restarting the endpoint", async () => {
  const first = await generateCertificate(["127.0.0.1"]);
  const second = await generateCertificate(["127.0.0.1"]);
  const endpoint = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: first.certPem,
    keyPem: first.keyPem,
    alpns: ALPNS,
  });
  const accepting = (async () => {
    for (let i = await endpoint.accept(); i; i = await endpoint.accept()) {
      const s = await i.accept();
      await s.close();
    }
  })();
  const dial = (fingerprint: string) =>
    connectWebTransport(new URL(`https://127.0.0.1:${endpoint.addr.port}/`), {
      serverCertificateHashes: [fingerprintBytes(fingerprint)],
    });
  await (await dial(first.fingerprint)).closed;
  endpoint.replaceCertificate(second.certPem, second.keyPem);
  await (await dial(second.fingerprint)).closed;
  let refused = false;
  await dial(first.fingerprint).then(async (s) => await s.close(), () => refused = true);
  equal(refused, true, "the old certificate is no longer served");
  endpoint.close();
  await accepting;
});
