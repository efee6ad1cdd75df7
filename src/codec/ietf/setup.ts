/**
 * The SETUP exchange (`WIRE.md` 0.1, 0.2; `moq-net` 0.3.18 `setup.rs`, `@moq/net` 0.3.4
 * `ietf/setup.js`):
 *
 * - drafts 14-16: CLIENT_SETUP / SERVER_SETUP on the first bidi stream: type as a raw byte
 *   (`0x20` / `0x21`, `R:setup.rs:16-17`), `Length (16)`, [draft 14: the client's version list /
 *   the server's chosen version], setup options;
 * - drafts 17+: SETUP on each side's uni stream: `0x2F00 (i)` (the stream type is the message
 *   type, `R:setup.rs:20`), `Length (16)`, setup options to the end of the body.
 *
 * Decoders are incremental: undefined = need more bytes; bad bytes throw ProtocolError.
 *
 * @module
 */
import { boundsError, decodeError } from "../error.ts";
import type { Decoded } from "../message.ts";
import { type Draft, hasSetupStream, hasSetupVersions } from "./draft.ts";
import type { ClientSetup, ServerSetup, Setup, SetupParameters } from "./messages.ts";
import { readSetupParameters, writeSetupParameters } from "./parameters.ts";
import { encodeControl, IetfReader, type IetfWriter, readDraftVarint } from "./wire.ts";

/** CLIENT_SETUP's type byte (drafts 14-16). */
export const CLIENT_SETUP_TYPE = 0x20;
/** SERVER_SETUP's type byte (drafts 14-16). */
export const SERVER_SETUP_TYPE = 0x21;
/** SETUP's type (drafts 17+), also its uni stream's type. */
export const SETUP_TYPE = 0x2f00;

/** Most versions a draft-14 CLIENT_SETUP may offer (`J:setup.js:26`, MAX_VERSIONS). */
export const MAX_SETUP_VERSIONS = 128;

function version(r: IetfReader): number {
  return r.varint("version");
}

/** CLIENT_SETUP's body fields. */
export function readClientSetupBody(r: IetfReader): ClientSetup {
  const versions: number[] = [];
  if (hasSetupVersions(r.draft)) {
    const count = r.varint("version count");
    if (count > MAX_SETUP_VERSIONS) {
      throw boundsError(`CLIENT_SETUP: ${count} versions exceeds ${MAX_SETUP_VERSIONS}`);
    }
    for (let i = 0; i < count; i++) versions.push(version(r));
  }
  return { type: "client_setup", versions, parameters: readSetupParameters(r) };
}

export function writeClientSetupBody(w: IetfWriter, m: ClientSetup): void {
  if (hasSetupVersions(w.draft)) {
    if (m.versions.length > MAX_SETUP_VERSIONS) {
      throw new RangeError(`${m.versions.length} versions (at most ${MAX_SETUP_VERSIONS})`);
    }
    w.varint(m.versions.length);
    for (const v of m.versions) w.varint(v);
  }
  writeSetupParameters(w, m.parameters);
}

export function readServerSetupBody(r: IetfReader): ServerSetup {
  const chosen = hasSetupVersions(r.draft) ? version(r) : 0;
  return { type: "server_setup", version: chosen, parameters: readSetupParameters(r) };
}

export function writeServerSetupBody(w: IetfWriter, m: ServerSetup): void {
  if (hasSetupVersions(w.draft)) w.varint(m.version);
  writeSetupParameters(w, m.parameters);
}

export function readSetupBody(r: IetfReader): Setup {
  return { type: "setup", parameters: readSetupParameters(r) };
}

function legacyOnly(draft: Draft, what: string): void {
  if (hasSetupStream(draft)) throw new RangeError(`${what} does not exist on draft ${draft}`);
}

function modernOnly(draft: Draft, what: string): void {
  if (!hasSetupStream(draft)) throw new RangeError(`${what} does not exist on draft ${draft}`);
}

/** Frames `byte (8)`, `Length (16)`, body; undefined = need more. */
function decodeLegacy<T>(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
  typeByte: number,
  what: string,
  body: (r: IetfReader) => T,
): Decoded<T> | undefined {
  if (offset >= buf.length) return undefined;
  if (buf[offset] !== typeByte) {
    throw decodeError(`${what}: type 0x${(buf[offset] ?? 0).toString(16)}`);
  }
  if (offset + 3 > buf.length) return undefined;
  const length = ((buf[offset + 1] ?? 0) << 8) | (buf[offset + 2] ?? 0);
  const start = offset + 3;
  if (start + length > buf.length) return undefined;
  const r = new IetfReader(buf, draft, start, start + length);
  const value = body(r);
  r.finish(what);
  return { value, size: start + length - offset };
}

/** CLIENT_SETUP at `offset` (drafts 14-16; a RangeError on 17+). */
export function decodeClientSetup(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
): Decoded<ClientSetup> | undefined {
  legacyOnly(draft, "CLIENT_SETUP");
  return decodeLegacy(buf, offset, draft, CLIENT_SETUP_TYPE, "CLIENT_SETUP", readClientSetupBody);
}

/** SERVER_SETUP at `offset` (drafts 14-16; a RangeError on 17+). */
export function decodeServerSetup(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
): Decoded<ServerSetup> | undefined {
  legacyOnly(draft, "SERVER_SETUP");
  return decodeLegacy(buf, offset, draft, SERVER_SETUP_TYPE, "SERVER_SETUP", readServerSetupBody);
}

/** SETUP at `offset`, starting with its 0x2F00 type (drafts 17+; a RangeError before). */
export function decodeSetup(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
): Decoded<Setup> | undefined {
  modernOnly(draft, "SETUP");
  const t = readDraftVarint(buf, offset, draft);
  if (!t) return undefined;
  if (t[0] !== SETUP_TYPE) throw decodeError(`SETUP: stream type 0x${t[0].toString(16)}`);
  const body = decodeSetupAfterType(buf, t[1], draft);
  return body && { value: body.value, size: t[1] - offset + body.size };
}

/** `byte`, `Length (16)`, body (the body's length fits 16 bits by construction). */
function encodeLegacy(draft: Draft, typeByte: number, body: (w: IetfWriter) => void): Uint8Array {
  // A one-byte type below 0x40 is the same byte as a QUIC varint, so the shared framing fits.
  return encodeControl(draft, typeByte, body);
}

export function encodeClientSetup(m: ClientSetup, draft: Draft): Uint8Array {
  legacyOnly(draft, "CLIENT_SETUP");
  return encodeLegacy(draft, CLIENT_SETUP_TYPE, (w) => writeClientSetupBody(w, m));
}

export function encodeServerSetup(m: ServerSetup, draft: Draft): Uint8Array {
  legacyOnly(draft, "SERVER_SETUP");
  return encodeLegacy(draft, SERVER_SETUP_TYPE, (w) => writeServerSetupBody(w, m));
}

/** SETUP with its 0x2F00 type (which opens the uni stream). */
export function encodeSetup(m: Setup, draft: Draft): Uint8Array {
  modernOnly(draft, "SETUP");
  return encodeControl(draft, SETUP_TYPE, (w) => writeSetupParameters(w, m.parameters));
}

/**
 * SETUP's `Length (16)` and body at `offset`, its 0x2F00 type already read as the stream's type
 * (drafts 17+). `undefined` = need more bytes.
 */
export function decodeSetupAfterType(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
): Decoded<Setup> | undefined {
  modernOnly(draft, "SETUP");
  if (offset + 2 > buf.length) return undefined;
  const length = ((buf[offset] ?? 0) << 8) | (buf[offset + 1] ?? 0);
  const start = offset + 2;
  if (start + length > buf.length) return undefined;
  const r = new IetfReader(buf, draft, start, start + length);
  const value = readSetupBody(r);
  r.finish("SETUP");
  return { value, size: start + length - offset };
}

/** A legacy CLIENT_SETUP's raw parameter block (as the moq-lite codec keeps it), for draft 14. */
export function decodeSetupParameterBlock(bytes: Uint8Array, draft: Draft): SetupParameters {
  const r = new IetfReader(bytes, draft);
  const parameters = readSetupParameters(r);
  r.finish("setup parameters");
  return parameters;
}
