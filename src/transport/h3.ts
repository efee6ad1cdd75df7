/**
 * HTTP/3 framing for WebTransport (RFC 9114, RFC 9297, draft-ietf-webtrans-http3): frames,
 * SETTINGS, capsules, stream types, error codes. Pure functions, no I/O.
 *
 * @module
 */
import { concatBytes } from "../bytes/concat.ts";
import { readVarintBig, varintSize, writeVarint } from "../bytes/varint.ts";

/** HTTP/3 and QPACK error codes used here (RFC 9114 section 8.1, RFC 9204 section 6). */
export const H3Code = {
  NoError: 0x100,
  GeneralProtocolError: 0x101,
  InternalError: 0x102,
  StreamCreationError: 0x103,
  ClosedCriticalStream: 0x104,
  FrameUnexpected: 0x105,
  FrameError: 0x106,
  ExcessiveLoad: 0x107,
  IdError: 0x108,
  SettingsError: 0x109,
  MissingSettings: 0x10a,
  RequestRejected: 0x10b,
  RequestCancelled: 0x10c,
  MessageError: 0x10e,
  QpackDecompressionFailed: 0x200,
  /** WebTransport: a stream for a session that was refused or never existed. */
  WebTransportBufferedStreamRejected: 0x3994bd84,
  WebTransportSessionGone: 0x170d7b68,
} as const;

/** A connection-level HTTP/3 error: close the QUIC connection with `code`. */
export class H3Error extends Error {
  override name = "H3Error";
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export const FrameType = {
  Data: 0x00,
  Headers: 0x01,
  CancelPush: 0x03,
  Settings: 0x04,
  PushPromise: 0x05,
  Goaway: 0x07,
  MaxPushId: 0x0d,
  /** Opens a WebTransport bidirectional stream (the first bytes of the stream). */
  WebTransportStream: 0x41,
} as const;

/** HTTP/2 frame types that are errors on HTTP/3. */
const RESERVED_FRAME_TYPES = new Set([0x02, 0x06, 0x08, 0x09]);

export const UniStreamType = {
  Control: 0x00,
  Push: 0x01,
  QpackEncoder: 0x02,
  QpackDecoder: 0x03,
  WebTransport: 0x54,
} as const;

export const Setting = {
  QpackMaxTableCapacity: 0x01,
  MaxFieldSectionSize: 0x06,
  QpackBlockedStreams: 0x07,
  EnableConnectProtocol: 0x08,
  H3Datagram: 0x33,
  H3DatagramDraft04: 0xffd277,
  EnableWebTransportDraft02: 0x2b603742,
  WebTransportMaxSessionsDraft07: 0xc671706a,
  WtMaxSessions: 0x14e9cd29,
  WtEnabled: 0x2c7cf000,
} as const;

/** HTTP/2 setting ids that are errors on HTTP/3. */
const RESERVED_SETTINGS = new Set([0x02n, 0x03n, 0x04n, 0x05n]);

/** Capsule types (RFC 9297; draft-ietf-webtrans-http3). */
export const CapsuleType = {
  CloseWebTransportSession: 0x2843,
  DrainWebTransportSession: 0x78ae,
} as const;

/** Largest HEADERS block accepted, and what we advertise as MAX_FIELD_SECTION_SIZE. */
export const MAX_HEADERS_SIZE = 16 * 1024;
/** Largest frame payload accepted on control and CONNECT streams (other than HEADERS). */
export const MAX_CONTROL_FRAME_SIZE = 16 * 1024;

/** The settings every WebTransport endpoint here sends (each one Chromium 156 needs or accepts). */
export const OUR_SETTINGS: readonly [number, number][] = [
  [Setting.QpackMaxTableCapacity, 0],
  [Setting.QpackBlockedStreams, 0],
  [Setting.MaxFieldSectionSize, MAX_HEADERS_SIZE],
  [Setting.EnableConnectProtocol, 1],
  [Setting.H3Datagram, 1],
  [Setting.H3DatagramDraft04, 1],
  [Setting.EnableWebTransportDraft02, 1],
  [Setting.WebTransportMaxSessionsDraft07, 1],
  [Setting.WtMaxSessions, 1],
  [Setting.WtEnabled, 1],
];

/** Encodes varints back to back. */
export function varints(...values: (number | bigint)[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(values.reduce<number>((n, v) => n + varintSize(v), 0));
  let at = 0;
  for (const v of values) at = writeVarint(out, at, v);
  return out;
}

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  return concatBytes([varints(type, payload.length), payload]);
}

/** A frame located in a buffer. */
export interface FrameAt {
  type: bigint;
  start: number;
  end: number;
}

/**
 * Locates the frame at `offset`; `undefined` = need more bytes. Refuses HTTP/2 frame types and
 * payloads over `maxPayload` (the limit for HEADERS when `type` is HEADERS).
 */
export function decodeFrame(
  buf: Uint8Array,
  offset: number,
  maxPayload: number,
): FrameAt | undefined {
  const t = readVarintBig(buf, offset);
  if (!t) return undefined;
  const l = readVarintBig(buf, t[1]);
  if (!l) return undefined;
  const [type] = t;
  const [length, start] = l;
  if (type < 0x10n && RESERVED_FRAME_TYPES.has(Number(type))) {
    throw new H3Error(H3Code.FrameUnexpected, `HTTP/2 frame type ${type} on HTTP/3`);
  }
  const limit = type === BigInt(FrameType.Headers) ? MAX_HEADERS_SIZE : maxPayload;
  if (length > BigInt(limit)) {
    throw new H3Error(
      type === BigInt(FrameType.Headers) ? H3Code.ExcessiveLoad : H3Code.FrameError,
      `frame type ${type} of ${length} bytes exceeds ${limit}`,
    );
  }
  const end = start + Number(length);
  if (end > buf.length) return undefined;
  return { type, start, end };
}

export function encodeSettings(
  settings: readonly [number, number][] = OUR_SETTINGS,
): Uint8Array<ArrayBuffer> {
  return encodeFrame(FrameType.Settings, varints(...settings.flat()));
}

/** Decodes a SETTINGS payload; duplicate or HTTP/2 ids are a SETTINGS error. */
export function decodeSettings(payload: Uint8Array): Map<bigint, bigint> {
  const settings = new Map<bigint, bigint>();
  let at = 0;
  while (at < payload.length) {
    const id = readVarintBig(payload, at);
    if (!id) throw new H3Error(H3Code.FrameError, "truncated SETTINGS");
    const value = readVarintBig(payload, id[1]);
    if (!value) throw new H3Error(H3Code.FrameError, "truncated SETTINGS");
    if (RESERVED_SETTINGS.has(id[0])) {
      throw new H3Error(H3Code.SettingsError, `HTTP/2 setting ${id[0]}`);
    }
    if (settings.has(id[0])) throw new H3Error(H3Code.SettingsError, `duplicate setting ${id[0]}`);
    settings.set(id[0], value[0]);
    at = value[1];
  }
  return settings;
}

/** Whether a peer's settings allow WebTransport (any of the codepoints browsers and servers use). */
export function supportsWebTransport(settings: Map<bigint, bigint>): boolean {
  return [
    Setting.EnableWebTransportDraft02,
    Setting.WtMaxSessions,
    Setting.WebTransportMaxSessionsDraft07,
    Setting.WtEnabled,
  ]
    .some((id) => (settings.get(BigInt(id)) ?? 0n) > 0n);
}

/** Whether a peer's settings allow HTTP/3 datagrams (RFC 9297, or its draft-04 codepoint). */
export function supportsDatagrams(settings: Map<bigint, bigint>): boolean {
  return [Setting.H3Datagram, Setting.H3DatagramDraft04].some((id) =>
    settings.get(BigInt(id)) === 1n
  );
}

/** A capsule located in a buffer (RFC 9297: type, length, value). */
export interface CapsuleAt {
  type: bigint;
  start: number;
  end: number;
}

export function decodeCapsule(
  buf: Uint8Array,
  offset: number,
  maxValue: number,
): CapsuleAt | undefined {
  const t = readVarintBig(buf, offset);
  if (!t) return undefined;
  const l = readVarintBig(buf, t[1]);
  if (!l) return undefined;
  if (l[0] > BigInt(maxValue)) {
    throw new H3Error(
      H3Code.MessageError,
      `capsule type ${t[0]} of ${l[0]} bytes exceeds ${maxValue}`,
    );
  }
  const end = l[1] + Number(l[0]);
  return end > buf.length ? undefined : { type: t[0], start: l[1], end };
}

/** CLOSE_WEBTRANSPORT_SESSION in an HTTP/3 DATA frame: a u32 code and a UTF-8 reason. */
export function encodeCloseCapsule(code: number, reason: string): Uint8Array<ArrayBuffer> {
  // The reason is at most 1024 bytes; cut on a character boundary.
  let text = new TextEncoder().encode(reason);
  while (text.length > 1024) text = new TextEncoder().encode(reason = reason.slice(0, -1));
  const value = new Uint8Array(4 + text.length);
  new DataView(value.buffer).setUint32(0, code >>> 0);
  value.set(text, 4);
  const capsule = concatBytes([varints(CapsuleType.CloseWebTransportSession, value.length), value]);
  return encodeFrame(FrameType.Data, capsule);
}

/** Reads a CLOSE_WEBTRANSPORT_SESSION value. */
export function decodeCloseCapsule(value: Uint8Array): { code: number; reason: string } {
  if (value.length < 4) throw new H3Error(H3Code.MessageError, "short CLOSE_WEBTRANSPORT_SESSION");
  const code = new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
  let reason: string;
  try {
    reason = new TextDecoder("utf-8", { fatal: true }).decode(value.subarray(4));
  } catch {
    throw new H3Error(H3Code.MessageError, "CLOSE_WEBTRANSPORT_SESSION reason is not UTF-8");
  }
  return { code, reason };
}

// ---- structured fields (RFC 8941), just what wt-available-protocols and wt-protocol need --------

/** Parses an sf-list of strings (and tokens), e.g. `"moq-lite-05", "moq-lite-04"`; parameters are ignored. */
export function parseStringList(text: string): string[] {
  const items: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (text[i] === " " || text[i] === "\t") i++;
  };
  skipSpace();
  while (i < text.length) {
    if (text[i] === '"') {
      let value = "";
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\") i++;
        value += text[i] ?? "";
        i++;
      }
      if (text[i] !== '"') throw new Error("unterminated string");
      i++;
      items.push(value);
    } else {
      const m = /^[A-Za-z*][A-Za-z0-9_\-.:%*/!#$&'+^`|~]*/.exec(text.slice(i));
      if (!m) throw new Error(`unexpected character ${JSON.stringify(text[i])}`);
      items.push(m[0]);
      i += m[0].length;
    }
    while (i < text.length && text[i] === ";") {
      // Skip parameters: ;key or ;key=value
      i++;
      const m = /^[a-z*][a-z0-9_\-.*]*(=("(\\.|[^"\\])*"|[^,;\s]*))?/.exec(text.slice(i));
      i += m ? m[0].length : 0;
    }
    skipSpace();
    if (i < text.length) {
      if (text[i] !== ",") throw new Error(`expected a comma at ${i}`);
      i++;
      skipSpace();
    }
  }
  return items;
}

/** Serialises one sf-string (with quotes). */
export function serializeString(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
