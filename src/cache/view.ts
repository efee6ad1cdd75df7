/**
 * What one session may see of the origin, and where: a view rooted at the session's path (every
 * path a session sends or receives is relative to it), behind which policies decide what the
 * session may subscribe to, list and announce. A session only ever talks to its view; it never
 * asks who its peer is. The cluster's rules and access control are views wrapping a
 * {@link RootedView}.
 *
 * @module
 */
import { joinPath, stripPrefix } from "../codec/path.ts";
import type { Broadcast } from "./broadcast.ts";
import type { Announcement, Origin } from "./origin.ts";

/** Called when what a view shows at `path` (relative to its root) changes; undefined = gone. */
export type ViewListener = (path: string, active: Announcement | undefined) => void;

export interface ViewWatch {
  /** What the view showed under the prefix when the watch began, paths relative to the root. */
  readonly snapshot: readonly { path: string; announcement: Announcement }[];
  stop(): void;
}

export interface OriginView {
  /** The relay-wide path of `path` (relative to the session's root), for names and logs. */
  absolute(path: string): string;
  /** The announcement a subscription (or FETCH, or TRACK) of `path` reaches, if allowed. */
  route(path: string): Announcement | undefined;
  /**
   * Watches the broadcasts under `prefix` this session may see, never its own; undefined when
   * the prefix itself is off limits.
   */
  watch(prefix: string, listener: ViewListener): ViewWatch | undefined;
  /**
   * Announces a broadcast the session publishes at `path`; returns the function that withdraws
   * it, or undefined when the session may not announce there.
   */
  announce(path: string, broadcast: Broadcast, hops: readonly bigint[]): (() => void) | undefined;
}

/**
 * The origin as seen from `root`, with no other rule. Its own announcements carry it as `from`,
 * so a watch through it never shows the session what the session announced.
 */
export class RootedView implements OriginView {
  readonly origin: Origin;
  readonly root: string;

  constructor(origin: Origin, root: string) {
    this.origin = origin;
    this.root = root;
  }

  absolute(path: string): string {
    return joinPath(this.root, path);
  }

  route(path: string): Announcement | undefined {
    return this.origin.route(this.absolute(path));
  }

  watch(prefix: string, listener: ViewListener): ViewWatch {
    const shown = (a: Announcement | undefined) => a !== undefined && a.from !== this;
    const relative = (path: string) => stripPrefix(path, this.root) ?? path;
    const watch = this.origin.watch(this.absolute(prefix), (path, active) => {
      listener(relative(path), shown(active) ? active : undefined);
    });
    return {
      snapshot: watch.snapshot.filter(shown).map((a) => ({
        path: relative(a.path),
        announcement: a,
      })),
      stop: watch.stop,
    };
  }

  announce(path: string, broadcast: Broadcast, hops: readonly bigint[]): () => void {
    return this.origin.announce({ path: this.absolute(path), broadcast, hops, from: this });
  }
}
