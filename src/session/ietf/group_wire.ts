/**
 * A cached group as moq-transport writes it: one SUBGROUP stream (subgroup 0, end of group at
 * FIN, FIRST_OBJECT on 18+), one object per frame with ids 0, 1, 2, ... and, when the track
 * declared a TIMESCALE to this subscriber (17+), each frame's timestamp as the object's
 * timestamp property. This is how upstream's relay and `@moq/net` map moq-lite groups and
 * frames, and the only layout `@moq/net` 0.3.4 reads (every object id delta 0).
 *
 * A complete frame's header and payload are joined once per header form and shared by every
 * subscriber of that form; the cache keeps the frame, and the join lives as long as it does.
 *
 * @module
 */
import { concatBytes } from "../../bytes/concat.ts";
import type { Frame } from "../../cache/group.ts";
import {
  type Draft,
  encodeObjectExtensions,
  encodeObjectHeader,
  encodeSubgroupHeader,
  ObjectStatus,
  relayFlags,
  usesLeadingOnes,
} from "../../codec/ietf/mod.ts";
import type { GroupWire } from "../delivery/group.ts";
import { MAX_JOINED_FRAME } from "../delivery/group.ts";

/** The default publisher priority in a subgroup header (upstream's default). */
const PUBLISHER_PRIORITY = 128;

/** Joined frames by header form (varint codec, with or without a timestamp). */
const joined = new WeakMap<Frame, Map<string, Uint8Array>>();

export function ietfGroupWire(draft: Draft, trackAlias: bigint, stamped: boolean): GroupWire {
  const flags = relayFlags(draft, stamped);
  const form = `${usesLeadingOnes(draft) ? "lo" : "quic"}-${stamped ? "ts" : "plain"}`;
  const frameHeader = (frame: Frame, index: number) =>
    encodeObjectHeader(
      {
        objectId: index,
        previous: index === 0 ? undefined : index - 1,
        extensions: stamped
          ? encodeObjectExtensions({ timestamp: frame.timestamp }, draft)
          : undefined,
        length: frame.size,
        status: frame.size === 0 ? ObjectStatus.Normal : undefined,
      },
      draft,
      flags,
    );
  return {
    header: (group) =>
      encodeSubgroupHeader({
        trackAlias,
        group: group.sequence,
        subgroup: 0,
        priority: PUBLISHER_PRIORITY,
        flags,
      }, draft),
    wholeFrame(frame, index) {
      let forms = joined.get(frame);
      const known = forms?.get(form);
      if (known) return known;
      if (frame.received < frame.size || frame.size > MAX_JOINED_FRAME) return undefined;
      const bytes = concatBytes([frameHeader(frame, index), ...frame.chunks]);
      if (!forms) joined.set(frame, forms = new Map());
      forms.set(form, bytes);
      return bytes;
    },
    frameHeader: (frame, index) => frameHeader(frame, index),
    truncation: truncationMarker(draft),
  };
}

/** The first byte of a two-byte varint: a FIN after it ends the stream inside an object. */
export function truncationMarker(draft: Draft): Uint8Array {
  return Uint8Array.of(usesLeadingOnes(draft) ? 0x80 : 0x40);
}
