/**
 * Proves the IETF harness (`support/moqnet_ietf.ts`) without any relay: `@moq/net` pinned to
 * each draft 14..20 connects over a real WebSocket (QMux) to a loopback server running
 * `@moq/net`'s own `accept()` (`support/moqnet_loopback.ts`), both ends report that draft, and a
 * client publication reaches the server's subscription whole (an empty frame and one over
 * 64 KiB included). So when an IETF relay test fails, the harness is not the reason.
 */
import { deepEqual, equal } from "assert";
import { rewriteClientSetup } from "./support/draft14_offer.ts";
import {
  collect,
  connectIetf,
  connectRawIetf,
  DRAFTS,
  expectWhole,
  framesOf,
  protocolFor,
  publish,
  subscribe,
  versionName,
  waitForAnnounce,
  waitForDemand,
} from "./support/moqnet_ietf.ts";
import { startLoopback } from "./support/moqnet_loopback.ts";
import { quietMoqNet } from "./support/moqnet_client.ts";

for (const draft of DRAFTS) {
  Deno.test(`moqnet IETF harness, draft ${draft}: pinned on both ends, frames intact`, async () => {
    await using server = startLoopback({ protocols: [protocolFor(draft)] });
    await using client = await connectIetf(server.url, draft);
    const { connection, subprotocol } = await server.next();
    const serverPeer = { connection };
    equal(client.version, versionName(draft));
    equal(connection.version, versionName(draft));
    equal(subprotocol, `qmux-01.${protocolFor(draft)}`);
    equal(server.offers.at(-1), `qmux-01.${protocolFor(draft)}`);

    const pub = publish(client, "harness", ["video"]);
    await waitForAnnounce(serverPeer, "", "harness");
    const received = collect(subscribe(serverPeer, "harness", "video"));
    await waitForDemand(pub, "video");
    for (let g = 0; g < 3; g++) await pub.track("video").writeGroup(framesOf("h", g));
    await received.until("three groups", (groups) => groups.length >= 3);
    deepEqual(received.groups.map((g) => g.sequence), [0, 1, 2]);
    for (const g of received.groups) expectWhole(g, framesOf("h", g.sequence), `draft ${draft}`);
    received.stop();
    pub.close();
  });

  Deno.test(`moqnet IETF harness, draft ${draft}: the raw client's hand-written setup is accepted by @moq/net`, async () => {
    const release = quietMoqNet();
    try {
      await using server = startLoopback({ protocols: [protocolFor(draft)] });
      await using raw = await connectRawIetf(server.url, draft);
      await raw.setup();
      const { connection } = await server.next();
      equal(connection.version, versionName(draft));
    } finally {
      release();
    }
  });
}

Deno.test("draft-14 offer: @moq/net's CLIENT_SETUP list is cut to draft 14, options kept", () => {
  // 0x20, length 30, three versions (lite-02, lite-01, draft-14), then options "07 02 68 69".
  const v = (
    code: number,
  ) => [0xc0, 0, 0, 0, code >>> 24, (code >> 16) & 0xff, (code >> 8) & 0xff, code & 0xff];
  const options = [0x01, 0x07, 0x02, 0x68, 0x69];
  const body = [0x03, ...v(0xff0dad02), ...v(0xff0dad01), ...v(0xff00000e), ...options];
  const input = Uint8Array.from([0x20, 0, body.length, ...body, 0xaa]);
  const out = rewriteClientSetup(input);
  const want = [0x01, ...v(0xff00000e), ...options];
  deepEqual(Array.from(out?.message ?? []), [0x20, 0, want.length, ...want]);
  equal(out?.consumed, input.length - 1);
  equal(rewriteClientSetup(input.subarray(0, 10)), undefined);
});
