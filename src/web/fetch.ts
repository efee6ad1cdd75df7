/**
 * Serving `GET /fetch/<broadcast>/<track>?group=` (upstream's HTTP fetch): wait for a route to
 * the broadcast, find the group (subscribing upstream when the cache does not have it, see
 * `group_lookup.ts`), stream its payloads. Upstream's statuses: 404 for a group or track that is
 * not there, 504 when the deadline passes first, 500 for anything unexpected.
 *
 * Everything a client can grow is bounded: fetches in flight are capped (503 past the cap); each
 * has one deadline for the whole request, the body included, as upstream; each holds one track
 * lease and one group (at most 32 MiB, normally the cache's own copy) until it ends, its client
 * goes, or its deadline or grant ends, and then releases both.
 *
 * @module
 */
import { lookupGroup } from "../cache/group_lookup.ts";
import type { Announcement } from "../cache/origin.ts";
import type { OriginView } from "../cache/view.ts";
import type { Lease } from "../auth/lease.ts";
import type { Logger } from "../log.ts";
import { unlessAborted } from "../session/abort.ts";
import type { FetchRequest } from "./fetch_request.ts";
import { groupBody } from "./group_body.ts";

export interface FetchLimits {
  /** Fetches served at once; one more is answered 503. */
  maxInFlight: number;
  /** From admission to the body's last byte, as upstream's 30 s. */
  timeoutMs: number;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = { maxInFlight: 256, timeoutMs: 30_000 };

/** Where an admitted fetch looks: its view, the broadcast's path in it, its grant's lease. */
export interface FetchScope {
  readonly view: OriginView;
  readonly path: string;
  readonly lease?: Lease;
  readonly log: Logger;
}

/** Why a fetch was cut off (the abort reason). */
const TIMEOUT = "the fetch deadline passed";
const GRANT_ENDED = "the grant ended";
const CLIENT_GONE = "client gone";

function plain(body: string, status: number): Response {
  return new Response(`${body}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

export class GroupFetches {
  readonly limits: FetchLimits;
  #inFlight = 0;

  constructor(limits: Partial<FetchLimits> = {}) {
    this.limits = { ...DEFAULT_FETCH_LIMITS, ...limits };
  }

  /** Fetches being served now (admission, waits and bodies). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Serves one fetch; `admit` decides access (a refusal is its Response), `gone` aborts when the
   * client's connection ends.
   */
  async serve(
    request: FetchRequest,
    gone: AbortSignal,
    admit: () => Promise<FetchScope | Response>,
  ): Promise<Response> {
    if (this.#inFlight >= this.limits.maxInFlight) return plain("too many fetches", 503);
    this.#inFlight++;
    let released = false;
    const release = () => {
      if (!released) this.#inFlight--;
      released = true;
    };
    try {
      const scope = await admit();
      if (scope instanceof Response) {
        release();
        return scope;
      }
      return await this.#serveAdmitted(request, scope, gone, release);
    } catch (e) {
      release();
      throw e;
    }
  }

  async #serveAdmitted(
    request: FetchRequest,
    scope: FetchScope,
    gone: AbortSignal,
    release: () => void,
  ): Promise<Response> {
    const cut = new AbortController();
    const timer = setTimeout(() => cut.abort(TIMEOUT), this.limits.timeoutMs);
    const onGone = () => cut.abort(CLIENT_GONE);
    gone.addEventListener("abort", onGone, { once: true });
    if (gone.aborted) onGone();
    void scope.lease?.ended.then(() => cut.abort(GRANT_ENDED));
    const what = { broadcast: scope.view.absolute(scope.path), track: request.track };
    let ended = false;
    const end = (outcome: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      gone.removeEventListener("abort", onGone);
      scope.lease?.finish(outcome);
      release();
      scope.log.debug("fetch of {broadcast}/{track}: {outcome}", { ...what, outcome });
    };
    try {
      const route = await waitForRoute(scope.view, scope.path, cut.signal);
      if (route === "never") return this.#failed(end, "no such broadcast", 404);
      if (route === undefined) return this.#cutOff(end, cut.signal);
      const found = await lookupGroup(route.broadcast, request.track, request.group, cut.signal);
      if ("gaveUp" in found) return this.#cutOff(end, cut.signal);
      if ("missing" in found) return this.#failed(end, found.missing, 404);
      const { group, lease } = found;
      scope.log.debug("fetch of {broadcast}/{track}: serving group {sequence}", {
        ...what,
        sequence: group.sequence,
      });
      const body = groupBody(group, cut.signal, (outcome) => {
        lease.release();
        end(outcome);
      });
      // No content type, as upstream: the bytes are whatever the publisher wrote.
      return new Response(body, { status: 200 });
    } catch (e) {
      scope.log.error("fetch of {broadcast}/{track} failed: {error}", {
        ...what,
        error: String(e),
      });
      return this.#failed(end, "internal error", 500);
    }
  }

  #failed(end: (outcome: string) => void, why: string, status: number): Response {
    end(why);
    return plain(why, status);
  }

  /** The answer when the fetch was cut off before its group was found. */
  #cutOff(end: (outcome: string) => void, signal: AbortSignal): Response {
    const why = String(signal.reason);
    return this.#failed(end, why, why === GRANT_ENDED ? 401 : 504);
  }
}

/**
 * The broadcast's route once there is one (as upstream, a fetch right after the publisher
 * connected waits for its announcement); "never" when the view can never show it; undefined when
 * `signal` aborted first.
 */
async function waitForRoute(
  view: OriginView,
  path: string,
  signal: AbortSignal,
): Promise<Announcement | "never" | undefined> {
  let wake = () => {};
  const watch = view.watch(path, () => wake());
  if (!watch) return "never";
  try {
    for (;;) {
      const route = view.route(path);
      if (route) return route;
      const changed = new Promise<void>((resolve) => wake = resolve);
      await unlessAborted(changed, signal);
      if (signal.aborted) return undefined;
    }
  } finally {
    watch.stop();
  }
}
