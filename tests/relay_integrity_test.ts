/**
 * What the relay promises about the data it holds, beyond one hop: a group is whole or absent
 * (a group cut short upstream is never cached or passed on as whole, even across a relay that
 * cannot reset streams), and the cluster's paths stay the cluster's for every kind of request.
 */
import { deepEqual, equal } from "assert";
import type { Group } from "../src/cache/group.ts";
import {
  BidiType,
  encodeFetch,
  encodeFrameHeader,
  UniType,
  Version,
} from "../src/codec/lite/mod.ts";
import type { Relay } from "../src/relay.ts";
import { fingerprintBytes } from "../src/tls/certificate.ts";
import { connectWebTransport } from "../src/transport/webtransport.ts";
import { connectOwnClient, type OwnClient } from "./support/moq_client.ts";
import { connectMoq, publish } from "./support/moqnet_client.ts";
import { startRelay } from "./support/relay.ts";
import { concat } from "./support/hex.ts";
import { sleep, until } from "./support/wait.ts";

const text = (s: string) => new TextEncoder().encode(s);
const strings = (frames: Uint8Array[]) => frames.map((f) => new TextDecoder().decode(f));

function client(relay: Relay, protocol = "moq-lite-06", path?: string): Promise<OwnClient> {
  return connectOwnClient(relay.addr.port, protocol, {
    fingerprint: relay.certificates.primary.fingerprint,
    transport: "quic",
    path,
  });
}

/** The group `sequence` of a track as a relay caches it (undefined when it holds none). */
function cached(relay: Relay, path: string, track: string, sequence: number): Group | undefined {
  const route = relay.context.origin.route(path);
  if (!route) return undefined;
  const lease = route.broadcast.subscribe(track, { priority: 0, maxLatency: 0 });
  try {
    return lease.track.group(sequence);
  } finally {
    lease.release();
  }
}

Deno.test("a group cut short upstream is cached nowhere as whole, across a relay that cannot reset", async () => {
  // publisher (@moq/net, WebSocket: real resets) -> relay A -> relay B (Deno QUIC link) -> viewers
  await using a = await startRelay();
  await using b = await startRelay([
    "--cluster-root",
    `127.0.0.1:${a.addr.port}`,
    "--tls-disable-verify",
  ]);
  const publisher = await connectMoq(`http://127.0.0.1:${a.addr.port}/`, "moq-lite-05");
  const viewer = await client(b);
  let late: OwnClient | undefined;
  try {
    const show = publish(publisher, "show/cut", ["video"]);
    const video = show.track("video");
    await viewer.announced("show/cut", 10_000);
    const groups = viewer.subscribe("show/cut", "video");
    const first = groups.next();
    await show.waitForSubscriptions(1, { track: "video" });

    const whole = video.startGroup();
    whole.writeFrame(text("a"));
    whole.writeFrame(text("b"));
    whole.close();
    deepEqual(strings((await first).value?.frames ?? []), ["a", "b"]);

    // Two frames reach relay B, then the publisher aborts the group (a reset on its stream).
    const cut = video.startGroup();
    cut.writeFrame(text("c"));
    cut.writeFrame(text("d"));
    await until("both frames at relay B", () => {
      return (cached(b, "show/cut", "video", cut.sequence)?.frames.length ?? 0) === 2;
    });
    cut.abort();
    await until("the cut group to end at relay B", () => {
      return cached(b, "show/cut", "video", cut.sequence)?.done === true;
    });
    const atA = cached(a, "show/cut", "video", cut.sequence);
    const atB = cached(b, "show/cut", "video", cut.sequence);
    equal(atA?.complete, false, "relay A cached the cut group as whole");
    equal(atB?.complete, false, "relay B cached the cut group as whole");
    equal(atB?.aborted, true);

    // A viewer joining now starts at the next whole group, not at the cut one.
    late = await client(b, "moq-lite-05");
    await late.announced("show/cut", 10_000);
    const lateGroups = late.subscribe("show/cut", "video");
    const lateFirst = lateGroups.next();
    const next = groups.next();
    await until("the late viewer's subscription to reach relay B", () => {
      return [...b.sessions].some((s) =>
        s.versionCode === Version.Lite05 && (s.publisher?.subscriptions ?? 0) > 0
      );
    });
    const after = video.startGroup();
    after.writeFrame(text("e"));
    after.close();
    const got = await lateFirst;
    deepEqual({ sequence: got.value?.sequence, frames: strings(got.value?.frames ?? []) }, {
      sequence: after.sequence,
      frames: ["e"],
    });
    // The viewer that was watching never got the cut group either.
    equal((await next).value?.sequence, after.sequence);
    await lateGroups.return(undefined);
    await groups.return(undefined);
  } finally {
    await late?.close();
    await viewer.close();
    await publisher.close();
  }
});

/** FETCH of one group over a raw lite-05 session: the bytes of the answer until its end. */
async function fetchGroup(
  relay: Relay,
  path: string,
  broadcast: string,
  group: number,
): Promise<Uint8Array> {
  const transport = await connectWebTransport(
    new URL(`https://127.0.0.1:${relay.addr.port}${path}`),
    {
      protocols: ["moq-lite-05"],
      serverCertificateHashes: [fingerprintBytes(relay.certificates.primary.fingerprint)],
    },
  );
  try {
    const setup = await transport.openUni();
    await setup.write(Uint8Array.of(UniType.Setup, 0x01, 0x00)); // SETUP without parameters
    await setup.close();
    const stream = await transport.openBi();
    await stream.send.write(concat(
      Uint8Array.of(BidiType.Fetch),
      encodeFetch({
        broadcast,
        track: "video",
        priority: 0,
        group,
        startFrame: 0,
        endFrame: undefined,
      }, Version.Lite05),
    ));
    await stream.send.close();
    const parts: Uint8Array[] = [];
    try {
      for (let chunk = await stream.recv.read(); chunk; chunk = await stream.recv.read()) {
        parts.push(chunk);
      }
    } catch {
      // a reset: nothing more
    }
    return concat(...parts);
  } finally {
    await transport.close();
  }
}

Deno.test("FETCH under internal/ is refused to a client without the cluster token", async () => {
  await using relay = await startRelay(["--cluster-token", "s3cret"]);
  // Token holders are relays of the cluster to this one: one publishes an internal path, one
  // reads it; an ordinary client publishes an open one.
  const member = await client(relay, "moq-lite-06", "/?cluster=s3cret");
  const insider = await client(relay, "moq-lite-06", "/?cluster=s3cret");
  const outsider = await client(relay, "moq-lite-06");
  try {
    const internal = insider.publish("internal/probe");
    const open = outsider.publish("open/probe");
    for (const [path, source] of [["internal/probe", internal], ["open/probe", open]] as const) {
      await member.announced(path);
      const groups = member.subscribe(path, "video");
      const first = groups.next();
      while (!source.watched("video")) await sleep(5);
      source.writeGroup("video", 0, [text("secret")]);
      equal((await first).value?.sequence, 0);
      await groups.return(undefined);
    }
    const answer = concat(encodeFrameHeader({ timestampDelta: 0, size: 6 }, Version.Lite05));
    // Positive controls first: a cached group is served to whoever may see its broadcast.
    const openFetch = await fetchGroup(relay, "/", "open/probe", 0);
    deepEqual([...openFetch.subarray(answer.length)], [...text("secret")]);
    const memberFetch = await fetchGroup(relay, "/?cluster=s3cret", "internal/probe", 0);
    deepEqual([...memberFetch.subarray(answer.length)], [...text("secret")]);
    // An ordinary client gets nothing of an internal broadcast.
    equal((await fetchGroup(relay, "/", "internal/probe", 0)).length, 0);
    equal((await fetchGroup(relay, "/?cluster=wrong", "internal/probe", 0)).length, 0);
  } finally {
    for (const c of [member, insider, outsider]) await c.close();
  }
});
