/**
 * What the relay promises between sessions: late joiners start at the latest group, unknown
 * broadcasts are refused promptly, an unannounce ends subscribers' tracks, and a peer that
 * breaks the protocol loses only its own session.
 */
import { deepEqual, equal, ok, rejects } from "assert";
import type { Relay } from "../src/relay.ts";
import { startRelay } from "./support/relay.ts";
import { fingerprintBytes } from "../src/tls/certificate.ts";
import { SessionCode } from "../src/codec/lite/mod.ts";
import { MAX_GROUPS_IN_FLIGHT } from "../src/session/lite/publisher/subscription.ts";
import { ConnectRefused, connectWebTransport, dialQuic } from "../src/transport/webtransport.ts";
import { Broadcast } from "../src/cache/broadcast.ts";
import { LocalSource } from "../src/cache/local.ts";
import { connectOwnClient, type OwnClient } from "./support/moq_client.ts";
import { connectMoq, publish } from "./support/moqnet_client.ts";
import { sleep, until, withTimeout } from "./support/wait.ts";

const text = (s: string) => new TextEncoder().encode(s);
const strings = (frames: Uint8Array[]) => frames.map((f) => new TextDecoder().decode(f));

function client(relay: Relay, protocol = "moq-lite-05"): Promise<OwnClient> {
  return connectOwnClient(relay.addr.port, protocol, {
    fingerprint: relay.certificates.primary.fingerprint,
  });
}

Deno.test("a late joiner gets the current group from its first frame, then follows live", async () => {
  const relay = await startRelay();
  const publisher = await client(relay, "moq-lite-04");
  const source = publisher.publish("live/cam");
  const early = await client(relay);
  await early.announced("live/cam");
  const earlyGroups = early.subscribe("live/cam", "video");
  const firstEarly = earlyGroups.next();
  while (!source.watched("video")) await sleep(5);
  const group = source.openGroup("video", 7);
  group.writeFrame(text("key"));
  group.writeFrame(text("delta-1"));
  await sleep(50);
  // Join in the middle of group 7.
  const late = await client(relay, "moq-lite-06");
  await late.announced("live/cam");
  const lateGroups = late.subscribe("live/cam", "video");
  const firstLate = lateGroups.next();
  await sleep(50);
  group.writeFrame(text("delta-2"));
  group.finish();
  source.writeGroup("video", 8, [text("next")]);
  for (const first of [await firstEarly, await firstLate]) {
    deepEqual(
      first.value && { sequence: first.value.sequence, frames: strings(first.value.frames) },
      {
        sequence: 7,
        frames: ["key", "delta-1", "delta-2"],
      },
    );
  }
  deepEqual(strings((await lateGroups.next()).value?.frames ?? []), ["next"]);
  equal(source.subscriptions.get("video"), 1);
  await earlyGroups.return(undefined);
  await lateGroups.return(undefined);
  for (const c of [late, early, publisher]) await c.close();
  await relay.close();
});

Deno.test("a subscription to an unknown broadcast is refused promptly", async () => {
  const relay = await startRelay();
  for (const protocol of ["moq-lite-06", "moq-lite-05", "moq-lite-04", "moq-lite-03", "moql"]) {
    const c = await client(relay, protocol);
    while (!c.session.subscriber) await sleep(5);
    const started = Date.now();
    const track = c.subscribeUnannounced("nobody/here", "video");
    while (!track.ended) await track.changed();
    ok(Date.now() - started < 1000, `${protocol}: refused after ${Date.now() - started} ms`);
    equal(track.error, "not found", protocol);
    await c.close();
  }
  await relay.close();
});

Deno.test("when the publisher unannounces, subscribers see the broadcast end and their track end", async () => {
  const relay = await startRelay();
  const publisher = await client(relay, "moq-lite-05");
  const source = publisher.publish("room/bob");
  const viewer = await client(relay, "moq-lite-03");
  await viewer.announced("room/bob");
  const groups = viewer.subscribe("room/bob", "audio");
  const first = groups.next();
  while (!source.watched("audio")) await sleep(5);
  source.writeGroup("audio", 0, [text("a")]);
  equal((await first).value?.sequence, 0);
  await publisher.close();
  // The announcement ends and the track ends (the generator finishes).
  deepEqual(await groups.next(), { value: undefined, done: true });
  const deadline = Date.now() + 2000;
  while (viewer.context.origin.route("room/bob") && Date.now() < deadline) await sleep(10);
  equal(viewer.context.origin.route("room/bob"), undefined);
  await viewer.close();
  await relay.close();
});

Deno.test("a malformed message closes that session with a protocol violation, and only it", async () => {
  const relay = await startRelay();
  const hash = fingerprintBytes(relay.certificates.primary.fingerprint);
  const bystander = await client(relay, "moq-lite-04");
  const source = bystander.publish("room/carol");
  const viewer = await client(relay, "moq-lite-05");
  await viewer.announced("room/carol");

  const rogue = await connectWebTransport(new URL(`https://127.0.0.1:${relay.addr.port}/`), {
    protocols: ["moq-lite-04"],
    serverCertificateHashes: [hash],
  });
  const stream = await rogue.openBi();
  // A SUBSCRIBE whose body ends early: its declared length is 3, the fields need more.
  await stream.send.write(Uint8Array.of(0x02, 0x03, 0x00, 0x05, 0x61));
  const closed = await rogue.closed;
  equal(closed.code, SessionCode.ProtocolViolation);

  // Everyone else carries on.
  const groups = viewer.subscribe("room/carol", "video");
  const first = groups.next();
  while (!source.watched("video")) await sleep(5);
  source.writeGroup("video", 1, [text("still fine")]);
  deepEqual(strings((await first).value?.frames ?? []), ["still fine"]);
  await groups.return(undefined);
  await viewer.close();
  await bystander.close();
  await relay.close();
});

Deno.test("a subscriber that stops reading never slows the others, and its backlog stays bounded", async () => {
  const relay = await startRelay(["--cache-max-bytes", "4MiB"]);
  const hash = fingerprintBytes(relay.certificates.primary.fingerprint);
  const publisher = await client(relay, "moq-lite-05");
  const source = publisher.publish("big/show");
  const fast = await client(relay, "moq-lite-03");
  await fast.announced("big/show");
  const groups = fast.subscribe("big/show", "video");
  const first = groups.next();
  while (!source.watched("video")) await sleep(5);

  // A raw lite-04 subscriber that sends SUBSCRIBE and never reads a single group stream.
  const stalled = await connectWebTransport(new URL(`https://127.0.0.1:${relay.addr.port}/`), {
    protocols: ["moq-lite-04"],
    serverCertificateHashes: [hash],
  });
  const sub = await stalled.openBi();
  const path = text("big/show");
  const track = text("video");
  const body = [0x00, path.length, ...path, track.length, ...track, 0x00, 0x00, 0x00, 0x00, 0x00];
  await sub.send.write(Uint8Array.of(0x02, body.length, ...body));
  await sleep(100);

  // Groups larger than a QUIC stream's receive window (1.25 MB in Deno's quinn), so writes to the
  // stalled peer really block: 40 MiB through a 4 MiB cache.
  const frame = new Uint8Array(2 * 1024 * 1024).fill(7);
  const GROUPS = 20;
  const received: number[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const group = source.openGroup("video", g);
    group.writeFrame(frame);
    group.finish();
    const next = g === 0 ? await first : await groups.next();
    if (next.value) received.push(next.value.sequence);
  }
  // The reading subscriber got every group, whole and in order.
  deepEqual(received, Array.from({ length: GROUPS }, (_, g) => g));
  ok(relay.context.budget.bytes <= 4 * 1024 * 1024, `cache at ${relay.context.budget.bytes} bytes`);
  // The stalled one holds at most a few groups in flight; the rest were dropped.
  await sleep(700);
  const stalledSession = [...relay.sessions].find((s) =>
    s.versionCode === 0xff0dad04 && s.publisher?.subscriptions === 1
  );
  ok(stalledSession, "the stalled session is still open");
  // Without dropping, all 20 would be stuck behind flow control.
  ok(
    (stalledSession.publisher?.groupStreams ?? 0) <= MAX_GROUPS_IN_FLIGHT,
    `${stalledSession.publisher?.groupStreams} group streams in flight`,
  );
  await groups.return(undefined);
  await stalled.close();
  await fast.close();
  await publisher.close();
  await relay.close();
});

Deno.test("publisher takeover: the newest publisher of a path wins; when it vanishes the route falls back", async () => {
  await using relay = await startRelay();
  const url = `http://127.0.0.1:${relay.addr.port}/`;
  // Two independent publishers, both upstream's @moq/net; the second in its own process, so it
  // can vanish without a word (no unannounce, no close): only the relay's route fallback helps.
  const first = await connectMoq(url, "moq-lite-05");
  const video = publish(first, "stage/main", ["video"]).track("video");
  const writer = setInterval(() => {
    const group = video.startGroup();
    group.writeFrame(text("first"));
    group.close();
  }, 50);
  const viewer = await client(relay, "moq-lite-06");
  let second: Deno.ChildProcess | undefined;
  /** The label of the first group a new viewer (its own connection) gets: the relay's route. */
  const read = async () => {
    const fresh = await client(relay, "moq-lite-06");
    try {
      await fresh.announced("stage/main");
      const groups = fresh.subscribe("stage/main", "video");
      const got = strings((await groups.next()).value?.frames ?? []);
      await groups.return(undefined);
      return got;
    } finally {
      await fresh.close();
    }
  };
  try {
    await viewer.announced("stage/main");
    deepEqual(await read(), ["first"]);
    const firstRoute = relay.context.origin.route("stage/main");
    ok(firstRoute);
    second = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./support/moqnet_publisher.ts", import.meta.url).pathname,
        "--url",
        url,
        "--path",
        "stage/main",
        "--label",
        "second",
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = second.stdout.pipeThrough(new TextDecoderStream()).getReader();
    ok((await lines.read()).value?.includes("ready"));
    lines.releaseLock();
    // The relay routes new subscriptions to the newest publisher.
    await until(
      "the relay to route to the second publisher",
      () => relay.context.origin.route("stage/main") !== firstRoute,
    );
    deepEqual(await read(), ["second"]);
    second.kill("SIGKILL");
    await second.status;
    // The relay notices the connection is gone and falls back to the first publisher; the
    // viewer keeps the broadcast throughout.
    await until(
      "the route to fall back to the first publisher",
      () => relay.context.origin.route("stage/main") === firstRoute,
    );
    deepEqual(await read(), ["first"]);
    ok(viewer.context.origin.route("stage/main"), "still announced to the viewer");
  } finally {
    clearInterval(writer);
    try {
      second?.kill("SIGKILL");
    } catch {
      // already gone
    }
    await second?.stdout.cancel().catch(() => {});
    await second?.status;
    await viewer.close();
    await first.close();
  }
});

Deno.test("subscribers vanishing all at once while groups flow never break the relay", async () => {
  const relay = await startRelay();
  const publisher = await client(relay, "moq-lite-05");
  const source = publisher.publish("busy/feed");
  const viewers = await Promise.all(Array.from({ length: 40 }, () => client(relay, "moq-lite-06")));
  for (const v of viewers) await v.announced("busy/feed");
  const streams = viewers.map((v) => v.subscribe("busy/feed", "video"));
  const pending = streams.map((s) => s.next().catch(() => undefined));
  while (!source.watched("video")) await sleep(5);
  let seq = 0;
  const writer = setInterval(() => {
    for (let i = 0; i < 5; i++) {
      source.writeGroup("video", seq++, [new Uint8Array(2000), new Uint8Array(2000)]);
    }
  }, 2);
  await sleep(100);
  // Every viewer's connection goes away at once, mid-delivery.
  await Promise.all(viewers.map((v) => v.session.transport.close({ code: 0, reason: "gone" })));
  await sleep(300);
  clearInterval(writer);
  await Promise.allSettled(pending);
  // The relay still serves a newcomer.
  const late = await client(relay, "moq-lite-04");
  await late.announced("busy/feed");
  const groups = late.subscribe("busy/feed", "video");
  const first = groups.next(); // the latest cached group, then live ones
  await sleep(50);
  source.writeGroup("video", seq++, [text("after")]);
  // Cached and in-flight groups may come first (more of them on a loaded machine): read on, in
  // order, until the new one arrives; the writer stopped, so at most what was cached is between.
  let got = await first;
  for (let i = 0; i < 100 && strings(got.value?.frames ?? []).join() !== "after"; i++) {
    got = await withTimeout(groups.next(), 5000, "the next group");
  }
  deepEqual(strings(got.value?.frames ?? []), ["after"]);
  await groups.return(undefined);
  for (const v of viewers) await v.close().catch(() => {});
  await late.close();
  await publisher.close();
  await relay.close();
});

Deno.test("a malformed lite-05 SETUP closes that session at once with a protocol violation", async () => {
  const relay = await startRelay();
  const hash = fingerprintBytes(relay.certificates.primary.fingerprint);
  const rogue = await connectWebTransport(new URL(`https://127.0.0.1:${relay.addr.port}/`), {
    protocols: ["moq-lite-05"],
    serverCertificateHashes: [hash],
  });
  const setup = await rogue.openUni();
  // SETUP with two parameters of the same id: a duplicate is a protocol violation.
  await setup.write(Uint8Array.of(0x01, 0x05, 0x02, 0x01, 0x00, 0x01, 0x00));
  await setup.close();
  const started = Date.now();
  const closed = await rogue.closed;
  equal(closed.code, SessionCode.ProtocolViolation);
  ok(Date.now() - started < 5000, "closed at once, not by the setup timeout");
  await relay.close();
});

Deno.test("--max-streams caps the streams one connection may hold open, and only that connection", async () => {
  const relay = await startRelay(["--max-streams", "8"]);
  const hash = fingerprintBytes(relay.certificates.primary.fingerprint);
  const url = new URL(`moqt://127.0.0.1:${relay.addr.port}/`);
  const greedy = await dialQuic(url, ["moq-lite-04"], { serverCertificateHashes: [hash] });
  await greedy.handshake;
  let opened = 0;
  let refused = 0;
  // Stream credit is QUIC flow control: past it, opening without waiting fails at once.
  for (let i = 0; i < 20; i++) {
    try {
      await greedy.createBidirectionalStream();
      opened++;
    } catch {
      refused++;
    }
  }
  equal(opened, 8);
  equal(refused, 12);
  // Another connection has its own credit and works as usual.
  const publisher = await client(relay, "moq-lite-04");
  const source = publisher.publish("room/dave");
  const viewer = await client(relay);
  await viewer.announced("room/dave");
  const groups = viewer.subscribe("room/dave", "video");
  const first = groups.next();
  while (!source.watched("video")) await sleep(5);
  source.writeGroup("video", 0, [text("unaffected")]);
  deepEqual(strings((await first).value?.frames ?? []), ["unaffected"]);
  await groups.return(undefined);
  greedy.close({ closeCode: 0, reason: "" });
  await viewer.close();
  await publisher.close();
  await relay.close();
});

Deno.test("--max-sessions refuses sessions past the limit, and admits again once one leaves", async () => {
  const relay = await startRelay(["--max-sessions", "2"]);
  const hash = fingerprintBytes(relay.certificates.primary.fingerprint);
  const first = await client(relay);
  const second = await client(relay, "moq-lite-04");
  // WebTransport: the CONNECT is answered 503.
  await rejects(
    connectWebTransport(new URL(`https://127.0.0.1:${relay.addr.port}/`), {
      protocols: ["moq-lite-05"],
      serverCertificateHashes: [hash],
    }),
    (e: unknown) => e instanceof ConnectRefused && e.status === 503,
  );
  // Raw QUIC: the connection is closed with 503.
  const quic = await dialQuic(new URL(`moqt://127.0.0.1:${relay.addr.port}/`), ["moq-lite-06"], {
    serverCertificateHashes: [hash],
  });
  equal((await quic.closed).closeCode, 503);
  await first.close();
  // The relay notices the session ending, then admits a new one.
  let third: OwnClient | undefined;
  for (let i = 0; i < 50 && !third; i++) {
    third = await client(relay).catch(() => undefined);
    if (!third) await sleep(50);
  }
  ok(third, "no session admitted after one left");
  await third.close();
  await second.close();
  await relay.close();
});

Deno.test("--max-announcements: a peer's broadcasts past the limit are ignored, and a slot frees when one ends", async () => {
  await using relay = await startRelay(["--max-announcements", "3"]);
  const publisher = await client(relay, "moq-lite-06");
  const withdraw = new Map<string, () => void>();
  const announce = (path: string) => {
    const broadcast = new Broadcast(path, new LocalSource(), publisher.context.budget);
    withdraw.set(path, publisher.context.origin.announce({ path, broadcast, hops: [], from: {} }));
  };
  const routed = () => ["a", "b", "c", "d", "e", "f"].filter((p) => relay.context.origin.route(p));
  try {
    for (const path of ["a", "b", "c", "d", "e"]) announce(path);
    await until("three routes", () => routed().length === 3);
    // One of the first three ends: its slot goes to the next broadcast announced, which comes
    // after d and e on the same stream, so those were seen and ignored by then.
    withdraw.get("b")?.();
    announce("f");
    await until("f to be routed", () => routed().includes("f"));
    deepEqual(routed(), ["a", "c", "f"]);
  } finally {
    await publisher.close();
  }
});
