/**
 * The one decision point: who may connect, and with what grant. Each session is admitted once,
 * before anything else happens on it (before the WebTransport or WebSocket upgrade is answered;
 * after the SETUP on raw QUIC, whose path carries the token), by exactly one of:
 *
 * - the embedding application's `authorize` function (see {@link Authorize});
 * - an auth server (`--auth-url`, upstream's protocol: `auth_server.ts`);
 * - local keys (`--auth-key`, `--auth-key-dir`) for a `?jwt=` token, and the public rules
 *   (`--auth-public*`) for a session without one.
 *
 * Refusals carry the HTTP status the client hears: 401 for a missing or invalid credential, 403
 * for a valid one that grants nothing at the dialed path, 502 when the decider could not be asked.
 * Without any source the relay is open (every session gets everything but `internal/`, which the
 * cluster policy guards).
 *
 * @module
 */
import { type Logger, logger } from "../log.ts";
import type { TransportKind } from "../transport/session.ts";
import type { AuthServer, SessionFacts } from "./auth_server.ts";
import { ClaimsError } from "./claims.ts";
import { grantFromClaims, grantFromPatterns, NoAccess, publicGrant } from "./grant.ts";
import type { KeyRing } from "./keys.ts";
import { FixedLease, type Lease } from "./lease.ts";
import { Pattern } from "./pattern.ts";
import { verifyToken } from "./token.ts";

const log = logger("auth");

/** What an embedding application's `authorize` is asked about a session. */
export interface AuthorizeRequest {
  /** How the session reached the relay; "http" for a one-shot HTTP route (`/announced`). */
  transport: TransportKind | "http";
  /** The path as dialed (decoded), e.g. "/room/alice". */
  path: string;
  /** The URL's query parameters (`jwt`, ...). */
  params: URLSearchParams;
  /** The `jwt` parameter, when given. */
  token: string | undefined;
  remote: Deno.NetAddr;
}

/** What an embedding application grants: patterns relative to `root` (default: the dialed path). */
export interface AuthorizeGrant {
  publish?: readonly string[];
  subscribe?: readonly string[];
  root?: string;
  /** When the session ends: a Date, or ms since the epoch. */
  expires?: Date | number;
  /** The session is another relay of the cluster. */
  link?: boolean;
}

/**
 * Decides a session in-process: a grant, or null/undefined to refuse it (401). A thrown error
 * (or an answer taking longer than 10 s) is an outage: 502, no access.
 */
export type Authorize = (
  request: AuthorizeRequest,
) => Promise<AuthorizeGrant | null | undefined> | AuthorizeGrant | null | undefined;

export type Admission =
  | { ok: true; lease: Lease }
  | { ok: false; status: 401 | 403 | 502; reason: string };

/** One session to admit: the transport's facts, with the dialed path and query. */
export interface AdmissionRequest {
  kind: TransportKind | "http";
  /** The dialed path, decoded ("/" or "" when the transport carries none). */
  path: string;
  /** The URL as dialed (on raw QUIC, the SETUP path and query), for the auth server. */
  url: URL;
  params: URLSearchParams;
  remote: Deno.NetAddr;
  local?: Deno.NetAddr;
  serverName?: string;
  alpn?: string;
  role?: "publisher" | "subscriber";
  log: Logger;
}

export interface AccessSources {
  authorize?: Authorize;
  server?: AuthServer;
  keys?: KeyRing;
  /** Absolute patterns an anonymous session may publish and subscribe to. */
  publicRules?: { publish: Pattern[]; subscribe: Pattern[] };
}

/** The longest an embedder's `authorize` may take, as an auth server may. */
const AUTHORIZE_TIMEOUT_MS = 10_000;

/** The `jwt` query parameter: the last non-empty one, as upstream reads it. */
export function presentedToken(params: URLSearchParams): string | undefined {
  const values = params.getAll("jwt").filter((v) => v !== "");
  return values[values.length - 1];
}

/** Reads public-rule patterns; a pattern without a wildcard is refused (it names one broadcast). */
export function publicPatterns(texts: readonly string[], flag: string): Pattern[] {
  return texts.map((text) => {
    let pattern: Pattern;
    try {
      pattern = Pattern.parse(text);
    } catch (e) {
      throw new Error(`${flag}: "${text}": ${e instanceof Error ? e.message : e}`);
    }
    if (pattern.isLiteral) {
      const subtree = Pattern.subtree(text);
      if (subtree.text !== pattern.text) {
        throw new Error(
          `${flag}: "${text}" has no wildcard, so it names exactly one broadcast; ` +
            `write "${subtree.text}" for the subtree`,
        );
      }
    }
    return pattern;
  });
}

export class Access {
  readonly #sources: AccessSources;

  constructor(sources: AccessSources) {
    this.#sources = sources;
  }

  /** Whether anything decides: without a source every session is let in (an open relay). */
  get enabled(): boolean {
    const s = this.#sources;
    return s.authorize !== undefined || s.server !== undefined || (s.keys && !s.keys.empty) ||
      s.publicRules !== undefined;
  }

  /**
   * Admits a session, or says why not. The reason never holds the token; the transport logs it
   * once with the refusal it sends.
   */
  admit(request: AdmissionRequest): Promise<Admission> {
    return this.#decide(request);
  }

  async #decide(request: AdmissionRequest): Promise<Admission> {
    const { authorize, server, keys, publicRules } = this.#sources;
    if (authorize) return await this.#embedded(authorize, request);
    if (server) return await server.connect(facts(request));
    const token = presentedToken(request.params);
    if (token !== undefined) {
      if (!keys || keys.empty) return refuse(401, "tokens are not accepted here (no keys)");
      try {
        const claims = await verifyToken(token, keys, Date.now());
        return { ok: true, lease: new FixedLease(grantFromClaims(claims, request.path)) };
      } catch (e) {
        if (e instanceof NoAccess) return refuse(403, e.message);
        if (e instanceof ClaimsError) return refuse(401, e.message);
        throw e;
      }
    }
    if (!publicRules) return refuse(401, "a token is required (?jwt=)");
    try {
      return { ok: true, lease: new FixedLease(publicGrant(request.path, publicRules)) };
    } catch (e) {
      if (e instanceof NoAccess) return refuse(401, `no public access here; ${e.message}`);
      throw e;
    }
  }

  async #embedded(authorize: Authorize, request: AdmissionRequest): Promise<Admission> {
    let answer: AuthorizeGrant | null | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer within 10 s")), AUTHORIZE_TIMEOUT_MS);
      });
      answer = await Promise.race([
        Promise.resolve(authorize({
          transport: request.kind,
          path: dialedPath(request.url),
          params: request.params,
          token: presentedToken(request.params),
          remote: request.remote,
        })),
        timeout,
      ]);
    } catch (e) {
      log.warn("authorize failed: {error}", { error: e instanceof Error ? e.message : String(e) });
      return refuse(502, "the authorize function failed");
    } finally {
      clearTimeout(timer);
    }
    if (!answer) return refuse(401, "refused by the authorize function");
    try {
      const parse = (list: readonly string[] | undefined) =>
        (list ?? []).map((t) => Pattern.parse(t));
      const publish = parse(answer.publish);
      const subscribe = parse(answer.subscribe);
      if (publish.length === 0 && subscribe.length === 0) {
        return refuse(401, "the authorize function granted nothing");
      }
      const expires = answer.expires instanceof Date ? answer.expires.getTime() : answer.expires;
      if (expires !== undefined && expires <= Date.now()) {
        return refuse(401, "the authorize function's grant has expired");
      }
      const grant = grantFromPatterns(request.path, { root: answer.root, publish, subscribe }, {
        expiresAt: expires,
        link: answer.link ?? false,
      });
      return { ok: true, lease: new FixedLease(grant) };
    } catch (e) {
      if (e instanceof NoAccess) return refuse(403, e.message);
      log.warn("authorize returned a bad grant: {error}", {
        error: e instanceof Error ? e.message : String(e),
      });
      return refuse(502, "the authorize function returned a bad grant");
    }
  }
}

/** The URL's path, decoded ("/" when there is none). */
function dialedPath(url: URL): string {
  try {
    return decodeURIComponent(url.pathname) || "/";
  } catch {
    return url.pathname || "/";
  }
}

function refuse(status: 401 | 403 | 502, reason: string): Admission {
  return { ok: false, status, reason };
}

/** The auth server's view of a session. */
function facts(request: AdmissionRequest): SessionFacts {
  return {
    transport: request.kind === "webtransport" ? "quic" : request.kind,
    path: request.url.pathname || "/",
    dialed: request.path,
    query: request.url.search.slice(1) || undefined,
    remote: request.remote,
    local: request.local,
    serverName: request.serverName,
    alpn: request.alpn,
    role: request.role,
  };
}
