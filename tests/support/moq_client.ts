/**
 * Our own moq-lite client for tests: the relay's session code in the client role, with a
 * private origin. It publishes through a LocalSource and subscribes through its origin, exactly
 * as the relay does; so it speaks every version, lite-06 included (no npm client does yet).
 */
import { Broadcast } from "../../src/cache/broadcast.ts";
import { CacheBudget, type CacheLimits } from "../../src/cache/budget.ts";
import type { Group } from "../../src/cache/group.ts";
import type { Track } from "../../src/cache/track.ts";
import { LocalSource } from "../../src/cache/local.ts";
import { Origin } from "../../src/cache/origin.ts";
import { RootedView } from "../../src/cache/view.ts";
import type { RelayContext } from "../../src/relay.ts";
import {
  DEFAULT_SESSION_LIMITS,
  randomHop,
  type SessionLimits,
} from "../../src/session/context.ts";
import { MoqSession } from "../../src/session/lite/session.ts";
import { Version } from "../../src/codec/lite/version.ts";
import { Endpoint, type TransportLimits } from "../../src/transport/endpoint.ts";
import type { Session } from "../../src/transport/session.ts";
import { fingerprintBytes } from "../../src/tls/certificate.ts";

export interface OwnClient extends AsyncDisposable {
  readonly session: MoqSession;
  readonly context: RelayContext;
  /** Announces a broadcast published by this client. */
  publish(path: string): LocalSource;
  /** Waits until the relay announced `path` to this client. */
  announced(path: string, timeoutMs?: number): Promise<void>;
  /** Subscribes to a path the relay never announced to us (to see how it refuses). */
  subscribeUnannounced(path: string, track: string): Track;
  /** Subscribes to a track; yields each group when complete, as arrays of frame payloads. */
  subscribe(
    path: string,
    track: string,
  ): AsyncGenerator<{ sequence: number; frames: Uint8Array[] }>;
  close(): Promise<void>;
}

/**
 * The context of a session of our own client: its own origin and cache, default limits, and a
 * view with no rules (a client shows the relay everything it publishes).
 */
export function ownClientContext(
  cache?: CacheLimits,
  limits: Partial<SessionLimits> = {},
): RelayContext {
  const origin = new Origin();
  return {
    origin,
    budget: new CacheBudget(cache),
    hop: randomHop(),
    limits: { ...DEFAULT_SESSION_LIMITS, ...limits },
    scope: ({ root }) => ({ view: new RootedView(origin, root), root }),
  };
}

function collect(group: Group): Uint8Array[] {
  return group.frames.map((f) => {
    const out = new Uint8Array(f.received);
    let at = 0;
    for (const c of f.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  });
}

/**
 * Connects to a relay: `protocol` is a MoQ ALPN (`moq-lite-06`, ...), `moql` (legacy SETUP
 * offering lite-02 and lite-01) or `moql-01` (legacy SETUP offering lite-01 only); `transport`
 * picks WebTransport (https) or raw QUIC.
 */
export async function connectOwnClient(
  port: number,
  protocol: string,
  options: {
    transport?: "webtransport" | "quic";
    path?: string;
    fingerprint: string;
    /** The relay's host (default 127.0.0.1). */
    host?: string;
    /** The client's own cache bounds (default: the relay's defaults). */
    cache?: CacheLimits;
    /** The client's QUIC limits (e.g. the stream credit it grants the relay). */
    limits?: Partial<TransportLimits>;
    /** The client session's own limits (e.g. how many announcements it tracks). */
    sessionLimits?: Partial<SessionLimits>;
    /** Wraps the transport before the session sees it (to make a misbehaving client). */
    wrap?: (transport: Session) => Session;
  },
): Promise<OwnClient> {
  const hash = fingerprintBytes(options.fingerprint);
  const cert = await (await import("../../src/tls/certificate.ts")).generateCertificate([
    "127.0.0.1",
  ]);
  const host = options.host ?? "127.0.0.1";
  const endpoint = Endpoint.listen({
    // A client dialing a test host in a network namespace needs a socket that can reach it.
    hostname: host === "127.0.0.1" ? "127.0.0.1" : "0.0.0.0",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: [],
    limits: options.limits,
  });
  const path = options.path ?? "/";
  const kind = options.transport ?? "webtransport";
  const url = new URL(`${kind === "webtransport" ? "https" : "moqt"}://${host}:${port}${path}`);
  const legacy01 = protocol === "moql-01";
  const connected = await endpoint.connect(url, {
    protocols: [legacy01 ? "moql" : protocol],
    serverCertificateHashes: [hash],
    rawQuic: kind === "quic",
  });
  const transport = options.wrap?.(connected) ?? connected;
  const context = ownClientContext(options.cache, options.sessionLimits);
  const session = new MoqSession(transport, context, {
    role: "client",
    path,
    legacyVersions: legacy01 ? [Version.Lite01] : undefined,
  });
  const running = session.run();
  const withdrawals: (() => void)[] = [];
  const close = async () => {
    for (const w of withdrawals) w();
    await transport.close({ code: 0, reason: "client done" });
    await running;
    endpoint.close();
  };
  return {
    session,
    context,
    publish(broadcastPath) {
      const source = new LocalSource();
      const broadcast = new Broadcast(broadcastPath, source, context.budget);
      withdrawals.push(
        context.origin.announce({ path: broadcastPath, broadcast, hops: [], from: {} }),
      );
      return source;
    },
    subscribeUnannounced(broadcastPath, trackName) {
      const subscriber = session.subscriber;
      if (!subscriber) throw new Error("the session is not set up yet");
      const broadcast = new Broadcast(
        broadcastPath,
        subscriber.source(broadcastPath),
        context.budget,
      );
      return broadcast.subscribe(trackName, { priority: 1, maxLatency: 0 }).track;
    },
    async announced(broadcastPath, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!context.origin.route(broadcastPath)) {
        if (Date.now() > deadline) throw new Error(`${broadcastPath} was never announced`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async *subscribe(broadcastPath, trackName) {
      const route = context.origin.route(broadcastPath);
      if (!route) throw new Error(`no route to ${broadcastPath}`);
      const lease = route.broadcast.subscribe(trackName, { priority: 1, maxLatency: 10_000 });
      try {
        let cursor = lease.track.startIndex();
        while (true) {
          const { group, index } = lease.track.at(cursor);
          if (group) {
            while (!group.done) await group.changed();
            cursor = index + 1;
            if (group.complete) yield { sequence: group.sequence, frames: collect(group) };
            continue;
          }
          if (lease.track.ended) return;
          await lease.track.changed();
        }
      } finally {
        lease.release();
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
