/**
 * The type that opens every moq-transport unidirectional stream (WIRE.md 4.1; upstream
 * `moq-net` `ietf/session.rs` `run_unis` / `run_uni_group`):
 *
 * | type                          | stream                                   | drafts |
 * | ----------------------------- | ---------------------------------------- | ------ |
 * | 0x10-0x1D, 0x30-0x3D          | SUBGROUP_HEADER                          | 14+    |
 * | + 0x40 (0x50-0x5D, 0x70-0x7D) | SUBGROUP_HEADER with FIRST_OBJECT        | 18+    |
 * | 0x05                          | FETCH_HEADER                             | all    |
 * | 0x2F00                        | SETUP (then that side's GOAWAY)          | 17+    |
 * | 0x132B3E28                    | PADDING (zero bytes to discard)          | 18+    |
 *
 * Anything else is a session error (PROTOCOL_VIOLATION), as upstream's `UnexpectedStream`.
 *
 * A subgroup type is a base (0x10: the header carries a priority; 0x30: it does not) plus bits:
 * 0x01 extensions on every object, 0x02 Subgroup ID = first Object ID (no field), 0x04 an
 * explicit Subgroup ID field, 0x08 the stream's FIN ends the group, 0x40 FIRST_OBJECT (18+).
 * 0x02 and 0x04 together are reserved.
 *
 * @module
 */
import { decodeError } from "../error.ts";
import type { Decoded } from "../message.ts";
import { type Draft, hasFirstObjectBit, hasPadding, hasSetupStream } from "./draft.ts";
import { readDraftVarint } from "./wire.ts";

/** What a SUBGROUP_HEADER's type says about the stream. */
export interface SubgroupFlags {
  /** Every object carries an extensions (properties) block (bit 0x01). */
  extensions: boolean;
  /** `zero`: Subgroup ID 0, no field; `first-object` (0x02): the first object's id, no field;
   * `explicit` (0x04): a Subgroup ID field follows the Group ID. */
  subgroupIdMode: "zero" | "first-object" | "explicit";
  /** The stream's FIN ends the group (bit 0x08). */
  endOfGroup: boolean;
  /** The header carries a Publisher Priority byte (base 0x10; 0x30 has none, 128 applies). */
  hasPriority: boolean;
  /** The stream starts at the group's first object (bit 0x40, draft 18+). Drafts before 18 have
   * no such bit; their streams decode as `true`, taken at their word as `@moq/net` does
   * (`ietf/object.js` `Group.decode`). */
  firstObject: boolean;
}

export type UniStreamType =
  | { kind: "subgroup"; flags: SubgroupFlags }
  | { kind: "fetch" }
  | { kind: "setup" }
  | { kind: "padding" };

/** FETCH_HEADER's stream type. */
export const FETCH_STREAM_TYPE = 0x05;
/** SETUP's stream type (draft 17+): the stream type is the message type. */
export const SETUP_STREAM_TYPE = 0x2f00;
/** A PADDING stream (draft 18+). */
export const PADDING_STREAM_TYPE = 0x132b3e28;

/** The FIRST_OBJECT bit of a subgroup type (draft 18+). */
export const FIRST_OBJECT_BIT = 0x40;

/**
 * The flags of a subgroup type, or undefined when `type` is no subgroup type on `draft`.
 * Throws for the reserved combination (0x02 with 0x04), which upstream refuses
 * (`ietf/group.rs` `GroupFlags::decode`). **DIFF**: `@moq/net` accepts it
 * (`ietf/object.js:150-157` takes 0x10-0x1F and 0x30-0x3F).
 *
 * The 0x30 range (no priority) is accepted on every draft, draft 14 included, as both upstream
 * implementations do (the draft-14 text defines only 0x10-0x1D).
 */
export function subgroupFlags(type: number, draft: Draft): SubgroupFlags | undefined {
  let base = type;
  let firstObject = true;
  if (hasFirstObjectBit(draft)) {
    firstObject = (type & FIRST_OBJECT_BIT) !== 0;
    base = type & ~FIRST_OBJECT_BIT;
  }
  let hasPriority: boolean;
  if (base >= 0x10 && base <= 0x1f) hasPriority = true;
  else if (base >= 0x30 && base <= 0x3f) hasPriority = false;
  else return undefined;
  const bits = base & 0x0f;
  if ((bits & 0x06) === 0x06) {
    throw decodeError(
      `subgroup type 0x${type.toString(16)}: Subgroup ID bits 0x02 and 0x04 together are reserved`,
    );
  }
  return {
    extensions: (bits & 0x01) !== 0,
    subgroupIdMode: (bits & 0x04) !== 0
      ? "explicit"
      : (bits & 0x02) !== 0
      ? "first-object"
      : "zero",
    endOfGroup: (bits & 0x08) !== 0,
    hasPriority,
    firstObject,
  };
}

/**
 * Decodes the type at the start of a unidirectional stream. `undefined` = need more bytes; a
 * type the draft does not define is a {@link ProtocolError} (close the session).
 */
export function decodeUniStreamType(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
): Decoded<UniStreamType> | undefined {
  const t = readDraftVarint(buf, offset, draft);
  if (!t) return undefined;
  const [type, next] = t;
  const size = next - offset;
  if (type === FETCH_STREAM_TYPE) return { value: { kind: "fetch" }, size };
  if (type === SETUP_STREAM_TYPE && hasSetupStream(draft)) {
    return { value: { kind: "setup" }, size };
  }
  if (type === PADDING_STREAM_TYPE && hasPadding(draft)) {
    return { value: { kind: "padding" }, size };
  }
  if (type <= 0xff) {
    const flags = subgroupFlags(type, draft);
    if (flags) return { value: { kind: "subgroup", flags }, size };
  }
  throw decodeError(`unidirectional stream type 0x${type.toString(16)} unknown on draft ${draft}`);
}
