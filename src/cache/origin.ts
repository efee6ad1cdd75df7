/**
 * The routing table: which broadcasts exist, by path, and who watches which prefix. When two
 * sources announce the same path the most recent wins; when it leaves, the route falls back to
 * the other.
 *
 * @module
 */
import { hasPrefix } from "../codec/path.ts";
import type { Broadcast } from "./broadcast.ts";

export interface Announcement {
  readonly path: string;
  readonly broadcast: Broadcast;
  /** The hop chain from the original publisher to (not including) this relay. */
  readonly hops: readonly bigint[];
  /** Who announced it (a session's view, the cluster, ...), so it is never echoed back there. */
  readonly from: object;
}

/** Called when the active announcement for a path changes (`undefined` = no route any more). */
export type RouteListener = (path: string, active: Announcement | undefined) => void;

export interface Watch {
  /** Active announcements under the prefix when the watch began. */
  readonly snapshot: Announcement[];
  stop(): void;
}

export class Origin {
  #routes = new Map<string, Announcement[]>();
  #watchers = new Set<{ prefix: string; listener: RouteListener }>();

  /** The active announcement of a path. */
  route(path: string): Announcement | undefined {
    const stack = this.#routes.get(path);
    return stack?.[stack.length - 1];
  }

  /** Every announcement of a path, oldest first (the last is the active one). */
  announcements(path: string): readonly Announcement[] {
    return this.#routes.get(path) ?? [];
  }

  /** Number of paths with a route. */
  get size(): number {
    return this.#routes.size;
  }

  /** Announces a broadcast; returns the function that withdraws it. */
  announce(announcement: Announcement): () => void {
    const { path } = announcement;
    let stack = this.#routes.get(path);
    if (!stack) this.#routes.set(path, stack = []);
    stack.push(announcement);
    this.#emit(path, announcement);
    let withdrawn = false;
    return () => {
      if (withdrawn) return;
      withdrawn = true;
      const current = this.#routes.get(path);
      if (!current) return;
      const at = current.indexOf(announcement);
      if (at < 0) return;
      const wasActive = at === current.length - 1;
      current.splice(at, 1);
      if (current.length === 0) this.#routes.delete(path);
      if (wasActive) this.#emit(path, current[current.length - 1]);
    };
  }

  /** Watches every path under `prefix` (by whole segments). */
  watch(prefix: string, listener: RouteListener): Watch {
    const watcher = { prefix, listener };
    this.#watchers.add(watcher);
    const snapshot: Announcement[] = [];
    for (const [path, stack] of this.#routes) {
      const active = stack[stack.length - 1];
      if (active && hasPrefix(path, prefix)) snapshot.push(active);
    }
    return { snapshot, stop: () => this.#watchers.delete(watcher) };
  }

  #emit(path: string, active: Announcement | undefined): void {
    for (const { prefix, listener } of [...this.#watchers]) {
      if (hasPrefix(path, prefix)) listener(path, active);
    }
  }
}
