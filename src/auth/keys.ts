/**
 * Verification keys in the files upstream's `moq-token` writes (`moq-auth` 0.2.2 `key.rs`): a JWK
 * as JSON, or base64url (padded or not) of that JSON. `alg` and `kty` are required and must fit
 * each other; `key_ops` (default sign + verify) must allow verify; `kid`, when present, is
 * `[A-Za-z0-9_-]{1,128}`; `scope`, when present, caps what the key's tokens may grant. Only the
 * public half of an asymmetric key is imported; the crypto is `jose`'s (WebCrypto underneath).
 *
 * Keys too weak for their algorithm are refused: an HMAC secret shorter than the hash
 * (RFC 7518 section 3.2: 32, 48, 64 bytes; upstream asks 32 for all three), an RSA modulus under
 * 2048 bits, EC coordinates of the wrong size for the curve.
 *
 * @module
 */
import { base64url, importJWK, type JWK } from "jose";
import { normalizePath } from "../codec/path.ts";
import { errorText } from "../config.ts";
import { ClaimsError, decodeGrants } from "./claims.ts";
import type { Pattern } from "./pattern.ts";

export class KeyError extends Error {
  override name = "KeyError";
}

export const ALGORITHMS = [
  "HS256",
  "HS384",
  "HS512",
  "ES256",
  "ES384",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA",
] as const;
export type Algorithm = typeof ALGORITHMS[number];

/** A key's cap on its tokens, relative to its own root (as a token's claims are). */
export interface KeyScope {
  root: string;
  publish: Pattern[];
  subscribe: Pattern[];
}

export interface VerifyKey {
  readonly alg: Algorithm;
  readonly kid: string | undefined;
  readonly scope: KeyScope | undefined;
  readonly key: CryptoKey | Uint8Array;
  /** Where it came from, for messages. */
  readonly source: string;
}

const KID = /^[A-Za-z0-9_-]{1,128}$/;

/** Whether `kid` is a key id upstream accepts (and safe as a file name). */
export function isKeyId(kid: string): boolean {
  return KID.test(kid);
}

/** What each algorithm needs of its key. */
function requirement(alg: Algorithm): { kty: string; crv?: string; size?: number } {
  switch (alg) {
    case "HS256":
      return { kty: "oct", size: 32 };
    case "HS384":
      return { kty: "oct", size: 48 };
    case "HS512":
      return { kty: "oct", size: 64 };
    case "ES256":
      return { kty: "EC", crv: "P-256", size: 32 };
    case "ES384":
      return { kty: "EC", crv: "P-384", size: 48 };
    case "EdDSA":
      return { kty: "OKP", crv: "Ed25519", size: 32 };
    default:
      return { kty: "RSA", size: 256 };
  }
}

function bytes(jwk: Record<string, unknown>, name: string, source: string): Uint8Array {
  const value = jwk[name];
  if (typeof value !== "string") throw new KeyError(`${source}: the key has no "${name}"`);
  try {
    return base64url.decode(value.replace(/=+$/, ""));
  } catch {
    throw new KeyError(`${source}: "${name}" is not base64url`);
  }
}

/** Parses the text of a key file (JSON or base64url of JSON). */
function parseKeyText(text: string, source: string): Record<string, unknown> {
  const trimmed = text.trim();
  let json = trimmed;
  if (!trimmed.startsWith("{")) {
    try {
      json = new TextDecoder("utf-8", { fatal: true }).decode(
        base64url.decode(trimmed.replace(/=+$/, "")),
      );
    } catch {
      throw new KeyError(`${source}: neither JSON nor base64url of JSON`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new KeyError(`${source}: not valid JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new KeyError(`${source}: a key must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function parseScope(value: unknown, source: string): KeyScope | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new KeyError(`${source}: "scope" must be an object`);
  }
  const doc = value as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!["root", "put", "get", "publish", "subscribe"].includes(key)) {
      throw new KeyError(`${source}: unknown scope field "${key}"`);
    }
  }
  const root = doc.root ?? "";
  if (typeof root !== "string") throw new KeyError(`${source}: scope "root" must be a string`);
  try {
    const grants = decodeGrants(doc, "scope field");
    if (grants.publish.length === 0 && grants.subscribe.length === 0) {
      throw new KeyError(`${source}: the key's scope grants nothing`);
    }
    return { root: normalizePath(root), ...grants };
  } catch (e) {
    if (e instanceof ClaimsError) throw new KeyError(`${source}: ${e.message}`);
    throw e;
  }
}

/** Reads and checks one key; `source` names it in messages (a file path). */
export async function parseKey(text: string, source: string): Promise<VerifyKey> {
  const jwk = parseKeyText(text, source);
  const alg = ALGORITHMS.find((a) => a === jwk.alg);
  if (!alg) {
    throw new KeyError(`${source}: "alg" must be one of ${ALGORITHMS.join(", ")}`);
  }
  const need = requirement(alg);
  if (jwk.kty !== need.kty) {
    throw new KeyError(`${source}: ${alg} needs a "${need.kty}" key, not "${jwk.kty}"`);
  }
  if (need.crv !== undefined && jwk.crv !== need.crv) {
    throw new KeyError(`${source}: ${alg} needs curve ${need.crv}, not ${jwk.crv}`);
  }
  const ops = jwk.key_ops ?? ["sign", "verify"];
  if (!Array.isArray(ops) || !ops.every((op) => typeof op === "string")) {
    throw new KeyError(`${source}: "key_ops" must be a list`);
  }
  if (!ops.includes("verify")) throw new KeyError(`${source}: the key may not verify (key_ops)`);
  const kid = jwk.kid;
  if (kid !== undefined && (typeof kid !== "string" || !isKeyId(kid))) {
    throw new KeyError(`${source}: "kid" must be 1 to 128 of A-Z a-z 0-9 - _`);
  }
  const scope = parseScope(jwk.scope, source);

  // Only what verification needs: an asymmetric key's private half is never imported.
  let material: JWK;
  switch (need.kty) {
    case "oct": {
      const secret = bytes(jwk, "k", source);
      if (secret.length < (need.size ?? 0)) {
        throw new KeyError(
          `${source}: a ${secret.length}-byte secret is too weak for ${alg} (needs ${need.size})`,
        );
      }
      return { alg, kid, scope, key: secret, source };
    }
    case "EC":
      for (const name of ["x", "y"]) {
        if (bytes(jwk, name, source).length !== need.size) {
          throw new KeyError(`${source}: "${name}" is not a ${need.crv} coordinate`);
        }
      }
      material = { kty: "EC", crv: need.crv, x: String(jwk.x), y: String(jwk.y) };
      break;
    case "OKP":
      if (bytes(jwk, "x", source).length !== need.size) {
        throw new KeyError(`${source}: "x" is not an Ed25519 public key`);
      }
      material = { kty: "OKP", crv: need.crv, x: String(jwk.x) };
      break;
    default: {
      const modulus = bytes(jwk, "n", source);
      let bits = modulus.length * 8;
      for (let i = 0; i < modulus.length && modulus[i] === 0; i++) bits -= 8;
      if (bits < 2048) {
        throw new KeyError(`${source}: a ${bits}-bit RSA key is too weak (needs 2048 or more)`);
      }
      bytes(jwk, "e", source);
      material = { kty: "RSA", n: String(jwk.n), e: String(jwk.e) };
    }
  }
  try {
    const key = await importJWK(material, alg);
    if (key instanceof Uint8Array) throw new KeyError(`${source}: not a public key`);
    return { alg, kid, scope, key, source };
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError(`${source}: ${e instanceof Error ? e.message : e}`);
  }
}

/** Reads a key file, with the file named in every error. */
export async function readKeyFile(path: string): Promise<VerifyKey> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new KeyError(`cannot read key ${path}: ${errorText(e)}`);
  }
  return await parseKey(text, path);
}

/** Keys looked up by a token's `kid` in a directory kept at most this many at once. */
const KEY_DIR_CACHE = 256;

/**
 * Where tokens' keys come from: key files read at start (`--auth-key`) and a directory read when
 * a token names a key (`--auth-key-dir`: `DIR/<kid>.jwk`, read again whenever the file changes,
 * so keys rotate and are revoked without a restart).
 */
export class KeyRing {
  readonly #keys: readonly VerifyKey[];
  readonly #dir: string | undefined;
  readonly #cache = new Map<string, { mtime: number; size: number; key: VerifyKey }>();

  private constructor(keys: readonly VerifyKey[], dir: string | undefined) {
    this.#keys = keys;
    this.#dir = dir;
  }

  /** Reads every key file and checks the directory; a {@link KeyError} names the culprit. */
  static async load(files: readonly string[], dir: string | undefined): Promise<KeyRing> {
    const keys = [];
    for (const file of files) keys.push(await readKeyFile(file));
    if (dir !== undefined) {
      let info;
      try {
        info = await Deno.stat(dir);
      } catch {
        throw new KeyError(`cannot read key directory ${dir}: no such directory`);
      }
      if (!info.isDirectory) throw new KeyError(`${dir}: not a directory`);
    }
    return new KeyRing(keys, dir);
  }

  get empty(): boolean {
    return this.#keys.length === 0 && this.#dir === undefined;
  }

  /**
   * The key for a token's `kid`. Without a kid, the one key file (as upstream: a kid is needed
   * only to choose among several); with one, the key file of that kid, else `DIR/<kid>.jwk`.
   */
  async find(kid: string | undefined): Promise<VerifyKey> {
    if (kid === undefined) {
      if (this.#keys.length === 1 && this.#keys[0]) return this.#keys[0];
      throw new ClaimsError("the token has no kid to choose its key");
    }
    const named = this.#keys.find((k) => k.kid === kid);
    if (named) return named;
    const only = this.#keys.length === 1 ? this.#keys[0] : undefined;
    if (only && only.kid === undefined && this.#dir === undefined) return only;
    if (this.#dir === undefined) throw new ClaimsError(`no key "${kid}"`);
    if (!isKeyId(kid)) throw new ClaimsError("the token's kid is not a valid key id");
    return await this.#fromDir(this.#dir, kid);
  }

  async #fromDir(dir: string, kid: string): Promise<VerifyKey> {
    const path = `${dir}/${kid}.jwk`;
    let info;
    try {
      info = await Deno.stat(path);
    } catch {
      this.#cache.delete(kid);
      throw new ClaimsError(`no key "${kid}" in the key directory`);
    }
    const mtime = info.mtime?.getTime() ?? 0;
    const cached = this.#cache.get(kid);
    if (cached && cached.mtime === mtime && cached.size === info.size) return cached.key;
    let key: VerifyKey;
    try {
      key = await readKeyFile(path);
    } catch (e) {
      // A bad key file refuses its tokens; the operator hears why.
      throw new ClaimsError(`key "${kid}" cannot be used: ${e instanceof Error ? e.message : e}`);
    }
    if (key.kid !== undefined && key.kid !== kid) {
      throw new ClaimsError(`${path} holds key "${key.kid}", not "${kid}"`);
    }
    this.#cache.delete(kid);
    this.#cache.set(kid, { mtime, size: info.size, key });
    if (this.#cache.size > KEY_DIR_CACHE) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    return key;
  }
}
