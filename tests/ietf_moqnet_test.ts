/**
 * The relay between IETF moq-transport peers: upstream's `@moq/net` 0.3.4, pinned to one draft
 * (14 to 20) per connection over WebSocket (QMux), publishes and subscribes through our relay.
 * For every draft:
 *
 * (a) a publisher and a subscriber on that draft: every frame of several groups arrives intact
 *     and in order, an empty frame and one over 64 KiB included;
 * (b) late join: a subscriber arriving after groups were written starts at the latest of them
 *     (or later), and receives every group from there whole;
 * (c) a raw client on that draft sending a SUBSCRIBE that does not decode is closed with
 *     PROTOCOL_VIOLATION (0x3), and a healthy pair on the same relay and draft keeps running.
 *
 * `IETF_TEST_RELAY=ws://host:port` runs these against another relay by hand (see
 * `support/moqnet_ietf.ts`).
 */
import { equal } from "assert";
import {
  connectIetf,
  connectRawIetf,
  DRAFTS,
  expectFanOut,
  expectLateJoin,
  moqnetViewer,
  startIetfHealthyPair,
  startIetfRelay,
} from "./support/moqnet_ietf.ts";
import { withTimeout } from "./support/wait.ts";

/** Whatever a draft does, a test's clients may take this long to meet. */
const TIMEOUT_MS = 5000;

for (const draft of DRAFTS) {
  Deno.test(`IETF draft ${draft}: @moq/net publisher to @moq/net subscriber, every frame intact and in order`, async () => {
    await using relay = await startIetfRelay();
    await using publisher = await connectIetf(relay.url(), draft);
    await using viewer = moqnetViewer(`moqt-${draft}`, await connectIetf(relay.url(), draft));
    const pub = await expectFanOut(publisher, [viewer], {
      tracks: ["video"],
      groups: 4,
      frames: 4,
    });
    pub.close();
  });

  Deno.test(`IETF draft ${draft}: late join starts at the latest group, each group whole`, async () => {
    await using relay = await startIetfRelay();
    const peer = () => connectIetf(relay.url(), draft);
    await expectLateJoin({ publisher: peer, early: peer, late: peer }, `draft ${draft}`);
  });

  Deno.test(`IETF draft ${draft}: a malformed SUBSCRIBE closes only its session, with PROTOCOL_VIOLATION`, async () => {
    await using relay = await startIetfRelay();
    await using pair = await startIetfHealthyPair(relay, draft);
    await using attacker = await connectRawIetf(relay.url(), draft);
    await attacker.setup();
    await attacker.sendMalformedSubscribe();
    const closed = await withTimeout(attacker.closed, TIMEOUT_MS, `draft ${draft}: the close`);
    equal(closed.closeCode, 0x3, `closed with ${closed.closeCode} (${closed.reason})`);
    // The pair on the same relay and draft goes on: groups written after the close arrive whole.
    await pair.delivered(5);
  });
}
