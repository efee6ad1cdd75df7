/**
 * A token's payload, read the way upstream's `moq-auth` 0.2.2 reads it (`wire.rs`, `claims.rs`),
 * and scoped to the path a session dialed. Pure: no keys, no clocks beyond the `now` passed in.
 *
 * - `root` (default ""): the path the grants are relative to.
 * - `publish` / `subscribe`: pattern lists, or the legacy `put` / `get`: a prefix or a list of
 *   prefixes (`p` means `p/**`, `""` everything, no wildcards). One token never mixes the two forms;
 *   an explicit `null` is refused rather than read as absent.
 * - `exp`, `nbf`, `iat`: unix seconds. Expired (`exp <= now`) or not yet valid (`nbf > now`) is
 *   refused, no leeway. `iss`, `sub`, `jti` are read and ignored; any other claim is refused (an
 *   unknown one might narrow the grant; a misspelt `root` would widen it).
 * - A token that grants nothing is refused.
 *
 * @module
 */
import { normalizePath, stripPrefix } from "../codec/path.ts";
import { Pattern, PatternError } from "./pattern.ts";

/** Why a token (or a key's scope) is refused: the reason is logged, never the token. */
export class ClaimsError extends Error {
  override name = "ClaimsError";
}

export interface Claims {
  /** The normalised root the patterns are relative to. */
  root: string;
  publish: Pattern[];
  subscribe: Pattern[];
  /** Unix seconds. */
  expires?: number;
  notBefore?: number;
  issued?: number;
}

const KNOWN = new Set([
  "root",
  "put",
  "get",
  "publish",
  "subscribe",
  "exp",
  "nbf",
  "iat",
  "iss",
  "sub",
  "jti",
]);

/** Reads a verified payload into claims, or throws {@link ClaimsError} saying what is wrong. */
export function decodeClaims(payload: Record<string, unknown>, now: number): Claims {
  for (const key of Object.keys(payload)) {
    if (!KNOWN.has(key)) throw new ClaimsError(`unknown claim "${key}"`);
  }
  const { publish, subscribe } = decodeGrants(payload, "claim");
  const root = payload.root ?? "";
  if (typeof root !== "string") throw new ClaimsError(`claim "root" must be a string`);
  const claims: Claims = {
    root: normalizePath(root),
    publish,
    subscribe,
    expires: seconds(payload, "exp"),
    notBefore: seconds(payload, "nbf"),
    issued: seconds(payload, "iat"),
  };
  if (claims.expires !== undefined && claims.expires <= now) {
    throw new ClaimsError("the token has expired");
  }
  if (claims.notBefore !== undefined && claims.notBefore > now) {
    throw new ClaimsError("the token is not valid yet");
  }
  if (publish.length === 0 && subscribe.length === 0) {
    throw new ClaimsError("the token grants neither publish nor subscribe");
  }
  return claims;
}

/**
 * The publish/subscribe grants of a token or of a key's scope, in either encoding. `what` names
 * the document in messages ("claim", "scope field").
 */
export function decodeGrants(
  doc: Record<string, unknown>,
  what: string,
): { publish: Pattern[]; subscribe: Pattern[] } {
  for (const key of ["put", "get", "publish", "subscribe"]) {
    if (key in doc && doc[key] === null) throw new ClaimsError(`${what} "${key}" is null`);
  }
  const legacy = "put" in doc || "get" in doc;
  if (legacy && ("publish" in doc || "subscribe" in doc)) {
    throw new ClaimsError("mixes the legacy put/get claims with publish/subscribe");
  }
  if (legacy) {
    return { publish: prefixes(doc.put, "put", what), subscribe: prefixes(doc.get, "get", what) };
  }
  return {
    publish: patterns(doc.publish, "publish", what),
    subscribe: patterns(doc.subscribe, "subscribe", what),
  };
}

function patterns(value: unknown, name: string, what: string): Pattern[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ClaimsError(`${what} "${name}" must be a list of patterns`);
  return value.map((text) => {
    if (typeof text !== "string") {
      throw new ClaimsError(`${what} "${name}" must be a list of patterns`);
    }
    try {
      return Pattern.parse(text);
    } catch (e) {
      throw new ClaimsError(`${what} "${name}": ${e instanceof Error ? e.message : e}`);
    }
  });
}

/** Legacy prefixes: a string or a list of strings, each `p` the subtree `p/**`. */
function prefixes(value: unknown, name: string, what: string): Pattern[] {
  if (value === undefined) return [];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || !list.every((p) => typeof p === "string")) {
    throw new ClaimsError(`${what} "${name}" must be a prefix or a list of prefixes`);
  }
  return list.map((prefix) => {
    try {
      // Legacy prefixes had no wildcards: a `*` would silently widen the grant.
      return Pattern.subtree(prefix);
    } catch (e) {
      if (e instanceof PatternError) {
        throw new ClaimsError(`${what} "${name}": legacy prefix "${prefix}": ${e.message}`);
      }
      throw e;
    }
  });
}

function seconds(payload: Record<string, unknown>, name: string): number | undefined {
  const value = payload[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ClaimsError(`claim "${name}" must be a number of seconds`);
  }
  return value;
}

/**
 * How a token's root relates to the path a session dialed: the dialed path under the root (the
 * session sees part of the grant), the root under the dialed path (the grant is named from
 * above), or unrelated (refused). Segment-aware: root `foo` does not cover `foobar`.
 */
export function rootsOverlap(root: string, dialed: string): boolean {
  return stripPrefix(dialed, root) !== undefined || stripPrefix(root, dialed) !== undefined;
}
