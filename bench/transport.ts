/**
 * Loopback throughput of our WebTransport layer against raw QUIC in the same run: one long stream
 * (bulk) and many short streams (open, write 1200 B, FIN). Prints a table and writes JSON.
 *
 *   npx -y deno@2.9.6 run -A bench/transport.ts [--bulk-mib 256] [--short 5000]
 */
import { parseArgs } from "cli-args";
import { fingerprintBytes, generateCertificate } from "../src/tls/certificate.ts";
import { Endpoint } from "../src/transport/endpoint.ts";
import type { Session } from "../src/transport/session.ts";
import { ALPNS } from "../src/codec/lite/version.ts";

const { values } = parseArgs({
  options: {
    "bulk-mib": { type: "string", default: "256" },
    short: { type: "string", default: "5000" },
    out: { type: "string" },
  },
});
const BULK = Number(values["bulk-mib"]) * 1024 * 1024;
const SHORT = Number(values.short);
const cert = await generateCertificate(["127.0.0.1"]);
const hash = fingerprintBytes(cert.fingerprint);

async function drain(session: Session): Promise<void> {
  for (let s = await session.acceptUni(); s; s = await session.acceptUni()) {
    const stream = s;
    (async () => {
      while (await stream.read()) { /* count nothing: the sender times */ }
    })().catch(() => {});
  }
}

async function run(kind: "webtransport" | "quic") {
  const server = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: ALPNS,
  });
  const done = new Promise<{ bulk: number; short: number }>((resolve) => {
    (async () => {
      const incoming = await server.accept();
      const session = await incoming!.accept("moq-lite-05");
      // Bulk: the first uni stream; then count short streams until SHORT have ended.
      const bulk = await session.acceptUni();
      let t0 = performance.now();
      let bytes = 0;
      for (let c = await bulk!.read(); c; c = await bulk!.read()) bytes += c.length;
      const bulkSeconds = (performance.now() - t0) / 1000;
      if (bytes !== BULK) throw new Error(`bulk: ${bytes} bytes`);
      t0 = performance.now();
      for (let i = 0; i < SHORT; i++) {
        const s = await session.acceptUni();
        while (await s!.read()) { /* drain */ }
      }
      resolve({
        bulk: (BULK * 8) / bulkSeconds / 1e9,
        short: SHORT / ((performance.now() - t0) / 1000),
      });
    })();
  });
  const client = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: ALPNS,
  });
  const url = new URL(
    `${kind === "webtransport" ? "https" : "moql"}://127.0.0.1:${server.addr.port}/`,
  );
  const session = await client.connect(url, {
    protocols: ["moq-lite-05"],
    serverCertificateHashes: [hash],
    rawQuic: kind === "quic",
  });
  void drain(session);
  const chunk = new Uint8Array(64 * 1024);
  const bulk = await session.openUni();
  for (let sent = 0; sent < BULK; sent += chunk.length) await bulk.write(chunk);
  await bulk.close();
  const small = new Uint8Array(1200);
  for (let i = 0; i < SHORT; i++) {
    const s = await session.openUni({ initial: small });
    await s.close();
  }
  const result = await done;
  await session.close();
  client.close();
  server.close();
  return result;
}

const results: Record<string, { bulk: number; short: number }> = {};
for (const kind of ["quic", "webtransport", "quic", "webtransport"] as const) {
  const r = await run(kind);
  const prev = results[kind];
  results[kind] = prev
    ? { bulk: Math.max(prev.bulk, r.bulk), short: Math.max(prev.short, r.short) }
    : r;
}
const quic = results.quic!;
const wt = results.webtransport!;
console.log("path          bulk Gbit/s   short streams/s");
console.log(
  `raw QUIC      ${quic.bulk.toFixed(2).padStart(11)}   ${quic.short.toFixed(0).padStart(15)}`,
);
console.log(
  `WebTransport  ${wt.bulk.toFixed(2).padStart(11)}   ${wt.short.toFixed(0).padStart(15)}`,
);
console.log(
  `WT / raw      ${(wt.bulk / quic.bulk).toFixed(3).padStart(11)}   ${
    (wt.short / quic.short).toFixed(3).padStart(15)
  }`,
);
const out = values.out ?? `bench/results/${new Date().toISOString().slice(0, 10)}-transport.json`;
await Deno.mkdir("bench/results", { recursive: true });
await Deno.writeTextFile(
  out,
  JSON.stringify(
    { date: new Date().toISOString(), bulkBytes: BULK, shortStreams: SHORT, results },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${out}`);
Deno.exit(0);
