/**
 * OBJECT_DATAGRAM (WIRE.md 4.5; the drafts' "Object Datagram" section): one object per QUIC
 * datagram, whole, so there is no "need more": a datagram decodes or is a {@link ProtocolError}.
 *
 * ```
 * Type (i), Track Alias (i), Group ID (i), [Object ID (i)], [Publisher Priority (8)],
 * [Extensions Length (i) + extensions], then Object Status (i) or the payload to the end
 * ```
 *
 * Type bits: 0x01 extensions present (a zero length is a protocol violation), 0x02 end of group,
 * 0x04 no Object ID field (the id is 0), 0x08 no priority (the subscription's applies), 0x20 a
 * status instead of a payload. 0x20 with 0x02 is invalid, as is any other bit.
 *
 * - draft 14 defines only 0x00-0x07, 0x20 and 0x21 (priority always present, a status always
 *   names its object) (upstream test `ietf/datagram.rs`: draft 14 refuses `0C 01 02`);
 * - 15 adds 0x08 and status without an Object ID (0x24, 0x25, 0x28, 0x29, 0x2C, 0x2D);
 * - 18 adds PADDING datagrams (type 0x132B3E29, zero bytes): {@link isPaddingDatagram}.
 *
 * `@moq/net` 0.3.4 has no IETF datagrams; upstream Rust reads them and drops status datagrams
 * and any datagram for a second object of a group (`ietf/subscriber.rs`, per WIRE.md 4.5).
 *
 * @module
 */
import { decodeError } from "../error.ts";
import { type Draft, hasDatagramDefaultPriority, hasPadding } from "./draft.ts";
import { MAX_EXTENSIONS_SIZE } from "./extensions.ts";
import { assertObjectStatus, checkObjectStatus, readExtensionBlock } from "./object.ts";
import { IetfWriter, readDraftVarint, readDraftVarintBig } from "./wire.ts";

/** OBJECT_DATAGRAM type bits. */
export const DatagramBits = {
  Extensions: 0x01,
  EndOfGroup: 0x02,
  ZeroObjectId: 0x04,
  DefaultPriority: 0x08,
  Status: 0x20,
} as const;

/** A PADDING datagram's type (draft 18+). */
export const PADDING_DATAGRAM_TYPE = 0x132b3e29;

export interface ObjectDatagram {
  trackAlias: bigint;
  group: number;
  object: number;
  /** Publisher Priority, when the datagram carries one. */
  priority?: number;
  /** The extensions block (without its length), when present: never empty. */
  extensions?: Uint8Array;
  /** The payload (a view into the datagram); absent on a status datagram. */
  payload?: Uint8Array;
  /** The Object Status of a status datagram. */
  status?: number;
  /** The last object of its group. */
  endOfGroup: boolean;
}

/** Whether `type` is an OBJECT_DATAGRAM type on `draft`. */
export function isDatagramType(type: number, draft: Draft): boolean {
  if (!hasDatagramDefaultPriority(draft)) {
    return (type >= 0x00 && type <= 0x07) || type === 0x20 || type === 0x21;
  }
  if ((type & ~0x2f) !== 0) return false;
  return !((type & DatagramBits.Status) && (type & DatagramBits.EndOfGroup));
}

/** Whether a datagram is PADDING (draft 18+), to be discarded unread. */
export function isPaddingDatagram(bytes: Uint8Array, draft: Draft): boolean {
  if (!hasPadding(draft)) return false;
  const t = readDraftVarintBig(bytes, 0, draft);
  return t !== undefined && t[0] === BigInt(PADDING_DATAGRAM_TYPE);
}

function short(what: string): never {
  throw decodeError(`datagram too short: ${what} runs past the end`);
}

/** Decodes a whole OBJECT_DATAGRAM. (PADDING datagrams are refused: check
 * {@link isPaddingDatagram} first.) */
export function decodeObjectDatagram(bytes: Uint8Array, draft: Draft): ObjectDatagram {
  const t = readDraftVarint(bytes, 0, draft) ?? short("type");
  const [type] = t;
  if (!isDatagramType(type, draft)) {
    throw decodeError(`datagram type 0x${type.toString(16)} unknown on draft ${draft}`);
  }
  const a = readDraftVarintBig(bytes, t[1], draft) ?? short("track alias");
  const g = readDraftVarint(bytes, a[1], draft) ?? short("group");
  let at = g[1];
  let object = 0;
  if (!(type & DatagramBits.ZeroObjectId)) {
    const o = readDraftVarint(bytes, at, draft) ?? short("object");
    [object, at] = o;
  }
  const d: ObjectDatagram = {
    trackAlias: a[0],
    group: g[0],
    object,
    endOfGroup: (type & DatagramBits.EndOfGroup) !== 0,
  };
  if (!(type & DatagramBits.DefaultPriority)) {
    if (at >= bytes.length) short("priority");
    d.priority = bytes[at++] ?? 0;
  }
  if (type & DatagramBits.Extensions) {
    const e = readExtensionBlock(bytes, at, draft) ?? short("extensions");
    if (e[0].length === 0) throw decodeError("datagram: extensions bit set with a length of 0");
    [d.extensions, at] = e;
  }
  if (type & DatagramBits.Status) {
    const s = readDraftVarint(bytes, at, draft) ?? short("status");
    checkObjectStatus(s[0], draft, d.extensions);
    if (s[1] !== bytes.length) {
      throw decodeError(`datagram: ${bytes.length - s[1]} byte(s) after the object status`);
    }
    d.status = s[0];
  } else {
    d.payload = bytes.subarray(at);
  }
  return d;
}

/** Encodes an OBJECT_DATAGRAM with the shortest type for `d` on `draft`. */
export function encodeObjectDatagram(d: ObjectDatagram, draft: Draft): Uint8Array<ArrayBuffer> {
  const withStatus = d.status !== undefined;
  if (withStatus && d.payload !== undefined && d.payload.length > 0) {
    throw new RangeError(`datagram with status ${d.status} and a payload of ${d.payload.length}`);
  }
  if (withStatus && d.endOfGroup) throw new RangeError("a status datagram cannot end a group");
  if (withStatus) assertObjectStatus(d.status!, draft, d.extensions);
  const ext = d.extensions !== undefined && d.extensions.length > 0 ? d.extensions : undefined;
  if (ext && ext.length > MAX_EXTENSIONS_SIZE) {
    throw new RangeError(`extensions of ${ext.length} bytes`);
  }
  const modern = hasDatagramDefaultPriority(draft);
  if (d.priority === undefined && !modern) {
    throw new RangeError(`draft ${draft} datagrams always carry a priority`);
  }
  let type = 0;
  if (ext) type |= DatagramBits.Extensions;
  if (d.endOfGroup) type |= DatagramBits.EndOfGroup;
  // Draft 14 has no status type without an Object ID.
  const omitObject = d.object === 0 && (modern || !withStatus);
  if (omitObject) type |= DatagramBits.ZeroObjectId;
  if (d.priority === undefined) type |= DatagramBits.DefaultPriority;
  if (withStatus) type |= DatagramBits.Status;
  const w = new IetfWriter(draft, 16 + (ext?.length ?? 0) + (d.payload?.length ?? 0));
  w.varint(type).varint(d.trackAlias).varint(d.group);
  if (!omitObject) w.varint(d.object);
  if (d.priority !== undefined) w.u8(d.priority);
  if (ext) w.varint(ext.length).bytes(ext);
  if (withStatus) w.varint(d.status!);
  else if (d.payload) w.bytes(d.payload);
  return w.finish();
}
