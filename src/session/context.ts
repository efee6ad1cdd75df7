/**
 * What every moq-lite session of a relay shares: the cache budget, the relay's hop id, the
 * per-connection limits, and the policy that decides what each session may see (its view).
 *
 * @module
 */
import type { Admission } from "../auth/access.ts";
import type { Lease } from "../auth/lease.ts";
import type { CacheBudget } from "../cache/budget.ts";
import type { OriginView } from "../cache/view.ts";
import type { Logger } from "../log.ts";
import type { Session } from "../transport/session.ts";

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

/** How long a peer has to complete the setup exchange (either family). */
export const SETUP_TIMEOUT_MS = 10_000;

/** Sessions a relay serves at once unless configured otherwise (each one holds memory). */
export const DEFAULT_MAX_SESSIONS = 10_000;

/** Who is asking for a view: the session's root and its URL's query parameters. */
export interface ScopeRequest {
  /** The URL path (or lite-05+ SETUP path), decoded: every path on the wire is relative to it. */
  root: string;
  /** The URL as dialed (on raw QUIC: the SETUP path and query). */
  url: URL;
  params: URLSearchParams;
  log: Logger;
  /** What the session arrived on: the transport's kind ("http" for a one-shot HTTP route), its
   * remote address and application protocol. */
  transport: Pick<Session, "remote" | "protocol"> & { kind: Session["kind"] | "http" };
  /** The session's admission, when it was decided before the transport was accepted. */
  admission?: Admission;
}

/**
 * A session's scope: its view of the origin and its root (a grant may name another than the
 * dialed path), with the lease on its grant when access control decided it; or a refusal.
 */
export type Scope =
  | { view: OriginView; root: string; lease?: Lease }
  | { refused: string; status: 401 | 403 | 502 };

export interface SessionContext {
  readonly budget: CacheBudget;
  /** This relay's hop id: non-zero, below 2^53 (JavaScript clients read it as a number). */
  readonly hop: bigint;
  readonly limits: SessionLimits;
  /** The scope an accepted session gets once its root and parameters are known. */
  scope(request: ScopeRequest): Promise<Scope> | Scope;
  /** The limits of a session with this view, when they are not `limits` (a cluster link's). */
  limitsFor?(view: OriginView): SessionLimits | undefined;
}

/** A random non-zero hop id below 2^53. */
export function randomHop(): bigint {
  const words = crypto.getRandomValues(new Uint32Array(2));
  const high = (words[0] ?? 0) & 0x1fffff;
  const id = (BigInt(high) << 32n) | BigInt(words[1] ?? 0);
  return id === 0n ? 1n : id;
}
