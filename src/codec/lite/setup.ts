/**
 * Session setup.
 *
 * - lite-01/02 (`moql` or no subprotocol): the client's first bidirectional stream starts with
 *   CLIENT_SETUP (`0x20`, a u16 length, a version list, opaque parameters); the server answers
 *   SERVER_SETUP (`0x21`, u16 length, the chosen version, opaque parameters). The stream then
 *   stays open as the session stream and may carry SESSION_INFO.
 * - lite-03/04: no setup at all.
 * - lite-05+: each side opens one unidirectional stream of type `0x01` carrying one SETUP of
 *   key/value parameters, then FIN.
 *
 * @module
 */
import { Reader, Writer } from "../buffer.ts";
import { boundsError, decodeError, ProtocolError, SessionCode } from "../error.ts";
import { type Decoded, decodeSized, encodeSized } from "../message.ts";
import { readVarint } from "../varint.ts";
import { LEGACY_VERSIONS, type Version } from "./version.ts";

/** SETUP messages carry only negotiation parameters; bound them on their own. */
export const MAX_SETUP_SIZE = 64 * 1024;
/** Most parameters a lite-05+ SETUP may carry. */
export const MAX_SETUP_PARAMETERS = 64;

export const CLIENT_SETUP_TYPE = 0x20;
export const SERVER_SETUP_TYPE = 0x21;

/** moq-transport draft 14, the only IETF version that shares the legacy SETUP. */
export const IETF_DRAFT_14 = 0xff00000e;

/** Legacy CLIENT_SETUP. Parameters stay opaque: client generations encode them differently. */
export interface ClientSetup {
  versions: number[];
  parameters: Uint8Array;
}

/** Legacy SERVER_SETUP. */
export interface ServerSetup {
  version: number;
  parameters: Uint8Array;
}

/** Reads the u16 length and body that follow a legacy setup type. */
function legacyBody(buf: Uint8Array, offset: number): [number, number] | undefined {
  if (offset + 2 > buf.length) return undefined;
  const length = ((buf[offset] ?? 0) << 8) | (buf[offset + 1] ?? 0);
  const start = offset + 2;
  if (start + length > buf.length) return undefined;
  return [start, start + length];
}

/**
 * Decodes CLIENT_SETUP from the bytes after its `0x20` type (the session reads that byte as the
 * stream type). `undefined` = need more bytes.
 */
export function decodeClientSetup(buf: Uint8Array, offset = 0): Decoded<ClientSetup> | undefined {
  const body = legacyBody(buf, offset);
  if (!body) return undefined;
  const r = new Reader(buf, body[0], body[1]);
  const count = r.varint("version count");
  if (count > 64) throw boundsError(`CLIENT_SETUP: ${count} versions`);
  const versions: number[] = [];
  for (let i = 0; i < count; i++) versions.push(r.varint("version"));
  return { value: { versions, parameters: r.rest() }, size: body[1] - offset };
}

/** Encodes CLIENT_SETUP including its `0x20` type. */
export function encodeClientSetup(setup: ClientSetup): Uint8Array<ArrayBuffer> {
  const body = new Writer().varint(setup.versions.length);
  for (const v of setup.versions) body.varint(v);
  body.bytes(setup.parameters);
  const bytes = body.finish();
  return new Writer().varint(CLIENT_SETUP_TYPE).u16(bytes.length).bytes(bytes).finish();
}

/** Decodes SERVER_SETUP including its `0x21` type. `undefined` = need more bytes. */
export function decodeServerSetup(buf: Uint8Array, offset = 0): Decoded<ServerSetup> | undefined {
  const t = readVarint(buf, offset);
  if (!t) return undefined;
  if (t[0] !== SERVER_SETUP_TYPE) {
    throw new ProtocolError(`expected SERVER_SETUP, got type ${t[0]}`);
  }
  const body = legacyBody(buf, t[1]);
  if (!body) return undefined;
  const r = new Reader(buf, body[0], body[1]);
  const version = r.varint("version");
  return { value: { version, parameters: r.rest() }, size: body[1] - offset };
}

/**
 * Encodes SERVER_SETUP including its `0x21` type. The length is a u16 even when a lite version is
 * chosen: the stream is still in draft-14 framing at that point.
 */
export function encodeServerSetup(setup: ServerSetup): Uint8Array<ArrayBuffer> {
  const body = new Writer().varint(setup.version).bytes(setup.parameters).finish();
  return new Writer().varint(SERVER_SETUP_TYPE).u16(body.length).bytes(body).finish();
}

/** The lite version to answer a legacy CLIENT_SETUP with: the client's first choice we speak. */
export function chooseLegacyVersion(
  offered: readonly number[],
  supported: readonly number[] = LEGACY_VERSIONS,
): Version | undefined {
  return offered.find((v) => supported.includes(v)) as Version | undefined;
}

/** SESSION_INFO on the lite-01/02 session stream: the sender's bitrate estimate (0 = unknown). */
export interface SessionInfo {
  bitrate: number;
}

export function decodeSessionInfo(buf: Uint8Array, offset = 0): Decoded<SessionInfo> | undefined {
  return decodeSized(buf, offset, "SESSION_INFO", (r) => ({ bitrate: r.varint("bitrate") }));
}

export function encodeSessionInfo(info: SessionInfo): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => w.varint(info.bitrate));
}

// ---- lite-05+ SETUP -------------------------------------------------------------------------

/** Parameter ids of the lite-05+ SETUP. */
export const SetupParameter = {
  /** varint: 0 none, 1 report, 2 (or more) increase. Sent by the side acting as publisher. */
  Probe: 1n,
  /** UTF-8 path and query; client only, and only without a request URL (raw QUIC). */
  Path: 2n,
  /** varint: 1 publisher, 2 subscriber; absent (or other) means both. Client only. */
  Role: 3n,
  /** varint route cost. */
  Cost: 4n,
  /** varint hop (origin) id; 0 means none. */
  Hop: 5n,
} as const;

/** One SETUP parameter as it travels; order is kept so encoding reproduces the input. */
export interface Parameter {
  id: bigint;
  value: Uint8Array;
}

/** lite-05+ SETUP: parameters only. */
export interface Setup {
  parameters: Parameter[];
}

export function decodeSetup(buf: Uint8Array, offset = 0): Decoded<Setup> | undefined {
  return decodeSized(buf, offset, "SETUP", (r) => {
    const count = r.varint("parameter count");
    if (count > MAX_SETUP_PARAMETERS) {
      throw new ProtocolError(`SETUP: ${count} parameters`, SessionCode.KeyValueFormatting);
    }
    const parameters: Parameter[] = [];
    const seen = new Set<bigint>();
    for (let i = 0; i < count; i++) {
      const id = r.varintBig("parameter id");
      if (seen.has(id)) {
        throw new ProtocolError(`SETUP: duplicate parameter ${id}`);
      }
      seen.add(id);
      parameters.push({ id, value: r.lengthPrefixed("parameter value", MAX_SETUP_SIZE) });
    }
    return { parameters };
  }, MAX_SETUP_SIZE);
}

export function encodeSetup(setup: Setup): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => {
    w.varint(setup.parameters.length);
    for (const p of setup.parameters) w.varint(p.id).lengthPrefixed(p.value);
  });
}

/** What a lite-05+ SETUP says, with the wire defaults filled in. */
export interface SetupInfo {
  probe: "none" | "report" | "increase";
  path: string | undefined;
  role: "both" | "publisher" | "subscriber";
  cost: bigint | undefined;
  /** The sender's hop id; 0 (no identity) reads as undefined. */
  hop: bigint | undefined;
}

function varintParameter(p: Parameter | undefined, what: string): bigint | undefined {
  if (!p) return undefined;
  const r = new Reader(p.value);
  const value = r.varintBig(what);
  r.finish(`SETUP ${what}`);
  return value;
}

/** Interprets the known parameters of a SETUP; unknown ones are ignored. */
export function setupInfo(setup: Setup): SetupInfo {
  const find = (id: bigint) => setup.parameters.find((p) => p.id === id);
  const probe = varintParameter(find(SetupParameter.Probe), "probe") ?? 0n;
  const role = varintParameter(find(SetupParameter.Role), "role");
  const pathParam = find(SetupParameter.Path);
  let path: string | undefined;
  if (pathParam) {
    try {
      path = new TextDecoder("utf-8", { fatal: true }).decode(pathParam.value);
    } catch {
      throw decodeError("SETUP path: not valid UTF-8");
    }
  }
  const hop = varintParameter(find(SetupParameter.Hop), "hop");
  return {
    probe: probe === 0n ? "none" : probe === 1n ? "report" : "increase",
    path,
    role: role === 1n ? "publisher" : role === 2n ? "subscriber" : "both",
    cost: varintParameter(find(SetupParameter.Cost), "cost"),
    hop: hop === 0n ? undefined : hop,
  };
}

/** Builds SETUP parameters from the fields to send (absent fields are omitted, as upstream does). */
export function setupParameters(info: Partial<SetupInfo>): Setup {
  const parameters: Parameter[] = [];
  const varint = (id: bigint, v: bigint | number) =>
    parameters.push({ id, value: new Writer().varint(v).finish() });
  if (info.probe && info.probe !== "none") {
    varint(SetupParameter.Probe, info.probe === "report" ? 1 : 2);
  }
  if (info.path !== undefined) {
    parameters.push({ id: SetupParameter.Path, value: new TextEncoder().encode(info.path) });
  }
  if (info.role && info.role !== "both") {
    varint(SetupParameter.Role, info.role === "publisher" ? 1 : 2);
  }
  if (info.cost !== undefined) varint(SetupParameter.Cost, info.cost);
  if (info.hop !== undefined) varint(SetupParameter.Hop, info.hop);
  return { parameters };
}
