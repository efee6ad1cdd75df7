/**
 * Certificate files read again while the relay runs (on a change on disk, on SIGHUP, on
 * `reloadCertificates()`): new QUIC, WebTransport and HTTPS connections get the new certificate,
 * open sessions and connections go on, and a pair that cannot be used leaves the old one serving.
 * Real peers throughout: our own MoQ client, Deno's QUIC and TLS clients, fetch.
 */
import { equal, match, ok, rejects, throws } from "assert";
import { loadConfig } from "../src/config.ts";
import { ListenError } from "../src/listen.ts";
import { Relay } from "../src/relay.ts";
import {
  fingerprintBytes,
  generateCertificate,
  type TlsCertificate,
} from "../src/tls/certificate.ts";
import { ALPNS } from "../src/codec/lite/version.ts";
import { listenOnOnePort } from "../src/listen.ts";
import { Endpoint } from "../src/transport/endpoint.ts";
import { connectWebTransport, dialQuic } from "../src/transport/webtransport.ts";
import { serveWeb } from "../src/web/server.ts";
import { connectOwnClient, type OwnClient } from "./support/moq_client.ts";
import { startRelayProcess } from "./support/relay_process.ts";
import { until } from "./support/wait.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** A certificate for 127.0.0.1 with its key, as PEM files would hold them. */
const newPair = () => generateCertificate(["127.0.0.1"]);

async function writePair(paths: { cert: string; key: string }, pair: TlsCertificate) {
  await Deno.writeTextFile(paths.cert, pair.certPem);
  await Deno.writeTextFile(paths.key, pair.keyPem);
}

/** Points the symlink `link` at `target` in one step, as certbot and Kubernetes do. */
async function swapLink(link: string, target: string): Promise<void> {
  await Deno.symlink(target, `${link}.new`);
  await Deno.rename(`${link}.new`, link);
}

/** An in-process relay on a free loopback port serving the given certificate files. */
async function relayWith(paths: { cert: string; key: string }, port = 0): Promise<Relay> {
  const command = loadConfig([
    "--bind",
    `127.0.0.1:${port}`,
    "--tls-cert",
    paths.cert,
    "--tls-key",
    paths.key,
    "-q",
  ], {});
  if (command.kind !== "run") throw new Error("bad relay arguments");
  return await Relay.load(command.config);
}

/** GET `path` over HTTPS, trusting only `trusted`; undefined when the handshake fails. */
async function httpsGet(
  port: number,
  path: string,
  trusted: TlsCertificate[],
): Promise<string | undefined> {
  using client = Deno.createHttpClient({ caCerts: trusted.map((c) => c.certPem) });
  try {
    const response = await fetch(`https://127.0.0.1:${port}${path}`, { client });
    return await response.text();
  } catch {
    return undefined;
  }
}

/** Whether a TLS handshake with the HTTPS listener succeeds when only `trusted` is trusted. */
async function tlsAccepts(port: number, trusted: TlsCertificate): Promise<boolean> {
  let conn: Deno.TlsConn | undefined;
  try {
    conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [trusted.certPem] });
    await conn.handshake();
    return true;
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}

/** Whether raw QUIC and WebTransport handshakes pinned to `fingerprint` succeed, each. */
async function quicAccepts(port: number, fingerprint: string): Promise<[boolean, boolean]> {
  const pin = { serverCertificateHashes: [fingerprintBytes(fingerprint)] };
  const url = new URL(`https://127.0.0.1:${port}/`);
  const raw = await dialQuic(url, ["moq-lite-03"], pin).then((conn) => {
    conn.close();
    return true;
  }, () => false);
  const webTransport = await connectWebTransport(url, pin).then(async (session) => {
    await session.close();
    return true;
  }, () => false);
  return [raw, webTransport];
}

/** A MoQ subscriber that counts the groups of `room/cam` `video` it receives. */
async function subscriber(
  port: number,
  fingerprint: string,
  transport: "webtransport" | "quic",
): Promise<{ client: OwnClient; groups: () => number; done: Promise<void> }> {
  const client = await connectOwnClient(port, "moq-lite-03", { fingerprint, transport });
  await client.announced("room/cam");
  let groups = 0;
  const done = (async () => {
    for await (const _ of client.subscribe("room/cam", "video")) groups++;
  })().catch(() => {});
  return { client, groups: () => groups, done };
}

/** One HTTP/1.1 request on an open connection (kept alive), answered with `marker` in it. */
async function askOnOpenConnection(conn: Deno.Conn, marker: string): Promise<string> {
  await conn.write(text("GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"));
  const buf = new Uint8Array(4096);
  let answer = "";
  while (!answer.includes(marker)) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`the connection closed after ${JSON.stringify(answer)}`);
    answer += new TextDecoder().decode(buf.subarray(0, n));
  }
  return answer;
}

Deno.test("new certificate files are served to new QUIC, WebTransport and HTTPS peers; open sessions go on", async () => {
  const dir = await Deno.makeTempDir();
  const paths = { cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
  const [a, b] = await Promise.all([newPair(), newPair()]);
  await writePair(paths, a);
  const relay = await relayWith(paths);
  relay.start();
  const port = relay.addr.port;
  const publisher = await connectOwnClient(port, "moq-lite-03", { fingerprint: a.fingerprint });
  const source = publisher.publish("room/cam");
  let sequence = 0;
  const producing = setInterval(() => source.writeGroup("video", sequence++, [text("f")]), 20);
  const before = await subscriber(port, a.fingerprint, "quic");
  const openHttps = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [a.certPem] });
  try {
    match(await askOnOpenConnection(openHttps, '"status":"ok"'), /^HTTP\/1\.1 200/);
    await until("groups before the swap", () => before.groups() >= 2);

    await writePair(paths, b);
    await until(
      "the relay to serve B",
      async () => (await httpsGet(port, "/certificate.sha256", [a, b])) === b.fingerprint,
    );

    // New peers get B; one that trusts only A is refused, on QUIC and on HTTPS.
    equal(await httpsGet(port, "/certificate.sha256", [b]), b.fingerprint);
    equal(await httpsGet(port, "/fingerprint", [b]), b.fingerprint);
    equal(await tlsAccepts(port, b), true, "HTTPS serves B");
    equal(await tlsAccepts(port, a), false, "HTTPS no longer serves A");
    equal(await httpsGet(port, "/certificate.sha256", [a]), undefined);
    const [rawB, webTransportB] = await quicAccepts(port, b.fingerprint);
    ok(rawB && webTransportB, "QUIC and WebTransport pinned to B connect");
    const [rawA, webTransportA] = await quicAccepts(port, a.fingerprint);
    ok(!rawA && !webTransportA, "QUIC and WebTransport pinned to A are refused");
    for (const transport of ["webtransport", "quic"] as const) {
      const after = await subscriber(port, b.fingerprint, transport);
      await until(`a ${transport} subscriber pinned to B to receive`, () => after.groups() >= 2);
      await after.client.close();
      await after.done;
    }

    // What was open before the swap goes on: the subscriber, the publisher, the HTTPS connection.
    const seen = before.groups();
    await until(
      "groups after the swap, on the session opened before",
      () => before.groups() >= seen + 3,
    );
    match(await askOnOpenConnection(openHttps, '"status":"ok"'), /^HTTP\/1\.1 200/);
    equal(relay.sessions.size, 2, "the publisher and the first subscriber, still open");
  } finally {
    clearInterval(producing);
    openHttps.close();
    await before.client.close();
    await before.done;
    await publisher.close();
    await relay.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a certbot-style renewal (live/ symlinks moved to new files in archive/) is served", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/live`);
  await Deno.mkdir(`${dir}/archive`);
  const [a, b] = await Promise.all([newPair(), newPair()]);
  await writePair({ cert: `${dir}/archive/cert1.pem`, key: `${dir}/archive/privkey1.pem` }, a);
  await Deno.symlink("../archive/cert1.pem", `${dir}/live/cert.pem`);
  await Deno.symlink("../archive/privkey1.pem", `${dir}/live/privkey.pem`);
  const relay = await relayWith({ cert: `${dir}/live/cert.pem`, key: `${dir}/live/privkey.pem` });
  relay.start();
  const port = relay.addr.port;
  try {
    equal(await httpsGet(port, "/certificate.sha256", [a]), a.fingerprint);
    // certbot writes the new files, then moves each link (the certificate's first).
    await writePair({ cert: `${dir}/archive/cert2.pem`, key: `${dir}/archive/privkey2.pem` }, b);
    await swapLink(`${dir}/live/cert.pem`, "../archive/cert2.pem");
    await swapLink(`${dir}/live/privkey.pem`, "../archive/privkey2.pem");
    await until(
      "the relay to serve B",
      async () => (await httpsGet(port, "/certificate.sha256", [b])) === b.fingerprint,
    );
    equal(await tlsAccepts(port, a), false);
    const [raw, webTransport] = await quicAccepts(port, b.fingerprint);
    ok(raw && webTransport, "QUIC and WebTransport pinned to B connect");
  } finally {
    await relay.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a pair that cannot be used is refused, naming the file and why; the old one serves on", async () => {
  const dir = await Deno.makeTempDir();
  const paths = { cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
  const [a, b] = await Promise.all([newPair(), newPair()]);
  await writePair(paths, a);
  const relay = await relayWith(paths);
  relay.start();
  const port = relay.addr.port;
  /** A is what new peers of every kind get. */
  const servesA = async (what: string) => {
    equal(await httpsGet(port, "/certificate.sha256", [a]), a.fingerprint, what);
    equal(await tlsAccepts(port, a), true, what);
    const [raw, webTransport] = await quicAccepts(port, a.fingerprint);
    ok(raw && webTransport, `${what}: QUIC and WebTransport pinned to A connect`);
  };
  try {
    // A new certificate with a key that is not its own (A's).
    await Deno.writeTextFile(paths.cert, b.certPem);
    const mismatched = await relay.reloadCertificates();
    equal(mismatched.refused.length, 1);
    match(
      mismatched.refused[0] ?? "",
      /key\.pem: this key does not match the certificate .*cert\.pem$/,
    );
    equal(mismatched.reloaded.length, 0);
    equal(mismatched.fingerprint, a.fingerprint);
    await servesA("after a mismatched key");

    // A file that cannot be read.
    await Deno.remove(paths.cert);
    const missing = await relay.reloadCertificates();
    equal(missing.refused.length, 1);
    match(missing.refused[0] ?? "", /cannot read certificate .*cert\.pem: no such file$/);
    equal(missing.fingerprint, a.fingerprint);
    await servesA("after the certificate went missing");

    // Mended, the pair is taken.
    await writePair(paths, b);
    const mended = await relay.reloadCertificates();
    equal(mended.refused.length, 0);
    equal(mended.reloaded[0]?.fingerprint, b.fingerprint);
    equal(mended.fingerprint, b.fingerprint);
    equal(await httpsGet(port, "/certificate.sha256", [b]), b.fingerprint);
  } finally {
    await relay.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HTTPS: a connection right after a reload reaches the new listener, none is reset", async () => {
  const dir = await Deno.makeTempDir();
  const paths = { cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
  const pairs = await Promise.all([newPair(), newPair()]);
  await writePair(paths, pairs[0]!);
  const relay = await relayWith(paths);
  relay.start();
  try {
    // The kernel gives about half the connections to each listener while both are bound: one
    // queued on the old one as it closes would be reset. Each swap is a fresh chance of that.
    for (let swap = 1; swap <= 8; swap++) {
      const next = pairs[swap % 2]!;
      await writePair(paths, next);
      equal((await relay.reloadCertificates()).fingerprint, next.fingerprint);
      equal(await tlsAccepts(relay.addr.port, next), true, `the connection after swap ${swap}`);
    }
  } finally {
    await relay.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a certificate the listeners refuse leaves the one before serving, on QUIC and HTTPS", async () => {
  const [a, b] = await Promise.all([newPair(), newPair()]);
  // One port number for both, bound again while the TCP side is taken (as the relay does).
  const { quic: endpoint, web } = listenOnOnePort(
    { hostname: "127.0.0.1", port: 0 },
    (port) =>
      Endpoint.listen({
        hostname: "127.0.0.1",
        port,
        certPem: a.certPem,
        keyPem: a.keyPem,
        alpns: ALPNS,
      }),
    (port, quic) =>
      serveWeb({
        hostname: "127.0.0.1",
        port,
        tls: a,
        fingerprint: () => a.fingerprint,
        offer: (incoming) => quic.offer(incoming),
      }),
  );
  const port = endpoint.addr.port;
  try {
    // Deno checks what loadCertificate checks too: a key that is not the certificate's.
    const mismatched = { certPem: a.certPem, keyPem: b.keyPem };
    throws(() => endpoint.replaceCertificate(mismatched.certPem, mismatched.keyPem), /KeyMismatch/);
    await rejects(web.replaceCertificate(mismatched), /KeyMismatch/);
    const pin = { serverCertificateHashes: [fingerprintBytes(a.fingerprint)] };
    const conn = await dialQuic(new URL(`https://127.0.0.1:${port}/`), ["moq-lite-03"], pin);
    conn.close();
    equal(await tlsAccepts(port, a), true);
  } finally {
    endpoint.close();
    await web.shutdown();
  }
});

Deno.test("SO_REUSEPORT shares no port: a TCP port held with it still fails the HTTPS relay at start", async () => {
  const dir = await Deno.makeTempDir();
  const paths = { cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
  await writePair(paths, await newPair());
  // Another socket of this user that set SO_REUSEPORT (as the relay's own HTTPS listener does).
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
  const relay = await relayWith(paths, taken.addr.port);
  try {
    let thrown: unknown;
    try {
      relay.start();
    } catch (e) {
      thrown = e;
    }
    ok(thrown instanceof ListenError, `start() threw ${thrown}`);
    match(thrown.message, /^cannot listen on TCP 127\.0\.0\.1:\d+: address already in use$/);
  } finally {
    taken.close();
    await relay.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the relay process: SIGHUP reads the files again; a change on disk is read once quiet; a broken pair logs one error line", async () => {
  // live/*.pem -> ../current/*.pem, and current -> a/: the relay watches live/ and a/, not the
  // directory `current` is in, so moving `current` is seen on SIGHUP only.
  const dir = await Deno.makeTempDir();
  for (const sub of ["live", "a", "b"]) await Deno.mkdir(`${dir}/${sub}`);
  const [a, b, c] = await Promise.all([newPair(), newPair(), newPair()]);
  await writePair({ cert: `${dir}/a/cert.pem`, key: `${dir}/a/key.pem` }, a);
  await writePair({ cert: `${dir}/b/cert.pem`, key: `${dir}/b/key.pem` }, b);
  await Deno.symlink("a", `${dir}/current`);
  await Deno.symlink("../current/cert.pem", `${dir}/live/cert.pem`);
  await Deno.symlink("../current/key.pem", `${dir}/live/key.pem`);
  const relay = await startRelayProcess([], 0, {
    tls: { cert: `${dir}/live/cert.pem`, key: `${dir}/live/key.pem` },
  });
  // (A QUIC peer that hangs up at once gets an error line of its own: not counted here.)
  const errors = () => relay.log().split("\n").filter((line) => / ERR .*certificate/.test(line));
  try {
    equal(await httpsGet(relay.port, "/certificate.sha256", [a]), a.fingerprint);

    await swapLink(`${dir}/current`, "b");
    Deno.kill(relay.pid, "SIGHUP");
    await until("the reload on SIGHUP", () => relay.log().includes(`fingerprint ${b.fingerprint}`));
    match(relay.log(), /certificate reloaded: 127\.0\.0\.1 fingerprint [0-9a-f]{64}/);
    equal(await httpsGet(relay.port, "/certificate.sha256", [b]), b.fingerprint);

    // Written in place, the certificate before its key: read once both are there, no error.
    await Deno.writeTextFile(`${dir}/b/cert.pem`, c.certPem);
    await new Promise((r) => setTimeout(r, 100));
    await Deno.writeTextFile(`${dir}/b/key.pem`, c.keyPem);
    await until("the reload on change", () => relay.log().includes(`fingerprint ${c.fingerprint}`));
    equal(errors().length, 0, `no error for the moment between the two writes:\n${errors()}`);

    // A key that does not match: C serves on, one error line names the file and why.
    await Deno.writeTextFile(`${dir}/b/key.pem`, a.keyPem);
    await until("the refusal", () => errors().length > 0);
    equal(await httpsGet(relay.port, "/certificate.sha256", [c]), c.fingerprint);
    const [raw, webTransport] = await quicAccepts(relay.port, c.fingerprint);
    ok(raw && webTransport, "QUIC and WebTransport pinned to C connect");
    const lines = errors();
    equal(lines.length, 1, lines.join("\n"));
    match(
      lines[0] ?? "",
      /certificate not reloaded, the one before is served on: .*live\/key\.pem: this key does not match the certificate .*live\/cert\.pem/,
    );
  } finally {
    await relay[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reloading a generated certificate's relay changes nothing (it renews itself)", async () => {
  const command = loadConfig(["--bind", "127.0.0.1:0", "--tls-generate", "127.0.0.1", "-q"], {});
  if (command.kind !== "run") throw new Error("bad relay arguments");
  const relay = await Relay.load(command.config);
  relay.start();
  try {
    const before = relay.certificates.primary.fingerprint;
    const result = await relay.reloadCertificates();
    equal(result.reloaded.length, 0);
    equal(result.refused.length, 0);
    equal(result.fingerprint, before);
  } finally {
    await relay.close();
  }
});
