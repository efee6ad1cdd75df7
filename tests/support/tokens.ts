/**
 * Keys and tokens for access-control tests, signed with `jose` as an issuer would: a key pair per
 * algorithm, its public JWK written as a `--auth-key` file, and `sign(claims)`.
 */
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export type TestAlgorithm = "HS256" | "ES256" | "EdDSA" | "RS256";

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
  if (alg === "HS256") {
    const secret = crypto.getRandomValues(new Uint8Array(32));
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
