/**
 * Random, truncated and mutated inputs to every moq-transport data-plane decoder on every draft:
 * a stream decoder ends in a value, "need more" (undefined) or a ProtocolError, a datagram or
 * properties decoder in a value or a ProtocolError; never another exception, never a value that
 * took more bytes than it was given. The committed corpus (fixtures/fuzz-corpus/ietf-data/) is
 * replayed on every run.
 */
import { ok } from "assert";
import { ProtocolError } from "../src/codec/error.ts";
import {
  decodeFetchHeader,
  decodeFetchObject,
  decodeObjectDatagram,
  decodeObjectExtensions,
  decodeObjectHeader,
  decodeSubgroupHeader,
  decodeUniStreamType,
  encodeFetchHeader,
  encodeFetchObject,
  encodeObjectDatagram,
  encodeObjectExtensions,
  encodeObjectHeader,
  encodeSubgroupHeader,
  type FetchObjectHeader,
  relayFlags,
} from "../src/codec/ietf/data.ts";
import { type Draft, DRAFTS } from "../src/codec/ietf/draft.ts";
import { hex, toHex } from "./support/hex.ts";

type Outcome = "value" | "more" | "error";

interface Family {
  name: string;
  /** Decodes `input`; returns the bytes taken, undefined for "need more". */
  decode: (input: Uint8Array, draft: Draft) => number | undefined;
  /** Valid encodings on `draft`, the seeds for mutation. */
  samples: (draft: Draft) => Uint8Array[];
}

const PRIOR: FetchObjectHeader = { group: 4, subgroup: 1, object: 2, priority: 9, length: 1 };

/** A subgroup stream's start: its type, then (for a subgroup) the header fields. */
function decodeStreamStart(input: Uint8Array, draft: Draft): number | undefined {
  const t = decodeUniStreamType(input, 0, draft);
  if (!t) return undefined;
  if (t.value.kind === "subgroup") {
    const h = decodeSubgroupHeader(input, t.size, draft, t.value.flags);
    return h && t.size + h.size;
  }
  if (t.value.kind === "fetch") {
    const h = decodeFetchHeader(input, t.size, draft);
    return h && t.size + h.size;
  }
  return t.size;
}

const FAMILIES: Family[] = [
  {
    name: "uni stream type + header",
    decode: decodeStreamStart,
    samples: (draft) => [
      encodeSubgroupHeader(
        { trackAlias: 3n, group: 9, subgroup: 0, priority: 1, flags: relayFlags(draft, true) },
        draft,
      ),
      encodeSubgroupHeader({
        trackAlias: 2n ** 40n,
        group: 70_000,
        subgroup: 5,
        flags: {
          extensions: false,
          subgroupIdMode: "explicit",
          endOfGroup: false,
          hasPriority: draft === 14,
          firstObject: false,
        },
      }, draft),
      encodeFetchHeader(300n, draft),
    ],
  },
  ...[false, true].flatMap((extensions) =>
    [undefined, 7].map((previous): Family => ({
      name: `object header (extensions ${extensions}, previous ${previous})`,
      decode: (input, draft) => decodeObjectHeader(input, 0, draft, { extensions, previous })?.size,
      samples: (draft) => [
        encodeObjectHeader(
          {
            objectId: previous === undefined ? 0 : previous + 1,
            previous,
            length: 5,
            extensions: extensions
              ? encodeObjectExtensions({ timestamp: 90_000 }, draft)
              : undefined,
          },
          draft,
          { extensions },
        ),
        encodeObjectHeader(
          { objectId: 300, previous, length: 0, status: 3 },
          draft,
          { extensions },
        ),
      ],
    }))
  ),
  ...[undefined, PRIOR].flatMap((previous) =>
    [false, true].map((descending): Family => ({
      name: `fetch object (previous ${previous !== undefined}, descending ${descending})`,
      decode: (input, draft) => decodeFetchObject(input, 0, draft, previous, descending)?.size,
      samples: (draft) => {
        const objects: FetchObjectHeader[] = [
          { group: 4, subgroup: 1, object: 3, priority: 9, length: 200 },
          { group: descending ? 1 : 8, subgroup: 0, object: 0, priority: 2, length: 0 },
          {
            group: 4,
            subgroup: 3,
            object: 10,
            priority: 9,
            length: 1,
            extensions: encodeObjectExtensions({ timestamp: 1 }, draft),
          },
        ];
        if (draft >= 16) objects.push({ endOfRange: "unknown", group: 4, object: 20, length: 0 });
        return objects.map((o) => encodeFetchObject(o, previous, draft, descending));
      },
    }))
  ),
];

function check(family: Family, draft: Draft, input: Uint8Array): Outcome {
  try {
    const size = family.decode(input, draft);
    if (size === undefined) return "more";
    ok(size > 0 && size <= input.length, `${family.name} took ${size} of ${input.length} bytes`);
    return "value";
  } catch (e) {
    if (e instanceof ProtocolError) return "error";
    throw new Error(`${family.name} (draft ${draft}) threw ${e} for ${toHex(input)}`);
  }
}

/** The whole-input decoders: a value or a ProtocolError, nothing else (no "need more"). */
const WHOLE: { name: string; decode: (input: Uint8Array, draft: Draft) => unknown }[] = [
  { name: "OBJECT_DATAGRAM", decode: decodeObjectDatagram },
  { name: "object properties", decode: decodeObjectExtensions },
];

function checkWhole(
  name: string,
  decode: (i: Uint8Array, d: Draft) => unknown,
  draft: Draft,
  input: Uint8Array,
): Outcome {
  try {
    decode(input, draft);
    return "value";
  } catch (e) {
    if (e instanceof ProtocolError) return "error";
    throw new Error(`${name} (draft ${draft}) threw ${e} for ${toHex(input)}`);
  }
}

function datagramSamples(draft: Draft): Uint8Array[] {
  return [
    encodeObjectDatagram({
      trackAlias: 1n,
      group: 2,
      object: 3,
      priority: 4,
      extensions: encodeObjectExtensions({ timestamp: 5 }, draft),
      payload: new Uint8Array([1, 2, 3]),
      endOfGroup: true,
    }, draft),
    encodeObjectDatagram(
      { trackAlias: 9n, group: 0, object: 0, priority: 0, status: 4, endOfGroup: false },
      draft,
    ),
  ];
}

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

function mutations(valid: Uint8Array[], next: () => number, count: number): Uint8Array[] {
  const byte = () => Math.floor(next() * 256);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const base = valid[i % Math.max(1, valid.length)];
    let input: Uint8Array;
    if (base && i % 2 === 0) {
      // Cut a valid encoding, flip bytes in it, or append random ones.
      input = base.slice(0, Math.floor(next() * (base.length + 1)));
      for (let flips = Math.floor(next() * 3); flips > 0 && input.length > 0; flips--) {
        input[Math.floor(next() * input.length)] = byte();
      }
      if (next() < 0.3) input = Uint8Array.from([...input, ...Array.from({ length: 4 }, byte)]);
    } else {
      input = Uint8Array.from({ length: Math.floor(next() * 32) }, byte);
      // Small first bytes make plausible types and flags, reaching deeper code paths.
      if (input.length > 0 && next() < 0.6) input[0] = Math.floor(next() * 0x80);
    }
    out.push(input);
  }
  return out;
}

Deno.test("fuzz: data-plane decoders end in a value, need-more or a ProtocolError", () => {
  const next = random(0xda7a);
  const outcomes: Record<Outcome, number> = { value: 0, more: 0, error: 0 };
  for (const draft of DRAFTS) {
    for (const family of FAMILIES) {
      for (const input of mutations(family.samples(draft), next, 500)) {
        outcomes[check(family, draft, input)]++;
      }
    }
    for (const { name, decode } of WHOLE) {
      const valid = name === "OBJECT_DATAGRAM"
        ? datagramSamples(draft)
        : [encodeObjectExtensions({ timescale: 90_000, timestamp: 2 ** 40 }, draft)];
      for (const input of mutations(valid, next, 500)) {
        outcomes[checkWhole(name, decode, draft, input)]++;
      }
    }
  }
  // Each outcome came up often: the inputs reach more than one path.
  ok(
    outcomes.value > 2000 && outcomes.more > 2000 && outcomes.error > 2000,
    JSON.stringify(outcomes),
  );
});

Deno.test("fuzz corpus: every committed ietf-data input replays through every decoder", () => {
  const dir = new URL("./fixtures/fuzz-corpus/ietf-data/", import.meta.url);
  let replayed = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.endsWith(".hex")) continue;
    const lines = Deno.readTextFileSync(new URL(entry.name, dir)).split("\n");
    for (const line of lines.map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))) {
      const input = hex(line);
      for (const draft of DRAFTS) {
        for (const family of FAMILIES) check(family, draft, input);
        for (const { name, decode } of WHOLE) checkWhole(name, decode, draft, input);
        replayed++;
      }
    }
  }
  ok(replayed >= 20 * DRAFTS.length, `only ${replayed} replays`);
});
