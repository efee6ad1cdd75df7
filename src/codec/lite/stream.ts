/**
 * Stream types: the varint that opens every stream, and which versions allow which.
 *
 * Bidirectional: 0x01 announce, 0x02 subscribe, 0x03 fetch (03+), 0x04 probe (03+), 0x05 goaway
 * (04+), 0x06 track (05+), and 0x20 the legacy CLIENT_SETUP (the first stream on 01/02).
 * Unidirectional: 0x00 group, 0x01 setup (05+).
 *
 * From lite-03 on, an unknown type is reset and the session goes on (that is how extensions are
 * probed); on 01/02 it is fatal. A known type the version lacks is an unexpected stream.
 *
 * @module
 */
import { ProtocolError, SessionCode, StreamCode } from "../error.ts";
import { type Decoded, decodeVarint } from "../message.ts";
import { CLIENT_SETUP_TYPE } from "./setup.ts";
import {
  hasGoaway,
  hasLegacySetup,
  hasProbe,
  hasSetupStream,
  hasTrackStream,
  type Version,
} from "./version.ts";

export const BidiType = {
  Announce: 0x01,
  Subscribe: 0x02,
  Fetch: 0x03,
  Probe: 0x04,
  Goaway: 0x05,
  Track: 0x06,
  ClientSetup: CLIENT_SETUP_TYPE,
} as const;

export const UniType = { Group: 0x00, Setup: 0x01 } as const;

export type BidiKind = "announce" | "subscribe" | "fetch" | "probe" | "goaway" | "track" | "setup";
export type UniKind = "group" | "setup";

const always = () => true;

/** Each bidirectional stream type and whether a version has it. */
const BIDI: Record<number, [BidiKind, (version: Version) => boolean]> = {
  [BidiType.Announce]: ["announce", always],
  [BidiType.Subscribe]: ["subscribe", always],
  // The type was reserved with PROBE in lite-03; a version without FETCH refuses the stream.
  [BidiType.Fetch]: ["fetch", hasProbe],
  [BidiType.Probe]: ["probe", hasProbe],
  [BidiType.Goaway]: ["goaway", hasGoaway],
  [BidiType.Track]: ["track", hasTrackStream],
};

/**
 * The kind of a bidirectional stream from its type. `undefined` = need more bytes. Throws
 * UnexpectedStream for a type the version lacks, and for unknown types (the session resets the
 * stream where the version {@link toleratesUnknownStreams}, and closes the session elsewhere).
 */
export function decodeBidiType(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<BidiKind> | undefined {
  const t = decodeVarint(buf, offset);
  if (!t) return undefined;
  if (t.value === BidiType.ClientSetup && hasLegacySetup(version)) {
    return { value: "setup", size: t.size };
  }
  const known = BIDI[t.value];
  if (!known || !known[1](version)) {
    throw new ProtocolError(
      `unexpected bidirectional stream type ${t.value}`,
      SessionCode.ProtocolViolation,
      StreamCode.Cancel,
    );
  }
  return { value: known[0], size: t.size };
}

/** The kind of a unidirectional stream from its type; as {@link decodeBidiType}. */
export function decodeUniType(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<UniKind> | undefined {
  const t = decodeVarint(buf, offset);
  if (!t) return undefined;
  if (t.value === UniType.Group) return { value: "group", size: t.size };
  if (t.value === UniType.Setup && hasSetupStream(version)) {
    return { value: "setup", size: t.size };
  }
  throw new ProtocolError(
    `unexpected unidirectional stream type ${t.value}`,
    SessionCode.ProtocolViolation,
    StreamCode.Cancel,
  );
}
