/**
 * Keys and tokens for access-control tests, signed with `jose` as an issuer would: a key pair per
 * algorithm, its public JWK written as a `--auth-key` file, and `sign(claims)`.
 */
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export type TestAlgorithm =
  | "HS256"
  | "HS384"
  | "HS512"
  | "ES256"
  | "ES384"
  | "EdDSA"
  | "RS256"
  | "RS384"
  | "RS512"
  | "PS256"
  | "PS384"
  | "PS512";

/** HMAC secrets as long as the hash (RFC 7518 3.2), as the relay requires. */
const HMAC_BYTES: Partial<Record<TestAlgorithm, number>> = { HS256: 32, HS384: 48, HS512: 64 };

export interface TestKey {
  readonly alg: TestAlgorithm;
  readonly kid: string;
  /** The JWK the relay verifies with (the public half; the secret for HMAC). */
  readonly jwk: JWK;
  /** Signs claims; `header` overrides the protected header (to forge a bad one). */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** Writes the verification key into `dir` as `<kid>.jwk` (or `name`) and returns the path. */
  write(dir: string, name?: string): Promise<string>;
}

export async function testKey(alg: TestAlgorithm, kid = `test-${alg.toLowerCase()}`): Promise<
  TestKey
> {
  let signing: CryptoKey | Uint8Array;
  let jwk: JWK;
  const hmac = HMAC_BYTES[alg];
  if (hmac !== undefined) {
    const secret = crypto.getRandomValues(new Uint8Array(hmac));
    signing = secret;
    jwk = { kty: "oct", k: b64url(secret) };
  } else {
    const pair = await generateKeyPair(alg, { extractable: true });
    signing = pair.privateKey;
    jwk = await exportJWK(pair.publicKey);
  }
  const published: JWK = { ...jwk, alg, kid };
  return {
    alg,
    kid,
    jwk: published,
    sign: (claims, header = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg, kid, ...header }).sign(signing),
    async write(dir, name = `${kid}.jwk`) {
      const path = `${dir}/${name}`;
      await Deno.writeTextFile(path, JSON.stringify(published));
      return path;
    },
  };
}

/** Unix seconds from now. */
export function inSeconds(seconds: number): number {
  return Math.floor(Date.now() / 1000) + seconds;
}

/** base64url of text or bytes, unpadded. */
export function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}
