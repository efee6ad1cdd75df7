/**
 * The WebSocket fallback: upstream's `@moq/qmux` client connects to our HTTP server on TCP (the
 * same port number as QUIC) and runs the same stream checks as the QUIC transports.
 */
import { deepEqual, equal, ok } from "assert";
import QmuxSession from "@moq/qmux";
import { generateCertificate } from "../src/tls/certificate.ts";
import { Endpoint } from "../src/transport/endpoint.ts";
import type { Session } from "../src/transport/session.ts";
import { offeredApplicationProtocols } from "../src/transport/websocket.ts";
import { serveWeb } from "../src/web/server.ts";
import { echo } from "./support/transport.ts";
import { ALPNS } from "../src/codec/lite/version.ts";
import { listenOnOnePort } from "../src/listen.ts";

const cert = await generateCertificate(["localhost", "127.0.0.1"]);

function relayLike(
  serve: (s: Session) => Promise<void>,
  choose: (offered: readonly string[]) => string | undefined = (offered) => offered[0],
) {
  const { quic: endpoint, web } = listenOnOnePort(
    { hostname: "127.0.0.1", port: 0 },
    (port) =>
      Endpoint.listen({
        hostname: "127.0.0.1",
        port,
        certPem: cert.certPem,
        keyPem: cert.keyPem,
        alpns: ALPNS,
      }),
    (port, quic) =>
      serveWeb({
        hostname: "127.0.0.1",
        port,
        fingerprint: () => cert.fingerprint,
        offer: (incoming) => quic.offer(incoming),
      }),
  );
  const served: Promise<void>[] = [];
  const loop = (async () => {
    for (let incoming = await endpoint.accept(); incoming; incoming = await endpoint.accept()) {
      served.push(incoming.accept(choose(incoming.protocols)).then(serve));
    }
  })();
  return {
    port: endpoint.addr.port,
    async close() {
      await Promise.allSettled(served);
      await web.shutdown();
      endpoint.close();
      await loop;
    },
  };
}

const text = (s: string) => new TextEncoder().encode(s);

async function readAll(readable: ReadableStream<Uint8Array>): Promise<string> {
  let out = "";
  const decoder = new TextDecoder();
  for await (const chunk of readable) out += decoder.decode(chunk, { stream: true });
  return out;
}

Deno.test("the HTTP server serves the fingerprint, health and CORS on the QUIC port number", async () => {
  const relay = relayLike(async (s) => await s.close());
  const base = `http://127.0.0.1:${relay.port}`;
  const sha = await fetch(`${base}/certificate.sha256`);
  equal(await sha.text(), cert.fingerprint);
  equal(sha.headers.get("access-control-allow-origin"), "*");
  equal(await (await fetch(`${base}/fingerprint`)).text(), cert.fingerprint);
  deepEqual((await (await fetch(`${base}/health`)).json()).status, "ok");
  const missing = await fetch(`${base}/nope`);
  equal(missing.status, 404);
  await missing.body?.cancel();
  await relay.close();
});

Deno.test("websocket: @moq/qmux negotiates moq-lite-05 and runs the stream checks", async () => {
  const relay = relayLike(
    echo,
    (offered) => ["moq-lite-05", "moq-lite-04"].find((p) => offered.includes(p)),
  );
  const client = new QmuxSession(`http://127.0.0.1:${relay.port}/room?jwt=x`, {
    protocols: ["moq-lite-05", "moq-lite-04"],
    versions: { "moq-lite-05": ["qmux-01", "qmux-00"], "moq-lite-04": ["qmux-01", "qmux-00"] },
  });
  await client.ready;
  equal(client.protocol, "moq-lite-05");
  // Uni to the end, answered on a server uni stream.
  const up = (await client.createUnidirectionalStream()).getWriter();
  await up.write(new Uint8Array(300_000));
  await up.close();
  const answers = client.incomingUnidirectionalStreams.getReader();
  const answer = await answers.read();
  ok(answer.value);
  equal(await readAll(answer.value), "got 300000");
  // 1000 bidi echoes, 20 in flight at a time. (Deno's WebSocket client leaves Nagle on, so a
  // write followed by a separate FIN waits for the server's delayed ACK, about 40 ms: strictly
  // sequential streams would take 40 s here. Browsers set TCP_NODELAY.)
  const ping = async (i: number) => {
    const s = await client.createBidirectionalStream();
    const w = s.writable.getWriter();
    await w.write(text(`ping ${i}`));
    await w.close();
    equal(await readAll(s.readable), `ping ${i}`);
  };
  for (let i = 0; i < 1000; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => ping(i + j)));
  }
  answers.releaseLock();
  client.close({ closeCode: 0, reason: "done" });
  await client.closed.catch(() => {});
  await relay.close();
});

Deno.test("websocket: bare qmux offers leave the protocol empty (legacy SETUP decides)", async () => {
  deepEqual(
    offeredApplicationProtocols("qmux-01.moq-lite-05, qmux-00.moq-lite-05, qmux-01, webtransport"),
    ["moq-lite-05"],
  );
  const relay = relayLike(async (s) => {
    equal(s.protocol, "");
    await s.close({ code: 3, reason: "x" });
  }, () => undefined);
  const client = new QmuxSession(`http://127.0.0.1:${relay.port}/`, {
    protocols: [],
    versions: {},
  });
  await client.ready;
  equal(client.protocol, "");
  await client.closed.catch(() => {});
  await relay.close();
});
