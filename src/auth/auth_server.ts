/**
 * The auth-server protocol of upstream's `moq-auth` 0.2.2 (`request.rs`, `grant.rs`,
 * `client.rs`), as `moq auth serve` answers it: one JSON POST per session event.
 *
 * - `connect` when a session arrives; a 2xx reply is its grant, 401 or 403 refuses it (the client
 *   hears 401 for either, as from upstream's relay), anything else (another status, a reply that is not a grant, no
 *   answer within 10 s) is an outage: the client gets 502 and no access.
 * - `revalidate` every `revalidate` seconds of the grant: a reply that no longer covers what the
 *   session was granted ends it, as does a refusal or a nonsense grant; an outage leaves the
 *   grant standing until its `expires`, retried with backoff (1 s doubling, at most the cadence
 *   and 60 s, jittered by a quarter).
 * - `end` once the session is over, with why, how long and how many bytes.
 *
 * A grant names patterns relative to its `root` (an alias replacing the dialed path) or to the
 * dialed path. Left out: `mounts` (read, not applied: the session sees only its own root), `tier`
 * (no stats tiers here), `tls` (no client certificates) and the SETUP `token` (moq-lite carries
 * none).
 *
 * @module
 */
import { logger } from "../log.ts";
import { formatAddress } from "../listen.ts";
import { type Grant, grantCovers, grantFromPatterns, NoAccess } from "./grant.ts";
import { type Lease, type SessionBytes, timerAt } from "./lease.ts";
import { Pattern } from "./pattern.ts";

const log = logger("auth");

/** Every request is bounded, so a hung server refuses rather than parks the session. */
export const AUTH_SERVER_TIMEOUT_MS = 10_000;
/** The longest a failed revalidation waits before trying again. */
const BACKOFF_MAX_MS = 60_000;
/** A reply larger than this is not a grant. */
const MAX_REPLY_BYTES = 64 * 1024;

/** What the relay knows of a session, as the request carries it. */
export interface SessionFacts {
  /**
   * "quic" for raw QUIC and WebTransport (QUIC underneath), "websocket" for QMux, "http" for a
   * one-shot HTTP route.
   */
  transport: "quic" | "websocket" | "http";
  /** The path exactly as dialed ("/" when the transport has none). */
  path: string;
  /** The same path decoded: what the grant's patterns are relative to (not sent). */
  dialed: string;
  /** The raw query, without "?"; absent when there is none. */
  query?: string;
  remote?: Deno.NetAddr;
  local?: Deno.NetAddr;
  serverName?: string;
  alpn?: string;
  role?: "publisher" | "subscriber";
}

/** A refusal (the status the client hears) or an admission. */
export type ServerAnswer =
  | { ok: true; lease: Lease }
  | { ok: false; status: 401 | 403 | 502; reason: string };

/** Whether the URL is one the relay may send sessions' facts to (as upstream: no plain HTTP off-host). */
export function checkAuthUrl(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL`;
  }
  if (url.protocol === "https:") return url;
  if (url.protocol !== "http:") return `${url.protocol} URLs are not supported (http or https)`;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const loopback = host === "localhost" || host === "::1" || /^127\./.test(host);
  return loopback ? url : "plain http:// is allowed for a loopback host only; use https://";
}

function address(addr: Deno.NetAddr | undefined): string | undefined {
  return addr ? formatAddress(addr.hostname, addr.port) : undefined;
}

function randomId(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/**
 * How a reply reads: a grant; a refusal; a grant the relay cannot honour (`invalid`: expired,
 * or a revalidation without a bound); or no usable answer at all (`outage`: no reply, another
 * status, a body that is not a grant). Both of the last are 502 at connect; on a revalidation an
 * invalid grant ends the session while an outage is retried.
 */
type Reply =
  | { kind: "grant"; grant: Grant; revalidateMs?: number }
  | { kind: "refused"; status: 401 | 403; reason: string }
  | { kind: "invalid"; reason: string }
  | { kind: "outage"; reason: string };

/** Reads a 2xx body as a grant for a session that dialed `dialed`. */
export function readGrant(body: unknown, dialed: string, nowMs: number): Reply {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { kind: "outage", reason: "the reply is not a JSON object" };
  }
  const doc = body as Record<string, unknown>;
  const list = (name: string): Pattern[] | string => {
    const value = doc[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return `"${name}" is not a list`;
    try {
      return value.map((v) => {
        if (typeof v !== "string") throw new TypeError("a pattern is not a string");
        return Pattern.parse(v);
      });
    } catch (e) {
      return `"${name}": ${e instanceof Error ? e.message : e}`;
    }
  };
  const publish = list("publish");
  const subscribe = list("subscribe");
  if (typeof publish === "string") return { kind: "outage", reason: publish };
  if (typeof subscribe === "string") return { kind: "outage", reason: subscribe };
  if (publish.length === 0 && subscribe.length === 0) {
    return { kind: "refused", status: 401, reason: "the auth server granted nothing" };
  }
  const root = doc.root ?? undefined;
  if (root !== undefined && typeof root !== "string") {
    return { kind: "outage", reason: `"root" is not a string` };
  }
  const seconds = (name: string): number | undefined | string => {
    const value = doc[name];
    if (value === undefined || value === null) return undefined;
    return typeof value === "number" && Number.isInteger(value) && value >= 0
      ? value
      : `"${name}" is not a whole number of seconds`;
  };
  const expires = seconds("expires");
  const revalidate = seconds("revalidate");
  if (typeof expires === "string") return { kind: "outage", reason: expires };
  if (typeof revalidate === "string") return { kind: "outage", reason: revalidate };
  if (revalidate !== undefined && expires === undefined) {
    return { kind: "invalid", reason: "revalidate without expires" };
  }
  if (revalidate === 0) return { kind: "invalid", reason: "revalidate of 0 seconds" };
  if (expires !== undefined && expires * 1000 <= nowMs) {
    return { kind: "invalid", reason: "the grant has already expired" };
  }
  const peer = doc.peer ?? false;
  if (typeof peer !== "boolean") return { kind: "outage", reason: `"peer" is not a boolean` };
  try {
    const grant = grantFromPatterns(dialed, { root, publish, subscribe }, {
      expiresAt: expires === undefined ? undefined : expires * 1000,
      link: peer,
    });
    return { kind: "grant", grant, revalidateMs: revalidate && revalidate * 1000 };
  } catch (e) {
    if (e instanceof NoAccess) return { kind: "refused", status: 403, reason: e.message };
    return { kind: "invalid", reason: e instanceof Error ? e.message : String(e) };
  }
}

/** Reads at most MAX_REPLY_BYTES of a body as JSON. */
async function readJson(response: Response): Promise<unknown> {
  const reader = response.body?.getReader();
  if (!reader) return undefined;
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    size += r.value.length;
    if (size > MAX_REPLY_BYTES) {
      await reader.cancel();
      throw new Error(`the reply is larger than ${MAX_REPLY_BYTES} bytes`);
    }
    text += decoder.decode(r.value, { stream: true });
  }
  return JSON.parse(text + decoder.decode());
}

/** The relay's client of one auth server. */
export class AuthServer {
  readonly url: URL;
  readonly node: string;
  readonly timeoutMs: number;

  constructor(url: URL, node: string, timeoutMs = AUTH_SERVER_TIMEOUT_MS) {
    this.url = url;
    this.node = node;
    this.timeoutMs = timeoutMs;
  }

  /** The request body for one event of a session. */
  request(id: string, event: Record<string, unknown>, facts: SessionFacts): string {
    const body: Record<string, unknown> = {
      id,
      ...event,
      node: this.node,
      transport: facts.transport,
      remote: address(facts.remote),
      local: address(facts.local),
      server_name: facts.serverName,
      alpn: facts.alpn || undefined,
      path: facts.path === "" ? "/" : facts.path,
      query: facts.query || undefined,
      role: facts.role,
    };
    return JSON.stringify(body);
  }

  /** POSTs one event; the HTTP status and body, or throws on no answer. */
  async post(body: string): Promise<{ status: number; json: () => Promise<unknown> }> {
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return {
      status: response.status,
      json: async () => {
        try {
          return await readJson(response);
        } finally {
          await response.body?.cancel().catch(() => {});
        }
      },
    };
  }

  /** Asks the server once (connect or revalidate) and reads its answer. */
  async ask(id: string, event: "connect" | "revalidate", facts: SessionFacts): Promise<Reply> {
    let response;
    try {
      response = await this.post(this.request(id, { event }, facts));
    } catch (e) {
      return { kind: "outage", reason: `no answer: ${e instanceof Error ? e.message : e}` };
    }
    if (response.status === 401 || response.status === 403) {
      await response.json().catch(() => {});
      // Upstream's relay answers its client 401 for either (moq-auth `client.rs`): so do we.
      return { kind: "refused", status: 401, reason: "the auth server refused" };
    }
    if (response.status < 200 || response.status > 299) {
      await response.json().catch(() => {});
      return { kind: "outage", reason: `the auth server answered ${response.status}` };
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (e) {
      return {
        kind: "outage",
        reason: `the reply is not JSON: ${e instanceof Error ? e.message : e}`,
      };
    }
    return readGrant(body, facts.dialed, Date.now());
  }

  /** Admits a session (the `connect` event), or says why not. */
  async connect(facts: SessionFacts): Promise<ServerAnswer> {
    const id = randomId();
    const reply = await this.ask(id, "connect", facts);
    switch (reply.kind) {
      case "refused":
        return { ok: false, status: reply.status, reason: reply.reason };
      case "invalid":
      case "outage":
        return { ok: false, status: 502, reason: `auth server unavailable: ${reply.reason}` };
      case "grant":
        return {
          ok: true,
          lease: new ServerLease(this, id, facts, reply.grant, reply.revalidateMs),
        };
    }
  }
}

/** A grant held from an auth server: revalidated on its cadence, reported when it ends. */
class ServerLease implements Lease {
  readonly grant: Grant;
  readonly ended: Promise<string>;
  readonly #server: AuthServer;
  readonly #id: string;
  readonly #facts: SessionFacts;
  readonly #started = performance.now();
  #end!: (reason: string) => void;
  #endedWith: string | undefined;
  #finished = false;
  #cancelExpiry: () => void = () => {};
  #revalidateTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  /** The grant's revalidation cadence: a retry after an outage never waits longer. */
  #cadenceMs: number | undefined;

  constructor(
    server: AuthServer,
    id: string,
    facts: SessionFacts,
    grant: Grant,
    revalidateMs: number | undefined,
  ) {
    this.#server = server;
    this.#id = id;
    this.#facts = facts;
    this.grant = grant;
    this.ended = new Promise((resolve) => {
      this.#end = (reason) => {
        if (this.#endedWith !== undefined) return;
        this.#endedWith = reason;
        this.#stopTimers();
        resolve(reason);
      };
    });
    this.#expireAt(grant.expiresAt);
    this.#cadenceMs = revalidateMs;
    this.#schedule(revalidateMs);
  }

  #expireAt(at: number | undefined): void {
    this.#cancelExpiry();
    this.#cancelExpiry = at === undefined ? () => {} : timerAt(at, () => this.#end("expired"));
  }

  #schedule(delayMs: number | undefined): void {
    clearTimeout(this.#revalidateTimer);
    if (delayMs === undefined || this.#endedWith !== undefined || this.#finished) return;
    this.#revalidateTimer = setTimeout(() => void this.#revalidate(), delayMs);
    Deno.unrefTimer(this.#revalidateTimer);
  }

  #stopTimers(): void {
    this.#cancelExpiry();
    clearTimeout(this.#revalidateTimer);
  }

  async #revalidate(): Promise<void> {
    const reply = await this.#server.ask(this.#id, "revalidate", this.#facts);
    if (this.#finished || this.#endedWith !== undefined) return;
    switch (reply.kind) {
      case "grant":
        this.#failures = 0;
        if (!grantCovers(reply.grant, this.grant)) return this.#end("grant narrowed");
        this.#expireAt(reply.grant.expiresAt);
        this.#cadenceMs = reply.revalidateMs;
        return this.#schedule(reply.revalidateMs);
      case "refused":
        return this.#end("refused");
      case "invalid":
        return this.#end("invalid");
      case "outage": {
        // Evidence of nothing: the grant stands until it expires.
        this.#failures++;
        const base = Math.min(
          1000 * 2 ** Math.min(this.#failures - 1, 16),
          this.#cadenceMs ?? BACKOFF_MAX_MS,
          BACKOFF_MAX_MS,
        );
        const delay = base * (0.75 + Math.random() / 2);
        log.warn("auth revalidation failed ({reason}); retrying in {delay} ms", {
          reason: reply.reason,
          delay: Math.round(delay),
        });
        return this.#schedule(delay);
      }
    }
  }

  finish(reason: string, bytes: SessionBytes = { sent: 0, received: 0 }): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#stopTimers();
    const body = this.#server.request(this.#id, {
      event: "end",
      reason: this.#endedWith ?? reason,
      duration: (performance.now() - this.#started) / 1000,
      bytes,
    }, this.#facts);
    this.#server.post(body).then(
      (r) => r.json().catch(() => {}),
      (e) => log.warn("failed to report a session end: {error}", { error: String(e) }),
    );
  }
}
