/**
 * The relay between real peers: upstream's own client `@moq/net` 0.3.4 publishes and subscribes
 * through it over WebSocket (QMux), on every version it speaks, all at once on one broadcast.
 */
import { deepEqual, equal } from "assert";
import { startRelay } from "./support/relay.ts";
import {
  CLIENT_PROTOCOLS,
  connectMany,
  connectMoq,
  EXPECTED_VERSION,
  publish,
  type ReceivedGroup,
  subscribe,
  waitForAnnounce,
} from "./support/moqnet_client.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Three groups of three frames, distinct per publisher (one empty frame, one 1000-byte binary). */
function groupsOf(tag: string): Uint8Array[][] {
  return [0, 1, 2].map((g) =>
    [0, 1, 2].map((f) => {
      if (g === 1 && f === 1) return new Uint8Array(0);
      if (g === 2 && f === 2) {
        return Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + g) & 0xff);
      }
      return bytes(`${tag}-${g}-${f}`);
    })
  );
}

/**
 * Every group whole, every frame in order and byte-identical. Groups travel on their own streams
 * with newer ones first, so they may arrive out of order: compare by sequence.
 */
function same(got: ReceivedGroup[], want: Uint8Array[][], what: string): void {
  const sorted = [...got].sort((a, b) => a.sequence - b.sequence);
  const first = sorted[0]?.sequence ?? 0;
  deepEqual(sorted.map((g) => g.sequence), sorted.map((_, i) => first + i), `${what}: sequences`);
  deepEqual(
    sorted.map((g) => g.frames.map((f) => Array.from(f))),
    want.map((g) => g.map((f) => Array.from(f))),
    what,
  );
}

Deno.test("@moq/net version matrix: a publisher and a subscriber on each version, all at once", async () => {
  await using relay = await startRelay();
  const url = `http://127.0.0.1:${relay.addr.port}/matrix`;
  const publishers = await Promise.all(CLIENT_PROTOCOLS.map((p) => connectMoq(url, p)));
  const subscribers = await Promise.all(CLIENT_PROTOCOLS.map((p) => connectMoq(url, p)));
  try {
    for (const [i, c] of [...publishers, ...subscribers].entries()) {
      equal(c.version, EXPECTED_VERSION[CLIENT_PROTOCOLS[i % CLIENT_PROTOCOLS.length]!]);
    }
    const pubs = publishers.map((c, i) => publish(c, `cam${i}`, ["video"]));
    // Every subscriber, on every version, subscribes to every publisher's track.
    const subs = [];
    for (const s of subscribers) {
      for (const [i] of publishers.entries()) {
        await waitForAnnounce(s, "", `cam${i}`);
        subs.push({ from: i, on: s.protocol, sub: subscribe(s, `cam${i}`, "video") });
      }
    }
    for (const p of pubs) await p.waitForSubscriptions(1, { track: "video" });
    await new Promise((r) => setTimeout(r, 100));
    for (const [i, p] of pubs.entries()) {
      for (const frames of groupsOf(`p${i}`)) await p.track("video").writeGroup(frames);
    }
    for (const { from, on, sub } of subs) {
      same(await sub.collect(3, 5000), groupsOf(`p${from}`), `${CLIENT_PROTOCOLS[from]} -> ${on}`);
    }
    // One upstream subscription per track however many subscribers.
    for (const p of pubs) equal(p.subscriptions("video"), 1);
    for (const { sub } of subs) sub.close();
  } finally {
    for (const c of [...subscribers, ...publishers]) await c.close();
  }
});

Deno.test("@moq/net dedup: 50 subscribers to one track, the publisher sees exactly one subscription", async () => {
  await using relay = await startRelay();
  const url = `http://127.0.0.1:${relay.addr.port}/`;
  const publisher = await connectMoq(url, "moq-lite-05");
  const viewers = await connectMany(url, "moq-lite-04", 50);
  try {
    const pub = publish(publisher, "show", ["video"]);
    const subs = [];
    for (const v of viewers) {
      await waitForAnnounce(v, "", "show");
      subs.push(subscribe(v, "show", "video"));
    }
    await pub.waitForSubscriptions(1, { track: "video" });
    await new Promise((r) => setTimeout(r, 200));
    await pub.track("video").writeGroup([bytes("one"), bytes("two")]);
    for (const s of subs) {
      deepEqual((await s.next(5000))?.frames.map((f) => new TextDecoder().decode(f)), [
        "one",
        "two",
      ]);
    }
    equal(pub.subscriptions("video"), 1);
    for (const s of subs) s.close();
  } finally {
    for (const c of [...viewers, publisher]) await c.close();
  }
});

Deno.test("@moq/net late join: a subscriber joining mid-group gets that group from its first frame", async () => {
  await using relay = await startRelay();
  const url = `http://127.0.0.1:${relay.addr.port}/`;
  const publisher = await connectMoq(url, "moq-lite-05");
  const early = await connectMoq(url, "moq-lite-05");
  const late = await connectMoq(url, "moq-lite-03");
  try {
    const pub = publish(publisher, "talk", ["audio"]);
    await waitForAnnounce(early, "", "talk");
    const first = subscribe(early, "talk", "audio");
    await pub.waitForSubscriptions(1, { track: "audio" });
    const group = pub.track("audio").startGroup();
    group.writeFrame(bytes("f0"));
    group.writeFrame(bytes("f1"));
    await new Promise((r) => setTimeout(r, 100));
    await waitForAnnounce(late, "", "talk");
    const second = subscribe(late, "talk", "audio");
    await new Promise((r) => setTimeout(r, 100));
    group.writeFrame(bytes("f2"));
    group.close();
    for (const s of [first, second]) {
      const got = await s.next(5000);
      deepEqual(got?.frames.map((f) => new TextDecoder().decode(f)), ["f0", "f1", "f2"]);
    }
    equal(pub.subscriptions("audio"), 1);
    first.close();
    second.close();
  } finally {
    for (const c of [late, early, publisher]) await c.close();
  }
});
