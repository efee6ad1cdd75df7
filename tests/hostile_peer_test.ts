/**
 * Hostile peers over QUIC: each test performs one attack found by probing the relay, bounded in
 * count and time, on loopback, and asserts the bound holds while a healthy publisher/subscriber
 * pair keeps receiving every group whole and in order.
 */
import { equal, ok } from "assert";
import { startHealthyPair } from "./support/healthy_pair.ts";
import { connectOwnClient, type OwnClient } from "./support/moq_client.ts";
import { concatBytes } from "../src/bytes/concat.ts";
import { BidiType } from "../src/codec/lite/stream.ts";
import { encodeFetch } from "../src/codec/lite/fetch.ts";
import { encodeTrack } from "../src/codec/lite/track.ts";
import { encodeSubscribe } from "../src/codec/lite/subscribe.ts";
import { Version } from "../src/codec/lite/version.ts";
import {
  clientStream,
  liteSetupStream,
  qmuxStream,
  qmuxTransportParameters,
  rawUpgrade,
  wsFrame,
} from "./support/raw_websocket.ts";
import { type RelayProcess, startRelayProcess } from "./support/relay_process.ts";
import { sleep, until, withTimeout } from "./support/wait.ts";
import { fingerprintBytes, generateCertificate } from "../src/tls/certificate.ts";
import { Endpoint } from "../src/transport/endpoint.ts";
import { H3Connection } from "../src/transport/h3_connection.ts";
import { ConnectRefused, dialQuic } from "../src/transport/webtransport.ts";
import { CONNECTION_HEADROOM } from "../src/relay.ts";
import { connectMoq, waitForAnnounce } from "./support/moqnet_client.ts";
import { startRelay } from "./support/relay.ts";
import { Broadcast } from "../src/cache/broadcast.ts";
import { LocalSource } from "../src/cache/local.ts";
import type { Session } from "../src/transport/session.ts";

const MiB = 1024 * 1024;

/** A transport that stops accepting the peer's unidirectional streams once `stalled()` holds. */
function stallingUni(transport: Session, stalled: () => boolean): Session {
  const never = transport.closed.then(() => null);
  return new Proxy(transport, {
    get(target, key) {
      if (key === "acceptUni") {
        return () => stalled() ? never : target.acceptUni();
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** What the relay holds after a full collection: its heap and the buffers outside it. */
async function held(relay: RelayProcess): Promise<number> {
  const memory = await relay.memoryAfterGc();
  return memory.heapUsed + memory.external;
}

/** Group streams the relay has open or waiting to open, per session serving a subscription. */
async function groupStreams(relay: RelayProcess): Promise<number[]> {
  const stats = await relay.stats() as unknown as { sessions: { groupStreams: number }[] };
  return stats.sessions.map((s) => s.groupStreams);
}

/**
 * The stage of the stalled-subscriber attacks: a relay (16 MiB cache, 4 MiB lag, inspectable),
 * the healthy pair, and a publisher that will push 120 MiB of 512 KiB groups.
 */
async function bigStreamStage() {
  const relay = await startRelayProcess(
    ["--cache-max-bytes", "16MiB", "--max-lag-bytes", "4MiB"],
    0,
    { inspect: true },
  );
  const fingerprint = await relay.fingerprint();
  const pair = await startHealthyPair(relay.port, fingerprint);
  const publisher = await connectOwnClient(relay.port, "moq-lite-06", {
    fingerprint,
    transport: "quic",
  });
  return {
    relay,
    pair,
    publisher,
    /** 240 groups of two 256 KiB frames, one every 50 ms. */
    async push(source: LocalSource) {
      const chunk = new Uint8Array(256 * 1024).fill(7);
      for (let sequence = 0; sequence < 240; sequence++) {
        source.writeGroup("video", sequence, [chunk, chunk]);
        await sleep(50);
      }
    },
    async [Symbol.asyncDispose]() {
      await publisher.close();
      await pair.close();
      await relay[Symbol.asyncDispose]();
    },
  };
}

Deno.test("a subscriber that never reads its group streams costs at most --max-lag-bytes (raw QUIC, one stream of credit)", async () => {
  await using stage = await bigStreamStage();
  const { relay, pair, publisher } = stage;
  const fingerprint = await relay.fingerprint();
  const source = publisher.publish("big/stream");
  let stalled = false;
  const stallers = await Promise.all([0, 1, 2].map(async () => {
    const client = await connectOwnClient(relay.port, "moq-lite-06", {
      fingerprint,
      transport: "quic",
      limits: { maxIncomingUniStreams: 1 },
      wrap: (t) => stallingUni(t, () => stalled),
    });
    await client.announced("big/stream");
    return client;
  }));
  stalled = true;
  for (const client of stallers) client.subscribeUnannounced("big/stream", "video");
  await until("the stalled subscribers' subscriptions", () => source.watched("video"));
  const before = await held(relay);
  await stage.push(source);
  await pair.delivered(5);
  const streams = await groupStreams(relay);
  const grown = (await held(relay)) - before;
  console.log(`relay holds ${(grown / MiB).toFixed(1)} MiB more after 120 MiB published`);
  // The cache (16 MiB) plus what each stalled subscriber may lag behind (4 MiB), and slack.
  ok(
    grown < 16 * MiB + 3 * 4 * MiB + 16 * MiB,
    `the relay holds ${(grown / MiB).toFixed(1)} MiB more`,
  );
  // At most MAX_GROUPS_IN_FLIGHT (8) streams per stalled subscription, open or waiting.
  ok(streams.every((n) => n <= 8), `group streams per session: ${streams.join(", ")}`);
  for (const client of stallers) await client.close();
});

Deno.test("tracks' latest groups stay within --cache-max-bytes: the oldest latest go, with one warning", async () => {
  await using relay = await startRelayProcess(["--cache-max-bytes", "16MiB"], 0, { inspect: true });
  const fingerprint = await relay.fingerprint();
  await using pair = await startHealthyPair(relay.port, fingerprint);
  await using publisher = await connectOwnClient(relay.port, "moq-lite-06", {
    fingerprint,
    transport: "quic",
  });
  await using viewer = await connectOwnClient(relay.port, "moq-lite-06", {
    fingerprint,
    transport: "quic",
    cache: { maxBytes: 8 * MiB, maxAgeMs: 1000 },
  });
  const source = publisher.publish("many/tracks");
  await viewer.announced("many/tracks");
  const before = await held(relay);
  const half = new Uint8Array(2 * MiB).fill(3);
  // 24 tracks, one 4 MiB group each, all still subscribed: each is its track's latest group.
  const open: AsyncGenerator<unknown>[] = [];
  for (let t = 0; t < 24; t++) {
    const name = `track${t}`;
    const groups = viewer.subscribe("many/tracks", name);
    const first = groups.next();
    await until(`the relay to subscribe to ${name}`, () => source.watched(name));
    source.writeGroup(name, 0, [half, half]);
    const got = await first;
    ok(!got.done && got.value.frames.length === 2, `${name}'s group arrived whole`);
    open.push(groups);
  }
  const grown = (await held(relay)) - before;
  console.log(`relay holds ${(grown / MiB).toFixed(1)} MiB more after 24 latest groups of 4 MiB`);
  // The cache's limit plus one group (the newest is never evicted), and slack.
  ok(grown < 16 * MiB + 4 * MiB + 8 * MiB, `the relay holds ${(grown / MiB).toFixed(1)} MiB more`);
  await pair.delivered(5);
  await until("the warning", () => relay.log().includes("with only tracks' latest groups"));
  for (const groups of open) void groups.return(undefined);
});

Deno.test("an announce snapshot over 1 MiB (one connection's 1,024 paths of 1.2 KB) still reaches every new client", async () => {
  await using relay = await startRelayProcess([]);
  const fingerprint = await relay.fingerprint();
  await using pair = await startHealthyPair(relay.port, fingerprint);
  await using spammer = await connectOwnClient(relay.port, "moq-lite-06", {
    fingerprint,
    transport: "quic",
  });
  const long = "x".repeat(1200);
  for (let i = 0; i < 1024; i++) spammer.publish(`spam/${i}/${long}`);
  await until("the spam to be announced", async () => {
    const stats = await relay.stats();
    return stats.sessions.some((s) => s.announcements.active === 1024);
  });
  // @moq/net (lite-05, lite-03 over WebSocket) and our own lite-06 client discover from scratch.
  for (const protocol of ["moq-lite-05", "moq-lite-03"] as const) {
    await using client = await connectMoq(`http://${relay.address}/`, protocol);
    await waitForAnnounce(client, "", "healthy/pair", 15_000);
  }
  await using own = await connectOwnClient(relay.port, "moq-lite-06", {
    fingerprint,
    transport: "quic",
    sessionLimits: { maxAnnouncements: 2048 },
  });
  await own.announced("healthy/pair", 15_000);
  await own.announced(`spam/1023/${long}`, 15_000);
  await pair.delivered(5);
});

Deno.test("a relay with 100,000 broadcasts still answers discovery", async () => {
  await using relay = await startRelay();
  const fingerprint = relay.certificates.primary.fingerprint;
  // The pair first: its own subscriber tracks at most 1,024 announcements.
  await using pair = await startHealthyPair(relay.addr.port, fingerprint);
  const origin = relay.context.origin;
  for (let i = 0; i < 100_000; i++) {
    const path = `bulk/${String(i).padStart(6, "0")}`;
    const broadcast = new Broadcast(path, new LocalSource(), relay.context.budget);
    origin.announce({ path, broadcast, hops: [], from: {} });
    // The relay runs in this process: let it serve the pair between batches.
    if (i % 1000 === 999) await sleep(10);
  }
  await using client = await connectMoq(`http://127.0.0.1:${relay.addr.port}/`, "moq-lite-05");
  await waitForAnnounce(client, "bulk", "099999", 30_000);
  await pair.delivered(5);
});

/** Opens `count` request streams at once, each with one whole request, and waits for answers. */
async function burst(client: OwnClient, count: number, request: (i: number) => Uint8Array) {
  const transport = client.session.transport;
  const answers = await Promise.allSettled(
    Array.from({ length: count }, async (_, i) => {
      const stream = await transport.openBi({ initial: request(i) });
      await stream.send.close();
      while (await stream.recv.read() !== null) { /* the answer, or nothing */ }
    }),
  );
  return answers.length;
}

Deno.test("3,000 FETCH and 3,000 TRACK requests open no upstream subscription beyond --max-subscriptions, and the publisher lives", async () => {
  await using relay = await startRelay(["--max-subscriptions", "64"]);
  const fingerprint = relay.certificates.primary.fingerprint;
  const options = { fingerprint, transport: "quic" as const };
  await using pair = await startHealthyPair(relay.addr.port, fingerprint);
  await using publisher = await connectOwnClient(relay.addr.port, "moq-lite-06", options);
  const source = publisher.publish("attacked/src");
  await using attacker = await connectOwnClient(relay.addr.port, "moq-lite-06", options);
  await attacker.announced("attacked/src");
  const version = attacker.session.version;
  const fetch = (i: number) =>
    concatBytes([
      Uint8Array.of(BidiType.Fetch),
      encodeFetch({
        broadcast: "attacked/src",
        track: `t${i}`,
        priority: 0,
        group: 0,
        startFrame: 0,
        endFrame: undefined,
      }, version),
    ]);
  equal(await burst(attacker, 3000, fetch), 3000);
  const afterFetch = [...source.subscriptions.values()].reduce((a, b) => a + b, 0);
  equal(afterFetch, 0, "FETCH serves the cache: it subscribes to nothing upstream");

  // TRACK must ask the publisher: at most --max-subscriptions at a time are served.
  let most = 0;
  const sampling = setInterval(() => {
    for (const s of relay.sessions) most = Math.max(most, s.publisher?.subscriptions ?? 0);
  }, 1);
  const track = (i: number) =>
    concatBytes([
      Uint8Array.of(BidiType.Track),
      encodeTrack({ broadcast: "attacked/src", track: `t${i}` }),
    ]);
  equal(await burst(attacker, 3000, track), 3000);
  clearInterval(sampling);
  ok(most > 1 && most <= 64, `${most} TRACK requests served at once`);
  ok(!publisher.session.signal.aborted, "the publisher's session is alive");
  await pair.delivered(5);
});

Deno.test("a request stream finished after its type byte alone is dropped, not a violation", async () => {
  await using relay = await startRelay();
  const fingerprint = relay.certificates.primary.fingerprint;
  await using client = await connectOwnClient(relay.addr.port, "moq-lite-06", {
    fingerprint,
    transport: "quic",
  });
  const source = client.publish("still/here");
  for (const type of [BidiType.Subscribe, BidiType.Fetch, BidiType.Track, BidiType.Announce]) {
    const stream = await client.session.transport.openBi({ initial: Uint8Array.of(type) });
    await stream.send.close();
    equal(await stream.recv.read(), null, `the relay finishes its side for type ${type}`);
  }
  // The session goes on: the relay still subscribes to what it announces.
  await using viewer = await connectOwnClient(relay.addr.port, "moq-lite-06", {
    fingerprint,
    transport: "quic",
  });
  await viewer.announced("still/here");
  const groups = viewer.subscribe("still/here", "video");
  const first = groups.next();
  await until("the relay's subscription", () => source.watched("video"));
  source.writeGroup("video", 0, [new TextEncoder().encode("alive")]);
  equal((await first).done, false);
  ok(!client.session.signal.aborted);
  await groups.return(undefined);
});

Deno.test("a session path that is not valid percent-encoding is refused with 400, on WebTransport and WebSocket", async () => {
  await using relay = await startRelay();
  const fingerprint = relay.certificates.primary.fingerprint;
  await using pair = await startHealthyPair(relay.addr.port, fingerprint);
  const cert = await generateCertificate(["127.0.0.1"]);
  await using endpoint = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: [],
  });
  for (let i = 0; i < 20; i++) {
    const refused = await endpoint.connect(new URL(`https://127.0.0.1:${relay.addr.port}/%ff`), {
      protocols: ["moq-lite-05"],
      serverCertificateHashes: [fingerprintBytes(fingerprint)],
    }).then(() => undefined, (e) => e);
    ok(refused instanceof ConnectRefused && refused.status === 400, `answered ${refused}`);
  }
  for (let i = 0; i < 20; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${relay.addr.port}/%ff`, ["qmux-01.moq-lite-05"]);
    const opened = await new Promise<boolean>((resolve) => {
      ws.onopen = () => resolve(true);
      ws.onerror = () => resolve(false);
    });
    equal(opened, false, "the WebSocket upgrade was refused");
  }
  equal(relay.sessions.size, 2, "only the healthy pair's sessions are open");
  await pair.delivered(5);
});

Deno.test("HTTP/3 connections that never send CONNECT count against --max-sessions (with a little headroom) and are closed after a deadline", async () => {
  await using relay = await startRelay(["--max-sessions", "20"]);
  const fingerprint = relay.certificates.primary.fingerprint;
  await using pair = await startHealthyPair(relay.addr.port, fingerprint);
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.QuicConn[] = [];
  let refused = 0;
  for (let i = 0; i < 40; i++) {
    try {
      // A bare QUIC connection with the HTTP/3 ALPN: it never asks for anything.
      const conn = await dialQuic(new URL(`https://127.0.0.1:${relay.addr.port}/`), ["h3"], {
        endpoint,
        serverCertificateHashes: [fingerprintBytes(fingerprint)],
      });
      await conn.handshake;
      // Its SETTINGS, as a real HTTP/3 client sends: only the CONNECT never comes.
      await new H3Connection(conn, "client").start();
      held.push(conn);
    } catch {
      refused++;
    }
  }
  // The pair holds two of the twenty; 16 more are let in to hear a refusal.
  ok(held.length <= 20 + CONNECTION_HEADROOM - 2, `${held.length} idle connections accepted`);
  ok(held.length < 40, "some were refused");
  equal(refused, 40 - held.length);
  // Each is closed once the deadline for its CONNECT has passed (10 s).
  const closed = await Promise.all(
    held.map((c) =>
      withTimeout(
        c.closed.then(() => true, () => true),
        20_000,
        "the relay closing an idle connection",
      )
    ),
  );
  equal(closed.length, held.length);
  // Then a new session gets in.
  await using late = await connectOwnClient(relay.addr.port, "moq-lite-06", { fingerprint });
  await late.announced("healthy/pair");
  await pair.delivered(5);
  endpoint.close();
});

Deno.test("peers' faults are logged at info, rate-limited, never as errors", async () => {
  await using relay = await startRelayProcess([]);
  const fingerprint = await relay.fingerprint();
  const options = { fingerprint, transport: "quic" as const };
  // Sessions breaking the protocol at once: a SUBSCRIBE declaring a 1 GiB message.
  const breakOne = async () => {
    const client = await connectOwnClient(relay.port, "moq-lite-06", options);
    const garbage = Uint8Array.of(BidiType.Subscribe, 0xc0, 0, 0, 0, 0x40, 0, 0, 0);
    await client.session.transport.openBi({ initial: garbage }).catch(() => {});
    await withTimeout(client.session.transport.closed, 10_000, "the relay closing the session");
    await client.close().catch(() => {});
  };
  await Promise.all(Array.from({ length: 80 }, breakOne));
  // One more, a second later: its line says how many were left out.
  await sleep(1100);
  await breakOne();
  const log = relay.log();
  // Lines per second of the log's clock (text lines start with an ISO timestamp).
  const perSecond = new Map<string, number>();
  for (const line of log.split("\n").filter((l) => l.includes("closing session"))) {
    const second = line.slice(0, 19);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  const most = Math.max(0, ...perSecond.values());
  ok(most > 0, "the faults were logged");
  ok(most <= 20, `${most} lines in one second`);
  ok(log.includes("leftOut="), "the lines left out were counted");
  ok(!/ (ERR|error|FTL|fatal) /i.test(log), `an error line:\n${log}`);
});

Deno.test("a peer that grants no stream credit and never sets up is closed at the SETUP deadline", async () => {
  await using relay = await startRelay();
  const fingerprint = relay.certificates.primary.fingerprint;
  await using pair = await startHealthyPair(relay.addr.port, fingerprint);
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  // lite-06 over raw QUIC: the relay must open its SETUP stream, and may not.
  const conn = await dialQuic(new URL(`moqt://127.0.0.1:${relay.addr.port}/`), ["moq-lite-06"], {
    endpoint,
    serverCertificateHashes: [fingerprintBytes(fingerprint)],
    transport: { maxConcurrentUnidirectionalStreams: 0, keepAliveInterval: 1000 },
  });
  await conn.handshake;
  const started = Date.now();
  await withTimeout(conn.closed.catch(() => {}), 20_000, "the relay closing the silent session");
  ok(Date.now() - started < 15_000, "closed at the SETUP deadline");
  await pair.delivered(3);
  endpoint.close();
});

Deno.test("a WebSocket subscriber that grants plenty of credit and stops reading TCP costs the relay a bounded amount", async () => {
  await using stage = await bigStreamStage();
  const { relay, pair, publisher } = stage;
  // The raw client's session is rooted at /attack: it names this broadcast `big/stream`.
  const source = publisher.publish("attack/big/stream");
  // QMux over WebSocket, by hand: credit for everything (1 TiB, 1 GiB a stream, 100,000
  // streams), SETUP, one SUBSCRIBE, then nothing read.
  const attack = await rawUpgrade(relay.port, ["qmux-01.moq-lite-05"], { read: false });
  equal(attack.status, 101, attack.head);
  await attack.send(wsFrame(qmuxTransportParameters(2 ** 40, 2 ** 30, 100_000)));
  await attack.send(wsFrame(qmuxStream(clientStream(0), liteSetupStream(), 0, true)));
  await until("the stalled session's SETUP", () => / session moq-lite-05 root/.test(relay.log()));
  const subscribe = concatBytes([
    Uint8Array.of(BidiType.Subscribe),
    encodeSubscribe({
      id: 0n,
      broadcast: "big/stream",
      track: "video",
      priority: 0,
      ordered: false,
      maxLatency: 0,
      startGroup: undefined,
      endGroup: undefined,
      startFrame: 0,
      endFrame: undefined,
    }, Version.Lite05),
  ]);
  await attack.send(wsFrame(qmuxStream(clientStream(0, true), subscribe)));
  await until("the stalled subscription", () => source.watched("video"));
  const before = await held(relay);
  await stage.push(source);
  await pair.delivered(5);
  const grown = (await held(relay)) - before;
  console.log(`relay holds ${(grown / MiB).toFixed(1)} MiB more after 120 MiB published`);
  // The cache, the subscriber's lag, what QMux may hold unwritten (1 MiB), and slack.
  ok(grown < (16 + 4 + 1 + 16) * MiB, `the relay holds ${(grown / MiB).toFixed(1)} MiB more`);
  attack.close();
});
