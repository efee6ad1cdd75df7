/**
 * Every message of every version survives encode then decode unchanged; decoding is incremental
 * (any strict prefix asks for more bytes, trailing bytes are left alone).
 */
import { deepEqual, equal } from "assert";
import * as codec from "../src/codec/lite/mod.ts";
import { FAMILIES } from "./support/codec_table.ts";

/** CLIENT_SETUP's decoder starts after the 0x20 type the session has already read. */
const skipType: Record<string, number> = { CLIENT_SETUP: 1 };

for (const version of codec.VERSIONS) {
  Deno.test(`round trip: ${codec.versionName(version)}`, () => {
    let checked = 0;
    for (const family of FAMILIES) {
      if (!family.versions.includes(version)) continue;
      for (const sample of family.samples(version)) {
        const bytes = family.encode(sample as never, version);
        const skip = skipType[family.name] ?? 0;
        const decoded = family.decode(bytes, version);
        if (!decoded) throw new Error(`${family.name}: wants more bytes after a whole message`);
        deepEqual(decoded.value, sample, family.name);
        equal(decoded.size, bytes.length - skip, `${family.name}: size`);
        if (family.name === "DATAGRAM") continue; // datagrams arrive whole
        for (let cut = skip; cut < bytes.length; cut++) {
          equal(
            family.decode(bytes.subarray(0, cut), version),
            undefined,
            `${family.name}: prefix ${cut}`,
          );
        }
        const padded = new Uint8Array(bytes.length + 3);
        padded.set(bytes);
        padded.set([0xff, 0xfe, 0xfd], bytes.length);
        equal(
          family.decode(padded, version)?.size,
          bytes.length - skip,
          `${family.name}: trailing`,
        );
        checked++;
      }
    }
    equal(checked > 10, true);
  });
}

Deno.test("versions differ where the spec says they do", () => {
  const sub = {
    id: 1n,
    broadcast: "a",
    track: "b",
    priority: 1,
    ordered: false,
    maxLatency: 0,
    startGroup: undefined,
    endGroup: undefined,
    startFrame: 0,
    endFrame: undefined,
  };
  const sizes = codec.VERSIONS.map((v) => codec.encodeSubscribe(sub, v).length);
  // 06 drops the ordered byte but adds start and end frames; 03..05 add four fields to 01/02.
  deepEqual(sizes, [12, 11, 11, 11, 7, 7]);
  const group = { subscribeId: 1n, sequence: 2, frameStart: 0 };
  deepEqual(codec.VERSIONS.map((v) => codec.encodeGroupHeader(group, v).length), [
    4,
    3,
    3,
    3,
    3,
    3,
  ]);
  deepEqual(
    codec.VERSIONS.map((v) => codec.encodeFrameHeader({ timestampDelta: 1, size: 2 }, v).length),
    [2, 2, 1, 1, 1, 1],
  );
});

Deno.test("encoders refuse what a version cannot carry", () => {
  const v05 = codec.Version.Lite05;
  const sub = {
    id: 1n,
    broadcast: "a",
    track: "b",
    priority: 1,
    ordered: false,
    maxLatency: 0,
    startGroup: 3,
    endGroup: undefined,
    startFrame: 2,
    endFrame: undefined,
  };
  let refused = 0;
  for (
    const attempt of [
      () => codec.encodeSubscribe(sub, v05),
      () => codec.encodeGroupHeader({ subscribeId: 0n, sequence: 0, frameStart: 1 }, v05),
      () => codec.encodeAnnounce({ kind: "end", id: 0n }, v05),
      () => codec.encodeAnnounce({ kind: "ended", suffix: "x", hops: [] }, codec.Version.Lite06),
      () => codec.encodeSubscribeResponse({ kind: "start", group: 1 }, codec.Version.Lite04),
      () => codec.encodeSubscribeUpdate(sub, codec.Version.Lite02),
      () =>
        codec.encodeTrackInfo({ priority: 0, ordered: false, maxLatency: 0, timescale: 0 }, v05),
    ]
  ) {
    try {
      attempt();
    } catch (e) {
      if (e instanceof RangeError) refused++;
    }
  }
  equal(refused, 7);
});
