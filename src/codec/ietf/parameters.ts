/**
 * The key-value blocks of moq-transport: setup options (CLIENT_SETUP / SERVER_SETUP / SETUP),
 * message parameters (SUBSCRIBE, PUBLISH, FETCH, ...), Track Properties (17+), and the values
 * that live inside them (LOCATION_FILTER, LARGEST_OBJECT). `WIRE.md` 0.3, 1.4, 1.5, 3.1.1.
 *
 * Sources: `moq-net` 0.3.18 `ietf/parameters.rs` (`R:`), `ietf/filter.rs`, `ietf/properties.rs`;
 * `@moq/net` 0.3.4 `ietf/parameters.js` (`J:`), `ietf/filter.js`, `ietf/properties.js`.
 *
 * Pure: bytes in, values out.
 *
 * @module
 */
import { boundsError, decodeError } from "../error.ts";
import {
  type Draft,
  hasDeltaKeys,
  hasFieldListFilter,
  hasRequestIdFlowControl,
  hasSetupOptionCount,
  hasTypedParameters,
  ignoresUnknownParameters,
  readsTrackProperties,
  writesTrackProperties,
} from "./draft.ts";
import type {
  CodecOptions,
  Filter,
  GroupOrder,
  Location,
  SetupParameters,
  TrackProperties,
} from "./messages.ts";
import { IetfReader, IetfWriter } from "./wire.ts";

/** Most entries in one block (setup options, message parameters, track properties;
 * `R:parameters.rs:11`). */
export const MAX_PARAMETERS = 64;

/** Longest byte value of one entry (a token, a path, ...; `R:parameters.rs:13`). */
export const MAX_PARAMETER_VALUE_SIZE = 0xffff;

/** Longest AUTHORIZATION_TOKEN (setup option or message parameter): one entry's value. */
export const MAX_TOKEN_SIZE = MAX_PARAMETER_VALUE_SIZE;

/** Setup option ids (`R:parameters.rs:15-55`, `J:parameters.js:5-17`). */
export const SetupOption = {
  Path: 0x1,
  /** Drafts 14-16 only. */
  MaxRequestId: 0x2,
  AuthorizationToken: 0x3,
  MaxAuthTokenCacheSize: 0x4,
  Authority: 0x5,
  Implementation: 0x7,
  /** MoQ Cluster HOP_ID (Rust, varint, `R:cluster.rs:27`). */
  HopId: 0x40b54,
  /** MoQ Cluster RELAY_HOPS (JS, bytes, `J:parameters.js:13`): Rust's HOP_ID in another form. */
  RelayHops: 0x40b55,
  RelayCost: 0x40b56,
  Solicit: 0x40b5a,
  /** MoQ Hidden (`R:hidden.rs:15`). */
  Hidden: 0x40b5c,
} as const;

/** Message parameter keys (`WIRE.md` 1.4). */
export const Param = {
  DeliveryTimeout: 0x02,
  AuthorizationToken: 0x03,
  RendezvousTimeout: 0x04,
  SubgroupTimeout: 0x06,
  Expires: 0x08,
  LargestObject: 0x09,
  FillTimeout: 0x0a,
  Forward: 0x10,
  SubscriberPriority: 0x20,
  LocationFilter: 0x21,
  GroupOrder: 0x22,
  Fill: 0x23,
  SubgroupFilter: 0x25,
  ObjectIdFilter: 0x26,
  PriorityFilter: 0x27,
  ObjectPropertyFilter: 0x28,
  TrackPropertyFilter: 0x29,
  NewGroupRequest: 0x32,
  IncludeProperties: 0x35,
  /** MoQ Cluster (`R:cluster.rs:35-39`). */
  HopPath: 0x40b57,
  RouteCost: 0x40b58,
  /** MoQ Hidden, in SUBSCRIBE_NAMESPACE (`R:hidden.rs:19`). */
  Hidden: 0x40b5e,
} as const;

/** Track Property types (`R:properties.rs:27-35`). */
export const TrackProperty = {
  Timescale: 0x08,
  DefaultPublisherPriority: 0x0e,
  DefaultPublisherGroupOrder: 0x22,
} as const;

/** Whether the peer's SETUP IMPLEMENTATION names `@moq/net` (`moq-lite-js`, sent by
 * `J:connection/connect.js:143`, `accept.js:92`, `handshake.js:21` via `connect.js:190`), whose
 * LARGEST_OBJECT on 17-20 is length-prefixed; anything else gets Rust's bare form. */
export function locationStyleFor(implementation: string | undefined): "bare" | "length-prefixed" {
  return implementation === "moq-lite-js" ? "length-prefixed" : "bare";
}

// ---- Setup options ------------------------------------------------------------------------------

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

function text(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw decodeError(`${what}: not valid UTF-8`);
  }
}

/** Options that must not repeat on `draft` (`R:parameters.rs:35-45`): the ones it defines.
 * Unknown ones may repeat. */
function definedSetupOption(id: number, draft: Draft): boolean {
  switch (id) {
    case SetupOption.MaxRequestId:
      return hasRequestIdFlowControl(draft);
    case SetupOption.HopId:
    case SetupOption.RelayCost:
      return !hasSetupOptionCount(draft);
    case SetupOption.Path:
    case SetupOption.AuthorizationToken:
    case SetupOption.MaxAuthTokenCacheSize:
    case SetupOption.Authority:
    case SetupOption.Implementation:
    case SetupOption.Solicit:
    case SetupOption.Hidden:
      return true;
    default:
      return false;
  }
}

/**
 * Setup options, the rest of the body `r` walks: 14/15 `count` + absolute ids, 16 `count` + delta
 * ids, 17+ delta ids to the end. Even id = varint, odd id = `len` + bytes.
 */
export function readSetupParameters(r: IetfReader): SetupParameters {
  const draft = r.draft;
  const out: SetupParameters = { unknown: [] };
  const seen = new Set<number>();
  let count = Infinity;
  if (hasSetupOptionCount(draft)) {
    count = r.varint("setup option count");
    if (count > MAX_PARAMETERS) {
      throw boundsError(`setup: ${count} options exceeds the limit of ${MAX_PARAMETERS}`);
    }
  }
  let id = 0;
  for (let i = 0; i < count && (count !== Infinity || r.remaining > 0); i++) {
    if (i >= MAX_PARAMETERS) {
      throw boundsError(`setup: more than ${MAX_PARAMETERS} options`);
    }
    const key = r.varint("setup option id");
    id = hasDeltaKeys(draft) && i > 0 ? id + key : key;
    if (!Number.isSafeInteger(id)) throw decodeError(`setup option id overflows`);
    if (definedSetupOption(id, draft)) {
      if (seen.has(id)) throw decodeError(`setup option 0x${id.toString(16)} repeated`);
      seen.add(id);
    }
    if (id % 2 === 0) {
      const value = r.varintBig("setup option value");
      switch (id) {
        case SetupOption.MaxRequestId:
          if (hasRequestIdFlowControl(draft)) out.maxRequestId = value;
          else out.unknown.push({ id, value });
          break;
        case SetupOption.MaxAuthTokenCacheSize:
          if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
            throw decodeError(`MAX_AUTH_TOKEN_CACHE_SIZE ${value} exceeds 2^53-1`);
          }
          out.maxAuthTokenCacheSize = Number(value);
          break;
        default:
          out.unknown.push({ id, value });
      }
    } else {
      const value = r.lengthPrefixed("setup option value", MAX_PARAMETER_VALUE_SIZE);
      switch (id) {
        case SetupOption.Path:
          out.path = text(value, "PATH");
          break;
        case SetupOption.AuthorizationToken:
          out.authorizationToken = value.slice();
          break;
        case SetupOption.Authority:
          out.authority = text(value, "AUTHORITY");
          break;
        case SetupOption.Implementation:
          out.implementation = text(value, "IMPLEMENTATION");
          break;
        default:
          out.unknown.push({ id, value: value.slice() });
      }
    }
  }
  return out;
}

/** Writes setup options in ascending id order (`R:parameters.rs:178-210`). */
export function writeSetupParameters(w: IetfWriter, p: SetupParameters): void {
  const draft = w.draft;
  const entries: { id: number; value: bigint | Uint8Array }[] = [];
  if (p.path !== undefined) {
    entries.push({ id: SetupOption.Path, value: utf8Encoder.encode(p.path) });
  }
  if (p.maxRequestId !== undefined) {
    if (!hasRequestIdFlowControl(draft)) {
      throw new RangeError(`MAX_REQUEST_ID does not exist on draft ${draft}`);
    }
    entries.push({ id: SetupOption.MaxRequestId, value: p.maxRequestId });
  }
  if (p.authorizationToken !== undefined) {
    entries.push({ id: SetupOption.AuthorizationToken, value: p.authorizationToken });
  }
  if (p.maxAuthTokenCacheSize !== undefined) {
    entries.push({ id: SetupOption.MaxAuthTokenCacheSize, value: BigInt(p.maxAuthTokenCacheSize) });
  }
  if (p.authority !== undefined) {
    entries.push({ id: SetupOption.Authority, value: utf8Encoder.encode(p.authority) });
  }
  if (p.implementation !== undefined) {
    entries.push({ id: SetupOption.Implementation, value: utf8Encoder.encode(p.implementation) });
  }
  for (const u of p.unknown) {
    if ((u.id % 2 === 0) !== (typeof u.value === "bigint")) {
      throw new RangeError(`setup option 0x${u.id.toString(16)}: even ids carry varints`);
    }
    entries.push(u);
  }
  if (entries.length > MAX_PARAMETERS) {
    throw new RangeError(`${entries.length} setup options (at most ${MAX_PARAMETERS})`);
  }
  entries.sort((a, b) => a.id - b.id);
  if (hasSetupOptionCount(draft)) w.varint(entries.length);
  let prev = 0;
  for (const [i, { id, value }] of entries.entries()) {
    w.varint(hasDeltaKeys(draft) && i > 0 ? id - prev : id);
    prev = id;
    if (typeof value === "bigint") w.varint(value);
    else writeValueBytes(w, value);
  }
}

function writeValueBytes(w: IetfWriter, value: Uint8Array): void {
  if (value.length > MAX_PARAMETER_VALUE_SIZE) {
    throw new RangeError(`parameter value of ${value.length} bytes`);
  }
  w.lengthPrefixed(value);
}

// ---- Message parameters -------------------------------------------------------------------------

/**
 * How a message parameter's value is laid out. On 14-16 every value follows the even/odd
 * Key-Value-Pair rule (u8 and bool are varints there, `R:parameters.rs:285-340`); on 17+ the
 * shape is fixed per key: `u8` and `bool` are a raw byte, `location` two varints.
 *
 * `flag` is INCLUDE_PROPERTIES (0x35, draft 20): a raw byte in Rust (`R:subscribe.rs:101`), a
 * length-prefixed byte in JS (`J:parameters.js:194-196`); it follows {@link CodecOptions.location}
 * like LARGEST_OBJECT, since both differences are JS applying the odd-key rule on 17+.
 */
export type ParamKind = "varint" | "u8" | "bool" | "location" | "bytes" | "flag";

/** A key a message accepts; `repeat` keys keep every instance (AUTHORIZATION_TOKEN, filters). */
export interface ParamSpec {
  key: number;
  kind: ParamKind;
  repeat?: boolean;
}

export type ParamValue = bigint | number | boolean | Location | Uint8Array;

/** One parameter to write. */
export interface ParamEntry {
  key: number;
  kind: ParamKind;
  value: ParamValue;
}

/** The decoded parameters of one message, by key (repeat keys hold several values). */
export type ParamMap = Map<number, ParamValue[]>;

function lengthPrefixedStyle(options: CodecOptions | undefined): boolean {
  return options?.location === "length-prefixed";
}

/** Reads a Location inside a length-prefixed value, with the draft's varints: upstream pins
 * 14-16 to QUIC varints (`R:parameters.rs:367-385`), which 14-16 use anyway; JS uses leading-ones
 * on 17+ (`J:parameters.js:427-438`). */
function readLocationIn(bytes: Uint8Array, draft: Draft, what: string): Location {
  const inner = new IetfReader(bytes, draft);
  const location = { group: inner.varint(`${what} group`), object: inner.varint(`${what} object`) };
  inner.finish(what);
  return location;
}

function encodeLocationIn(location: Location, draft: Draft): Uint8Array {
  return new IetfWriter(draft).varint(location.group).varint(location.object).finish();
}

function readValue(
  r: IetfReader,
  kind: ParamKind,
  key: number,
  options?: CodecOptions,
): ParamValue {
  const draft = r.draft;
  const what = `parameter 0x${key.toString(16)}`;
  const typed = hasTypedParameters(draft);
  switch (kind) {
    case "varint":
      return r.varintBig(what);
    case "u8": {
      if (typed) return r.u8(what);
      const v = r.varint(what);
      if (v > 0xff) throw decodeError(`${what}: ${v} is not a u8`);
      return v;
    }
    case "bool":
    case "flag": {
      if (!typed) {
        const v = r.varint(what);
        if (v > 1) throw decodeError(`${what}: ${v} is not a boolean`);
        return v === 1;
      }
      if (kind === "flag" && lengthPrefixedStyle(options)) {
        const bytes = r.lengthPrefixed(what, MAX_PARAMETER_VALUE_SIZE);
        if (bytes.length !== 1 || (bytes[0] ?? 0) > 1) {
          throw decodeError(`${what}: not a one-byte boolean`);
        }
        return bytes[0] === 1;
      }
      return r.bool(what);
    }
    case "location": {
      // 17-20: Rust writes two bare varints (`R:parameters.rs:388-410`); JS a length, then the
      // two varints (`J:parameters.js:506-516`). 14-16: length-prefixed in both.
      if (typed && !lengthPrefixedStyle(options)) {
        return { group: r.varint(`${what} group`), object: r.varint(`${what} object`) };
      }
      const bytes = r.lengthPrefixed(what, MAX_PARAMETER_VALUE_SIZE);
      return readLocationIn(bytes, draft, what);
    }
    case "bytes":
      return r.lengthPrefixed(what, MAX_PARAMETER_VALUE_SIZE).slice();
  }
}

function writeValue(w: IetfWriter, entry: ParamEntry, options?: CodecOptions): void {
  const draft = w.draft;
  const typed = hasTypedParameters(draft);
  const { kind, value } = entry;
  switch (kind) {
    case "varint":
      w.varint(value as bigint | number);
      return;
    case "u8":
      if (typed) w.u8(value as number);
      else w.varint(value as number);
      return;
    case "bool":
    case "flag": {
      const b = value ? 1 : 0;
      if (!typed) w.varint(b);
      else if (kind === "flag" && lengthPrefixedStyle(options)) w.lengthPrefixed(Uint8Array.of(b));
      else w.u8(b);
      return;
    }
    case "location": {
      const location = value as Location;
      if (typed && !lengthPrefixedStyle(options)) {
        w.varint(location.group).varint(location.object);
      } else {
        w.lengthPrefixed(encodeLocationIn(location, draft));
      }
      return;
    }
    case "bytes":
      writeValueBytes(w, value as Uint8Array);
      return;
  }
}

/**
 * Reads a message's parameter block: `count (i)` (at most {@link MAX_PARAMETERS}), then the
 * parameters, keys absolute on 14/15 and delta-encoded on 16+. A key outside `specs` is skipped by
 * the even/odd rule on 14/15 and a ProtocolError on 16+ (`R:parameters.rs:545-624`); a
 * non-`repeat` key twice is a ProtocolError.
 */
export function readMessageParameters(
  r: IetfReader,
  specs: readonly ParamSpec[],
  options?: CodecOptions,
): ParamMap {
  const draft = r.draft;
  const count = r.varint("parameter count");
  if (count > MAX_PARAMETERS) {
    throw boundsError(`${count} parameters exceeds the limit of ${MAX_PARAMETERS}`);
  }
  const out: ParamMap = new Map();
  let key = 0;
  for (let i = 0; i < count; i++) {
    const k = r.varint("parameter key");
    key = hasDeltaKeys(draft) && i > 0 ? key + k : k;
    if (!Number.isSafeInteger(key)) throw decodeError("parameter key overflows");
    const spec = specs.find((s) => s.key === key);
    if (!spec) {
      if (!ignoresUnknownParameters(draft)) {
        throw decodeError(`unknown parameter 0x${key.toString(16)} on draft ${draft}`);
      }
      if (key % 2 === 0) r.varintBig("parameter value");
      else r.lengthPrefixed("parameter value", MAX_PARAMETER_VALUE_SIZE);
      continue;
    }
    const value = readValue(r, spec.kind, key, options);
    const list = out.get(key);
    if (list && !spec.repeat) throw decodeError(`parameter 0x${key.toString(16)} repeated`);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

/** Writes a parameter block: the count, then `entries` in ascending key order (repeats keep their
 * order, each after a zero delta on 16+). */
export function writeMessageParameters(
  w: IetfWriter,
  entries: readonly ParamEntry[],
  options?: CodecOptions,
): void {
  if (entries.length > MAX_PARAMETERS) {
    throw new RangeError(`${entries.length} parameters (at most ${MAX_PARAMETERS})`);
  }
  const sorted = entries.map((e, i) => ({ e, i })).sort((a, b) => a.e.key - b.e.key || a.i - b.i);
  w.varint(sorted.length);
  let prev = 0;
  for (const [i, { e }] of sorted.entries()) {
    w.varint(hasDeltaKeys(w.draft) && i > 0 ? e.key - prev : e.key);
    prev = e.key;
    writeValue(w, e, options);
  }
}

// ---- Typed access to a ParamMap -----------------------------------------------------------------

/** The single value of `key` as a number (a varint above 2^53-1 is a ProtocolError). */
export function paramNumber(map: ParamMap, key: number): number | undefined {
  const v = map.get(key)?.[0];
  if (v === undefined) return undefined;
  if (typeof v === "bigint") {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw decodeError(`parameter 0x${key.toString(16)}: ${v} exceeds 2^53-1`);
    }
    return Number(v);
  }
  return v as number;
}

export function paramBigint(map: ParamMap, key: number): bigint | undefined {
  return map.get(key)?.[0] as bigint | undefined;
}

export function paramBool(map: ParamMap, key: number): boolean | undefined {
  return map.get(key)?.[0] as boolean | undefined;
}

export function paramLocation(map: ParamMap, key: number): Location | undefined {
  return map.get(key)?.[0] as Location | undefined;
}

export function paramBytes(map: ParamMap, key: number): Uint8Array[] {
  return (map.get(key) ?? []) as Uint8Array[];
}

/** GROUP_ORDER as a parameter: upstream reads any other value as descending
 * (`R:group.rs:144-155`); 0 (the publisher's choice) stays 0 here. */
export function paramGroupOrder(map: ParamMap, key: number): GroupOrder | undefined {
  const v = paramNumber(map, key);
  if (v === undefined) return undefined;
  return v <= 2 ? v as GroupOrder : 2;
}

// ---- LOCATION_FILTER ----------------------------------------------------------------------------

const Tag = { NextGroup: 0x1, LargestObject: 0x2, AbsoluteStart: 0x3, AbsoluteRange: 0x4 } as const;

function endDelta(filter: { start: Location; endGroup: number }): number {
  if (filter.endGroup < filter.start.group) {
    throw new RangeError(`filter range runs backwards: ${filter.start.group} > ${filter.endGroup}`);
  }
  return filter.endGroup - filter.start.group;
}

function endGroupOf(start: number, delta: number): number {
  const end = start + delta;
  if (!Number.isSafeInteger(end)) throw decodeError("filter end group exceeds 2^53-1");
  return end;
}

/**
 * Writes the Filter Type tag form of drafts 14-19 (`R:filter.rs:218-255`): inline on 14, inside
 * the 0x21 value on 15-19. `unfiltered` is spelled AbsoluteStart {0, 0}; `relative 0` is
 * NextGroup; a relative start further back and an object-bounded end have no spelling here.
 */
export function writeFilterTag(w: IetfWriter, filter: Filter): void {
  switch (filter.type) {
    case "unfiltered":
      w.varint(Tag.AbsoluteStart).varint(0).varint(0);
      return;
    case "next-object":
      w.varint(Tag.LargestObject);
      return;
    case "next-group":
      w.varint(Tag.NextGroup);
      return;
    case "relative":
      if (filter.groups !== 0) throw new RangeError(`relative filter needs draft 20`);
      w.varint(Tag.NextGroup);
      return;
    case "absolute-start":
      w.varint(Tag.AbsoluteStart).varint(filter.start.group).varint(filter.start.object);
      return;
    case "absolute-range":
      if (filter.endObject !== undefined) {
        throw new RangeError("an object-bounded filter range needs draft 20");
      }
      w.varint(Tag.AbsoluteRange).varint(filter.start.group).varint(filter.start.object)
        .varint(endDelta(filter));
      return;
  }
}

/** Reads the tag form (`R:filter.rs:257-283`). */
export function readFilterTag(r: IetfReader): Filter {
  const tag = r.varint("filter type");
  switch (tag) {
    case Tag.NextGroup:
      return { type: "next-group" };
    case Tag.LargestObject:
      return { type: "next-object" };
    case Tag.AbsoluteStart:
      return {
        type: "absolute-start",
        start: { group: r.varint("group"), object: r.varint("object") },
      };
    case Tag.AbsoluteRange: {
      const start = { group: r.varint("group"), object: r.varint("object") };
      return { type: "absolute-range", start, endGroup: endGroupOf(start.group, r.varint("end")) };
    }
    default:
      throw decodeError(`unknown filter type ${tag}`);
  }
}

/** Whether a filter is written at all as a parameter: `unfiltered` is the absent parameter
 * (`R:filter.rs:288-293`). */
export function filterPresent(filter: Filter | undefined): filter is Filter {
  return filter !== undefined && filter.type !== "unfiltered";
}

/**
 * The value (inside its length) of LOCATION_FILTER (0x21) on `draft`: 14-19 the tag form, 20 the
 * field list (`R:filter.rs:100-130`): `[]`, `[g]` relative, `[0, 0]` next object, `[g, o]`,
 * `[g, o, Δg]`, `[g, o, Δg, o_end]`. `next-group` is `relative 0` there.
 */
export function encodeFilterValue(filter: Filter, draft: Draft): Uint8Array {
  const w = new IetfWriter(draft);
  if (!hasFieldListFilter(draft)) {
    writeFilterTag(w, filter);
    return w.finish();
  }
  switch (filter.type) {
    case "unfiltered":
      break;
    case "next-object":
      w.varint(0).varint(0);
      break;
    case "next-group":
      w.varint(0);
      break;
    case "relative":
      w.varint(filter.groups);
      break;
    case "absolute-start":
      // An open-ended {0, 0} is defined as unfiltered (`R:filter.rs:108-113`).
      if (filter.start.group !== 0 || filter.start.object !== 0) {
        w.varint(filter.start.group).varint(filter.start.object);
      }
      break;
    case "absolute-range":
      w.varint(filter.start.group).varint(filter.start.object).varint(endDelta(filter));
      if (filter.endObject !== undefined) w.varint(filter.endObject);
      break;
  }
  return w.finish();
}

/** Reads a LOCATION_FILTER value (the bytes inside its length); trailing bytes are an error. */
export function decodeFilterValue(bytes: Uint8Array, draft: Draft): Filter {
  const r = new IetfReader(bytes, draft);
  if (!hasFieldListFilter(draft)) {
    const filter = readFilterTag(r);
    r.finish("location filter");
    return filter;
  }
  const fields: number[] = [];
  while (r.remaining > 0) {
    if (fields.length === 4) throw decodeError("location filter: more than 4 fields");
    fields.push(r.varint("location filter field"));
  }
  const [g = 0, o = 0, d = 0, eo] = fields;
  switch (fields.length) {
    case 0:
      return { type: "unfiltered" };
    case 1:
      return { type: "relative", groups: g };
    case 2:
      return g === 0 && o === 0
        ? { type: "next-object" }
        : { type: "absolute-start", start: { group: g, object: o } };
    case 3:
      return { type: "absolute-range", start: { group: g, object: o }, endGroup: endGroupOf(g, d) };
    default:
      return {
        type: "absolute-range",
        start: { group: g, object: o },
        endGroup: endGroupOf(g, d),
        endObject: eo,
      };
  }
}

// ---- Track Properties ---------------------------------------------------------------------------

/**
 * Track Properties, the rest of the body: no count, delta types, even = varint, odd = `len` +
 * bytes, unknown ones skipped (`R:properties.rs:100-165`). Read on 16+ (16 calls them Track
 * Extensions), nothing on 14/15.
 */
export function readTrackProperties(r: IetfReader): TrackProperties {
  const out: TrackProperties = {};
  if (!readsTrackProperties(r.draft)) return out;
  let type = 0;
  for (let i = 0; r.remaining > 0; i++) {
    if (i >= MAX_PARAMETERS) throw boundsError(`more than ${MAX_PARAMETERS} track properties`);
    const t = r.varint("track property type");
    type = i > 0 ? type + t : t;
    if (!Number.isSafeInteger(type)) throw decodeError("track property type overflows");
    if (type % 2 === 1) {
      r.lengthPrefixed("track property", MAX_PARAMETER_VALUE_SIZE);
      continue;
    }
    const value = r.varintBig("track property");
    switch (type) {
      case TrackProperty.Timescale:
        // Zero is no declaration, not an error (`R:properties.rs:128-132`).
        if (value > 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) out.timescale = Number(value);
        break;
      case TrackProperty.DefaultPublisherPriority:
        if (value > 0xffn) throw decodeError(`DEFAULT_PUBLISHER_PRIORITY ${value}`);
        out.priority = Number(value);
        break;
      case TrackProperty.DefaultPublisherGroupOrder:
        if (value !== 1n && value !== 2n) {
          throw decodeError(`DEFAULT_PUBLISHER_GROUP_ORDER ${value}`);
        }
        out.groupOrder = Number(value) as GroupOrder;
        break;
    }
  }
  return out;
}

/** Writes Track Properties in ascending type order, on 17+ only (`R:properties.rs:60-95`). */
export function writeTrackProperties(w: IetfWriter, p: TrackProperties): void {
  if (!writesTrackProperties(w.draft)) return;
  let prev = 0;
  const put = (type: number, value: number) => {
    w.varint(type - prev).varint(value);
    prev = type;
  };
  if (p.timescale !== undefined) put(TrackProperty.Timescale, p.timescale);
  if (p.priority !== undefined) put(TrackProperty.DefaultPublisherPriority, p.priority);
  if (p.groupOrder !== undefined) put(TrackProperty.DefaultPublisherGroupOrder, p.groupOrder);
}
