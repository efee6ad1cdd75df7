/**
 * The fetch stream (bidirectional, type `0x03`): FETCH asks for one group (06: a frame range of
 * it); the publisher answers with that group's frames (05+ format, no header), then FIN.
 * Defined from lite-03 on; served by upstream only from lite-05.
 *
 * @module
 */
import { decodeError } from "../error.ts";
import { type Decoded, decodeSized, encodeSized } from "../message.ts";
import { checkedPath, type Path } from "../path.ts";
import { hasFrameBounds, type Version } from "./version.ts";

export interface Fetch {
  broadcast: Path;
  track: string;
  priority: number;
  group: number;
  /** 06: first frame wanted; 0 before 06. */
  startFrame: number;
  /** 06: last frame wanted (inclusive); undefined = to the end. */
  endFrame: number | undefined;
}

export function decodeFetch(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<Fetch> | undefined {
  return decodeSized(buf, offset, "FETCH", (r) => {
    const broadcast = checkedPath(r.string("broadcast"), "broadcast");
    const track = r.string("track");
    const priority = r.u8("priority");
    const group = r.varint("group");
    const startFrame = hasFrameBounds(version) ? r.varint("start frame") : 0;
    const endFrame = hasFrameBounds(version) ? r.optional("end frame") : undefined;
    if (endFrame !== undefined && endFrame < startFrame) {
      throw decodeError("FETCH: frame range ends before it starts");
    }
    return { broadcast, track, priority, group, startFrame, endFrame };
  });
}

export function encodeFetch(msg: Fetch, version: Version): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => {
    w.string(msg.broadcast).string(msg.track).u8(msg.priority).varint(msg.group);
    if (hasFrameBounds(version)) w.varint(msg.startFrame).optional(msg.endFrame);
    else if (msg.startFrame !== 0 || msg.endFrame !== undefined) {
      throw new RangeError("frame ranges need lite-06");
    }
  });
}
