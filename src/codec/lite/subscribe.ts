/**
 * The subscribe stream (bidirectional, type `0x02`): SUBSCRIBE, then SUBSCRIBE_UPDATEs from the
 * subscriber; responses from the publisher. Groups travel on their own streams (`group.ts`).
 *
 * Field differences by version, next to each field below:
 * - 01/02: id, broadcast, track, priority only.
 * - 03..05: + ordered (a byte; retired in 06), max latency (ms), start and end group
 *   (sequence + 1, 0 = latest / open).
 * - 06: no ordered byte; the start group is a raw floor (0 = none); + start frame and end frame
 *   (frame + 1, 0 = whole group) so a subscription can begin or end inside a group.
 *
 * Responses: 01 SUBSCRIBE_OK {priority}; 02 SUBSCRIBE_OK {}; 03/04 typed OK (0) and DROP (1);
 * 05/06 typed START (0), END (1), DROP (2).
 *
 * @module
 */
import type { Reader, Writer } from "../buffer.ts";
import { decodeError } from "../error.ts";
import { type Decoded, decodeSized, encodeSized, encodeTyped, frame } from "../message.ts";
import { checkedPath, type Path } from "../path.ts";
import { Reader as BodyReader } from "../buffer.ts";
import {
  hasFrameBounds,
  hasGroupOrder,
  hasOkPriority,
  hasSubscribeStartEnd,
  hasSubscribeWindow,
  type Version,
} from "./version.ts";

/** What a subscriber may change after SUBSCRIBE (lite-03+). */
export interface SubscriptionWindow {
  priority: number;
  /** 03..05 only: 1 = oldest group first. Retired in 06 (always newest first). */
  ordered: boolean;
  /** Milliseconds; 03+ (01/02 carry none and decode 0). */
  maxLatency: number;
  /** First group to deliver; undefined = the latest (03..05) or no floor (06). */
  startGroup: number | undefined;
  /** Last group to deliver (inclusive); undefined = open-ended. */
  endGroup: number | undefined;
  /** 06: first frame within `startGroup`; 0 = the whole group. */
  startFrame: number;
  /** 06: last frame (inclusive) within `endGroup`; undefined = the whole group. */
  endFrame: number | undefined;
}

export interface Subscribe extends SubscriptionWindow {
  /** Chosen by the subscriber, unique per session; GROUP headers refer to it. */
  id: bigint;
  broadcast: Path;
  track: string;
}

export type SubscribeUpdate = SubscriptionWindow;

const WHOLE: Pick<
  SubscriptionWindow,
  "ordered" | "maxLatency" | "startGroup" | "endGroup" | "startFrame" | "endFrame"
> = {
  ordered: false,
  maxLatency: 0,
  startGroup: undefined,
  endGroup: undefined,
  startFrame: 0,
  endFrame: undefined,
};

function readWindow(r: Reader, version: Version, priority: number): SubscriptionWindow {
  const ordered = hasGroupOrder(version) ? r.bool("ordered") : false;
  const maxLatency = r.varint("max latency");
  let startGroup: number | undefined;
  if (hasFrameBounds(version)) {
    startGroup = r.varint("start group"); // a raw floor
  } else {
    startGroup = r.optional("start group");
  }
  const endGroup = r.optional("end group");
  let startFrame = 0;
  let endFrame: number | undefined;
  if (hasFrameBounds(version)) {
    startFrame = r.varint("start frame");
    endFrame = r.optional("end frame");
    // Frames are numbered per group: an end frame needs the end group it qualifies. (The start
    // group is always on the wire in 06, so a start frame always has its group, even group 0.)
    if (endFrame !== undefined && endGroup === undefined) {
      throw decodeError("SUBSCRIBE: an end frame without an end group");
    }
    // A floor of 0 with no frame offset constrains nothing: the same as no floor.
    if (startGroup === 0 && startFrame === 0) startGroup = undefined;
  }
  return { priority, ordered, maxLatency, startGroup, endGroup, startFrame, endFrame };
}

function writeWindow(w: Writer, msg: SubscriptionWindow, version: Version): void {
  if (hasGroupOrder(version)) w.bool(msg.ordered);
  w.varint(msg.maxLatency);
  if (hasFrameBounds(version)) w.varint(msg.startGroup ?? 0);
  else w.optional(msg.startGroup);
  w.optional(msg.endGroup);
  if (hasFrameBounds(version)) {
    w.varint(msg.startFrame).optional(msg.endFrame);
  } else if (msg.startFrame !== 0 || msg.endFrame !== undefined) {
    // Older versions would deliver the frames the caller excluded.
    throw new RangeError("frame bounds need lite-06");
  }
}

export function decodeSubscribe(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<Subscribe> | undefined {
  return decodeSized(buf, offset, "SUBSCRIBE", (r) => {
    const id = r.varintBig("subscribe id");
    const broadcast = checkedPath(r.string("broadcast"), "broadcast");
    const track = r.string("track");
    const priority = r.u8("priority");
    const window = hasSubscribeWindow(version)
      ? readWindow(r, version, priority)
      : { ...WHOLE, priority };
    return { id, broadcast, track, ...window };
  });
}

export function encodeSubscribe(msg: Subscribe, version: Version): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => {
    w.varint(msg.id).string(msg.broadcast).string(msg.track).u8(msg.priority);
    if (hasSubscribeWindow(version)) writeWindow(w, msg, version);
  });
}

/** SUBSCRIBE_UPDATE: lite-03+ (01/02 peers must not send one). */
export function decodeSubscribeUpdate(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<SubscribeUpdate> | undefined {
  if (!hasSubscribeWindow(version)) throw decodeError("SUBSCRIBE_UPDATE needs lite-03 or newer");
  return decodeSized(
    buf,
    offset,
    "SUBSCRIBE_UPDATE",
    (r) => readWindow(r, version, r.u8("priority")),
  );
}

export function encodeSubscribeUpdate(
  msg: SubscribeUpdate,
  version: Version,
): Uint8Array<ArrayBuffer> {
  if (!hasSubscribeWindow(version)) {
    throw new RangeError("SUBSCRIBE_UPDATE needs lite-03 or newer");
  }
  return encodeSized((w) => {
    w.u8(msg.priority);
    writeWindow(w, msg, version);
  });
}

/**
 * A publisher's answer on the subscribe stream.
 * - `ok`: 01 (priority), 02 (empty: fields read as defaults), 03/04 (all fields).
 * - `drop`: 03..06; groups `start..end` (inclusive) will never come.
 * - `start` / `end`: 05+; the first group delivered / the first that never will be.
 */
export type SubscribeResponse =
  | {
    kind: "ok";
    priority: number;
    ordered: boolean;
    maxLatency: number;
    startGroup: number | undefined;
    endGroup: number | undefined;
  }
  | { kind: "drop"; start: number; end: number; errorCode: number }
  | { kind: "start"; group: number }
  | { kind: "end"; group: number };

/** Response type numbers on lite-03/04 and on lite-05+. */
const TYPES_03 = { ok: 0, drop: 1 } as const;
const TYPES_05 = { start: 0, end: 1, drop: 2 } as const;

export function decodeSubscribeResponse(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<SubscribeResponse> | undefined {
  if (!hasSubscribeWindow(version)) {
    return decodeSized(buf, offset, "SUBSCRIBE_OK", (r): SubscribeResponse => ({
      kind: "ok",
      priority: hasOkPriority(version) ? r.u8("priority") : 0,
      ordered: false,
      maxLatency: 0,
      startGroup: undefined,
      endGroup: undefined,
    }));
  }
  const f = frame(buf, offset, true, "subscribe response");
  if (!f) return undefined;
  const r = new BodyReader(buf, f.start, f.end);
  let value: SubscribeResponse;
  if (!hasSubscribeStartEnd(version)) {
    if (f.type === TYPES_03.ok) {
      value = {
        kind: "ok",
        priority: r.u8("priority"),
        ordered: r.bool("ordered"),
        maxLatency: r.varint("max latency"),
        startGroup: r.optional("start group"),
        endGroup: r.optional("end group"),
      };
    } else if (f.type === TYPES_03.drop) {
      value = readDrop(r);
    } else {
      throw decodeError(`subscribe response: unknown type ${f.type}`);
    }
  } else if (f.type === TYPES_05.start) {
    value = { kind: "start", group: r.varint("group") };
  } else if (f.type === TYPES_05.end) {
    value = { kind: "end", group: r.varint("group") };
  } else if (f.type === TYPES_05.drop) {
    value = readDrop(r);
  } else {
    throw decodeError(`subscribe response: unknown type ${f.type}`);
  }
  r.finish("subscribe response");
  return { value, size: f.end - offset };
}

function readDrop(r: Reader): SubscribeResponse {
  return {
    kind: "drop",
    start: r.varint("start"),
    end: r.varint("end"),
    errorCode: r.varint("error code"),
  };
}

export function encodeSubscribeResponse(
  msg: SubscribeResponse,
  version: Version,
): Uint8Array<ArrayBuffer> {
  if (!hasSubscribeWindow(version)) {
    if (msg.kind !== "ok") throw new RangeError(`lite-01/02 have no ${msg.kind} response`);
    return encodeSized((w) => {
      if (hasOkPriority(version)) w.u8(msg.priority);
    });
  }
  if (msg.kind === "drop") {
    const type = hasSubscribeStartEnd(version) ? TYPES_05.drop : TYPES_03.drop;
    return encodeTyped(type, (w) => w.varint(msg.start).varint(msg.end).varint(msg.errorCode));
  }
  if (!hasSubscribeStartEnd(version)) {
    if (msg.kind !== "ok") throw new RangeError(`lite-03/04 have no ${msg.kind} response`);
    return encodeTyped(
      TYPES_03.ok,
      (w) =>
        w.u8(msg.priority).bool(msg.ordered).varint(msg.maxLatency).optional(msg.startGroup)
          .optional(msg.endGroup),
    );
  }
  if (msg.kind === "ok") throw new RangeError("lite-05+ has no SUBSCRIBE_OK (use start)");
  return encodeTyped(
    msg.kind === "start" ? TYPES_05.start : TYPES_05.end,
    (w) => w.varint(msg.group),
  );
}
