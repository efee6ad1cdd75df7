/**
 * Random, truncated and mutated inputs to the IETF control decoders (decodeMessage in both
 * LARGEST_OBJECT styles, and the SETUP decoders) on every draft: each ends in a value, "need more"
 * (undefined) or a ProtocolError; never another exception, never more bytes than the input.
 * `tests/fixtures/fuzz-corpus/ietf/*.hex` is replayed on every run (seeds = our valid vectors
 * per draft, plus inputs that once mattered).
 */
import { ok } from "assert";
import { ProtocolError } from "../src/codec/error.ts";
import * as ietf from "../src/codec/ietf/mod.ts";
import type { Draft } from "../src/codec/ietf/mod.ts";
import type { Decoded } from "../src/codec/message.ts";
import { controlSamples } from "./support/ietf_control_table.ts";
import { hex, toHex } from "./support/hex.ts";

type Decoder = {
  name: string;
  drafts: readonly Draft[];
  decode: (b: Uint8Array, d: Draft) => Decoded<unknown> | undefined;
};

const DECODERS: Decoder[] = [
  { name: "decodeMessage", drafts: ietf.DRAFTS, decode: (b, d) => ietf.decodeMessage(b, 0, d) },
  {
    name: "decodeMessage (length-prefixed)",
    drafts: ietf.DRAFTS,
    decode: (b, d) => ietf.decodeMessage(b, 0, d, { location: "length-prefixed" }),
  },
  {
    name: "decodeClientSetup",
    drafts: ietf.DRAFTS.filter((d) => !ietf.hasSetupStream(d)),
    decode: (b, d) => ietf.decodeClientSetup(b, 0, d),
  },
  {
    name: "decodeServerSetup",
    drafts: ietf.DRAFTS.filter((d) => !ietf.hasSetupStream(d)),
    decode: (b, d) => ietf.decodeServerSetup(b, 0, d),
  },
  {
    name: "decodeSetup",
    drafts: ietf.DRAFTS.filter(ietf.hasSetupStream),
    decode: (b, d) => ietf.decodeSetup(b, 0, d),
  },
];

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

function check(dec: Decoder, draft: Draft, input: Uint8Array): "value" | "more" | "error" {
  try {
    const r = dec.decode(input, draft);
    if (r === undefined) return "more";
    ok(r.size > 0 && r.size <= input.length, `${dec.name} consumed ${r.size} of ${input.length}`);
    return "value";
  } catch (e) {
    if (e instanceof ProtocolError) return "error";
    throw new Error(`${dec.name} (draft ${draft}) threw ${e} for ${toHex(input)}`);
  }
}

Deno.test("ietf fuzz: random and mutated inputs end in a value, need-more or a ProtocolError", () => {
  const next = random(0x1e7f);
  const byte = () => Math.floor(next() * 256);
  const outcomes = { value: 0, more: 0, error: 0 };
  for (const draft of ietf.DRAFTS) {
    const valid = controlSamples(draft).map((m) => ietf.encodeMessage(m, draft));
    for (const dec of DECODERS.filter((d) => d.drafts.includes(draft))) {
      for (let i = 0; i < 700; i++) {
        let input: Uint8Array;
        const base = valid[i % valid.length]!;
        if (i % 3 !== 2) {
          // Cut a valid message, flip a few bytes, sometimes append junk.
          input = next() < 0.4
            ? base.slice(0, Math.floor(next() * (base.length + 1)))
            : base.slice();
          for (let f = Math.floor(next() * 3); f > 0 && input.length > 3; f--) {
            // Keep the frame mostly intact so mutations reach the body decoders.
            input[3 + Math.floor(next() * (input.length - 3))] = byte();
          }
          if (next() < 0.2) input = Uint8Array.from([...input, ...Array.from({ length: 3 }, byte)]);
        } else {
          input = Uint8Array.from({ length: Math.floor(next() * 40) }, byte);
          if (input.length > 2 && next() < 0.6) {
            input[0] = Math.floor(next() * 0x20);
            input[1] = 0;
            input[2] = input.length - 3;
          }
        }
        outcomes[check(dec, draft, input)]++;
      }
    }
  }
  ok(
    outcomes.value > 1000 && outcomes.more > 1000 && outcomes.error > 1000,
    JSON.stringify(outcomes),
  );
});

Deno.test("ietf fuzz corpus: every committed input replays through every decoder of every draft", () => {
  const dir = new URL("./fixtures/fuzz-corpus/ietf/", import.meta.url);
  let replayed = 0;
  let values = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.endsWith(".hex")) continue;
    const lines = Deno.readTextFileSync(new URL(entry.name, dir)).split("\n");
    for (const line of lines.map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))) {
      const input = hex(line);
      for (const draft of ietf.DRAFTS) {
        for (const dec of DECODERS.filter((d) => d.drafts.includes(draft))) {
          if (check(dec, draft, input) === "value") values++;
          replayed++;
        }
      }
    }
  }
  ok(replayed > 1000 && values > 100, `${replayed} replays, ${values} values`);
});

Deno.test("ietf fuzz corpus: the seed files hold today's encoding of every sample", () => {
  // Regenerate with: deno run -A tests/tools/ietf_fuzz_seeds.ts
  for (const draft of ietf.DRAFTS) {
    const file = new URL(`./fixtures/fuzz-corpus/ietf/seeds-d${draft}.hex`, import.meta.url);
    const lines = new Set(Deno.readTextFileSync(file).split("\n").map((l) => l.trim()));
    for (const m of controlSamples(draft)) {
      const h = toHex(ietf.encodeMessage(m, draft));
      ok(lines.has(h), `draft ${draft} ${m.type}: ${h} not in ${file.pathname}`);
    }
  }
});
