/**
 * Verifies a compact JWS token (`?jwt=`) against the relay's keys: the key is chosen by the
 * header's `kid`, the algorithm is the key's own (so `alg: none`, or HS256 signed with a public
 * key, never verifies), the signature is checked by `jose`, then the claims are read as upstream
 * reads them and held to the key's scope.
 *
 * @module
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";
import { type Claims, ClaimsError, decodeClaims } from "./claims.ts";
import type { KeyRing, KeyScope } from "./keys.ts";
import { covers, type Pattern } from "./pattern.ts";

/** Longer tokens are refused unread (a URL carries a few KiB; a grant needs far less). */
export const MAX_TOKEN_LENGTH = 8192;

/** The claims of a valid token, or a {@link ClaimsError} saying why it is refused. */
export async function verifyToken(token: string, keys: KeyRing, nowMs: number): Promise<Claims> {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new ClaimsError(`the token is longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (header.kid !== undefined && typeof header.kid !== "string") {
      throw new ClaimsError("the token's kid is not a string");
    }
    kid = header.kid;
  } catch (e) {
    if (e instanceof ClaimsError) throw e;
    throw new ClaimsError("the token is not a JWT");
  }
  const key = await keys.find(kid);
  let payload: Record<string, unknown>;
  try {
    // Times are checked by decodeClaims, exactly: jose's own checks would allow a leeway option.
    ({ payload } = await jwtVerify(token, key.key, {
      algorithms: [key.alg],
      currentDate: new Date(nowMs),
    }));
  } catch (e) {
    throw new ClaimsError(verifyFailure(e));
  }
  const claims = decodeClaims(payload, nowMs / 1000);
  if (key.scope && !scopeAllows(key.scope, claims)) {
    throw new ClaimsError(`the token grants more than key ${key.kid ?? key.source} may`);
  }
  return claims;
}

function verifyFailure(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return "the token has expired";
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `bad claim: ${e.message}`;
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return "the token's algorithm is not the key's";
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return "bad signature";
  if (e instanceof joseErrors.JWTInvalid || e instanceof joseErrors.JWSInvalid) {
    return "the token is malformed";
  }
  return `the token cannot be verified: ${e instanceof Error ? e.message : e}`;
}

/** Whether every pattern the claims grant sits inside the key's scope, role by role. */
function scopeAllows(scope: KeyScope, claims: Claims): boolean {
  const placed = (patterns: readonly Pattern[], root: string) => {
    try {
      return patterns.map((p) => p.rooted(root));
    } catch {
      return undefined;
    }
  };
  const roles: [readonly Pattern[], readonly Pattern[]][] = [
    [scope.publish, claims.publish],
    [scope.subscribe, claims.subscribe],
  ];
  return roles.every(([granted, requested]) => {
    const g = placed(granted, scope.root);
    const r = placed(requested, claims.root);
    return g !== undefined && r !== undefined && covers(g, r);
  });
}
