/**
 * Clustering through a root relay, using MoQ itself.
 *
 * - A relay without `--cluster-root` is a root: a normal relay that accepts cluster members.
 * - A node (`--cluster-root R --cluster-node N`) keeps a link to the root, announces itself as
 *   `internal/origins/N`, learns the other members from the root's announcements under
 *   `internal/origins/`, and keeps one link to each other member (the member whose name sorts
 *   first dials). Over every link each side learns the other's local broadcasts, so a
 *   subscription is routed straight to the relay that holds the broadcast, pulled only on
 *   demand, once per track per link.
 * - A read-only member (no `--cluster-node`) dials the root and every member, and shows them
 *   nothing of its own.
 * - Links present `?cluster=<token>` (and `?jwt=<token>` with `--cluster-jwt`, for relays that
 *   check tokens); only such sessions may use `internal/` paths when a token is set. Links use short idle timeouts so a dead relay is noticed within seconds, and
 *   reconnect with backoff.
 *
 * @module
 */
import { Broadcast } from "../cache/broadcast.ts";
import type { CacheBudget } from "../cache/budget.ts";
import { LocalSource } from "../cache/local.ts";
import type { Announcement, Origin } from "../cache/origin.ts";
import { type OriginView, RootedView } from "../cache/view.ts";
import { joinPath, stripPrefix } from "../codec/path.ts";
import { logger } from "../log.ts";
import type { SessionContext } from "../session/context.ts";
import { MoqSession } from "../session/lite/session.ts";
import { ORIGINS_PREFIX } from "./policy.ts";
import { fingerprintBytes } from "../tls/certificate.ts";
import type { Endpoint } from "../transport/endpoint.ts";
import type { Session } from "../transport/session.ts";

const log = logger("cluster");

/** Relay-to-relay links notice a silent peer after this long (keep-alives keep them up). */
export const LINK_IDLE_TIMEOUT_MS = 2000;
const LINK_KEEPALIVE_MS = 500;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;
/** A dial that has not completed by then is abandoned (a dead host never answers). */
const DIAL_TIMEOUT_MS = 3000;
/** A member that vanishes keeps its link this long, in case it was a route change, not a loss. */
const MEMBER_GRACE_MS = 1000;

export interface ClusterOptions {
  /** host[:port] of the root; undefined = this relay is the root. */
  root: string | undefined;
  /** host:port by which others reach this relay; undefined = read-only member. */
  node: string | undefined;
  token: string | undefined;
  /** A token presented as `?jwt=` on every link, for relays that check tokens. */
  jwt?: string;
  /** Extra trusted roots (PEM text). */
  tlsRoots: string[];
  /** Pin peers by the fingerprint they serve over HTTP instead of verifying them. */
  disableVerify: boolean;
  /** The view for a link this relay dials, around its own base view (see the cluster policy). */
  view: (base: OriginView) => OriginView;
  /** Whether a base view is a cluster link's, either direction (their records are no news). */
  isLink: (base: object) => boolean;
}

/** What the cluster needs of the relay: its sessions' context, its origin and cache. */
export interface ClusterContext extends SessionContext {
  readonly origin: Origin;
  readonly budget: CacheBudget;
}

/** Runs a session the cluster opened (the relay counts it with its own). */
export type SessionRunner = (session: MoqSession) => Promise<void>;

/** One maintained connection to another relay, re-dialed with backoff until stopped. */
class Link {
  readonly target: string;
  #stopped = false;
  #session: MoqSession | undefined;
  readonly #done: Promise<void>;

  constructor(target: string, dial: (target: string) => Promise<MoqSession>, run: SessionRunner) {
    this.target = target;
    this.#done = (async () => {
      let backoff = BACKOFF_MIN_MS;
      while (!this.#stopped) {
        try {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const pending = dial(target);
          const session = await Promise.race([
            pending,
            new Promise<never>((_, reject) =>
              timer = setTimeout(() => reject(new Error("dial timed out")), DIAL_TIMEOUT_MS)
            ),
          ]).finally(() => clearTimeout(timer));
          if (this.#stopped) {
            await session.transport.close({ code: 0, reason: "link no longer needed" });
            break;
          }
          this.#session = session;
          log.info("linked to {target}", { target });
          const linked = Date.now();
          await run(session);
          const { code, reason } = await session.transport.closed;
          log.info("link to {target} closed ({reason})", { target, reason: reason || code });
          // Only a link that lasted starts over at the shortest wait: one refused at once (a
          // bad token) is retried no faster than a relay that does not answer.
          if (Date.now() - linked >= BACKOFF_MAX_MS) backoff = BACKOFF_MIN_MS;
        } catch (e) {
          log.debug("dialing {target} failed: {error}", { target, error: String(e) });
        }
        this.#session = undefined;
        if (this.#stopped) break;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#session?.transport.close({ code: 0, reason: "link closed" }).catch(() => {});
    await this.#done;
  }
}

export class Cluster {
  readonly #ctx: ClusterContext;
  readonly #endpoint: Endpoint;
  readonly #options: ClusterOptions;
  readonly #run: SessionRunner;
  readonly #links = new Map<string, Link>();
  readonly #leaving = new Map<string, ReturnType<typeof setTimeout>>();
  #rootLink: Link | undefined;
  /** Base views of our links to the root: what they announce is the root's word. */
  readonly #rootViews = new WeakSet<object>();
  #ignored = 0;
  #withdrawSelf: (() => void) | undefined;
  #stopWatch: (() => void) | undefined;

  constructor(
    ctx: ClusterContext,
    endpoint: Endpoint,
    options: ClusterOptions,
    run: SessionRunner,
  ) {
    this.#ctx = ctx;
    this.#endpoint = endpoint;
    this.#options = options;
    this.#run = run;
  }

  /** Starts the links; a root has none to start. */
  start(): void {
    const { root, node } = this.#options;
    if (root === undefined) return;
    if (node !== undefined) {
      // Our membership record: an empty broadcast that exists as long as we do.
      const record = new Broadcast(
        joinPath(ORIGINS_PREFIX, node),
        new LocalSource(),
        this.#ctx.budget,
      );
      this.#withdrawSelf = this.#ctx.origin.announce({
        path: record.path,
        broadcast: record,
        hops: [],
        from: this,
      });
    }
    this.#rootLink = new Link(root, (t) => this.#dial(t), this.#run);
    // Only the root's word makes a member (anyone else could make us dial any host): a member
    // is present while the root announces its record, whoever else announces it too (a node
    // shows its own record over its links as well).
    const fromRoot = (path: string) =>
      this.#ctx.origin.announcements(path).some((a) => this.#rootViews.has(a.from));
    const watch = this.#ctx.origin.watch(ORIGINS_PREFIX, (path, active) => {
      if (active && !fromRoot(path)) this.#notFromRoot(active);
      this.#member(path, fromRoot(path));
    });
    for (const a of watch.snapshot) {
      if (!fromRoot(a.path)) this.#notFromRoot(a);
      this.#member(a.path, fromRoot(a.path));
    }
    this.#stopWatch = () => watch.stop();
    log.info("cluster member of {root} as {node}", { root, node: node ?? "(read-only)" });
  }

  /** A member record the root does not vouch for: ignored (one line per hundred), unless ours. */
  #notFromRoot(announcement: Announcement): void {
    if (announcement.from === this || this.#options.isLink(announcement.from)) return;
    const host = stripPrefix(announcement.path, ORIGINS_PREFIX);
    if ((this.#ignored++ % 100) === 0) {
      log.warn("ignoring a member record for {host}: not announced by the root", { host });
    }
  }

  /** Membership changed: link to a new member (if we are the one to dial), drop a gone one. */
  #member(path: string, present: boolean): void {
    const host = stripPrefix(path, ORIGINS_PREFIX);
    const self = this.#options.node;
    if (!host || host.includes("/") || host === self || host === this.#options.root) return;
    const link = this.#links.get(host);
    if (!present) {
      if (link && !this.#leaving.has(host)) {
        this.#leaving.set(
          host,
          setTimeout(() => {
            this.#leaving.delete(host);
            if (this.#links.get(host) !== link) return;
            this.#links.delete(host);
            void link.stop();
          }, MEMBER_GRACE_MS),
        );
      }
      return;
    }
    clearTimeout(this.#leaving.get(host));
    this.#leaving.delete(host);
    // One link per pair: the member whose name sorts first dials; a read-only member always dials.
    if (link || (self !== undefined && self > host)) return;
    this.#links.set(host, new Link(host, (t) => this.#dial(t), this.#run));
  }

  /** Opens a cluster session to a relay: raw QUIC with a MoQ ALPN, else WebTransport. */
  async #dial(target: string): Promise<MoqSession> {
    const { token, jwt, tlsRoots, disableVerify } = this.#options;
    const params = new URLSearchParams({ cluster: token ?? "" });
    if (jwt !== undefined) params.set("jwt", jwt);
    const query = `?${params}`;
    const hashes = disableVerify ? [fingerprintBytes(await this.#fingerprint(target))] : undefined;
    const common = {
      caCerts: tlsRoots,
      serverCertificateHashes: hashes,
      transport: { maxIdleTimeout: LINK_IDLE_TIMEOUT_MS, keepAliveInterval: LINK_KEEPALIVE_MS },
    };
    let transport: Session;
    try {
      transport = await this.#endpoint.connect(new URL(`moqt://${target}/${query}`), {
        ...common,
        rawQuic: true,
      });
    } catch (e) {
      log.debug("raw QUIC to {target} failed ({error}); trying WebTransport", {
        target,
        error: String(e),
      });
      transport = await this.#endpoint.connect(new URL(`https://${target}/${query}`), {
        ...common,
        protocols: [...this.#endpoint.alpns],
      });
    }
    const base = new RootedView(this.#ctx.origin, "");
    if (target === this.#options.root) this.#rootViews.add(base);
    return new MoqSession(transport, this.#ctx, {
      role: "client",
      path: `/${query}`,
      view: this.#options.view(base),
    });
  }

  /** The fingerprint a relay serves (development clusters with self-signed certificates). */
  async #fingerprint(target: string): Promise<string> {
    const response = await fetch(`http://${target}/certificate.sha256`, {
      signal: AbortSignal.timeout(3000),
    });
    if (!response.ok) throw new Error(`fingerprint of ${target}: HTTP ${response.status}`);
    return await response.text();
  }

  /** Members this relay links to (not counting the root). */
  get members(): string[] {
    return [...this.#links.keys()];
  }

  /**
   * Stops routing others here (a drain): withdraws this relay's membership record, so the other
   * relays stop dialing it; the links stay up while their sessions leave.
   */
  leave(): void {
    this.#withdrawSelf?.();
    this.#withdrawSelf = undefined;
  }

  async close(): Promise<void> {
    this.#stopWatch?.();
    this.#withdrawSelf?.();
    for (const timer of this.#leaving.values()) clearTimeout(timer);
    this.#leaving.clear();
    await Promise.all([this.#rootLink?.stop(), ...[...this.#links.values()].map((l) => l.stop())]);
    this.#links.clear();
  }
}
