/**
 * Sanity checks on the @moq/net self-capture harness (tests/support/moqnet_capture.ts): for
 * each protocol, run @moq/net against itself over the in-memory transport and check a few
 * observable facts about the recorded bytes. The byte-exact codec round trips live elsewhere.
 */
import assert from "assert";
import {
  type CapturedStream,
  captureMoqNet,
  fromFixture,
  toFixture,
  type Transcript,
} from "./support/moqnet_capture.ts";

const text = new TextEncoder();

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.split(" ").filter((b) => b !== "").map((b) => parseInt(b, 16)));
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.byteLength >= prefix.byteLength && prefix.every((b, i) => bytes[i] === b);
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.byteLength <= haystack.byteLength; i++) {
    for (let j = 0; j < needle.byteLength; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** Assert the strings appear in `bytes` in this order, without overlapping. */
function assertInOrder(bytes: Uint8Array, words: readonly string[], what: string): void {
  let at = 0;
  for (const word of words) {
    const found = indexOf(bytes, text.encode(word), at);
    assert.ok(found >= 0, `${what}: "${word}" missing (or out of order)`);
    at = found + word.length;
  }
}

/** The bytes the opener wrote. */
function opened(s: CapturedStream): Uint8Array {
  return s.opener === "client" ? s.clientToServer : s.serverToClient;
}

/** The bytes the other side wrote. */
function answered(s: CapturedStream): Uint8Array {
  return s.opener === "client" ? s.serverToClient : s.clientToServer;
}

function streamsOf(
  t: Transcript,
  kind: "bidi" | "uni",
  type: number,
  opener?: "client" | "server",
) {
  return t.streams.filter((s) =>
    s.kind === kind && opened(s)[0] === type && (opener === undefined || s.opener === opener)
  );
}

/** Checks every protocol shares: announce, subscribe, groups, unannounce, close. */
function checkCommon(t: Transcript): void {
  assert.equal(t.close?.by, "client", "the client closes the session");
  assert.equal(t.close?.closeCode, 0);

  // Phase A: server's announce interest under "demo", answered with bbb active then ended.
  const [serverAnnounce] = streamsOf(t, "bidi", 0x01, "server");
  assert.ok(serverAnnounce, "server opened an Announce stream");
  assertInOrder(serverAnnounce.serverToClient, ["demo"], "ANNOUNCE_PLEASE");
  assertInOrder(serverAnnounce.clientToServer, ["bbb", "bbb"], "announce active + ended");

  // The server's SUBSCRIBE for demo/bbb video.
  const [serverSub] = streamsOf(t, "bidi", 0x02, "server");
  assert.ok(serverSub, "server opened a Subscribe stream");
  assertInOrder(serverSub.serverToClient, ["demo/bbb", "video"], "SUBSCRIBE");
  assert.ok(serverSub.clientToServer.byteLength > 0, "publisher answered the SUBSCRIBE");
  assert.equal(serverSub.clientToServerEnd, "fin", "publisher FINs after closing the track");

  // Video groups: two client-opened uni streams starting 0x00, frames in order.
  const videoGroups = streamsOf(t, "uni", 0x00, "client");
  assert.equal(videoGroups.length, 2, "two video group streams");
  assertInOrder(videoGroups[0].clientToServer, ["hello", "world"], "video group 0");
  assertInOrder(videoGroups[1].clientToServer, ["frame-1-0", "frame-1-1", "frame-1-2"], "group 1");
  assert.ok(startsWith(videoGroups[0].clientToServer, hex("00 02 00 00")), "GROUP(sub 0, seq 0)");
  assert.ok(startsWith(videoGroups[1].clientToServer, hex("00 02 00 01")), "GROUP(sub 0, seq 1)");
  for (const g of videoGroups) assert.equal(g.clientToServerEnd, "fin");

  // Phase B: the client's announce interest (empty prefix) sees room/alice come and go.
  const [clientAnnounce] = streamsOf(t, "bidi", 0x01, "client").filter((s) => !s.injected);
  assert.ok(clientAnnounce, "client opened an Announce stream");
  assertInOrder(clientAnnounce.serverToClient, ["room/alice", "room/alice"], "alice announces");

  const [clientSub] = streamsOf(t, "bidi", 0x02, "client");
  assert.ok(clientSub, "client opened a Subscribe stream");
  assertInOrder(clientSub.clientToServer, ["room/alice", "audio"], "SUBSCRIBE audio");
  assert.equal(clientSub.clientToServerEnd, "fin", "subscriber cancels with a FIN");

  const audioGroups = streamsOf(t, "uni", 0x00, "server");
  assert.equal(audioGroups.length, 2, "two audio group streams");
  assertInOrder(audioGroups[0].serverToClient, ["alice-0-0", "alice-0-1"], "audio group 0");
  assertInOrder(
    audioGroups[1].serverToClient,
    ["alice-1-0", "alice-1-1", "alice-1-2"],
    "audio group 1",
  );

  // The fixture form round-trips.
  const back = fromFixture(JSON.parse(JSON.stringify(toFixture(t))));
  assert.deepEqual(back.streams, t.streams);
  assert.deepEqual(back.datagrams, t.datagrams);
  assert.deepEqual(back.origins, t.origins);
}

/** moql / no protocol: legacy SETUP on the first client bidi stream, then lite-01/02. */
function checkLegacy(t: Transcript, selected: "01" | "02"): void {
  assert.equal(t.version, `moq-lite-${selected}`);
  const first = t.streams[0];
  assert.equal(first.kind, "bidi");
  assert.equal(first.opener, "client");
  // CLIENT_SETUP: 0x20, u16 length 0x31, 3 versions: lite-02, lite-01, draft-14.
  assert.ok(
    startsWith(
      first.clientToServer,
      hex(
        "20 00 31 03 c0 00 00 00 ff 0d ad 02 c0 00 00 00 ff 0d ad 01 c0 00 00 00 ff 00 00 0e",
      ),
    ),
    "CLIENT_SETUP",
  );
  // SERVER_SETUP: 0x21, u16 length, the selected version.
  assert.ok(
    startsWith(first.serverToClient, hex(`21 00 20 c0 00 00 00 ff 0d ad ${selected}`)),
    "SERVER_SETUP",
  );
  assert.equal(streamsOf(t, "uni", 0x01).length, 0, "no lite-05 SETUP streams");
  assert.equal(streamsOf(t, "bidi", 0x04).length, 0, "no PROBE before lite-03");
  assert.equal(t.datagrams.length, 0);
  // SUBSCRIBE_OK: -01 carries a priority, -02 is an empty message.
  const [serverSub] = streamsOf(t, "bidi", 0x02, "server");
  assert.deepEqual(serverSub.clientToServer, selected === "01" ? hex("01 02") : hex("00"));
  // ANNOUNCE_INIT([bbb]) then ANNOUNCE(ended, bbb): no hop counts before lite-03.
  const [serverAnnounce] = streamsOf(t, "bidi", 0x01, "server");
  assert.deepEqual(serverAnnounce.clientToServer, hex("05 01 03 62 62 62 05 00 03 62 62 62"));
}

/** lite-03 / lite-04: ALPN only, no SETUP; typed SUBSCRIBE_OK; PROBE only on request. */
function checkLite0304(t: Transcript, lite: 3 | 4): void {
  assert.equal(t.version, `moq-lite-0${lite}`);
  assert.equal(streamsOf(t, "bidi", 0x20).length, 0, "no legacy SETUP");
  assert.equal(streamsOf(t, "uni", 0x01).length, 0, "no SETUP stream before lite-05");
  // @moq/net never opens PROBE on -03/-04; the harness injected one for the server to answer.
  const probes = streamsOf(t, "bidi", 0x04);
  assert.equal(probes.length, 1);
  assert.equal(probes[0].injected, true);
  assert.deepEqual(
    answered(probes[0]),
    lite === 3 ? hex("04 80 26 25 a0") : hex("05 80 26 25 a0 19"),
    "PROBE(2.5 Mbit/s[, 25 ms])",
  );
  const [serverSub] = streamsOf(t, "bidi", 0x02, "server");
  assert.ok(startsWith(serverSub.clientToServer, hex("00 06 02 00 41 f4 00 00")), "SUBSCRIBE_OK");
  // SUBSCRIBE(0, demo/bbb, video, prio 2, unordered, 500 ms, latest, open) then UPDATE.
  assert.deepEqual(
    serverSub.serverToClient,
    hex(
      "02 16 00 08 64 65 6d 6f 2f 62 62 62 05 76 69 64 65 6f 02 00 41 f4 00 00" + // SUBSCRIBE
        " 06 05 01 43 e8 00 0b", // SUBSCRIBE_UPDATE(5, ordered, 1000 ms, latest, end 10)
    ),
  );
  assert.equal(t.datagrams.length, 0);
  assert.equal(streamsOf(t, "bidi", 0x06).length, 0, "no TRACK before lite-05");
  assert.equal(streamsOf(t, "bidi", 0x03).length, 0, "no FETCH before lite-05");
}

function checkLite05(t: Transcript): void {
  assert.equal(t.version, "moq-lite-05");
  assert.equal(streamsOf(t, "bidi", 0x20).length, 0, "no legacy SETUP");
  // Each side writes one SETUP uni stream (0x01): Probe=Report, Origin=<its origin>, then FIN.
  const setups = streamsOf(t, "uni", 0x01);
  assert.deepEqual(setups.map((s) => s.opener).sort(), ["client", "server"]);
  const clientSetup = setups.find((s) => s.opener === "client");
  assert.ok(clientSetup);
  assert.deepEqual(
    clientSetup.clientToServer,
    hex("01 0e 02 01 01 01 05 08 c0 1c 11 e4 7c 11 e4 7a"),
  );
  assert.equal(clientSetup.clientToServerEnd, "fin");
  // Both sides open a PROBE stream and get PROBE(2.5 Mbit/s, 25 ms).
  const probes = streamsOf(t, "bidi", 0x04);
  assert.deepEqual(probes.map((s) => s.opener).sort(), ["client", "server"]);
  for (const p of probes) assert.deepEqual(answered(p), hex("05 80 26 25 a0 19"));
  // TRACK streams (subscribe, info(), fetch for video; subscribe for audio) and one FETCH.
  assert.equal(streamsOf(t, "bidi", 0x06).length, 4);
  const [fetch] = streamsOf(t, "bidi", 0x03, "server");
  assert.ok(fetch, "server opened a FETCH stream");
  assertInOrder(fetch.clientToServer, ["hello", "world"], "FETCH response");
  assert.equal(fetch.clientToServerEnd, "fin");
  // SUBSCRIBE_START(0) ... SUBSCRIBE_END(2), no SUBSCRIBE_OK.
  const [serverSub] = streamsOf(t, "bidi", 0x02, "server");
  assert.deepEqual(serverSub.clientToServer, hex("00 01 00 01 01 02"));
  // Frames carry zigzag-delta timestamps: 1000 ms -> 2000 = 47 d0, +33 ms -> 66 = 40 42.
  const [group0] = streamsOf(t, "uni", 0x00, "client");
  assert.deepEqual(
    group0.clientToServer,
    hex("00 02 00 00 47 d0 05 68 65 6c 6c 6f 40 42 05 77 6f 72 6c 64"),
  );
  // One datagram: subscribe 0, sequence 2, timestamp 3000, "dgram-2".
  assert.equal(t.datagrams.length, 1);
  assert.equal(t.datagrams[0].from, "client");
  assert.deepEqual(t.datagrams[0].bytes, hex("00 02 4b b8 64 67 72 61 6d 2d 32"));
}

const opts = { sanitizeOps: true, sanitizeResources: true, sanitizeExit: true };

Deno.test({
  name: "moqnet capture: moq-lite-05",
  ...opts,
  fn: async () => {
    const t = await captureMoqNet("moq-lite-05");
    checkCommon(t);
    checkLite05(t);
  },
});

Deno.test({
  name: "moqnet capture: moq-lite-04",
  ...opts,
  fn: async () => {
    const t = await captureMoqNet("moq-lite-04");
    checkCommon(t);
    checkLite0304(t, 4);
  },
});

Deno.test({
  name: "moqnet capture: moq-lite-03",
  ...opts,
  fn: async () => {
    const t = await captureMoqNet("moq-lite-03");
    checkCommon(t);
    checkLite0304(t, 3);
  },
});

Deno.test({
  name: "moqnet capture: moql negotiates moq-lite-02",
  ...opts,
  fn: async () => {
    const t = await captureMoqNet("moql");
    checkCommon(t);
    checkLegacy(t, "02");
  },
});

Deno.test({
  name: "moqnet capture: no subprotocol negotiates moq-lite-02",
  ...opts,
  fn: async () => {
    const t = await captureMoqNet("");
    checkCommon(t);
    checkLegacy(t, "02");
  },
});

Deno.test({
  name: "moqnet capture: moql with accept({version: lite-01}) speaks moq-lite-01",
  ...opts,
  fn: async () => {
    const t = await captureMoqNet("moql", { acceptVersion: 0xff0dad01 });
    checkCommon(t);
    checkLegacy(t, "01");
  },
});

Deno.test({
  name: "moqnet capture: two runs are byte-identical (deterministic origins)",
  ...opts,
  fn: async () => {
    const a = await captureMoqNet("moq-lite-05");
    const b = await captureMoqNet("moq-lite-05");
    assert.deepEqual(toFixture(a), toFixture(b));
  },
});
