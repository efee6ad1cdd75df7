/**
 * Access control as a view of the origin: wraps the view a session would have had and lets
 * through only what its grant allows. Subscriptions, FETCH and TRACK reach a broadcast only when
 * the grant may subscribe to it (otherwise the request alone is refused, as a broadcast that is
 * not there); listings show only such broadcasts (a prefix outside the grant lists nothing, and
 * the stream stays open, as upstream does); announcements enter the origin only under the
 * publish patterns. Each refusal is logged once per path at info, with the reason.
 *
 * @module
 */
import type { Broadcast } from "../cache/broadcast.ts";
import type { Announcement } from "../cache/origin.ts";
import type { OriginView, ViewListener, ViewWatch } from "../cache/view.ts";
import { type Logger, peerFault } from "../log.ts";
import { allows, type Grant, reachesUnder } from "./grant.ts";

/** Refused paths remembered per session, so each is logged once (bounded: a peer picks them). */
const LOGGED_REFUSALS = 64;

export class AccessView implements OriginView {
  readonly #base: OriginView;
  readonly grant: Grant;
  readonly #log: Logger;
  readonly #logged = new Set<string>();

  constructor(base: OriginView, grant: Grant, log: Logger) {
    this.#base = base;
    this.grant = grant;
    this.#log = log;
  }

  absolute(path: string): string {
    return this.#base.absolute(path);
  }

  #refuse(what: string, path: string): undefined {
    const key = `${what}\n${path}`;
    if (this.#logged.has(key) || this.#logged.size >= LOGGED_REFUSALS) return undefined;
    this.#logged.add(key);
    peerFault(this.#log, "refused {what} {path}: not granted", { what, path }, "info");
    return undefined;
  }

  route(path: string): Announcement | undefined {
    const absolute = this.absolute(path);
    if (!allows(this.grant.subscribe, absolute)) return this.#refuse("a subscription to", absolute);
    return this.#base.route(path);
  }

  watch(prefix: string, listener: ViewListener): ViewWatch | undefined {
    const absolute = this.absolute(prefix);
    if (!reachesUnder(this.grant.subscribe, absolute)) {
      this.#refuse("a listing of", absolute);
      return { snapshot: [], stop: () => {} };
    }
    const shows = (path: string) => allows(this.grant.subscribe, this.absolute(path));
    const watch = this.#base.watch(prefix, (path, active) => {
      if (shows(path)) listener(path, active);
    });
    if (!watch) return undefined;
    return {
      snapshot: watch.snapshot.filter((s) => shows(s.path)),
      stop: () => watch.stop(),
    };
  }

  announce(path: string, broadcast: Broadcast, hops: readonly bigint[]): (() => void) | undefined {
    const absolute = this.absolute(path);
    if (!allows(this.grant.publish, absolute)) return this.#refuse("an announcement of", absolute);
    return this.#base.announce(path, broadcast, hops);
  }
}
