/**
 * What every moq-lite session of a relay shares: the routing table, the cache budget, the
 * relay's hop id, and the per-connection limits.
 *
 * @module
 */
import type { CacheBudget } from "../cache/budget.ts";
import type { Origin } from "../cache/origin.ts";

/** Per-connection bounds on what a peer can make the relay hold. */
export interface SessionLimits {
  /** Announce streams a peer may have open. */
  maxAnnounceRequests: number;
  /** Broadcasts a peer may announce. */
  maxAnnouncements: number;
  /** Subscriptions a peer may have open. */
  maxSubscriptions: number;
  /** Group streams the relay writes to one peer at once; older ones are dropped first. */
  maxGroupStreams: number;
  /** Cached bytes one subscription may lag behind before its oldest groups are dropped. */
  maxLagBytes: number;
  /** A subscriber's non-latest group is dropped once this old and behind (at least). */
  minLatencyMs: number;
  /** Group streams a peer may be sending us at once. */
  maxIncomingGroups: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  maxAnnounceRequests: 64,
  maxAnnouncements: 1024,
  maxSubscriptions: 4096,
  maxGroupStreams: 512,
  maxLagBytes: 16 * 1024 * 1024,
  minLatencyMs: 1000,
  maxIncomingGroups: 1024,
};

/** Paths under this prefix belong to the cluster: members and their records. */
export const INTERNAL_PREFIX = "internal";
/** Where each cluster node announces itself: `internal/origins/<host:port>`. */
export const ORIGINS_PREFIX = "internal/origins";

/** How this relay takes part in a cluster. */
export interface ClusterPolicy {
  /** The shared secret cluster sessions must present; undefined = open (the seed's behaviour). */
  token: string | undefined;
  /**
   * This relay's part: the root (relays every member's record), a node (shows other relays its
   * local broadcasts and its own record), or a read-only member (shows them nothing).
   */
  role: "root" | "node" | "member";
}

export interface RelayContext {
  readonly origin: Origin;
  readonly budget: CacheBudget;
  /** This relay's hop id: non-zero, below 2^53 (JavaScript clients read it as a number). */
  readonly hop: bigint;
  readonly limits: SessionLimits;
  readonly cluster: ClusterPolicy;
}

/** Whether a session presenting `presented` (the `cluster` URL parameter) is a cluster member. */
export function isClusterMember(policy: ClusterPolicy, presented: string | null): boolean {
  if (presented === null) return false;
  return policy.token === undefined || presented === policy.token;
}

/** Whether a path is under the cluster's internal prefix. */
export function isInternal(path: string): boolean {
  return path === INTERNAL_PREFIX || path.startsWith(`${INTERNAL_PREFIX}/`);
}

/** A random non-zero hop id below 2^53. */
export function randomHop(): bigint {
  const words = crypto.getRandomValues(new Uint32Array(2));
  const high = (words[0] ?? 0) & 0x1fffff;
  const id = (BigInt(high) << 32n) | BigInt(words[1] ?? 0);
  return id === 0n ? 1n : id;
}
