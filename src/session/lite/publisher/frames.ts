/**
 * Frames on the wire for fan-out: a complete frame's header and payload joined in one buffer,
 * built once and shared by every subscriber whose header is the same, so a frame sent to many
 * costs one write each and no copy. The cache knows nothing of this: the joined buffers are kept
 * here, by frame, for as long as the cache keeps the frame, and the frame's payload is handed
 * back to the cache as a view into the joined buffer, so the bytes are held once.
 *
 * A frame's header depends only on the version's header form (with timestamps from lite-05, or
 * without) and the previous frame of the group, the same for every subscriber of that form.
 *
 * @module
 */
import { concatBytes } from "../../../bytes/concat.ts";
import { type Frame, replaceChunks } from "../../../cache/group.ts";
import {
  encodeFrameHeader,
  encodeGroupHeader,
  hasFrameTimestamps,
  TRUNCATED_FRAME_HEADER,
  UniType,
  type Version,
} from "../../../codec/lite/mod.ts";
import type { GroupWire } from "../../delivery/group.ts";

import { MAX_JOINED_FRAME } from "../../delivery/group.ts";
export { MAX_JOINED_FRAME };

/** How a version writes frame headers: with a timestamp delta (lite-05+) or without. */
export type HeaderForm = "stamped" | "plain";

export function headerForm(version: Version): HeaderForm {
  return hasFrameTimestamps(version) ? "stamped" : "plain";
}

interface Joined {
  form: HeaderForm;
  /** The delta the header was built with: a stamped header fits only that delta. */
  delta: number;
  bytes: Uint8Array;
}

/** Joined buffers by frame; an entry goes when the cache lets go of its frame. */
const joined = new WeakMap<Frame, Joined>();

/** A frame's header in `version`, its timestamp taken against `previous` (the frame before). */
export function frameHeader(frame: Frame, previous: number, version: Version): Uint8Array {
  return encodeFrameHeader(
    { timestampDelta: frame.timestamp - previous, size: frame.size },
    version,
  );
}

/**
 * A complete frame's header and payload in one shared buffer, or undefined when the frame is
 * incomplete, large, or already joined under another header (write the header, then the chunks).
 */
export function wireFrame(
  frame: Frame,
  previous: number,
  version: Version,
): Uint8Array | undefined {
  const form = headerForm(version);
  const delta = form === "stamped" ? frame.timestamp - previous : 0;
  const known = joined.get(frame);
  if (known) return known.form === form && known.delta === delta ? known.bytes : undefined;
  if (frame.received < frame.size || frame.size > MAX_JOINED_FRAME) return undefined;
  const head = frameHeader(frame, previous, version);
  const bytes = concatBytes([head, ...frame.chunks]);
  joined.set(frame, { form, delta, bytes });
  replaceChunks(frame, bytes.subarray(head.length));
  return bytes;
}

/** moq-lite's group stream: GROUP (type, subscription, sequence), then its frames. */
export function liteGroupWire(version: Version, subscribeId: bigint): GroupWire {
  return {
    header(group) {
      const out = encodeGroupHeader(
        { subscribeId, sequence: group.sequence, frameStart: 0 },
        version,
        { before: 1 },
      );
      out[0] = UniType.Group;
      return out;
    },
    wholeFrame: (frame, _index, previous) => wireFrame(frame, previous, version),
    frameHeader: (frame, _index, previous) => frameHeader(frame, previous, version),
    truncation: TRUNCATED_FRAME_HEADER,
  };
}
