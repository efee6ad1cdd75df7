/**
 * A session's grant: what it may publish and subscribe to, and until when. Every pattern here is
 * absolute (relative to the relay's root, not the session's), so a check is one match of the
 * absolute path, whatever root the session dialed.
 *
 * The cluster's `internal/` prefix is reached only by patterns that name it: a pattern whose
 * first segment is the literal `internal`. `**` or `*` never reach it, so an ordinary user's
 * token (even one granting everything) never grants the cluster's paths.
 *
 * @module
 */
import { hasPrefix, normalizePath } from "../codec/path.ts";
import { INTERNAL_PREFIX } from "../cluster/policy.ts";
import { type Claims, ClaimsError, rootsOverlap } from "./claims.ts";
import { covers, Pattern } from "./pattern.ts";

export interface Grant {
  /** The session's root: every path on its wire is relative to it. */
  readonly root: string;
  /** Absolute patterns the session may publish (announce) under. */
  readonly publish: readonly Pattern[];
  /** Absolute patterns the session may subscribe to (and list). */
  readonly subscribe: readonly Pattern[];
  /** When the grant ends, ms since the epoch. */
  readonly expiresAt?: number;
  /** Another relay of the cluster: shown and trusted as a cluster link. */
  readonly link: boolean;
}

/** Whether the pattern names the cluster's prefix itself (its first segment is `internal`). */
function namesInternal(pattern: Pattern): boolean {
  const first = pattern.segments[0];
  return first?.kind === "literal" && first.text === INTERNAL_PREFIX;
}

/** Whether one of `patterns` allows the absolute `path` (see the internal rule above). */
export function allows(patterns: readonly Pattern[], path: string): boolean {
  const internal = hasPrefix(path, INTERNAL_PREFIX);
  for (const pattern of patterns) {
    if (internal && !namesInternal(pattern)) continue;
    if (pattern.matches(path)) return true;
  }
  return false;
}

/** Whether anything at or under the absolute `prefix` could be allowed by `patterns`. */
export function reachesUnder(patterns: readonly Pattern[], prefix: string): boolean {
  let subtree: Pattern;
  try {
    subtree = Pattern.subtree(prefix);
  } catch {
    return false; // a path with a `*` segment cannot be named by a pattern, so nothing reaches it
  }
  const internal = hasPrefix(prefix, INTERNAL_PREFIX);
  // Above `internal` (the relay's root) every valid pattern matches some non-internal path.
  return patterns.some((p) => (!internal || namesInternal(p)) && p.overlaps(subtree));
}

/** Whether `wider` still allows everything `narrower` did, in both roles (a revalidation). */
export function grantCovers(wider: Grant, narrower: Grant): boolean {
  const internalSafe = (granted: readonly Pattern[], requested: readonly Pattern[]) =>
    requested.every((r) =>
      !namesInternal(r) || granted.some((g) => namesInternal(g) && g.contains(r))
    );
  return wider.root === narrower.root && wider.link === narrower.link &&
    covers(wider.publish, narrower.publish) && covers(wider.subscribe, narrower.subscribe) &&
    internalSafe(wider.publish, narrower.publish) &&
    internalSafe(wider.subscribe, narrower.subscribe);
}

/** Why a grant cannot be made at the dialed path: 403 for a valid credential with no access. */
export class NoAccess extends Error {
  override name = "NoAccess";
}

/** Places relative patterns beneath `root`, making them absolute. */
function rooted(patterns: readonly Pattern[], root: string): Pattern[] {
  if (root.split("/").some((segment) => segment.includes("*"))) {
    // As upstream: a pattern cannot name such a path, so nothing can be granted there.
    throw new NoAccess(`"${root}" has a "*" in a segment: nothing can be granted there`);
  }
  try {
    return patterns.map((p) => p.rooted(root));
  } catch (e) {
    throw new ClaimsError(`a grant under "${root}" is too deep: ${e instanceof Error ? e : ""}`);
  }
}

/**
 * The grant a token's claims give a session that dialed `dialed`: its root is the dialed path;
 * a dialed path under the token's root narrows the grant, one above it names the grant from
 * there; an unrelated path, or one the grant reaches nothing under, is refused ({@link NoAccess}).
 * A token that names `internal/**` in both roles (at the relay's root) is another relay's.
 */
export function grantFromClaims(claims: Claims, dialed: string): Grant {
  const root = normalizePath(dialed);
  if (!rootsOverlap(claims.root, root)) {
    throw new NoAccess(`the token is for "${claims.root}", not "${root}"`);
  }
  const publish = rooted(claims.publish, claims.root);
  const subscribe = rooted(claims.subscribe, claims.root);
  return scoped({
    root,
    publish,
    subscribe,
    expiresAt: claims.expires === undefined ? undefined : claims.expires * 1000,
    link: namesCluster(publish) && namesCluster(subscribe),
  });
}

/** Whether the absolute patterns grant the whole internal prefix. */
function namesCluster(patterns: readonly Pattern[]): boolean {
  const all = Pattern.subtree(INTERNAL_PREFIX);
  return patterns.some((p) => namesInternal(p) && p.contains(all));
}

/**
 * A grant from relative patterns (an auth server's reply, the public rules): relative to `root`
 * (the server's alias) or, without one, to the dialed path, which becomes the session's root.
 */
export function grantFromPatterns(
  dialed: string,
  relative: { root?: string; publish: readonly Pattern[]; subscribe: readonly Pattern[] },
  extra: { expiresAt?: number; link?: boolean } = {},
): Grant {
  const root = normalizePath(relative.root ?? dialed);
  return scoped({
    root,
    publish: rooted(relative.publish, root),
    subscribe: rooted(relative.subscribe, root),
    expiresAt: extra.expiresAt,
    link: extra.link ?? false,
  });
}

/** The public rules (absolute patterns) as the grant of an anonymous session at `dialed`. */
export function publicGrant(
  dialed: string,
  rules: { publish: readonly Pattern[]; subscribe: readonly Pattern[] },
): Grant {
  return scoped({ root: normalizePath(dialed), ...rules, link: false });
}

/** Refuses a grant that reaches nothing under its root. */
function scoped(grant: Grant): Grant {
  if (!reachesUnder(grant.publish, grant.root) && !reachesUnder(grant.subscribe, grant.root)) {
    throw new NoAccess(`nothing is granted under "${grant.root || "/"}"`);
  }
  return grant;
}
