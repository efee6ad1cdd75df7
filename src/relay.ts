/**
 * The relay: config -> certificates -> endpoint (QUIC + HTTP on one port number) -> sessions.
 *
 * `Relay.load(config)` does everything that can fail on bad settings (certificates, keys, trust
 * roots, access-control keys), so `main.ts` can turn those failures into exit code 2 before
 * anything listens; `start()` binds the ports; `reloadCertificates()` serves what the
 * certificate files hold now (on SIGHUP, and when they change); `close()` stops it. Each session
 * gets its scope here: access control admits it (before the upgrade where there is a URL, after
 * SETUP on raw QUIC) and its grant wraps the cluster policy's view (a link's, for a session that
 * presented the cluster token or whose grant names the cluster; a client's otherwise).
 *
 * @module
 */
import { Access, type Admission, type Authorize, publicPatterns } from "./auth/access.ts";
import { AuthServer } from "./auth/auth_server.ts";
import { KeyRing } from "./auth/keys.ts";
import { AccessView } from "./auth/view.ts";
import { allows } from "./auth/grant.ts";
import { CacheBudget } from "./cache/budget.ts";
import { Origin } from "./cache/origin.ts";
import { type OriginView, RootedView } from "./cache/view.ts";
import { Cluster } from "./cluster/cluster.ts";
import { ClusterPolicy } from "./cluster/policy.ts";
import { ProtocolError, SessionCode } from "./codec/error.ts";
import { type Config, VERSION, withPort } from "./config.ts";
import { EventLoopLag } from "./ops/event_loop.ts";
import { exposition } from "./ops/exposition.ts";
import { type RefusalReason, relayMetrics } from "./ops/relay_metrics.ts";
import { Traffic } from "./ops/traffic.ts";
import { LiveFeed, type LiveRelay, liveStream } from "./ops/live.ts";
import { type InternalServer, serveInternal } from "./web/internal.ts";
import {
  DEFAULT_SESSION_LIMITS,
  randomHop,
  type Scope,
  type ScopeRequest,
  type SessionContext,
  type SessionLimits,
} from "./session/context.ts";
import { chooseProtocol, openSession, RELAY_PROTOCOLS } from "./session/family.ts";
import type { RelaySession } from "./session/relay_session.ts";
import { formatAddress, listenOnOnePort } from "./listen.ts";
import { type Logger, logger, peerFault } from "./log.ts";
import { normalizePath, stripPrefix } from "./codec/path.ts";
import type { TlsCertificate } from "./tls/certificate.ts";
import { CertificateStore } from "./tls/store.ts";
import { FileWatch } from "./tls/watch.ts";
import { Endpoint } from "./transport/endpoint.ts";
import type { IncomingSession, Session } from "./transport/session.ts";
import { type FetchLimits, GroupFetches } from "./web/fetch.ts";
import type { FetchRequest } from "./web/fetch_request.ts";
import { pageResponse } from "./web/page.ts";
import { serveWeb, type WebServer } from "./web/server.ts";

const log = logger("relay");
/** One line per ended session: who, how, how long, what it moved, why it ended. */
const access = logger("access");

/** The status a refusal was answered with, as a metric's reason. */
function refusalReason(status: number): RefusalReason {
  switch (status) {
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 502:
      return "auth_unavailable";
    default:
      return "bad_request";
  }
}

/**
 * Connections let in past --max-sessions: a client over the limit still completes its handshake
 * and hears why it is refused (503) instead of a bare QUIC refusal; more are refused outright.
 */
export const CONNECTION_HEADROOM = 16;

/** Announcements and subscriptions one cluster link may carry (other relays bound their own). */
export const LINK_LIMIT = 1_000_000;
/** In an open cluster (no token, anyone may claim to be a link): a link's limits, in clients. */
export const OPEN_LINK_CLIENTS = 64;

function isPercentEncoded(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** What the relay's sessions share, and the routing table they share it through. */
export interface RelayContext extends SessionContext {
  readonly origin: Origin;
}

/** What reading the certificate files again did. */
export interface CertificateReload {
  /** Certificates read anew from files that changed, now in place of the ones before. */
  reloaded: TlsCertificate[];
  /** One line per pair left as it was, naming the file and why (as at start). */
  refused: string[];
  /** The fingerprint served now. */
  fingerprint: string;
}

/** What an application embedding the relay may add to its config. */
export interface RelayOptions {
  /**
   * Decides every session's access in-process (instead of keys, public rules or an auth server):
   * see {@link Authorize}.
   */
  authorize?: Authorize;
  /** The cap and deadline of HTTP `/fetch` requests (default: 256 at once, 30 s each). */
  fetchLimits?: Partial<FetchLimits>;
}

export class Relay implements AsyncDisposable {
  readonly config: Config;
  readonly certificates: CertificateStore;
  readonly context: RelayContext;
  readonly policy: ClusterPolicy;
  /** Who may connect, and with what grant. */
  readonly access: Access;
  /** Views handed to cluster links (for stats). */
  readonly #links = new WeakSet<OriginView>();
  /** The base views inside them: what a link announces is announced from one of these. */
  readonly #linkBases = new WeakSet<object>();
  readonly #sessions = new Set<RelaySession>();
  readonly #fetches: GroupFetches;
  /** Sessions being accepted (counted against --max-sessions before they are tracked). */
  #accepting = 0;
  #enforcer: ReturnType<typeof setInterval> | undefined;
  /** What ended sessions moved (open ones are read from the sessions themselves). */
  readonly #retired = new Traffic();
  #sessionsOpened = 0;
  #sessionsClosed = 0;
  readonly #refused: Record<RefusalReason, number> = {
    unauthorized: 0,
    forbidden: 0,
    auth_unavailable: 0,
    too_many_sessions: 0,
    draining: 0,
    bad_request: 0,
  };
  readonly #loop = new EventLoopLag();
  readonly #startedAt = Date.now();
  #internal: InternalServer | undefined;
  /** `/live` streams open now (the relay's page, one per open tab). */
  #livePages = 0;
  /** Set once a drain began: new sessions are refused, /health says so. */
  #drain: { started: number; done: Promise<void> } | undefined;
  #cluster: Cluster | undefined;
  #endpoint: Endpoint | undefined;
  #web: WebServer | undefined;
  #acceptLoop: Promise<void> | undefined;
  #certificateWatch: FileWatch | undefined;
  /** The reload running now, if any: the next waits for it. */
  #reloading: Promise<unknown> = Promise.resolve();
  /** What the last reload refused: a change that leaves it so is not logged again. */
  #refusedBefore = new Set<string>();

  private constructor(
    config: Config,
    certificates: CertificateStore,
    access: Access,
    options: RelayOptions,
  ) {
    this.config = config;
    this.certificates = certificates;
    this.access = access;
    this.#fetches = new GroupFetches(options.fetchLimits);
    const limits: SessionLimits = {
      ...DEFAULT_SESSION_LIMITS,
      maxSubscriptions: config.limits.maxSubscriptions,
      maxAnnouncements: config.limits.maxAnnouncements,
      maxGroupStreams: config.limits.maxGroupStreams,
      maxLagBytes: config.limits.maxLagBytes,
    };
    this.policy = new ClusterPolicy(
      config.cluster.token,
      // A member without --cluster-node cannot be reached: its broadcasts stay local.
      config.cluster.root === undefined
        ? "root"
        : config.cluster.node === undefined
        ? "member"
        : "node",
    );
    // A cluster link carries what all of the other relay's clients announce and subscribe to,
    // each within its own limits there: per-connection limits would cut a busy link short (and
    // let one client's flood hide everyone else's broadcasts).
    // Without a token anyone can claim to be a link (development): then a link carries at most
    // what OPEN_LINK_CLIENTS clients could.
    const open = config.cluster.token === undefined;
    const linkLimits: SessionLimits = {
      ...limits,
      maxAnnouncements: open ? limits.maxAnnouncements * OPEN_LINK_CLIENTS : LINK_LIMIT,
      maxSubscriptions: open ? limits.maxSubscriptions * OPEN_LINK_CLIENTS : LINK_LIMIT,
    };
    const origin = new Origin();
    this.context = {
      origin,
      budget: new CacheBudget(config.cache),
      hop: randomHop(),
      limits,
      scope: (request) => this.#scope(origin, request),
      limitsFor: (view) => this.#links.has(view) ? linkLimits : undefined,
    };
  }

  /**
   * Whether a session is a cluster link by the cluster token it presents. With access control on
   * and no cluster token, presenting `?cluster=` proves nothing: links then need a token's grant.
   */
  #linkByToken(params: URLSearchParams): boolean {
    const presented = params.get("cluster");
    if (this.access.enabled && this.policy.token === undefined) return false;
    return this.policy.isLink(presented);
  }

  /**
   * The scope of a session that connected to us: a cluster link (by the cluster token, or by a
   * grant that names the cluster), or an ordinary client; behind access control when it is on.
   */
  async #scope(origin: Origin, request: ScopeRequest): Promise<Scope> {
    const { root, params, log: sessionLog } = request;
    if (this.#linkByToken(params)) {
      return { view: this.linkView(new RootedView(origin, root)), root };
    }
    if (params.get("cluster") !== null && this.policy.token !== undefined) {
      peerFault(sessionLog, "a session presented a wrong cluster token", {}, "warn");
    }
    if (!this.access.enabled) {
      return { view: this.policy.client(new RootedView(origin, root), sessionLog), root };
    }
    const admission = request.admission ?? await this.#admit(request.transport, request.url, {
      path: root,
      log: sessionLog,
    });
    if (!admission.ok) {
      if (request.transport.kind !== "http") this.#refused[refusalReason(admission.status)]++;
      return { refused: `unauthorized: ${admission.reason}`, status: admission.status };
    }
    const { grant } = admission.lease;
    const base = new RootedView(origin, grant.root);
    const inner = grant.link ? this.linkView(base) : this.policy.client(base, sessionLog);
    const view = new AccessView(inner, grant, sessionLog);
    if (grant.link) this.#links.add(view);
    return { view, root: grant.root, lease: admission.lease };
  }

  /**
   * The scope of a one-shot HTTP request (`/announced`, `/fetch`) for `root`: admitted like a
   * session dialing it. A refusal is a Response; as upstream's HTTP routes, 401 whatever the
   * reason (502 when the decider could not be asked).
   */
  async #httpScope(
    route: string,
    root: string,
    url: URL,
    remote: Deno.NetAddr,
  ): Promise<{ scope: Extract<Scope, { view: unknown }>; log: Logger } | Response> {
    const requestLog = log.with({ remote: formatAddress(remote.hostname, remote.port) });
    const scope = await this.#scope(this.context.origin, {
      root,
      url,
      params: url.searchParams,
      log: requestLog,
      transport: { kind: "http", remote, protocol: "" },
    });
    if ("refused" in scope) {
      peerFault(requestLog, "refused {route} {path}: {reason}", {
        route,
        path: root,
        reason: scope.refused,
      });
      return httpRefusal(scope.refused, scope.status === 502 ? 502 : 401);
    }
    return { scope, log: requestLog };
  }

  /**
   * `GET /announced[/<prefix>]`: the broadcasts under the prefix the request may subscribe to,
   * relative to it, one per line (as upstream: no newline after the last); the scope a session
   * dialing that prefix would get.
   */
  async #announced(prefix: string, url: URL, remote: Deno.NetAddr): Promise<Response> {
    const scoped = await this.#httpScope("/announced", prefix, url, remote);
    if (scoped instanceof Response) return scoped;
    const { scope } = scoped;
    const watch = scope.view.watch("", () => {});
    const paths = (watch?.snapshot ?? []).map((s) => s.path).sort();
    watch?.stop();
    scope.lease?.finish("listed");
    return new Response(paths.join("\n"), {
      status: 200,
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
    });
  }

  /**
   * `GET /fetch/<broadcast>/<track>`: admitted like a session dialing the broadcast, which its
   * grant must let it subscribe to (else 401).
   */
  #fetch(
    request: FetchRequest,
    url: URL,
    remote: Deno.NetAddr,
    gone: AbortSignal,
  ): Promise<Response> {
    return this.#fetches.serve(request, gone, async () => {
      const scoped = await this.#httpScope("/fetch", request.broadcast, url, remote);
      if (scoped instanceof Response) return scoped;
      const { scope, log: requestLog } = scoped;
      const path = stripPrefix(request.broadcast, scope.root);
      const grant = scope.lease?.grant;
      if (path === undefined || (grant && !allows(grant.subscribe, request.broadcast))) {
        scope.lease?.finish("refused");
        const reason = "the grant may not subscribe to this broadcast";
        peerFault(requestLog, "refused {route} {path}: {reason}", {
          route: "/fetch",
          path: request.broadcast,
          reason,
        });
        return httpRefusal(`unauthorized: ${reason}`, 401);
      }
      return { view: scope.view, path, lease: scope.lease, log: requestLog };
    });
  }

  /**
   * `GET /live`: the relay's page's event stream (see `ops/live.ts`), scoped like a session at
   * the relay's root: a page sees the broadcasts its `?jwt=` may subscribe to.
   */
  async #live(url: URL, remote: Deno.NetAddr, gone: AbortSignal): Promise<Response> {
    const requestLog = log.with({ remote: formatAddress(remote.hostname, remote.port) });
    const scope = await this.#scope(this.context.origin, {
      root: "",
      url,
      params: url.searchParams,
      log: requestLog,
      transport: { kind: "http", remote, protocol: "" },
    });
    if ("refused" in scope) {
      peerFault(requestLog, "refused /live: {reason}", { reason: scope.refused });
      return new Response(`${scope.refused}\n`, { status: scope.status });
    }
    const member = !this.access.enabled || (scope.lease?.grant.link ?? false) ||
      this.#linkByToken(url.searchParams);
    const feed = new LiveFeed(scope.view, {
      version: VERSION,
      relay: () => this.#liveRelay(member),
    });
    this.#livePages++;
    const stream = liveStream(feed, gone, scope.lease?.ended ?? new Promise(() => {}), () => {
      this.#livePages--;
      scope.lease?.finish("page closed");
    });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        "access-control-allow-origin": "*",
      },
    });
  }

  /** Whether a session (once set up) is another relay of the cluster. */
  #isLink(session: RelaySession): boolean {
    return session.publisher !== undefined && this.#links.has(session.view);
  }

  /** The sessions open now, counted by transport and version, and how many are cluster links. */
  #openSessions(): {
    kinds: { transport: string; version: string; count: number }[];
    links: number;
  } {
    const kinds = new Map<string, { transport: string; version: string; count: number }>();
    let links = 0;
    for (const s of this.#sessions) {
      if (this.#isLink(s)) links++;
      const version = s.versionName;
      const key = `${s.transport.kind}\n${version}`;
      const entry = kinds.get(key) ?? { transport: s.transport.kind, version, count: 0 };
      entry.count++;
      kinds.set(key, entry);
    }
    return { kinds: [...kinds.values()], links };
  }

  /** The relay's part of a live snapshot: counts only, and the members for cluster members. */
  #liveRelay(member: boolean): LiveRelay {
    const { kinds, links } = this.#openSessions();
    const memory = Deno.memoryUsage();
    return {
      sessions: kinds,
      links,
      members: member ? [...(this.#cluster?.members ?? [])] : undefined,
      cache: {
        bytes: this.context.budget.bytes,
        groups: this.context.budget.groups,
        maxBytes: this.context.budget.limits.maxBytes,
      },
      memory: { rss: memory.rss, heapUsed: memory.heapUsed },
      loopLagMs: { latest: this.#loop.latest * 1000, max: this.#loop.recentMax * 1000 },
      draining: this.draining,
    };
  }

  /**
   * Whether /stats may be shown (it names sessions and their addresses): to anyone on an open
   * relay; under access control only to cluster members (the cluster token, or a token that
   * grants the cluster's rights).
   */
  async #statsRefusal(url: URL, remote: Deno.NetAddr): Promise<number | undefined> {
    if (!this.access.enabled || this.#linkByToken(url.searchParams)) return undefined;
    const admission = await this.#admit({ kind: "http", remote, protocol: "" }, url, {
      path: "",
      log: log.with({ remote: formatAddress(remote.hostname, remote.port) }),
    });
    if (!admission.ok) return admission.status;
    admission.lease.finish("stats");
    return admission.lease.grant.link ? undefined : 403;
  }

  /** Asks access control about a session (before its transport is accepted, where it can be). */
  #admit(
    transport: ScopeRequest["transport"],
    url: URL,
    { path, log: sessionLog }: { path: string; log: Logger },
  ): Promise<Admission> {
    return this.access.admit({
      kind: transport.kind,
      path,
      url,
      params: url.searchParams,
      remote: transport.remote,
      local: this.#endpoint?.addr,
      serverName: url.hostname && url.protocol !== "moqt:" ? url.hostname : undefined,
      alpn: transport.protocol,
      log: sessionLog,
    });
  }

  /** The view of a cluster link (either direction). */
  linkView(base: OriginView): OriginView {
    const view = this.policy.link(base);
    this.#links.add(view);
    this.#linkBases.add(base);
    return view;
  }

  /** Sessions currently open. */
  get sessions(): ReadonlySet<RelaySession> {
    return this.#sessions;
  }

  /**
   * Loads certificates and keys, and checks everything a bad setting could break. An embedding
   * application may pass `authorize` to decide access itself.
   */
  static async load(config: Config, options: RelayOptions = {}): Promise<Relay> {
    const certificates = await CertificateStore.load({
      certificates: config.tls.certificates,
      generate: config.tls.generate,
      roots: config.tls.roots,
    });
    return new Relay(config, certificates, await loadAccess(config, options), options);
  }

  /** The bound QUIC (UDP) and HTTP (TCP) address. */
  get addr(): Deno.NetAddr {
    if (!this.#endpoint) throw new Error("the relay is not started");
    return this.#endpoint.addr;
  }

  /** The internal listener's address (`--internal-listen`), once started. */
  get internalAddr(): Deno.NetAddr | undefined {
    return this.#internal?.addr;
  }

  /** Binds UDP and TCP on the configured port number and starts serving. */
  start(): void {
    const { config } = this;
    const primary = this.certificates.primary;
    const { quic: endpoint, web } = listenOnOnePort(
      config.bind,
      (port) =>
        Endpoint.listen({
          hostname: config.bind.hostname,
          port,
          certPem: primary.certPem,
          keyPem: primary.keyPem,
          alpns: RELAY_PROTOCOLS,
          limits: {
            maxIncomingBidiStreams: config.limits.maxStreams,
            maxIncomingUniStreams: config.limits.maxStreams,
            // Connections, not only sessions: one that never opens a session counts too.
            maxConnections: config.limits.maxSessions + CONNECTION_HEADROOM,
          },
        }),
      (port, quic) =>
        serveWeb({
          hostname: config.bind.hostname,
          port,
          // A generated certificate is for development: plain HTTP, as upstream does.
          tls: primary.generated ? undefined : { certPem: primary.certPem, keyPem: primary.keyPem },
          fingerprint: () => this.certificates.primary.fingerprint,
          offer: (incoming) => quic.offer(incoming),
          stats: () => this.stats(),
          draining: () => this.draining,
          statsRefusal: (url, remote) => this.#statsRefusal(url, remote),
          announced: (prefix, url, remote) => this.#announced(prefix, url, remote),
          live: (url, remote, gone) => this.#live(url, remote, gone),
          page: pageResponse,
          fetch: (request, url, remote, gone) => this.#fetch(request, url, remote, gone),
        }),
    );
    this.#web = web;
    this.#logSettings();
    this.#endpoint = endpoint;
    this.certificates.onChange((certs) => {
      const next = certs[0];
      if (!next) return;
      endpoint.replaceCertificate(next.certPem, next.keyPem);
      log.info("certificate renewed, fingerprint {fingerprint}", { fingerprint: next.fingerprint });
    });
    const files = this.certificates.files.flatMap(({ cert, key }) => [cert, key]);
    if (files.length > 0) {
      this.#certificateWatch = new FileWatch(files, () => void this.#reload("changed"));
    }
    const address = formatAddress(endpoint.addr.hostname, endpoint.addr.port);
    log.info("listening on {address} (QUIC on UDP, {http} on TCP)", {
      address,
      http: this.#web.secure ? "HTTPS" : "HTTP",
    });
    if (config.ops.internalListen) {
      this.#internal = serveInternal(config.ops.internalListen, {
        metrics: () => this.metrics(),
        health: () => this.#drain ? { status: 503, body: "draining" } : { status: 200, body: "ok" },
      });
    }
    this.#loop.start();
    this.#enforcer = setInterval(() => this.context.budget.enforce(), 1000);
    Deno.unrefTimer(this.#enforcer);
    this.#acceptLoop = this.#accept(endpoint);
    this.#cluster = new Cluster(this.context, endpoint, {
      root: config.cluster.root,
      node: config.cluster.node === undefined
        ? undefined
        : withPort(config.cluster.node, endpoint.addr.port),
      token: config.cluster.token,
      jwt: config.cluster.jwt,
      tlsRoots: [...this.certificates.roots],
      disableVerify: config.tls.disableVerify,
      view: (base) => this.linkView(base),
      isLink: (base) => this.#linkBases.has(base),
    }, (session) => this.#track(session));
    if (config.cluster.token === undefined) {
      log.warn(
        "no --cluster-token: any client may announce or subscribe under internal/ (open cluster)",
      );
    }
    this.#cluster.start();
  }

  /** What an operator should know once the relay listens: certificates and risky settings. */
  #logSettings(): void {
    if (!this.access.enabled) {
      log.warn(
        "no access control: anyone may publish and subscribe to any broadcast " +
          "(see --auth-key, --auth-url, --auth-public)",
      );
    }
    if (this.config.tls.disableVerify) {
      log.warn(
        "--tls-disable-verify: certificates of other relays are NOT verified (development only)",
      );
    }
    for (const cert of this.certificates.certificates) {
      log.info("certificate {names} fingerprint {fingerprint}", {
        names: cert.names.join(","),
        fingerprint: cert.fingerprint,
        expires: cert.notAfter.toISOString(),
        generated: cert.generated,
      });
    }
    if (this.certificates.certificates.length > 1) {
      // Deno 2.9.6's QUIC and HTTPS listeners take one certificate each, with no SNI callback.
      log.warn("several certificates configured: Deno's listeners serve only the first ({names})", {
        names: this.certificates.primary.names.join(","),
      });
    }
  }

  /**
   * Reads the certificate files again (main.ts does on SIGHUP; a change on disk does too): new
   * sessions and HTTPS connections get the new first certificate, open ones go on. A pair that
   * cannot be used leaves the certificate before it in place, with one error line. A generated
   * certificate renews itself and is not touched.
   */
  reloadCertificates(): Promise<CertificateReload> {
    return this.#reload("asked");
  }

  #reload(trigger: "asked" | "changed"): Promise<CertificateReload> {
    // One at a time: a SIGHUP during a reload on change reads the files once more, after it.
    const run = this.#reloading.then(() => this.#reloadNow(trigger));
    this.#reloading = run.catch(() => {});
    return run;
  }

  async #reloadNow(trigger: "asked" | "changed"): Promise<CertificateReload> {
    const { changed, refused } = await this.certificates.reread();
    const reloaded: TlsCertificate[] = [];
    for (const { index, certificate } of changed) {
      if (index === 0) {
        try {
          await this.#serveCertificate(certificate);
        } catch (e) {
          const error = (e as Error).message.split("\n")[0];
          refused.push(`${this.certificates.files[0]?.cert}: the listeners refused it: ${error}`);
          continue;
        }
      }
      this.certificates.replace(index, certificate);
      reloaded.push(certificate);
      log.info("certificate reloaded: {names} fingerprint {fingerprint}", {
        names: certificate.names.join(","),
        fingerprint: certificate.fingerprint,
        expires: certificate.notAfter.toISOString(),
      });
    }
    for (const reason of refused) {
      if (trigger === "changed" && this.#refusedBefore.has(reason)) continue;
      log.error("certificate not reloaded, the one before is served on: {reason}", { reason });
    }
    this.#refusedBefore = new Set(refused);
    this.#certificateWatch?.refresh();
    if (trigger === "asked" && reloaded.length === 0 && refused.length === 0) {
      log.info(
        this.certificates.files.length === 0
          ? "no certificate files to reload (a generated certificate renews itself)"
          : "certificate files unchanged",
      );
    }
    return { reloaded, refused, fingerprint: this.certificates.primary.fingerprint };
  }

  /** Hands a new first certificate to the listeners: both take it, or neither. */
  async #serveCertificate(next: TlsCertificate): Promise<void> {
    const endpoint = this.#endpoint;
    const web = this.#web;
    // Not started: the listeners take the store's certificate when they start.
    if (!endpoint || !web) return;
    const before = this.certificates.primary;
    if (web.secure) await web.replaceCertificate(next);
    try {
      endpoint.replaceCertificate(next.certPem, next.keyPem);
    } catch (e) {
      if (web.secure) await web.replaceCertificate(before);
      throw e;
    }
  }

  /** Counts a session with the relay's own for its lifetime; its end is one access-log line. */
  async #track(session: RelaySession): Promise<void> {
    this.#sessions.add(session);
    this.#sessionsOpened++;
    try {
      await session.run();
    } finally {
      this.#sessions.delete(session);
      this.#sessionsClosed++;
      void session.transport.closed.then((closed) => {
        this.#logEnd(session, closed);
        session.retireTraffic(this.#retired);
      });
    }
  }

  #logEnd(session: RelaySession, closed: { code: number; reason: string; remote: boolean }): void {
    const { remote, kind, bytes } = session.transport;
    const t = session.traffic;
    access.info(
      "{remote} {transport} {version} /{path} {durationMs} ms, in {framesIn} frames " +
        "{bytesIn} B, out {framesOut} frames {bytesOut} B: {reason}",
      {
        remote: formatAddress(remote.hostname, remote.port),
        transport: kind,
        version: session.versionName,
        path: session.root,
        durationMs: Date.now() - session.started,
        framesIn: t.in.frames,
        bytesIn: bytes?.received ?? 0,
        framesOut: t.out.frames,
        bytesOut: bytes?.sent ?? 0,
        mediaBytesIn: t.in.bytes,
        mediaBytesOut: t.out.bytes,
        closedBy: closed.remote ? "peer" : "relay",
        code: closed.code,
        reason: closed.reason || (closed.remote ? "closed by the peer" : "closed"),
        link: this.#isLink(session),
      },
    );
  }

  /** Every metric, in the Prometheus text format (`GET /metrics` on the internal listener). */
  metrics(): string {
    const traffic = new Traffic();
    traffic.add(this.#retired);
    let served = 0;
    let upstream = 0;
    for (const s of this.#sessions) {
      traffic.add(s.traffic);
      served += s.publisher?.subscriptions ?? 0;
      upstream += s.subscriber?.size ?? 0;
    }
    const { kinds, links } = this.#openSessions();
    return exposition(relayMetrics({
      version: VERSION,
      startedAt: this.#startedAt,
      traffic,
      sessionsOpened: this.#sessionsOpened,
      sessionsClosed: this.#sessionsClosed,
      sessions: kinds,
      links,
      refused: this.#refused,
      broadcasts: this.context.origin.size,
      subscriptions: { served, upstream },
      cacheBytes: this.context.budget.bytes,
      cacheGroups: this.context.budget.groups,
      clusterMembers: this.#cluster?.members.length ?? 0,
      httpConnections: this.#web?.connections ?? 0,
      livePages: this.#livePages,
      draining: this.#drain ? this.#clients().length : 0,
      memory: Deno.memoryUsage(),
      loop: this.#loop,
    }));
  }

  /** Sessions of clients (not cluster links): the ones a drain waits for. */
  #clients(): RelaySession[] {
    return [...this.#sessions].filter((s) => !this.#isLink(s));
  }

  /** Whether a drain has begun. */
  get draining(): boolean {
    return this.#drain !== undefined;
  }

  /**
   * Drains the relay (the first SIGTERM or SIGINT): new sessions are refused (503) and /health
   * says 503 "draining"; a cluster node withdraws its membership record first, so other relays
   * stop routing here; every session gets a GOAWAY (`--goaway-redirect` as its URI, where the
   * version has one); once every client has left, or after `--drain-timeout`, the rest are
   * closed and the relay stops. Resolves when it has stopped; calling it again waits for the
   * same drain.
   */
  drain(): Promise<void> {
    if (this.#drain) return this.#drain.done;
    const started = Date.now();
    const { drainTimeoutMs, goawayRedirect } = this.config.ops;
    const done = (async () => {
      this.#cluster?.leave();
      const clients = this.#clients();
      // Every session is told where its version can hear it (GOAWAY: moq-lite-04+, moq-transport).
      log.info("draining: {sessions} sessions told to leave, {timeout} ms to do so", {
        sessions: clients.length,
        timeout: drainTimeoutMs,
      });
      if (drainTimeoutMs > 0) {
        // A session still in its setup gets its GOAWAY once it has a version to send it in.
        const told = new WeakSet<RelaySession>();
        const tell = () => {
          for (const s of this.#sessions) {
            if (told.has(s) || s.publisher === undefined) continue;
            told.add(s);
            void s.sendGoaway(goawayRedirect);
          }
        };
        const deadline = started + drainTimeoutMs;
        for (tell(); this.#clients().length > 0 && Date.now() < deadline; tell()) {
          await new Promise((r) => setTimeout(r, Math.min(50, deadline - Date.now())));
        }
      }
      const left = this.#clients().length;
      if (left > 0) {
        log.warn("drain timeout: closing {sessions} sessions still open", { sessions: left });
      }
      log.info("drained in {ms} ms", { ms: Date.now() - started });
      await this.close();
    })();
    this.#drain = { started, done };
    return done;
  }

  /** What /stats reports: sessions, routes, cache. */
  stats(): Record<string, unknown> {
    const memory = Deno.memoryUsage();
    return {
      hop: this.context.hop.toString(),
      memory: { rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external },
      routes: this.context.origin.size,
      cacheBytes: this.context.budget.bytes,
      cacheGroups: this.context.budget.groups,
      httpFetches: this.#fetches.inFlight,
      members: this.#cluster?.members ?? [],
      sessions: [...this.#sessions].map((s) => ({
        id: s.id,
        remote: `${s.transport.remote.hostname}:${s.transport.remote.port}`,
        kind: s.transport.kind,
        version: s.versionCode.toString(16),
        cluster: this.#isLink(s),
        root: s.root,
        subscriptionsServed: s.publisher?.subscriptions ?? 0,
        groupStreams: s.publisher?.groupStreams ?? 0,
        upstreamSubscriptions: s.subscriber?.size ?? 0,
        announcements: s.subscriber?.announcements ?? { listed: false, active: 0 },
      })),
    };
  }

  async #accept(endpoint: Endpoint): Promise<void> {
    for (let incoming = await endpoint.accept(); incoming; incoming = await endpoint.accept()) {
      this.#serve(incoming).catch((e) =>
        log.error("session failed: {error}", { error: String(e) })
      );
    }
  }

  async #serve(incoming: IncomingSession): Promise<void> {
    if (this.#drain) {
      this.#refused.draining++;
      return await incoming.reject(503, "the relay is shutting down");
    }
    // Every session holds memory (about 160 KiB idle): past the limit, refuse rather than grow.
    const limit = this.config.limits.maxSessions;
    if (this.#sessions.size + this.#accepting >= limit) {
      this.#refused.too_many_sessions++;
      return await incoming.reject(503, "too many sessions");
    }
    // The path names the session's root; one that is not a path is refused before anything.
    if (incoming.url && !isPercentEncoded(incoming.url.pathname)) {
      this.#refused.bad_request++;
      return await incoming.reject(400, "the path is not valid percent-encoding");
    }
    this.#accepting++;
    let transport: Session;
    let admission: Admission | undefined;
    try {
      // The newest version both sides speak; none offered means the legacy SETUP decides.
      const protocol = chooseProtocol(incoming.protocols);
      const url = incoming.url;
      // A URL names the path and carries the token: decide before answering the upgrade, so a
      // refused client hears 401/403/502. (Raw QUIC is decided after its SETUP.)
      if (url && this.access.enabled && !this.#linkByToken(url.searchParams)) {
        admission = await this.#admit({ ...incoming, protocol: protocol ?? "" }, url, {
          path: normalizePath(decodeURIComponent(url.pathname)),
          log: log.with({ remote: formatAddress(incoming.remote.hostname, incoming.remote.port) }),
        });
        if (!admission.ok) {
          this.#refused[refusalReason(admission.status)]++;
          return await incoming.reject(admission.status, admission.reason);
        }
      }
      transport = await incoming.accept(protocol);
    } catch (e) {
      if (admission?.ok) admission.lease.finish("not accepted");
      this.#accepting--;
      throw e;
    }
    let session: RelaySession;
    try {
      session = await openSession(transport, this.context, { role: "server", admission });
    } catch (e) {
      // Every accepted transport is either a tracked session or closed.
      if (admission?.ok) admission.lease.finish("setup failed");
      const bad = e instanceof ProtocolError;
      await transport.close(
        bad
          ? { code: e.code, reason: e.message }
          : { code: SessionCode.Internal, reason: "internal error" },
      );
      if (bad) return;
      throw e;
    } finally {
      this.#accepting--;
    }
    await this.#track(session);
  }

  /** Stops listening and closes every session. */
  async close(): Promise<void> {
    clearInterval(this.#enforcer);
    this.#loop.stop();
    await this.#internal?.shutdown();
    this.#certificateWatch?.[Symbol.dispose]();
    await this.#reloading;
    await this.#cluster?.close();
    this.certificates[Symbol.dispose]();
    await Promise.allSettled(
      [...this.#sessions].map((s) => s.transport.close({ code: 0, reason: "relay shutting down" })),
    );
    this.#endpoint?.close();
    await this.#web?.shutdown();
    await this.#acceptLoop;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A refused HTTP request: the status and why (never the token). */
function httpRefusal(reason: string, status: 401 | 502): Response {
  return new Response(`${reason}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

/** The access control the config (and an embedder) asks for; a bad key fails here. */
async function loadAccess(config: Config, options: RelayOptions): Promise<Access> {
  const { auth } = config;
  const rules = {
    publish: [
      ...publicPatterns(auth.publicBoth, "--auth-public"),
      ...publicPatterns(auth.publicPublish, "--auth-public-publish"),
    ],
    subscribe: [
      ...publicPatterns(auth.publicBoth, "--auth-public"),
      ...publicPatterns(auth.publicSubscribe, "--auth-public-subscribe"),
    ],
  };
  const hasRules = rules.publish.length > 0 || rules.subscribe.length > 0;
  const keys = await KeyRing.load(auth.keys, auth.keyDir);
  return new Access({
    authorize: options.authorize,
    server: auth.url ? new AuthServer(auth.url, config.cluster.node ?? Deno.hostname()) : undefined,
    keys: keys.empty ? undefined : keys,
    publicRules: hasRules ? rules : undefined,
  });
}
