/**
 * The relay as a bridge between the moq-lite and IETF moq-transport families, on ONE broadcast
 * at a time: whatever mix of versions watches it, the publisher receives exactly one SUBSCRIBE
 * per track (counted by the publisher itself: `@moq/net` serves each wire SUBSCRIBE with one
 * `Broadcast.subscribe()` call, which `support/moqnet_client.ts` counts), and every viewer gets
 * every frame intact.
 *
 * - a moq-lite-05 `@moq/net` publisher to moqt-16 and moqt-20 `@moq/net` viewers and a lite-04
 *   `@moq/net` viewer;
 * - a moqt-20 `@moq/net` publisher to a lite-05 `@moq/net` viewer and a lite-06 viewer (our own
 *   client: `@moq/net` 0.3.4 names lite-06 `moq-lite-06-wip` and does not offer it);
 * - late join of an IETF viewer (each draft) on a lite publisher.
 *
 * `IETF_TEST_RELAY=ws://host:port` runs these against another relay by hand (see
 * `support/moqnet_ietf.ts`); our own lite-06 client then dials the same port over raw QUIC.
 */
import { equal } from "assert";
import { connectOwnClient } from "./support/moq_client.ts";
import {
  connectIetf,
  connectMoq,
  DRAFTS,
  expectFanOut,
  expectLateJoin,
  moqnetViewer,
  startIetfRelay,
  type TestRelay,
  type Viewer,
} from "./support/moqnet_ietf.ts";

const TRACKS = ["video", "audio"];

/** Our own client on moq-lite-06 over raw QUIC, as a viewer. */
async function ownLite06Viewer(relay: TestRelay): Promise<Viewer> {
  const client = await connectOwnClient(relay.port, "moq-lite-06", {
    fingerprint: await relay.fingerprint(),
    host: relay.hostname,
    transport: "quic",
  });
  return {
    name: "lite-06 (own client)",
    async watch(path, track) {
      await client.announced(path, 5000);
      return client.subscribe(path, track);
    },
    [Symbol.asyncDispose]: () => client.close(),
  };
}

Deno.test("bridge: a lite-05 publisher to moqt-16, moqt-20 and lite-04 viewers at once, one SUBSCRIBE per track", async () => {
  await using relay = await startIetfRelay();
  await using publisher = await connectMoq(relay.url(), "moq-lite-05");
  await using d16 = moqnetViewer("moqt-16", await connectIetf(relay.url(), 16));
  await using d20 = moqnetViewer("moqt-20", await connectIetf(relay.url(), 20));
  await using lite = moqnetViewer("lite-04", await connectMoq(relay.url(), "moq-lite-04"));
  const pub = await expectFanOut(publisher, [d16, d20, lite], { tracks: TRACKS });
  try {
    for (const track of TRACKS) equal(pub.subscriptions(track), 1, `SUBSCRIBEs for ${track}`);
  } finally {
    pub.close();
  }
});

Deno.test("bridge: a moqt-20 publisher to lite-05 and lite-06 viewers at once, one SUBSCRIBE per track", async () => {
  await using relay = await startIetfRelay();
  await using publisher = await connectIetf(relay.url(), 20);
  await using lite05 = moqnetViewer("lite-05", await connectMoq(relay.url(), "moq-lite-05"));
  await using lite06 = await ownLite06Viewer(relay);
  const pub = await expectFanOut(publisher, [lite05, lite06], { tracks: TRACKS });
  try {
    for (const track of TRACKS) equal(pub.subscriptions(track), 1, `SUBSCRIBEs for ${track}`);
  } finally {
    pub.close();
  }
});

for (const draft of DRAFTS) {
  Deno.test(`bridge: late join of a moqt-${draft} viewer on a lite-05 publisher starts at the latest group, whole`, async () => {
    await using relay = await startIetfRelay();
    await expectLateJoin({
      publisher: () => connectMoq(relay.url(), "moq-lite-05"),
      early: () => connectMoq(relay.url(), "moq-lite-05"),
      late: () => connectIetf(relay.url(), draft),
    }, `lite-05 -> moqt-${draft}`);
  });
}
