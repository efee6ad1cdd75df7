/**
 * FETCH streams (WIRE.md 4.4): `0x05 (i)`, `Request ID (i)`, then fetch objects until FIN. The
 * object layout changed with nearly every draft (read from the draft texts, moq-wg/moq-transport
 * tags `draft-ietf-moq-transport-14` .. `-19` and the draft-20 text, section "Fetch Header"):
 *
 * - **14**: `Group (i)`, `Subgroup (i)`, `Object (i)`, `Priority (8)`, `Extensions Length (i)` +
 *   extensions (always), `Payload Length (i)`, `[Object Status (i)]` when the length is 0.
 * - **15**: `Serialization Flags (8)` (one byte; 0x40 and 0x80 are protocol violations), then the
 *   fields the flags name (below), `Payload Length (i)`, `[Object Status (i)]` when 0.
 * - **16, 17**: the flags are a varint, 0x40 marks a datagram object (its subgroup bits are
 *   ignored) and 0x8C / 0x10C are End of (Non-Existent / Unknown) Range: `Group (i)`,
 *   `Object (i)` and nothing else. No Object Status any more.
 * - **18, 19**: the Group and Object fields become deltas. The first object's are absolute.
 *   Later, a Group ID Delta gives prior + delta + 1 (descending fetches: prior - delta - 1) and
 *   the Object ID Delta is then the absolute Object ID; without a group field the Object ID is
 *   prior + delta (no + 1), or prior + 1 when the field is absent.
 * - **20**: adds 0x20C, End of Timed-Out Range (moq-transport PR #1822).
 *
 * Flags: low 2 bits the Subgroup ID (0 zero, 1 the prior's, 2 the prior's + 1, 3 a field),
 * 0x04 Object field, 0x08 Group field, 0x10 Priority byte, 0x20 extensions (properties) block;
 * an absent field repeats the prior object's (the Object ID: prior + 1). The first object of a
 * stream referring to a prior one is a protocol violation. After an End of Range the prior
 * Group and Object are the marker's, the prior Subgroup and Priority the last real object's.
 *
 * What upstream does: `@moq/net` only writes fetch streams (draft-20 fills, `ietf/object.js`
 * `FetchFrame.encode`, the same bytes on every draft: first object flags 0x1C (+0x20 with a
 * timestamp) with group, object, priority 0; later ones 0x00 (or 0x20)) and never reads one
 * (its uni-stream loop, `ietf/connection.js` `#runUni`, decodes every stream as a subgroup).
 * Upstream Rust reads them for the same fills. Not checked against either: End of Range
 * markers (taken as `flags, Group, Object` with absolute ids, which is how the draft words it
 * and how other implementations read it), descending group deltas, datagram objects.
 *
 * @module
 */
import { decodeError } from "../error.ts";
import type { Decoded } from "../message.ts";
import {
  type Draft,
  hasFetchEndOfRange,
  hasFetchIdDeltas,
  hasFetchObjectStatus,
  hasFetchSerializationFlags,
  hasFetchTimedOutRange,
} from "./draft.ts";
import {
  assertObjectStatus,
  checkObjectSize,
  checkObjectStatus,
  MAX_OBJECT_SIZE,
  ObjectStatus,
  readExtensionBlock,
} from "./object.ts";
import { FETCH_STREAM_TYPE } from "./stream.ts";
import { IetfWriter, readDraftVarint, readDraftVarintBig } from "./wire.ts";

export interface FetchHeader {
  requestId: bigint;
}

/** Decodes FETCH_HEADER's fields after the stream type. `undefined` = need more bytes. */
export function decodeFetchHeader(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
): Decoded<FetchHeader> | undefined {
  const r = readDraftVarintBig(buf, offset, draft);
  if (!r) return undefined;
  return { value: { requestId: r[0] }, size: r[1] - offset };
}

/** Encodes FETCH_HEADER, stream type included. */
export function encodeFetchHeader(requestId: bigint, draft: Draft): Uint8Array<ArrayBuffer> {
  return new IetfWriter(draft, 12).varint(FETCH_STREAM_TYPE).varint(requestId).finish();
}

/** Serialization Flags bits. */
export const FetchFlags = {
  SubgroupMask: 0x03,
  SubgroupZero: 0x00,
  SubgroupPrior: 0x01,
  SubgroupPriorPlusOne: 0x02,
  SubgroupField: 0x03,
  Object: 0x04,
  Group: 0x08,
  Priority: 0x10,
  Extensions: 0x20,
  /** 16+: a datagram object, whose subgroup bits are ignored. */
  Datagram: 0x40,
} as const;

/** End of Range flag values (16+; timed-out 20+). */
export const EndOfRangeFlags = {
  "not-exist": 0x8c,
  unknown: 0x10c,
  "timed-out": 0x20c,
} as const;
export type EndOfRange = keyof typeof EndOfRangeFlags;

/** A fetched object's header; its payload (`length` bytes) follows. */
export interface FetchObject {
  group: number;
  /** The Subgroup ID; for a datagram object (16+: flag 0x40) the Object ID, as drafts 14/15
   * number such objects. */
  subgroup: number;
  object: number;
  priority: number;
  /** The extensions block (without its length), when present (always on draft 14). */
  extensions?: Uint8Array;
  length: number;
  /** Drafts 14/15: the Object Status of an empty object. */
  status?: number;
  /** 16+: a datagram-forwarded object (flag 0x40). */
  datagram?: boolean;
  endOfRange?: undefined;
}

/** An End of Range marker (16+): every object after the previous one up to and including
 * `group`/`object` does not exist, is unknown, or timed out. */
export interface FetchEndOfRange {
  endOfRange: EndOfRange;
  group: number;
  object: number;
  /** No payload. */
  length: 0;
  /** The last real object's, carried for the next object's "prior" fields. */
  subgroup?: number;
  priority?: number;
}

export type FetchObjectHeader = FetchObject | FetchEndOfRange;

/** What the next fetch object may refer to: the previous header decoded (or encoded). */
export interface FetchObjectPosition {
  group: number;
  object: number;
  subgroup?: number;
  priority?: number;
}

function need(previous: FetchObjectPosition | undefined, what: string): FetchObjectPosition {
  if (!previous) throw decodeError(`fetch object: the first object refers to a prior ${what}`);
  return previous;
}

function priorField(value: number | undefined, what: string): number {
  if (value === undefined) {
    throw decodeError(`fetch object: refers to a prior ${what} after a range with no object`);
  }
  return value;
}

function safeId(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw decodeError(`fetch object: ${what} ${value} out of range`);
  }
  return value;
}

/**
 * Decodes one fetch object header (not its payload) at `offset`. `previous` is the header
 * decoded before it on this stream (undefined for the first); `descending` is the fetch's group
 * order, which draft 18+ group deltas depend on. `undefined` = need more bytes.
 */
export function decodeFetchObject(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
  previous: FetchObjectPosition | undefined,
  descending = false,
  maxSize: number = MAX_OBJECT_SIZE,
): Decoded<FetchObjectHeader> | undefined {
  if (!hasFetchSerializationFlags(draft)) return decodeDraft14(buf, offset, draft, maxSize);
  let at = offset;
  let flags: number;
  if (hasFetchEndOfRange(draft)) {
    const f = readDraftVarint(buf, at, draft);
    if (!f) return undefined;
    [flags, at] = f;
    if (flags >= 0x80) {
      const kind = (Object.keys(EndOfRangeFlags) as EndOfRange[]).find((k) =>
        EndOfRangeFlags[k] === flags
      );
      if (!kind || (kind === "timed-out" && !hasFetchTimedOutRange(draft))) {
        throw decodeError(`fetch object: serialization flags 0x${flags.toString(16)} undefined`);
      }
      const g = readDraftVarint(buf, at, draft);
      if (!g) return undefined;
      const o = readDraftVarint(buf, g[1], draft);
      if (!o) return undefined;
      const value: FetchEndOfRange = { endOfRange: kind, group: g[0], object: o[0], length: 0 };
      if (previous?.subgroup !== undefined) value.subgroup = previous.subgroup;
      if (previous?.priority !== undefined) value.priority = previous.priority;
      return { value, size: o[1] - offset };
    }
  } else {
    if (at >= buf.length) return undefined;
    flags = buf[at++] ?? 0;
    if (flags & 0xc0) {
      throw decodeError(`fetch object: serialization flags 0x${flags.toString(16)} on draft 15`);
    }
  }
  const deltas = hasFetchIdDeltas(draft);
  const datagram = (flags & FetchFlags.Datagram) !== 0;

  let group: number;
  if (flags & FetchFlags.Group) {
    const g = readDraftVarint(buf, at, draft);
    if (!g) return undefined;
    at = g[1];
    if (deltas && previous) {
      group = descending ? previous.group - g[0] - 1 : previous.group + g[0] + 1;
      safeId(group, "group");
    } else group = g[0];
  } else group = need(previous, "group").group;

  let subgroup = 0;
  if (!datagram) {
    switch (flags & FetchFlags.SubgroupMask) {
      case FetchFlags.SubgroupPrior:
        subgroup = priorField(need(previous, "subgroup").subgroup, "subgroup");
        break;
      case FetchFlags.SubgroupPriorPlusOne:
        subgroup = safeId(
          priorField(need(previous, "subgroup").subgroup, "subgroup") + 1,
          "subgroup",
        );
        break;
      case FetchFlags.SubgroupField: {
        const s = readDraftVarint(buf, at, draft);
        if (!s) return undefined;
        [subgroup, at] = s;
        break;
      }
    }
  }

  let object: number;
  if (flags & FetchFlags.Object) {
    const o = readDraftVarint(buf, at, draft);
    if (!o) return undefined;
    at = o[1];
    object = deltas && previous && !(flags & FetchFlags.Group)
      ? safeId(previous.object + o[0], "object")
      : o[0];
  } else object = safeId(need(previous, "object").object + 1, "object");
  if (datagram) subgroup = object;

  let priority: number;
  if (flags & FetchFlags.Priority) {
    if (at >= buf.length) return undefined;
    priority = buf[at++] ?? 0;
  } else priority = priorField(need(previous, "priority").priority, "priority");

  let extensions: Uint8Array | undefined;
  if (flags & FetchFlags.Extensions) {
    const e = readExtensionBlock(buf, at, draft);
    if (!e) return undefined;
    [extensions, at] = e;
  }
  const l = readDraftVarint(buf, at, draft);
  if (!l) return undefined;
  const [length] = l;
  at = l[1];
  checkObjectSize(length, maxSize);
  const value: FetchObject = { group, subgroup, object, priority, length };
  if (extensions !== undefined) value.extensions = extensions;
  if (datagram) value.datagram = true;
  if (length === 0 && hasFetchObjectStatus(draft)) {
    const s = readDraftVarint(buf, at, draft);
    if (!s) return undefined;
    checkObjectStatus(s[0], draft, extensions);
    value.status = s[0];
    at = s[1];
  }
  return { value, size: at - offset };
}

function decodeDraft14(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
  maxSize: number,
): Decoded<FetchObjectHeader> | undefined {
  const g = readDraftVarint(buf, offset, draft);
  if (!g) return undefined;
  const s = readDraftVarint(buf, g[1], draft);
  if (!s) return undefined;
  const o = readDraftVarint(buf, s[1], draft);
  if (!o) return undefined;
  let at = o[1];
  if (at >= buf.length) return undefined;
  const priority = buf[at++] ?? 0;
  const e = readExtensionBlock(buf, at, draft);
  if (!e) return undefined;
  const [extensions] = e;
  const l = readDraftVarint(buf, e[1], draft);
  if (!l) return undefined;
  const [length] = l;
  at = l[1];
  checkObjectSize(length, maxSize);
  const value: FetchObject = {
    group: g[0],
    subgroup: s[0],
    object: o[0],
    priority,
    extensions,
    length,
  };
  if (length === 0) {
    const st = readDraftVarint(buf, at, draft);
    if (!st) return undefined;
    checkObjectStatus(st[0], draft, extensions);
    value.status = st[0];
    at = st[1];
  }
  return { value, size: at - offset };
}

function checkId(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`fetch object: ${what} ${value} out of range`);
  }
  return value;
}

/**
 * Encodes one fetch object header (the payload goes after it), against `previous`, the header
 * written before it on this stream. Fields equal to (or following from) the previous object's
 * are left out, so a run of objects 0, 1, 2 of one group is written as `@moq/net` writes it:
 * flags 0x1C with group, object and priority, then flags 0 (0x20 with extensions).
 */
export function encodeFetchObject(
  header: FetchObjectHeader,
  previous: FetchObjectPosition | undefined,
  draft: Draft,
  descending = false,
): Uint8Array<ArrayBuffer> {
  const w = new IetfWriter(draft, 24);
  checkId(header.group, "group");
  checkId(header.object, "object");
  if (header.endOfRange !== undefined) {
    if (!hasFetchEndOfRange(draft)) throw new RangeError(`no End of Range on draft ${draft}`);
    if (header.endOfRange === "timed-out" && !hasFetchTimedOutRange(draft)) {
      throw new RangeError(`no End of Timed-Out Range on draft ${draft}`);
    }
    return w.varint(EndOfRangeFlags[header.endOfRange]).varint(header.group).varint(header.object)
      .finish();
  }
  checkId(header.subgroup, "subgroup");
  const ext = header.extensions;
  const status = header.length === 0 ? header.status : undefined;
  if (header.length !== 0 && header.status !== undefined && header.status !== ObjectStatus.Normal) {
    throw new RangeError(`object status ${header.status} on an object of ${header.length} bytes`);
  }
  if (!hasFetchObjectStatus(draft) && status !== undefined && status !== ObjectStatus.Normal) {
    throw new RangeError(`fetch objects carry no status on draft ${draft}`);
  }
  if (status !== undefined) assertObjectStatus(status, draft, ext);

  if (!hasFetchSerializationFlags(draft)) {
    w.varint(header.group).varint(header.subgroup).varint(header.object).u8(header.priority);
    w.varint(ext?.length ?? 0);
    if (ext) w.bytes(ext);
    w.varint(header.length);
    if (header.length === 0) w.varint(status ?? ObjectStatus.Normal);
    return w.finish();
  }

  const deltas = hasFetchIdDeltas(draft);
  const datagram = header.datagram === true && hasFetchEndOfRange(draft);
  let flags = 0;
  let groupField: number | undefined;
  let subgroupField: number | undefined;
  let objectField: number | undefined;
  if (!previous || previous.group !== header.group) {
    flags |= FetchFlags.Group;
    if (deltas && previous) {
      const d = descending ? previous.group - header.group - 1 : header.group - previous.group - 1;
      if (d < 0) {
        throw new RangeError(
          `fetch group ${header.group} after ${previous.group} in ${
            descending ? "descending" : "ascending"
          } order`,
        );
      }
      groupField = d;
    } else groupField = header.group;
  }
  if (!datagram) {
    if (header.subgroup === 0) flags |= FetchFlags.SubgroupZero;
    else if (previous?.subgroup === header.subgroup) flags |= FetchFlags.SubgroupPrior;
    else if (previous?.subgroup !== undefined && previous.subgroup + 1 === header.subgroup) {
      flags |= FetchFlags.SubgroupPriorPlusOne;
    } else {
      flags |= FetchFlags.SubgroupField;
      subgroupField = header.subgroup;
    }
  } else flags |= FetchFlags.Datagram;
  if (groupField !== undefined || !previous) {
    // With a group field the object id is absolute on every draft.
    flags |= FetchFlags.Object;
    objectField = header.object;
  } else if (previous.object + 1 !== header.object) {
    flags |= FetchFlags.Object;
    if (deltas) {
      const d = header.object - previous.object;
      if (d < 0) throw new RangeError(`fetch object ${header.object} after ${previous.object}`);
      objectField = d;
    } else objectField = header.object;
  }
  if (previous?.priority !== header.priority) flags |= FetchFlags.Priority;
  if (ext !== undefined && ext.length > 0) flags |= FetchFlags.Extensions;

  if (hasFetchEndOfRange(draft)) w.varint(flags);
  else w.u8(flags);
  if (groupField !== undefined) w.varint(groupField);
  if (subgroupField !== undefined) w.varint(subgroupField);
  if (objectField !== undefined) w.varint(objectField);
  if (flags & FetchFlags.Priority) w.u8(header.priority);
  if (flags & FetchFlags.Extensions && ext) w.varint(ext.length).bytes(ext);
  w.varint(header.length);
  if (header.length === 0 && hasFetchObjectStatus(draft)) w.varint(status ?? ObjectStatus.Normal);
  return w.finish();
}
