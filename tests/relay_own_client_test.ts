/**
 * The relay between our own clients, every version pair (lite-06 has no npm client yet): a
 * publisher announces, a subscriber discovers and receives every frame of every group, in order.
 */
import { deepEqual, equal } from "assert";
import { startRelay } from "./support/relay.ts";
import { connectOwnClient } from "./support/moq_client.ts";

const text = (s: string) => new TextEncoder().encode(s);
const decode = (frames: Uint8Array[]) => frames.map((f) => new TextDecoder().decode(f));

/** Every version: `moql` negotiates lite-02 by legacy SETUP, `moql-01` offers lite-01 only. */
const PROTOCOLS = ["moq-lite-06", "moq-lite-05", "moq-lite-04", "moq-lite-03", "moql", "moql-01"];

for (const pub of PROTOCOLS) {
  Deno.test(`own clients: publisher on ${pub}, subscribers on every version`, async () => {
    const relay = await startRelay();
    const port = relay.addr.port;
    const fingerprint = relay.certificates.primary.fingerprint;
    const publisher = await connectOwnClient(port, pub, {
      fingerprint,
      transport: pub.startsWith("moql") ? "quic" : "webtransport",
    });
    const source = publisher.publish("room/alice");
    const subscribers = await Promise.all(
      PROTOCOLS.map((p) => connectOwnClient(port, p, { fingerprint })),
    );
    for (const s of subscribers) await s.announced("room/alice");
    // Each connection speaks the version it asked for, lite-01 included.
    deepEqual(subscribers.map((s) => s.session.version - 0xff0dad00), [6, 5, 4, 3, 2, 1]);
    const streams = subscribers.map((s) => s.subscribe("room/alice", "video"));
    const first = streams.map((s) => s.next());
    // The relay subscribes upstream once, however many subscribers.
    while (!source.watched("video")) await new Promise((r) => setTimeout(r, 5));
    for (let g = 0; g < 3; g++) {
      source.writeGroup("video", g, [text(`g${g}f0`), text(`g${g}f1`), text(`g${g}f2`)]);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const [i, s] of streams.entries()) {
      const got = [];
      let next = await first[i];
      for (let g = 0; g < 3; g++) {
        if (next?.done || !next) break;
        got.push({ sequence: next.value.sequence, frames: decode(next.value.frames) });
        if (g < 2) next = await s.next();
      }
      deepEqual(
        got,
        [0, 1, 2].map((g) => ({ sequence: g, frames: [`g${g}f0`, `g${g}f1`, `g${g}f2`] })),
        `subscriber on ${PROTOCOLS[i]}`,
      );
      await s.return(undefined);
    }
    equal(source.subscriptions.get("video"), 1);
    for (const s of subscribers) await s.close();
    await publisher.close();
    await relay.close();
  });
}
