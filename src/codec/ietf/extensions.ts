/**
 * Object extensions (draft 17+: "Object Properties"): the block an object carries after its id
 * when its stream or datagram type says so, `Length (i)` then Key-Value-Pairs. This module
 * handles the pairs themselves (the length is the caller's):
 *
 * - type `(i)`: absolute on drafts 14/15; delta-encoded on 16+ (the first absolute, then the
 *   difference from the previous type, so types ascend) (upstream `ietf/group.rs`
 *   `encode_object_property_type` / `decode_object_time`; `@moq/net` `ietf/object.js`
 *   `hasDeltaObjectPropertyTypes`);
 * - even type: one varint value; odd type: `Length (i)` then that many bytes.
 *
 * Known properties (draft-ietf-moq-loc-04 registry, shared by both upstreams):
 * TIMESTAMP 0x10 (the legacy loc-03 id 0x06 is accepted on read only) in the track's TIMESCALE
 * units, and an object-scope TIMESCALE 0x08 overriding the track's for that object. Everything
 * else is skipped.
 *
 * @module
 */
import { decodeError } from "../error.ts";
import { type Draft, hasDeltaPropertyTypes } from "./draft.ts";
import { draftVarintSize, readDraftVarintBig, writeDraftVarint } from "./wire.ts";

/** Largest extensions block accepted, as upstream (`ietf/subscriber.rs`, 64 KiB). */
export const MAX_EXTENSIONS_SIZE = 64 * 1024;

/** Property ids. */
export const ObjectProperty = {
  /** Object-scope timescale (units per second) for this object's timestamp. */
  Timescale: 0x08,
  /** Presentation timestamp, in the track's (or the object's) timescale. */
  Timestamp: 0x10,
  /** draft-ietf-moq-loc-03's timestamp id: read, never written. */
  LegacyTimestamp: 0x06,
} as const;

/** One property as found on the wire. */
export interface ObjectPropertyEntry {
  type: bigint;
  /** Even types: the varint; odd types: the bytes (a view into the block). */
  value: bigint | Uint8Array;
}

/** The properties in a block, in wire order. Malformed blocks are a {@link ProtocolError}. */
export function readObjectProperties(bytes: Uint8Array, draft: Draft): ObjectPropertyEntry[] {
  const out: ObjectPropertyEntry[] = [];
  const delta = hasDeltaPropertyTypes(draft);
  let at = 0;
  let prev = 0n;
  while (at < bytes.length) {
    const t = readDraftVarintBig(bytes, at, draft);
    if (!t) throw decodeError("object properties: a type runs past the end of the block");
    const type = delta ? prev + t[0] : t[0];
    prev = type;
    at = t[1];
    if (type % 2n === 0n) {
      const v = readDraftVarintBig(bytes, at, draft);
      if (!v) throw decodeError(`object property 0x${type.toString(16)}: value runs past the end`);
      out.push({ type, value: v[0] });
      at = v[1];
    } else {
      const l = readDraftVarintBig(bytes, at, draft);
      if (!l || l[0] > BigInt(bytes.length - l[1])) {
        throw decodeError(`object property 0x${type.toString(16)}: bytes run past the end`);
      }
      const end = l[1] + Number(l[0]);
      out.push({ type, value: bytes.subarray(l[1], end) });
      at = end;
    }
  }
  return out;
}

/** What the relay reads from an object's properties. */
export interface ObjectExtensions {
  /** The Timestamp property (0x10, or legacy 0x06). */
  timestamp?: number;
  /** An object-scope Timescale property (0x08), overriding the track's. */
  timescale?: number;
}

function safe(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw decodeError(`${what} ${value} exceeds 2^53-1`);
  return Number(value);
}

/** Reads the timestamp and timescale from a block (its bytes after the length). */
export function decodeObjectExtensions(bytes: Uint8Array, draft: Draft): ObjectExtensions {
  const out: ObjectExtensions = {};
  for (const { type, value } of readObjectProperties(bytes, draft)) {
    if (typeof value !== "bigint") continue;
    if (
      type === BigInt(ObjectProperty.Timestamp) || type === BigInt(ObjectProperty.LegacyTimestamp)
    ) {
      out.timestamp = safe(value, "timestamp");
    } else if (type === BigInt(ObjectProperty.Timescale)) {
      // Upstream refuses a zero timescale (`Timescale::new`), a unit with no ticks.
      if (value === 0n) throw decodeError("object property timescale: 0");
      out.timescale = safe(value, "timescale");
    }
  }
  return out;
}

/**
 * The block for a timestamp (and, rarely, an object-scope timescale), without its length, as
 * both upstreams write it: `10 <timestamp>` (type 0x10 is its own delta from 0 on 16+).
 */
export function encodeObjectExtensions(
  ext: ObjectExtensions,
  draft: Draft,
): Uint8Array<ArrayBuffer> {
  const pairs: [number, number][] = [];
  if (ext.timescale !== undefined) pairs.push([ObjectProperty.Timescale, ext.timescale]);
  if (ext.timestamp !== undefined) pairs.push([ObjectProperty.Timestamp, ext.timestamp]);
  const delta = hasDeltaPropertyTypes(draft);
  let size = 0;
  let prev = 0;
  for (const [type, value] of pairs) {
    size += draftVarintSize(delta ? type - prev : type, draft) + draftVarintSize(value, draft);
    prev = type;
  }
  const out = new Uint8Array(size);
  let at = 0;
  prev = 0;
  for (const [type, value] of pairs) {
    at = writeDraftVarint(out, at, delta ? type - prev : type, draft);
    at = writeDraftVarint(out, at, value, draft);
    prev = type;
  }
  return out;
}
