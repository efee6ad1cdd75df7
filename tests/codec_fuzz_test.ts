/**
 * Random, truncated and mutated inputs to every decoder of every version: each ends in a value,
 * "need more" (undefined), or a ProtocolError; never another exception, never a hang.
 */
import { equal, ok } from "assert";
import * as codec from "../src/codec/lite/mod.ts";
import { FAMILIES, type Family } from "./support/codec_table.ts";
import { hex } from "./support/hex.ts";

/** A small deterministic generator (mulberry32), so a failure reproduces from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function check(
  family: Family,
  version: codec.Version,
  input: Uint8Array,
): "value" | "more" | "error" {
  try {
    const result = family.decode(input, version);
    if (result === undefined) return "more";
    ok(
      result.size <= input.length,
      `${family.name} consumed ${result.size} of ${input.length} bytes`,
    );
    return "value";
  } catch (e) {
    if (e instanceof codec.ProtocolError) {
      ok(Number.isInteger(e.code) && e.message.length > 0);
      return "error";
    }
    throw new Error(
      `${family.name} (${codec.versionName(version)}) threw ${e} for ${
        Array.from(input, (b) => b.toString(16).padStart(2, "0")).join("")
      }`,
    );
  }
}

Deno.test("fuzz: random and mutated inputs end in a value, need-more or a ProtocolError", () => {
  const next = random(0x5eed);
  const byte = () => Math.floor(next() * 256);
  const outcomes = { value: 0, more: 0, error: 0 };
  for (const version of codec.VERSIONS) {
    for (const family of FAMILIES) {
      const valid = family.versions.includes(version)
        ? family.samples(version).map((s) => family.encode(s as never, version))
        : [];
      for (let i = 0; i < 600; i++) {
        let input: Uint8Array;
        const base = valid[i % Math.max(1, valid.length)];
        if (base && i % 2 === 0) {
          // Mutate a valid encoding: flip bytes, cut it, or splice in random bytes.
          input = base.slice(0, Math.floor(next() * (base.length + 1)));
          for (let flips = Math.floor(next() * 3); flips > 0 && input.length > 0; flips--) {
            input[Math.floor(next() * input.length)] = byte();
          }
          if (next() < 0.3) input = Uint8Array.from([...input, ...Array.from({ length: 4 }, byte)]);
        } else {
          input = Uint8Array.from({ length: Math.floor(next() * 40) }, byte);
          // Small first bytes make plausible lengths and types, reaching deeper code paths.
          if (input.length > 0 && next() < 0.5) input[0] = Math.floor(next() * 24);
        }
        outcomes[check(family, version, input)]++;
      }
    }
  }
  // Every outcome was reached many times, so the generator explores more than one path.
  ok(
    outcomes.value > 1000 && outcomes.more > 1000 && outcomes.error > 1000,
    JSON.stringify(outcomes),
  );
});

Deno.test("fuzz corpus: every committed input replays through every decoder", () => {
  const dir = new URL("./fixtures/fuzz-corpus/", import.meta.url);
  let replayed = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.endsWith(".hex")) continue;
    const lines = Deno.readTextFileSync(new URL(entry.name, dir)).split("\n");
    for (const line of lines.map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))) {
      const input = hex(line);
      for (const version of codec.VERSIONS) {
        for (const family of FAMILIES) {
          check(family, version, input);
          replayed++;
        }
      }
    }
  }
  ok(replayed > 0);
});

Deno.test("declared sizes over the limit are refused before any body arrives", () => {
  const threw = (f: () => unknown, streamCode: number) => {
    try {
      f();
    } catch (e) {
      return e instanceof codec.ProtocolError && e.streamCode === streamCode;
    }
    return false;
  };
  // A 1 GiB length prefix with no body: refused at once, not buffered.
  ok(
    threw(
      () => codec.decodeSubscribe(hex("c0 00 00 00 40 00 00 00"), codec.Version.Lite05),
      codec.StreamCode.MalformedTrack,
    ),
  );
  ok(
    threw(
      () => codec.decodeFrameHeader(hex("c0 00 00 00 40 00 00 00"), codec.Version.Lite04),
      codec.StreamCode.FrameTooLarge,
    ),
  );
  ok(threw(() => codec.decodeSetup(hex("80 01 00 01")), codec.StreamCode.MalformedTrack));
  // A varint beyond 2^53 where a number is expected is a clear decode error.
  ok(
    threw(
      () => codec.decodeGroupHeader(hex("09 00 ff ff ff ff ff ff ff ff"), codec.Version.Lite04),
      codec.StreamCode.MalformedTrack,
    ),
  );
  // ... while 62-bit identifiers are fine.
  equal(
    codec.decodeGroupHeader(hex("09 ff ff ff ff ff ff ff ff 00"), codec.Version.Lite04)?.value
      .subscribeId,
    2n ** 62n - 1n,
  );
});
