/**
 * The cluster's rules, as views of the origin handed to sessions:
 *
 * - Paths under `internal/` belong to the cluster (each node's membership record lives at
 *   `internal/origins/<node>`). With a cluster token set, only sessions that present it (as
 *   `?cluster=<token>`) may announce, list or subscribe there; without one the prefix is open.
 *   Ordinary listings never show internal paths unless the prefix asked for is internal.
 * - Another relay of the cluster (a link) is shown only this relay's local broadcasts, never
 *   what it learned from the cluster (no loops), except that the root relays the membership
 *   records; a read-only member shows links nothing. What a link announces is remembered as
 *   learned from the cluster.
 *
 * @module
 */
import type { Broadcast } from "../cache/broadcast.ts";
import type { Announcement } from "../cache/origin.ts";
import type { OriginView, ViewListener, ViewWatch } from "../cache/view.ts";
import { hasPrefix } from "../codec/path.ts";
import type { Logger } from "../log.ts";

/** Paths under this prefix belong to the cluster: members and their records. */
export const INTERNAL_PREFIX = "internal";
/** Where each cluster node announces itself: `internal/origins/<host:port>`. */
export const ORIGINS_PREFIX = "internal/origins";

/** Whether a path is under the cluster's internal prefix. */
export function isInternal(path: string): boolean {
  return hasPrefix(path, INTERNAL_PREFIX);
}

/**
 * This relay's part: the root (relays every member's record), a node (shows other relays its
 * local broadcasts and its own record), or a read-only member (shows them nothing).
 */
export type ClusterRole = "root" | "node" | "member";

export class ClusterPolicy {
  /** The shared secret cluster sessions present; undefined leaves `internal/` open. */
  readonly token: string | undefined;
  readonly role: ClusterRole;
  /** Broadcasts learned from other relays of the cluster. */
  readonly #learned = new WeakSet<Broadcast>();

  constructor(token: string | undefined, role: ClusterRole) {
    this.token = token;
    this.role = role;
  }

  /**
   * Whether a session presenting `presented` (the `cluster` URL parameter) is a cluster link.
   * Without a token (an open cluster) links present an empty `?cluster=`; with one, an empty
   * value is never a link, even if the token itself was empty (config refuses that): the policy
   * fails closed.
   */
  isLink(presented: string | null): boolean {
    if (presented === null) return false;
    if (this.token === undefined) return true;
    return presented !== "" && presented === this.token;
  }

  /** The view of a session of an ordinary client. */
  client(base: OriginView, log: Logger): OriginView {
    return new ClientView(base, this.token !== undefined, log);
  }

  /** The view of a cluster link (another relay of the cluster, either direction). */
  link(base: OriginView): OriginView {
    return new LinkView(base, this);
  }

  /** Whether a broadcast came from another relay of the cluster. */
  learned(broadcast: Broadcast): boolean {
    return this.#learned.has(broadcast);
  }

  /** Remembers a broadcast a link announced (see {@link learned}). */
  remember(broadcast: Broadcast): void {
    this.#learned.add(broadcast);
  }
}

/** Filters a watch: `shows` decides for each announcement under the prefix. */
function filtered(
  base: OriginView,
  prefix: string,
  listener: ViewListener,
  shows: (path: string, a: Announcement) => boolean,
): ViewWatch | undefined {
  const keep = (path: string, a: Announcement | undefined) =>
    a !== undefined && shows(path, a) ? a : undefined;
  const watch = base.watch(prefix, (path, active) => listener(path, keep(path, active)));
  if (!watch) return undefined;
  return {
    snapshot: watch.snapshot.filter((s) => shows(s.path, s.announcement)),
    stop: () => watch.stop(),
  };
}

/** An ordinary client: `internal/` is the cluster's (guarded when a token is set). */
class ClientView implements OriginView {
  readonly #base: OriginView;
  readonly #guarded: boolean;
  readonly #log: Logger;

  constructor(base: OriginView, guarded: boolean, log: Logger) {
    this.#base = base;
    this.#guarded = guarded;
    this.#log = log;
  }

  absolute(path: string): string {
    return this.#base.absolute(path);
  }

  #forbidden(path: string): boolean {
    return this.#guarded && isInternal(this.absolute(path));
  }

  route(path: string): Announcement | undefined {
    return this.#forbidden(path) ? undefined : this.#base.route(path);
  }

  watch(prefix: string, listener: ViewListener): ViewWatch | undefined {
    if (this.#forbidden(prefix)) {
      this.#log.warn("refused an announce request for {prefix}: not a cluster member", {
        prefix: this.absolute(prefix),
      });
      return undefined;
    }
    // Internal paths stay out of ordinary listings unless asked for by prefix.
    const listsInternal = isInternal(this.absolute(prefix));
    return filtered(
      this.#base,
      prefix,
      listener,
      (path) => listsInternal || !isInternal(this.absolute(path)),
    );
  }

  announce(path: string, broadcast: Broadcast, hops: readonly bigint[]): (() => void) | undefined {
    if (this.#forbidden(path)) {
      this.#log.warn(
        "ignoring announcement {path}: only cluster members may announce internal paths",
        { path: this.absolute(path) },
      );
      return undefined;
    }
    return this.#base.announce(path, broadcast, hops);
  }
}

/** Another relay of the cluster. */
class LinkView implements OriginView {
  readonly #base: OriginView;
  readonly #policy: ClusterPolicy;

  constructor(base: OriginView, policy: ClusterPolicy) {
    this.#base = base;
    this.#policy = policy;
  }

  absolute(path: string): string {
    return this.#base.absolute(path);
  }

  route(path: string): Announcement | undefined {
    return this.#base.route(path);
  }

  watch(prefix: string, listener: ViewListener): ViewWatch | undefined {
    const policy = this.#policy;
    return filtered(this.#base, prefix, listener, (_, a) => {
      if (policy.role === "member") return false;
      if (!policy.learned(a.broadcast)) return true;
      return policy.role === "root" && isInternal(a.path);
    });
  }

  announce(path: string, broadcast: Broadcast, hops: readonly bigint[]): (() => void) | undefined {
    // Marked before it is announced: watchers hear of it at once, and must already know.
    this.#policy.remember(broadcast);
    return this.#base.announce(path, broadcast, hops);
  }
}
