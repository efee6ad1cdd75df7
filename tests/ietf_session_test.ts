/**
 * The relay's moq-transport sessions, driven by hand with our own codec (`support/ietf_raw.ts`)
 * over raw QUIC: what a relay promises that `@moq/net` never asks for (FETCH, request id flow
 * control, a SETUP path as the session's root) and how it answers bad input.
 */
import { deepEqual, equal, ok } from "assert";
const ok2: (value: unknown, message?: string) => asserts value = ok;
import { SessionCode } from "../src/codec/error.ts";
import { type ControlMessage, type Draft, encodeObjectDatagram } from "../src/codec/ietf/mod.ts";
import { connectOwnClient } from "./support/moq_client.ts";
import { connectRawIetf, type RawIetf } from "./support/ietf_raw.ts";
import { startRelay } from "./support/relay.ts";
import { until, withTimeout } from "./support/wait.ts";

const encoder = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A relay with one moq-lite publisher of `room/cam` (track `video`). */
async function relayWithPublisher() {
  const relay = await startRelay(Deno.env.get("RELAY_DEBUG") ? ["-v", "-v"] : []);
  const port = relay.addr.port;
  const fingerprint = relay.certificates.primary.fingerprint;
  const publisher = await connectOwnClient(port, "moq-lite-05", { fingerprint });
  const source = publisher.publish("room/cam");
  return { relay, port, fingerprint, publisher, source };
}

/** SUBSCRIBE on either kind of draft; resolves to SUBSCRIBE_OK and what carries the request. */
async function subscribe(client: RawIetf, requestId: bigint, track = "video") {
  const message: ControlMessage = {
    type: "subscribe",
    requestId,
    namespace: ["room", "cam"],
    track,
    priority: 128,
    groupOrder: 2,
    forward: true,
    filter: client.draft >= 20 ? { type: "relative", groups: 1 } : { type: "next-object" },
    tokens: [],
  };
  if (client.draft <= 16) {
    await client.send(message);
    return { ok: await client.next(), request: undefined };
  }
  const request = await client.request(message);
  return { ok: await request.next(), request };
}

for (const draft of [16, 18, 20] as Draft[]) {
  Deno.test(`draft ${draft}: a FETCH joining a subscription returns the cached groups before its first, whole and in order`, async () => {
    const { relay, port, fingerprint, publisher, source } = await relayWithPublisher();
    await using client = await connectRawIetf(port, draft, { fingerprint });
    try {
      // A first viewer makes the relay hold the track; groups 0..3 go into its cache.
      const first = await subscribe(client, 0n);
      equal(first.ok?.type, "subscribe_ok");
      await until("the publisher sees the subscription", () => source.watched("video"));
      for (let g = 0; g < 4; g++) {
        source.writeGroup("video", g, [encoder.encode(`g${g} a`), encoder.encode(`g${g} b`)]);
      }
      const seen = new Set<number>();
      while (seen.size < 4) {
        const d = await client.dataStream();
        if (d.kind === "subgroup") seen.add(d.header.group);
      }
      // A second subscription starts at the latest group (3); join it two groups back (draft
      // 20 has no joining FETCH: its LOCATION_FILTER names those groups instead).
      const second = await subscribe(client, 2n);
      equal(second.ok?.type, "subscribe_ok");
      const start = await client.dataStream();
      equal(start.kind === "subgroup" && start.header.group, 3);
      const fetch: ControlMessage = {
        type: "fetch",
        requestId: 4n,
        priority: 128,
        groupOrder: 1,
        range: draft >= 20
          ? {
            type: "filtered",
            namespace: ["room", "cam"],
            track: "video",
            filter: { type: "absolute-range", start: { group: 1, object: 0 }, endGroup: 2 },
          }
          : { type: "relative-joining", joining: 2n, offset: 2 },
        tokens: [],
      };
      let reply: ControlMessage | null;
      if (draft <= 16) {
        await client.send(fetch);
        reply = await client.next();
      } else {
        reply = await (await client.request(fetch)).next();
      }
      equal(reply?.type, "fetch_ok");
      const fetched = await client.dataStream();
      ok(fetched.kind === "fetch" && fetched.whole, "a whole FETCH stream");
      deepEqual(
        fetched.objects.map((o) => `${o.group}/${o.object} ${text(o.payload)}`),
        ["1/0 g1 a", "1/1 g1 b", "2/0 g2 a", "2/1 g2 b"],
      );
    } finally {
      await publisher.close();
      await relay.close();
    }
  });
}

Deno.test("draft 18: a standalone FETCH of a track nobody holds is refused with DOES_NOT_EXIST", async () => {
  const { relay, port, fingerprint, publisher } = await relayWithPublisher();
  await using client = await connectRawIetf(port, 18, { fingerprint });
  try {
    const request = await client.request({
      type: "fetch",
      requestId: 0n,
      priority: 128,
      groupOrder: 1,
      range: {
        type: "standalone",
        namespace: ["room", "cam"],
        track: "video",
        start: { group: 0, object: 0 },
        end: { group: 5, object: 0 },
      },
      tokens: [],
    });
    const reply = await request.next();
    equal(reply?.type, "request_error");
    equal(reply?.type === "request_error" && reply.code, 0x10);
  } finally {
    await publisher.close();
    await relay.close();
  }
});

Deno.test("draft 16: MAX_REQUEST_ID bounds the client's requests; one past it closes the session with PROTOCOL_VIOLATION", async () => {
  const relay = await startRelay(["--max-subscriptions", "4"]);
  const fingerprint = relay.certificates.primary.fingerprint;
  await using client = await connectRawIetf(relay.addr.port, 16, { fingerprint });
  try {
    const max = client.setup.maxRequestId;
    ok(max !== undefined && max > 0n, `SERVER_SETUP grants request ids (got ${max})`);
    // Requests for broadcasts that do not exist are refused and end at once, giving the id back:
    // the relay raises the limit once half its window came back.
    const refusals: number[] = [];
    let raised: bigint | undefined;
    for (let id = 0n; id < max! && raised === undefined; id += 2n) {
      await client.send({
        type: "subscribe",
        requestId: id,
        namespace: ["nobody"],
        track: "t",
        priority: 1,
        groupOrder: 2,
        forward: true,
        filter: { type: "next-object" },
        tokens: [],
      });
      for (let m = await client.next(); m; m = await client.next()) {
        if (m.type === "request_error") {
          refusals.push(m.code);
          break;
        }
        if (m.type === "max_request_id") raised = m.requestId;
      }
    }
    ok(refusals.every((c) => c === 0x10), `refused as DOES_NOT_EXIST: ${refusals}`);
    // The raise may follow the last refusal.
    for (
      let m = raised ? null : await client.next();
      m && raised === undefined;
      m = await client.next()
    ) {
      if (m.type === "max_request_id") raised = m.requestId;
    }
    const limit = raised;
    ok(limit !== undefined && limit > max!, `the limit went up from ${max} (to ${limit})`);
    // An id at the limit is a violation: the session closes with 0x3.
    await client.send({
      type: "subscribe",
      requestId: limit!,
      namespace: ["nobody"],
      track: "t",
      priority: 1,
      groupOrder: 2,
      forward: true,
      filter: { type: "next-object" },
      tokens: [],
    });
    const closed = await withTimeout(client.closed, 5000, "the session's close");
    equal(closed.code, SessionCode.ProtocolViolation);
  } finally {
    await relay.close();
  }
});

Deno.test("draft 18 over raw QUIC: SETUP's PATH is the session's root", async () => {
  const { relay, port, fingerprint, publisher, source } = await relayWithPublisher();
  await using client = await connectRawIetf(port, 18, { fingerprint, path: "/room" });
  try {
    const request = await client.request({
      type: "subscribe",
      requestId: 0n,
      namespace: ["cam"],
      track: "video",
      priority: 128,
      groupOrder: 2,
      forward: true,
      filter: { type: "next-object" },
      tokens: [],
    });
    equal((await request.next())?.type, "subscribe_ok");
    await until("the publisher sees the subscription", () => source.watched("video"));
    source.writeGroup("video", 7, [encoder.encode("hello")]);
    const d = await client.dataStream();
    ok(d.kind === "subgroup");
    equal(d.header.group, 7);
    deepEqual(d.objects.map((o) => text(o.payload)), ["hello"]);
  } finally {
    await publisher.close();
    await relay.close();
  }
});

for (const draft of [15, 17] as Draft[]) {
  Deno.test(`draft ${draft}: an unknown control message type closes only that session, with PROTOCOL_VIOLATION`, async () => {
    const { relay, port, fingerprint, publisher } = await relayWithPublisher();
    await using bad = await connectRawIetf(port, draft, { fingerprint });
    await using good = await connectRawIetf(port, draft, { fingerprint });
    try {
      // Type 0x3f is no message on any draft; a 16-bit length of 0 follows.
      const bytes = Uint8Array.of(0x3f, 0x00, 0x00);
      if (draft <= 16) await bad.sendRaw(bytes);
      else await bad.transport.openBi({ initial: bytes });
      const closed = await withTimeout(bad.closed, 5000, "the bad session's close");
      equal(closed.code, SessionCode.ProtocolViolation);
      // The other session still works.
      const sub = await subscribe(good, 0n);
      equal(sub.ok?.type, "subscribe_ok");
    } finally {
      await publisher.close();
      await relay.close();
    }
  });
}

Deno.test("draft 18: an IETF publisher's OBJECT_DATAGRAM reaches an IETF viewer as an OBJECT_DATAGRAM of its own subscription", async () => {
  const relay = await startRelay();
  const fingerprint = relay.certificates.primary.fingerprint;
  await using publisher = await connectRawIetf(relay.addr.port, 18, { fingerprint });
  await using viewer = await connectRawIetf(relay.addr.port, 18, { fingerprint });
  try {
    const announce = await publisher.request({
      type: "publish_namespace",
      requestId: 0n,
      namespace: ["dg", "cam"],
      tokens: [],
    });
    equal((await announce.next())?.type, "request_ok");
    const watching = viewer.request({
      type: "subscribe",
      requestId: 0n,
      namespace: ["dg", "cam"],
      track: "audio",
      priority: 128,
      groupOrder: 2,
      forward: true,
      filter: { type: "next-object" },
      tokens: [],
    });
    // The relay subscribes upstream once; we answer as a publisher would.
    const upstream = await publisher.acceptRequest();
    equal(upstream.first.type, "subscribe");
    await upstream.write({
      type: "subscribe_ok",
      requestId: 0n,
      trackAlias: 9n,
      expires: 0,
      properties: {},
    });
    const answer = await (await watching).next();
    if (answer?.type !== "subscribe_ok") throw new Error(`expected SUBSCRIBE_OK: ${answer?.type}`);
    const alias = answer.trackAlias;
    // Datagrams are best effort: send until one arrives (each a new group).
    let received;
    for (let group = 5; !received && group < 50; group++) {
      publisher.transport.sendDatagram(encodeObjectDatagram({
        trackAlias: 9n,
        group,
        object: 0,
        payload: encoder.encode(`hi ${group}`),
        endOfGroup: true,
      }, 18));
      received = await viewer.datagram(200).catch(() => undefined);
    }
    ok2(received, "a datagram reached the viewer");
    equal(received.trackAlias, alias);
    equal(text(received.payload!), `hi ${received.group}`);
  } finally {
    await relay.close();
  }
});

for (const draft of [16, 18] as Draft[]) {
  Deno.test(`draft ${draft}: a draining relay sends GOAWAY with its redirect (14-16: on the control stream; 17+: on its SETUP stream)`, async () => {
    const relay = await startRelay([
      "--goaway-redirect",
      "https://next.example/",
      "--drain-timeout",
      "2s",
    ]);
    const fingerprint = relay.certificates.primary.fingerprint;
    await using client = await connectRawIetf(relay.addr.port, draft, { fingerprint });
    const draining = relay.drain();
    try {
      let uri: string;
      if (draft <= 16) {
        const m = await client.next();
        if (m?.type !== "goaway") throw new Error(`expected GOAWAY, got ${m?.type}`);
        uri = m.uri;
      } else {
        uri = await withTimeout(client.goaway, 5000, "GOAWAY");
      }
      equal(uri, "https://next.example/");
    } finally {
      await client.close();
      await draining;
    }
  });
}
