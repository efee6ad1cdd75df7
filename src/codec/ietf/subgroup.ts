/**
 * SUBGROUP_HEADER (WIRE.md 4.2; upstream `moq-net` `ietf/group.rs` `GroupHeader`, `@moq/net`
 * `ietf/object.js` `Group`): `Type (i)`, `Track Alias (i)`, `Group ID (i)`,
 * `[Subgroup ID (i)]` when the type says explicit, `[Publisher Priority (8)]` on the 0x10 base.
 * The objects that follow are `object.ts`'s.
 *
 * @module
 */
import type { Decoded } from "../message.ts";
import { type Draft, hasFirstObjectBit, hasOmittableSubgroupPriority } from "./draft.ts";
import { FIRST_OBJECT_BIT, type SubgroupFlags } from "./stream.ts";
import { draftVarintSize, readDraftVarint, readDraftVarintBig, writeDraftVarint } from "./wire.ts";

export type { SubgroupFlags } from "./stream.ts";

/** The priority a subgroup without a Publisher Priority field inherits (both upstreams). */
export const DEFAULT_PUBLISHER_PRIORITY = 128;

export interface SubgroupHeader {
  trackAlias: bigint;
  group: number;
  /** The Subgroup ID: the field when `explicit`, else 0. In `first-object` mode the real id is
   * the first object's, known only once it is read. */
  subgroup: number;
  /** Publisher Priority when the header carries one (`flags.hasPriority`). */
  priority?: number;
  flags: SubgroupFlags;
}

/** The type byte for `flags` on `draft` (FIRST_OBJECT only where the draft has the bit). */
export function subgroupType(flags: SubgroupFlags, draft: Draft): number {
  if (!flags.hasPriority && !hasOmittableSubgroupPriority(draft)) {
    throw new RangeError(`draft ${draft} subgroup headers always carry a priority`);
  }
  let type = flags.hasPriority ? 0x10 : 0x30;
  if (flags.extensions) type |= 0x01;
  if (flags.subgroupIdMode === "first-object") type |= 0x02;
  if (flags.subgroupIdMode === "explicit") type |= 0x04;
  if (flags.endOfGroup) type |= 0x08;
  if (flags.firstObject && hasFirstObjectBit(draft)) type |= FIRST_OBJECT_BIT;
  return type;
}

/**
 * The flags a relay writes, the same as upstream's publisher (`ietf/publisher.rs`, serving a
 * group: `GroupFlags { has_extensions, ..Default }`, default `group.rs` `GroupFlags::default`):
 * type 0x18 (priority present, Subgroup ID 0 without a field, FIN ends the group), 0x01 when the
 * objects carry extensions (the timestamp property), 0x40 FIRST_OBJECT on 18+ (the relay serves
 * whole groups from object 0). So 0x18/0x19 on 14-17 and 0x58/0x59 on 18+, exactly what
 * `@moq/net`'s publisher writes too (`ietf/publisher.js` `#runGroup`).
 *
 * `@moq/net` reads it on every draft (`ietf/object.js` `Group.decode`: 0x40 stripped on 18+,
 * then 0x10-0x1F), and on 18+ it drops a subgroup without FIRST_OBJECT, so the bit matters.
 */
export function relayFlags(draft: Draft, extensions: boolean): SubgroupFlags {
  void draft; // every draft gets the same flags; subgroupType() drops FIRST_OBJECT before 18
  return {
    extensions,
    subgroupIdMode: "zero",
    endOfGroup: true,
    hasPriority: true,
    firstObject: true,
  };
}

/**
 * Decodes the header fields after the type (which {@link decodeUniStreamType} read and turned
 * into `flags`). `undefined` = need more bytes.
 */
export function decodeSubgroupHeader(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
  flags: SubgroupFlags,
): Decoded<SubgroupHeader> | undefined {
  const a = readDraftVarintBig(buf, offset, draft);
  if (!a) return undefined;
  const g = readDraftVarint(buf, a[1], draft);
  if (!g) return undefined;
  let at = g[1];
  let subgroup = 0;
  if (flags.subgroupIdMode === "explicit") {
    const s = readDraftVarint(buf, at, draft);
    if (!s) return undefined;
    [subgroup, at] = s;
  }
  const header: SubgroupHeader = { trackAlias: a[0], group: g[0], subgroup, flags };
  if (flags.hasPriority) {
    if (at >= buf.length) return undefined;
    header.priority = buf[at++] ?? 0;
  }
  return { value: header, size: at - offset };
}

/** Encodes a SUBGROUP_HEADER, type included. */
export function encodeSubgroupHeader(
  header: SubgroupHeader,
  draft: Draft,
): Uint8Array<ArrayBuffer> {
  const { flags } = header;
  const type = subgroupType(flags, draft);
  if (flags.subgroupIdMode !== "explicit" && header.subgroup !== 0) {
    throw new RangeError(`subgroup ${header.subgroup} needs the explicit Subgroup ID mode`);
  }
  const priority = header.priority ?? DEFAULT_PUBLISHER_PRIORITY;
  if (flags.hasPriority && (!Number.isInteger(priority) || priority < 0 || priority > 255)) {
    throw new RangeError(`publisher priority out of range: ${priority}`);
  }
  const explicit = flags.subgroupIdMode === "explicit";
  const out = new Uint8Array(
    draftVarintSize(type, draft) + draftVarintSize(header.trackAlias, draft) +
      draftVarintSize(header.group, draft) +
      (explicit ? draftVarintSize(header.subgroup, draft) : 0) + (flags.hasPriority ? 1 : 0),
  );
  let at = writeDraftVarint(out, 0, type, draft);
  at = writeDraftVarint(out, at, header.trackAlias, draft);
  at = writeDraftVarint(out, at, header.group, draft);
  if (explicit) at = writeDraftVarint(out, at, header.subgroup, draft);
  if (flags.hasPriority) out[at] = priority;
  return out;
}
