/**
 * Byte vectors from the wire reference (`shared/docs/protocol.md`, produced by running
 * `@moq/net` 0.3.4's own encoders): our decoder reads each to the expected value and our encoder
 * writes the same bytes back.
 */
import { deepEqual, equal } from "assert";
import * as codec from "../src/codec/lite/mod.ts";
import { Version as V } from "../src/codec/lite/mod.ts";
import { concat, hex, toHex } from "./support/hex.ts";

/** Decodes `bytes` fully with `decode`, checks the value, and re-encodes with `encode`. */
function vector<T>(
  name: string,
  bytes: string,
  decode: (b: Uint8Array) => codec.Decoded<T> | undefined,
  expected: T,
  encode: (v: T) => Uint8Array,
): void {
  const input = hex(bytes);
  const decoded = decode(input);
  if (!decoded) throw new Error(`${name}: decoder wants more bytes`);
  deepEqual(decoded.value, expected, name);
  equal(decoded.size, input.length, `${name}: consumed`);
  equal(toHex(encode(decoded.value)), toHex(input), `${name}: re-encoded`);
}

/** Strips the stream type byte(s) the vector starts with, checking it. */
function afterType(bytes: string, type: number): string {
  const input = hex(bytes);
  equal(input[0], type);
  return toHex(input.subarray(1));
}

const window = {
  ordered: false,
  maxLatency: 500,
  startGroup: undefined,
  endGroup: undefined,
  startFrame: 0,
  endFrame: undefined,
};

Deno.test("lite-05 vectors", () => {
  const v = V.Lite05;
  vector(
    "empty SETUP",
    afterType("01 01 00", 1),
    (b) => codec.decodeSetup(b),
    { parameters: [] },
    codec.encodeSetup,
  );
  vector(
    "client SETUP with path",
    afterType("01 10 01 02 0d 2f 64 65 6d 6f 3f 6a 77 74 3d 61 62 63", 1),
    codec.decodeSetup,
    {
      parameters: [{ id: 2n, value: new TextEncoder().encode("/demo?jwt=abc") }],
    },
    codec.encodeSetup,
  );
  const probeReport = codec.decodeSetup(hex("04 01 01 01 01"));
  deepEqual(probeReport && codec.setupInfo(probeReport.value).probe, "report");
  const origin = codec.decodeSetup(hex("05 01 05 02 44 d2"));
  deepEqual(origin && codec.setupInfo(origin.value).hop, 1234n);
  vector(
    "ANNOUNCE_REQUEST",
    afterType("01 06 04 64 65 6d 6f 00", 1),
    (b) => codec.decodeAnnounceRequest(b, v),
    { prefix: "demo", excludeHop: 0n },
    (m) => codec.encodeAnnounceRequest(m, v),
  );
  vector(
    "ANNOUNCE_OK",
    "02 2a 01",
    codec.decodeAnnounceOk,
    { hop: 42n, active: 1 },
    codec.encodeAnnounceOk,
  );
  vector("ANNOUNCE active", "07 01 03 62 62 62 01 07", (b) => codec.decodeAnnounce(b, v), {
    kind: "active",
    suffix: "bbb",
    hops: [7n],
  }, (m) => codec.encodeAnnounce(m, v));
  vector("ANNOUNCE ended", "06 00 03 62 62 62 00", (b) => codec.decodeAnnounce(b, v), {
    kind: "ended",
    suffix: "bbb",
    hops: [],
  }, (m) => codec.encodeAnnounce(m, v));
  vector(
    "TRACK",
    afterType("06 0f 08 64 65 6d 6f 2f 62 62 62 05 76 69 64 65 6f", 6),
    codec.decodeTrack,
    { broadcast: "demo/bbb", track: "video" },
    codec.encodeTrack,
  );
  vector("TRACK_INFO", "06 01 00 53 88 43 e8", (b) => codec.decodeTrackInfo(b, v), {
    priority: 1,
    ordered: false,
    maxLatency: 5000,
    timescale: 1000,
  }, (m) => codec.encodeTrackInfo(m, v));
  vector(
    "SUBSCRIBE",
    afterType("02 16 00 08 64 65 6d 6f 2f 62 62 62 05 76 69 64 65 6f 02 00 41 f4 00 00", 2),
    (b) => codec.decodeSubscribe(b, v),
    {
      id: 0n,
      broadcast: "demo/bbb",
      track: "video",
      priority: 2,
      ...window,
    },
    (m) => codec.encodeSubscribe(m, v),
  );
  vector("SUBSCRIBE_UPDATE", "06 03 00 41 f4 00 00", (b) => codec.decodeSubscribeUpdate(b, v), {
    priority: 3,
    ...window,
  }, (m) => codec.encodeSubscribeUpdate(m, v));
  vector("SUBSCRIBE_START", "00 01 05", (b) => codec.decodeSubscribeResponse(b, v), {
    kind: "start",
    group: 5,
  }, (m) => codec.encodeSubscribeResponse(m, v));
  vector("SUBSCRIBE_END", "01 01 07", (b) => codec.decodeSubscribeResponse(b, v), {
    kind: "end",
    group: 7,
  }, (m) => codec.encodeSubscribeResponse(m, v));
  vector("SUBSCRIBE_DROP", "02 03 06 06 00", (b) => codec.decodeSubscribeResponse(b, v), {
    kind: "drop",
    start: 6,
    end: 6,
    errorCode: 0,
  }, (m) => codec.encodeSubscribeResponse(m, v));
  vector(
    "FETCH",
    afterType("03 11 08 64 65 6d 6f 2f 62 62 62 05 76 69 64 65 6f 02 05", 3),
    (b) => codec.decodeFetch(b, v),
    {
      broadcast: "demo/bbb",
      track: "video",
      priority: 2,
      group: 5,
      startFrame: 0,
      endFrame: undefined,
    },
    (m) => codec.encodeFetch(m, v),
  );
  vector("PROBE", afterType("04 05 80 26 25 a0 28", 4), (b) => codec.decodeProbe(b, v), {
    bitrate: 2_500_000,
    rtt: 40,
  }, (m) => codec.encodeProbe(m, v));
  vector("GOAWAY", afterType("05 01 00", 5), codec.decodeGoaway, { uri: "" }, codec.encodeGoaway);
  deepEqual(codec.decodeDatagram(hex("00 05 43 e8 68 69")), {
    subscribeId: 0n,
    sequence: 5,
    timestamp: 1000,
    payload: new TextEncoder().encode("hi"),
  });
  equal(
    toHex(
      codec.encodeDatagram({
        subscribeId: 0n,
        sequence: 5,
        timestamp: 1000,
        payload: new TextEncoder().encode("hi"),
      }),
    ),
    "000543e86869",
  );
});

Deno.test("lite-05 group stream: header and timestamped frames", () => {
  const v = V.Lite05;
  const stream = hex("00 02 00 05 47 d0 05 68 65 6c 6c 6f 40 42 05 77 6f 72 6c 64");
  equal(codec.decodeUniType(stream, v)?.value, "group");
  const header = codec.decodeGroupHeader(stream, v, 1);
  deepEqual(header?.value, { subscribeId: 0n, sequence: 5, frameStart: 0 });
  let at = 1 + (header?.size ?? 0);
  const frames: [number, string][] = [];
  while (at < stream.length) {
    const f = codec.decodeFrameHeader(stream, v, at);
    if (!f) throw new Error("truncated");
    at += f.size;
    frames.push([
      f.value.timestampDelta,
      new TextDecoder().decode(stream.subarray(at, at + f.value.size)),
    ]);
    at += f.value.size;
  }
  deepEqual(frames, [[1000, "hello"], [33, "world"]]);
  const rebuilt = concat(
    hex("00"),
    codec.encodeGroupHeader({ subscribeId: 0n, sequence: 5, frameStart: 0 }, v),
    codec.encodeFrame(new TextEncoder().encode("hello"), v, 1000),
    codec.encodeFrame(new TextEncoder().encode("world"), v, 33),
  );
  equal(toHex(rebuilt), toHex(stream));
  // Negative deltas: zigzag(-1) = 01, zigzag(-33) = 40 41.
  deepEqual(codec.decodeFrameHeader(hex("01 00"), v)?.value, { timestampDelta: -1, size: 0 });
  deepEqual(codec.decodeFrameHeader(hex("40 41 00"), v)?.value, { timestampDelta: -33, size: 0 });
});

Deno.test("lite-04 and lite-03 vectors", () => {
  for (const v of [V.Lite04, V.Lite03]) {
    const is04 = v === V.Lite04;
    vector(
      "ANNOUNCE_PLEASE",
      afterType(is04 ? "01 06 04 64 65 6d 6f 00" : "01 05 04 64 65 6d 6f", 1),
      (b) => codec.decodeAnnounceRequest(b, v),
      { prefix: "demo", excludeHop: 0n },
      (m) => codec.encodeAnnounceRequest(m, v),
    );
    vector(
      "ANNOUNCE active",
      is04 ? "07 01 03 62 62 62 01 07" : "06 01 03 62 62 62 01",
      (b) => codec.decodeAnnounce(b, v),
      { kind: "active", suffix: "bbb", hops: [is04 ? 7n : 0n] },
      (m) => codec.encodeAnnounce(m, v),
    );
    vector("ANNOUNCE ended", "06 00 03 62 62 62 00", (b) => codec.decodeAnnounce(b, v), {
      kind: "ended",
      suffix: "bbb",
      hops: [],
    }, (m) => codec.encodeAnnounce(m, v));
    vector("SUBSCRIBE_OK", "00 06 02 00 41 f4 06 00", (b) => codec.decodeSubscribeResponse(b, v), {
      kind: "ok",
      priority: 2,
      ordered: false,
      maxLatency: 500,
      startGroup: 5,
      endGroup: undefined,
    }, (m) => codec.encodeSubscribeResponse(m, v));
    vector(
      "SUBSCRIBE_OK as the Rust relay sends it",
      "00 05 02 00 00 00 00",
      (b) => codec.decodeSubscribeResponse(b, v),
      {
        kind: "ok",
        priority: 2,
        ordered: false,
        maxLatency: 0,
        startGroup: undefined,
        endGroup: undefined,
      },
      (m) => codec.encodeSubscribeResponse(m, v),
    );
    vector("SUBSCRIBE_DROP", "01 03 06 06 00", (b) => codec.decodeSubscribeResponse(b, v), {
      kind: "drop",
      start: 6,
      end: 6,
      errorCode: 0,
    }, (m) => codec.encodeSubscribeResponse(m, v));
    vector(
      "SUBSCRIBE ordered, start 10, end 20",
      "15 01 08 64 65 6d 6f 2f 62 62 62 05 61 75 64 69 6f 03 01 00 0b 15",
      (b) => codec.decodeSubscribe(b, v),
      {
        id: 1n,
        broadcast: "demo/bbb",
        track: "audio",
        priority: 3,
        ordered: true,
        maxLatency: 0,
        startGroup: 10,
        endGroup: 20,
        startFrame: 0,
        endFrame: undefined,
      },
      (m) => codec.encodeSubscribe(m, v),
    );
    vector("SUBSCRIBE_UPDATE", "06 05 00 43 e8 01 00", (b) => codec.decodeSubscribeUpdate(b, v), {
      priority: 5,
      ordered: false,
      maxLatency: 1000,
      startGroup: 0,
      endGroup: undefined,
      startFrame: 0,
      endFrame: undefined,
    }, (m) => codec.encodeSubscribeUpdate(m, v));
    vector("PROBE", is04 ? "05 80 26 25 a0 19" : "04 80 26 25 a0", (b) => codec.decodeProbe(b, v), {
      bitrate: 2_500_000,
      rtt: is04 ? 25 : 0,
    }, (m) => codec.encodeProbe(m, v));
    vector("GROUP", afterType("00 02 00 05", 0), (b) => codec.decodeGroupHeader(b, v), {
      subscribeId: 0n,
      sequence: 5,
      frameStart: 0,
    }, (m) => codec.encodeGroupHeader(m, v));
    deepEqual(codec.decodeFrameHeader(hex("05 68 65 6c 6c 6f"), v), {
      value: { timestampDelta: 0, size: 5 },
      size: 1,
    });
  }
  vector(
    "ANNOUNCE_PLEASE exclude 1234",
    afterType("01 07 04 64 65 6d 6f 44 d2", 1),
    (b) => codec.decodeAnnounceRequest(b, V.Lite04),
    { prefix: "demo", excludeHop: 1234n },
    (m) => codec.encodeAnnounceRequest(m, V.Lite04),
  );
  vector(
    "ANNOUNCE active chain [0x1234]",
    "08 01 03 62 62 62 01 52 34",
    (b) => codec.decodeAnnounce(b, V.Lite04),
    { kind: "active", suffix: "bbb", hops: [0x1234n] },
    (m) => codec.encodeAnnounce(m, V.Lite04),
  );
  vector(
    "GOAWAY uri",
    afterType("05 18 17 68 74 74 70 73 3a 2f 2f 72 65 6c 61 79 32 2e 65 78 61 6d 70 6c 65 2f", 5),
    codec.decodeGoaway,
    { uri: "https://relay2.example/" },
    codec.encodeGoaway,
  );
});

Deno.test("lite-01 / lite-02 vectors, legacy SETUP", () => {
  const moqNetSetup =
    "20 00 31 03 c0 00 00 00 ff 0d ad 02 c0 00 00 00 ff 0d ad 01 c0 00 00 00 ff 00 00 0e 03 02 80 00 a4 55 80 04 0b 5a 01 07 0b 6d 6f 71 2d 6c 69 74 65 2d 6a 73";
  const setup = codec.decodeClientSetup(hex(moqNetSetup), 1);
  deepEqual(setup?.value.versions, [V.Lite02, V.Lite01, codec.IETF_DRAFT_14]);
  equal(setup?.size, hex(moqNetSetup).length - 1);
  equal(toHex(codec.encodeClientSetup(setup!.value)), toHex(hex(moqNetSetup)));
  equal(codec.chooseLegacyVersion(setup!.value.versions), V.Lite02);
  equal(codec.chooseLegacyVersion([V.Lite01, codec.IETF_DRAFT_14]), V.Lite01);
  equal(codec.chooseLegacyVersion([codec.IETF_DRAFT_14]), undefined);
  vector("SERVER_SETUP lite-02", "21 00 09 c0 00 00 00 ff 0d ad 02 00", codec.decodeServerSetup, {
    version: V.Lite02,
    parameters: hex("00"),
  }, codec.encodeServerSetup);
  vector("SERVER_SETUP lite-01", "21 00 09 c0 00 00 00 ff 0d ad 01 00", codec.decodeServerSetup, {
    version: V.Lite01,
    parameters: hex("00"),
  }, codec.encodeServerSetup);
  const kixelated =
    "20 00 22 02 c0 00 00 00 ff 0d ad 01 c0 00 00 00 ff 00 00 0e 02 02 01 3f 05 0b 6d 6f 71 2d 6c 69 74 65 2d 6a 73";
  deepEqual(codec.decodeClientSetup(hex(kixelated), 1)?.value.versions, [
    V.Lite01,
    codec.IETF_DRAFT_14,
  ]);

  for (const v of [V.Lite01, V.Lite02]) {
    equal(codec.decodeBidiType(hex("20"), v)?.value, "setup");
    vector(
      "ANNOUNCE_PLEASE",
      afterType("01 05 04 64 65 6d 6f", 1),
      (b) => codec.decodeAnnounceRequest(b, v),
      { prefix: "demo", excludeHop: 0n },
      (m) => codec.encodeAnnounceRequest(m, v),
    );
    vector(
      "ANNOUNCE_PLEASE empty",
      afterType("01 01 00", 1),
      (b) => codec.decodeAnnounceRequest(b, v),
      { prefix: "", excludeHop: 0n },
      (m) => codec.encodeAnnounceRequest(m, v),
    );
    vector(
      "ANNOUNCE_INIT",
      "05 01 03 62 62 62",
      codec.decodeAnnounceInit,
      { suffixes: ["bbb"] },
      codec.encodeAnnounceInit,
    );
    vector("ANNOUNCE active", "05 01 03 62 62 62", (b) => codec.decodeAnnounce(b, v), {
      kind: "active",
      suffix: "bbb",
      hops: [],
    }, (m) => codec.encodeAnnounce(m, v));
    vector("ANNOUNCE ended", "05 00 03 62 62 62", (b) => codec.decodeAnnounce(b, v), {
      kind: "ended",
      suffix: "bbb",
      hops: [],
    }, (m) => codec.encodeAnnounce(m, v));
    vector(
      "SUBSCRIBE",
      afterType("02 11 00 08 64 65 6d 6f 2f 62 62 62 05 76 69 64 65 6f 02", 2),
      (b) => codec.decodeSubscribe(b, v),
      {
        id: 0n,
        broadcast: "demo/bbb",
        track: "video",
        priority: 2,
        ordered: false,
        maxLatency: 0,
        startGroup: undefined,
        endGroup: undefined,
        startFrame: 0,
        endFrame: undefined,
      },
      (m) => codec.encodeSubscribe(m, v),
    );
    vector("GROUP", afterType("00 02 00 05", 0), (b) => codec.decodeGroupHeader(b, v), {
      subscribeId: 0n,
      sequence: 5,
      frameStart: 0,
    }, (m) => codec.encodeGroupHeader(m, v));
    vector(
      "SESSION_INFO",
      "04 80 0f 42 40",
      codec.decodeSessionInfo,
      { bitrate: 1_000_000 },
      codec.encodeSessionInfo,
    );
  }
  vector("SUBSCRIBE_OK lite-01", "01 02", (b) => codec.decodeSubscribeResponse(b, V.Lite01), {
    kind: "ok",
    priority: 2,
    ordered: false,
    maxLatency: 0,
    startGroup: undefined,
    endGroup: undefined,
  }, (m) => codec.encodeSubscribeResponse(m, V.Lite01));
  vector("SUBSCRIBE_OK lite-02", "00", (b) => codec.decodeSubscribeResponse(b, V.Lite02), {
    kind: "ok",
    priority: 0,
    ordered: false,
    maxLatency: 0,
    startGroup: undefined,
    endGroup: undefined,
  }, (m) => codec.encodeSubscribeResponse(m, V.Lite02));
});
