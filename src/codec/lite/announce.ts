/**
 * The announce stream (bidirectional, type `0x01`): the side that wants to discover broadcasts
 * sends one ANNOUNCE_REQUEST with a path prefix; the other side answers with the broadcasts
 * under it, now and as they come and go.
 *
 * | version | request fields       | answer                                                       |
 * |---------|----------------------|--------------------------------------------------------------|
 * | 01, 02  | prefix               | ANNOUNCE_INIT (current set), then ANNOUNCE (status, suffix)  |
 * | 03      | prefix               | ANNOUNCE (status, suffix, hop count)                         |
 * | 04      | prefix, exclude hop  | ANNOUNCE (status, suffix, hops incl. the sender's)           |
 * | 05      | prefix, exclude hop  | ANNOUNCE_OK (hop, active count), ANNOUNCE (hops without the sender's) |
 * | 06      | prefix               | ANNOUNCE_OK, then typed START / END / RESTART with announce ids and route cost |
 *
 * @module
 */
import { Reader, type Writer } from "../buffer.ts";
import { boundsError, decodeError } from "../error.ts";
import { type Decoded, decodeSized, encodeSized, encodeTyped, frame } from "../message.ts";
import { checkedPath, type Path } from "../path.ts";
import {
  hasAnnounceId,
  hasExcludeHop,
  hasHopIds,
  hasHops,
  hasReannounce,
  type Version,
} from "./version.ts";

/** Longest hop chain accepted; longer chains are a loop or an attack. */
export const MAX_HOPS = 32;
/** ANNOUNCE_INIT lists a whole set of broadcasts, so it may be larger than other messages. */
export const MAX_ANNOUNCE_INIT_SIZE = 1024 * 1024;

/** lite-06 announce message types (before the length). */
export const AnnounceType = { Start: 0, End: 1, Restart: 2 } as const;

/** Route cost (lite-06): warm and cold prices, each a u62. */
export interface Cost {
  warm: bigint;
  cold: bigint;
}

export interface AnnounceRequest {
  prefix: Path;
  /** lite-04/05: skip broadcasts whose hop chain holds this id; 0 = none. Absent elsewhere. */
  excludeHop: bigint;
}

export function decodeAnnounceRequest(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<AnnounceRequest> | undefined {
  return decodeSized(buf, offset, "ANNOUNCE_REQUEST", (r) => {
    const prefix = checkedPath(r.string("prefix"), "prefix");
    const excludeHop = hasExcludeHop(version) ? r.varintBig("exclude hop") : 0n;
    return { prefix, excludeHop };
  });
}

export function encodeAnnounceRequest(
  msg: AnnounceRequest,
  version: Version,
): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => {
    w.string(msg.prefix);
    if (hasExcludeHop(version)) w.varint(msg.excludeHop);
  });
}

/** lite-01/02: the broadcasts active when the request arrived, as suffixes of the prefix. */
export interface AnnounceInit {
  suffixes: Path[];
}

export function decodeAnnounceInit(buf: Uint8Array, offset = 0): Decoded<AnnounceInit> | undefined {
  return decodeSized(buf, offset, "ANNOUNCE_INIT", (r) => {
    const count = r.varint("count");
    // Each suffix takes at least one byte; refuse counts the body cannot hold before looping.
    if (count > r.remaining) throw decodeError(`ANNOUNCE_INIT: ${count} suffixes cannot fit`);
    const suffixes: Path[] = [];
    for (let i = 0; i < count; i++) suffixes.push(checkedPath(r.string("suffix"), "suffix"));
    return { suffixes };
  }, MAX_ANNOUNCE_INIT_SIZE);
}

export function encodeAnnounceInit(msg: AnnounceInit): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => {
    w.varint(msg.suffixes.length);
    for (const s of msg.suffixes) w.string(s);
  });
}

/** lite-05+: the first answer: the responder's hop id and how many `active` follow at once. */
export interface AnnounceOk {
  hop: bigint;
  active: number;
}

export function decodeAnnounceOk(buf: Uint8Array, offset = 0): Decoded<AnnounceOk> | undefined {
  return decodeSized(buf, offset, "ANNOUNCE_OK", (r) => ({
    hop: r.varintBig("hop"),
    active: r.varint("active count"),
  }));
}

export function encodeAnnounceOk(msg: AnnounceOk): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => w.varint(msg.hop).varint(msg.active));
}

/**
 * One announcement.
 * - `active` / `ended` (01..05): by suffix. On 05 an `active` for a suffix already active means
 *   restart (`restart` marks the explicit status 2, which is accepted but never sent).
 * - `active` (06, ANNOUNCE_START): assigns the stream's next announce id; carries a cost.
 * - `end` / `restart` (06): refer to an announce id.
 * - `skipped` (06): an unknown type, skipped by its length.
 */
export type Announce =
  | { kind: "active"; suffix: Path; hops: bigint[]; cost?: Cost; restart?: boolean }
  | { kind: "ended"; suffix: Path; hops: bigint[] }
  | { kind: "end"; id: bigint }
  | { kind: "restart"; id: bigint; hops: bigint[]; cost: Cost }
  | { kind: "skipped"; type: number };

function readHops(r: Reader, version: Version): bigint[] {
  if (!hasHops(version)) return [];
  const count = r.varint("hop count");
  if (count > MAX_HOPS) throw boundsError(`hop chain of ${count} exceeds ${MAX_HOPS}`);
  // lite-03 carries only the count; its hops are unknown (id 0).
  if (!hasHopIds(version)) return new Array<bigint>(count).fill(0n);
  const hops: bigint[] = [];
  for (let i = 0; i < count; i++) hops.push(r.varintBig("hop id"));
  return hops;
}

function writeHops(w: Writer, hops: readonly bigint[], version: Version): void {
  if (!hasHops(version)) return;
  if (hops.length > MAX_HOPS) {
    throw new RangeError(`hop chain of ${hops.length} exceeds ${MAX_HOPS}`);
  }
  w.varint(hops.length);
  if (!hasHopIds(version)) return;
  for (const hop of hops) w.varint(hop);
}

function readCost(r: Reader): Cost {
  return { warm: r.varintBig("warm cost"), cold: r.varintBig("cold cost") };
}

export function decodeAnnounce(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<Announce> | undefined {
  if (hasAnnounceId(version)) return decodeAnnounceTyped(buf, version, offset);
  return decodeSized(buf, offset, "ANNOUNCE", (r): Announce => {
    const status = r.u8("status");
    const suffix = checkedPath(r.string("suffix"), "suffix");
    const hops = readHops(r, version);
    if (status === 0) return { kind: "ended", suffix, hops };
    if (status === 1) return { kind: "active", suffix, hops };
    if (status === 2 && hasReannounce(version)) {
      return { kind: "active", suffix, hops, restart: true };
    }
    throw decodeError(`ANNOUNCE: unknown status ${status}`);
  });
}

function decodeAnnounceTyped(
  buf: Uint8Array,
  version: Version,
  offset: number,
): Decoded<Announce> | undefined {
  const f = frame(buf, offset, true, "ANNOUNCE");
  if (!f) return undefined;
  const r = new Reader(buf, f.start, f.end);
  let value: Announce;
  switch (f.type) {
    case AnnounceType.Start: {
      const suffix = checkedPath(r.string("suffix"), "suffix");
      value = { kind: "active", suffix, hops: readHops(r, version), cost: readCost(r) };
      break;
    }
    case AnnounceType.End:
      value = { kind: "end", id: r.varintBig("announce id") };
      break;
    case AnnounceType.Restart:
      value = {
        kind: "restart",
        id: r.varintBig("announce id"),
        hops: readHops(r, version),
        cost: readCost(r),
      };
      break;
    default:
      // Unknown types are skipped so a newer peer's extensions do not kill the stream.
      r.rest();
      value = { kind: "skipped", type: f.type };
  }
  r.finish("ANNOUNCE");
  return { value, size: f.end - offset };
}

const UNKNOWN_COST: Cost = { warm: 0n, cold: 0n };

export function encodeAnnounce(msg: Announce, version: Version): Uint8Array<ArrayBuffer> {
  if (hasAnnounceId(version)) {
    switch (msg.kind) {
      case "active":
        return encodeTyped(AnnounceType.Start, (w) => {
          w.string(msg.suffix);
          writeHops(w, msg.hops, version);
          const cost = msg.cost ?? UNKNOWN_COST;
          w.varint(cost.warm).varint(cost.cold);
        });
      case "end":
        return encodeTyped(AnnounceType.End, (w) => w.varint(msg.id));
      case "restart":
        return encodeTyped(AnnounceType.Restart, (w) => {
          w.varint(msg.id);
          writeHops(w, msg.hops, version);
          w.varint(msg.cost.warm).varint(msg.cost.cold);
        });
      default:
        throw new RangeError(`lite-06 has no ${msg.kind} announcement`);
    }
  }
  if (msg.kind !== "active" && msg.kind !== "ended") {
    throw new RangeError(`${msg.kind} announcements need lite-06`);
  }
  return encodeSized((w) => {
    w.u8(msg.kind === "active" ? 1 : 0).string(msg.suffix);
    writeHops(w, msg.hops, version);
  });
}
