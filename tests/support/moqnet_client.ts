/**
 * Drives upstream's own `@moq/net` 0.3.4 as a REAL publisher and subscriber against a relay URL,
 * over the WebSocket (QMux) fallback, with the moq-lite version forced per connection.
 *
 * How a version is forced: {@link connectMoq} builds the `@moq/qmux` client `Session` itself,
 * offering exactly one application protocol (`qmux-01.<alpn>`, `qmux-00.<alpn>`, nothing bare),
 * waits for it to open, and hands it to `Connection.connect(url, { transport })`. That option skips
 * @moq/net's WebTransport/WebSocket race (so Deno's global `WebTransport` is never touched and no
 * `/certificate.sha256` fetch happens), and @moq/net picks the wire version from the session's
 * negotiated `protocol`: `moq-lite-05/04/03` directly, `moql` (or `""` for a bare offer) through
 * the legacy SETUP, where @moq/net offers lite-02, lite-01 and IETF draft-14 and the server
 * chooses (upstream relays choose lite-02).
 *
 * Every function takes a {@link MoqPeer}, i.e. anything with an `@moq/net` `connection`: a
 * {@link MoqClient}, or the server end of a session in the loopback tests.
 *
 * @module
 */
import QmuxSession, { type Version as QmuxVersion } from "@moq/qmux";
import { Broadcast, Connection, Path, Time, type Track } from "@moq/net";
import { sleep, TimeoutError, withTimeout } from "./wait.ts";

// ---------------------------------------------------------------------------------------------
// Small helpers (exported for other test support code).

export { sleep, TimeoutError, withTimeout } from "./wait.ts";

/** Wakes waiters whenever something they poll may have changed; no timers while idle. */
class Changes {
  #waiters = new Set<() => void>();

  notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves once `check()` holds; rejects with a {@link TimeoutError} after `ms`. */
  async until(check: () => boolean, ms: number, what: () => string): Promise<void> {
    if (check()) return;
    let wake!: () => void;
    const done = new Promise<void>((resolve) => {
      wake = () => {
        if (check()) resolve();
      };
    });
    this.#waiters.add(wake);
    try {
      await withTimeout(done, ms, what()).catch((err) => {
        if (err instanceof TimeoutError) {
          throw new TimeoutError(`${what()} (timed out after ${ms} ms)`);
        }
        throw err;
      });
    } finally {
      this.#waiters.delete(wake);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Quieting @moq/net: it logs every stream open/close through console.debug.

let quietRefs = 0;
let restoreConsole: (() => void) | undefined;

/** A line @moq/net prints on every ordinary teardown (session closed with code 0). */
function benign(level: string, args: unknown[]): boolean {
  const text = args.map((a) => a instanceof Error ? a.message : String(a)).join(" ");
  if (level === "error") {
    return /^fatal error running connection Connection closed: 0\s*$/.test(text);
  }
  // "publish error: ... error=remote error: 0": a subscriber left (FIN + STOP_SENDING 0); or the
  // session closed while a subscription was still being served.
  if (level === "warn") {
    return /^(publish|subscribe) error: .*error=(remote error: 0|Connection closed: 0\s*)$/.test(
      text,
    );
  }
  return true;
}

/**
 * Drops what `@moq/net` / `@moq/qmux` print through `console` (recognised by the caller's stack
 * frame): every debug/info/log line, and the warnings and errors it prints on an ordinary
 * teardown. Other warnings and errors still print. Lasts until every holder has called the
 * returned release function. Set `MOQ_CLIENT_LOGS=1` to keep everything.
 */
export function quietMoqNet(): () => void {
  let echo = false;
  try {
    echo = Deno.env.get("MOQ_CLIENT_LOGS") === "1";
  } catch {
    // No env permission: stay quiet.
  }
  if (echo) return () => {};
  if (quietRefs++ === 0) {
    const levels = ["debug", "info", "log", "warn", "error"] as const;
    const saved = levels.map((level) => [level, console[level]] as const);
    for (const [level, original] of saved) {
      console[level] = (...args: unknown[]) => {
        if (benign(level, args) && /@moq\/(net|qmux)\//.test(new Error().stack ?? "")) return;
        original.apply(console, args);
      };
    }
    restoreConsole = () => {
      for (const [level, original] of saved) console[level] = original;
    };
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--quietRefs === 0) {
      restoreConsole?.();
      restoreConsole = undefined;
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Connecting.

/**
 * The protocol a client offers. `moql` means the legacy SETUP (lite-02 against upstream
 * relays); `""` offers only the bare `qmux-01`/`qmux-00`/`webtransport` subprotocols (no
 * application protocol, so the legacy SETUP decides as well).
 */
export type ClientProtocol = "moq-lite-05" | "moq-lite-04" | "moq-lite-03" | "moql" | "";

/** The matrix relay tests run over. */
export const CLIENT_PROTOCOLS: readonly Exclude<ClientProtocol, "">[] = [
  "moq-lite-05",
  "moq-lite-04",
  "moq-lite-03",
  "moql",
];

/** The `connection.version` @moq/net reports for each offered protocol (upstream's choice). */
export const EXPECTED_VERSION: Readonly<Record<ClientProtocol, string>> = {
  "moq-lite-05": "moq-lite-05",
  "moq-lite-04": "moq-lite-04",
  "moq-lite-03": "moq-lite-03",
  "moql": "moq-lite-02",
  "": "moq-lite-02",
};

/** Anything with an `@moq/net` connection: a {@link MoqClient}, or a server-side session. */
export interface MoqPeer {
  readonly connection: Connection.Established;
}

export interface MoqClient extends MoqPeer, AsyncDisposable {
  /** The `@moq/net` session (`Connection.Established`). */
  readonly connection: Connection.Established;
  /** The `@moq/qmux` client session it runs on. */
  readonly transport: QmuxSession;
  /** The negotiated application protocol, QMux prefix stripped (`""` when bare). */
  readonly protocol: string;
  /** What @moq/net speaks, e.g. `moq-lite-02` for `moql`. */
  readonly version: string;
  /** Settles when the session ends, whoever ended it (never rejects). */
  readonly closed: Promise<void>;
  /** Closes the session and waits until @moq/qmux has torn the WebSocket down. Idempotent. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** QMux drafts offered for the protocol, in preference order. Default `qmux-01`, `qmux-00`. */
  qmux?: QmuxVersion[];
  /**
   * Wraps the opened QMux session before @moq/net sees it (e.g. `offerOnlyDraft14` in
   * `draft14_offer.ts`, which rewrites the legacy CLIENT_SETUP).
   */
  wrap?: (transport: QmuxSession) => QmuxSession;
  /** Deadline for the WebSocket upgrade plus the moq handshake. Default 5000 ms. */
  timeoutMs?: number;
  /**
   * The version @moq/net must end up speaking; `connectMoq` throws otherwise. Defaults to
   * {@link EXPECTED_VERSION} (required for a protocol not listed there, such as `moqt-16`);
   * `false` accepts anything.
   */
  expectVersion?: string | false;
}

/**
 * Connects `@moq/net` to `url` (`http://host:port/path?jwt=...`; `https:` becomes `wss:`) over
 * the QMux WebSocket fallback, offering only `protocol` (one of {@link ClientProtocol}, or any
 * other identifier @moq/net knows, e.g. `moqt-16`, with `expectVersion` given).
 */
export async function connectMoq(
  url: string,
  protocol: ClientProtocol | (string & Record<never, never>),
  options: ConnectOptions = {},
): Promise<MoqClient> {
  const expected = options.expectVersion ?? EXPECTED_VERSION[protocol as ClientProtocol];
  if (expected === undefined) {
    throw new Error(`connectMoq(${protocol}): say which version to expect`);
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  const qmux = options.qmux ?? ["qmux-01", "qmux-00"];
  const release = quietMoqNet();
  const transport = protocol === ""
    ? new QmuxSession(url, { protocols: [], versions: {} })
    : new QmuxSession(url, {
      protocols: [protocol],
      versions: { [protocol]: qmux },
      requireProtocol: true,
    });
  transport.closed.catch(() => {});
  let connection: Connection.Established | undefined;
  try {
    await withTimeout(transport.ready, timeoutMs, `WebSocket upgrade to ${url} (${protocol})`);
    const handed = options.wrap ? options.wrap(transport) : transport;
    connection = await withTimeout(
      // @moq/qmux's Session lacks only Deno's newer `createSendGroup` typing.
      Connection.connect(new URL(url), { transport: handed as unknown as WebTransport }),
      timeoutMs,
      `moq handshake with ${url} (${protocol})`,
    );
    if (expected !== false && connection.version !== expected) {
      throw new Error(`offered ${protocol}, got ${connection.version} (expected ${expected})`);
    }
  } catch (err) {
    connection?.close();
    transport.close();
    await afterQmuxClose();
    release();
    throw err;
  }
  const established = connection;
  const closed = established.closed.catch(() => {});
  let closing: Promise<void> | undefined;
  const client: MoqClient = {
    connection: established,
    transport,
    protocol: transport.protocol,
    version: established.version,
    closed,
    close() {
      closing ??= (async () => {
        established.close();
        await closed;
        await afterQmuxClose();
        release();
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return client.close();
    },
  };
  return client;
}

/** Connects `count` clients at once (e.g. 50 independent subscribers for a dedup test). */
export function connectMany(
  url: string,
  protocol: ClientProtocol,
  count: number,
  options: ConnectOptions = {},
): Promise<MoqClient[]> {
  return Promise.allSettled(
    Array.from({ length: count }, () => connectMoq(url, protocol, options)),
  ).then(async (results) => {
    const clients = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await Promise.all(clients.map((c) => c.close()));
      throw failed.reason;
    }
    return clients;
  });
}

/**
 * `@moq/qmux`'s `close()` queues APPLICATION_CLOSE and closes the WebSocket from a 100 ms
 * `setTimeout`; wait that out so Deno's op sanitizer sees no pending timer or socket.
 */
export function afterQmuxClose(): Promise<void> {
  return sleep(120);
}

// ---------------------------------------------------------------------------------------------
// Publishing.

/** One open group on a published track. */
export interface GroupWriter {
  readonly sequence: number;
  /** Appends a frame. `timestampMs` defaults to the track's frame counter (0, 1, 2, ... ms). */
  writeFrame(payload: Uint8Array, timestampMs?: number): void;
  /** Finishes the group (FIN on the wire). */
  close(): void;
  /** Aborts the group (the publisher resets its stream). */
  abort(reason?: Error): void;
}

export interface PublishedTrack {
  readonly name: string;
  /** The underlying `@moq/net` track producer. */
  readonly producer: Track.Producer;
  /** Opens a group, writes `frames`, closes it; resolves to its sequence number. */
  writeGroup(frames: Uint8Array[]): Promise<number>;
  /** Opens a group to write frame by frame. */
  startGroup(): GroupWriter;
  /** SUBSCRIBEs for this track the publisher has received (ever). */
  subscriptions(): number;
  /** SUBSCRIBEs for this track still being served. */
  activeSubscriptions(): number;
  /** Ends the track: every subscription is finished by the publisher. */
  close(): void;
}

export interface Publisher {
  readonly path: string;
  /** The underlying `@moq/net` broadcast. */
  readonly broadcast: Broadcast.Producer;
  /** A track named in {@link publish}'s `trackNames`. */
  track(name: string): PublishedTrack;
  /**
   * SUBSCRIBEs the publisher has received for `track` (for all tracks when omitted), counted
   * where @moq/net's publisher serves a wire SUBSCRIBE: one per subscribe stream the peer (the
   * relay) opened, including ones for unknown tracks (which are refused).
   */
  subscriptions(track?: string): number;
  /** Like {@link subscriptions}, but only those still being served. */
  activeSubscriptions(track?: string): number;
  /**
   * Resolves once {@link subscriptions} reaches at least `count`, or, with `active`, once
   * {@link activeSubscriptions} is exactly `count` (so `0` waits for every subscription to end).
   */
  waitForSubscriptions(
    count: number,
    options?: { track?: string; active?: boolean; timeoutMs?: number },
  ): Promise<void>;
  /** Unannounces: closes the broadcast (and with it every track). Idempotent. */
  close(): void;
}

export interface PublishOptions {
  /** Track properties (priority, ordered, latencyMax, timescale) for every track. */
  info?: Partial<Track.Info>;
}

/**
 * A broadcast that counts the SUBSCRIBEs @moq/net's publisher serves from it: the lite
 * publisher answers each wire SUBSCRIBE with exactly one `broadcast.subscribe(track, ...)`
 * (`lite/publisher.js` `runSubscribe`), and nothing else on the publishing side calls it
 * (TRACK_INFO goes through `resolveTrackInfo`, local FETCH through an internal function).
 *
 * A SUBSCRIBE for a track that was never created (or is closed) throws here, which makes
 * @moq/net reset the subscribe stream before any SUBSCRIBE_OK. Left to @moq/net, an unknown
 * track becomes an on-demand request, and before lite-05 it sends SUBSCRIBE_OK first and
 * resets only once the request is refused, so whether the subscriber notices is a race.
 */
class CountingBroadcast extends Broadcast.Producer {
  readonly tracks = new Map<string, Track.Producer>();
  readonly started = new Map<string, number>();
  readonly active = new Map<string, number>();
  readonly changes = new Changes();

  #live(name: string): boolean {
    const track = this.tracks.get(name);
    return track !== undefined && track.closed.peek() === undefined;
  }

  override subscribe(name: string, options?: Track.Subscription): Track.Subscriber {
    this.started.set(name, (this.started.get(name) ?? 0) + 1);
    this.changes.notify();
    if (!this.#live(name)) throw new Error(`not found: track ${name}`);
    const subscriber = super.subscribe(name, options);
    this.active.set(name, (this.active.get(name) ?? 0) + 1);
    void Promise.resolve(subscriber.closed).then(() => {
      this.active.set(name, (this.active.get(name) ?? 1) - 1);
      this.changes.notify();
    });
    return subscriber;
  }

  override resolveTrackInfo(name: string): Promise<Track.Info> {
    if (!this.#live(name)) return Promise.reject(new Error(`not found: track ${name}`));
    return super.resolveTrackInfo(name);
  }
}

function total(map: Map<string, number>, track?: string): number {
  if (track !== undefined) return map.get(track) ?? 0;
  let sum = 0;
  for (const n of map.values()) sum += n;
  return sum;
}

/** Announces `path` on the peer's connection with the given tracks (created up front). */
export function publish(
  peer: MoqPeer,
  path: string,
  trackNames: string[],
  options: PublishOptions = {},
): Publisher {
  const broadcast = new CountingBroadcast();
  const tracks = new Map<string, PublishedTrack>();
  for (const name of trackNames) {
    const producer = broadcast.createTrack(name, options.info);
    broadcast.tracks.set(name, producer);
    let frameClock = 0;
    const startGroup = (): GroupWriter => {
      const group = producer.appendGroup();
      return {
        sequence: group.sequence,
        writeFrame(payload, timestampMs) {
          const ms = timestampMs ?? frameClock;
          frameClock = ms + 1;
          group.writeFrame({ payload, timestamp: Time.Timestamp.fromMillis(ms) });
        },
        close: () => group.close(),
        abort: (reason) => group.close(reason ?? new Error("aborted")),
      };
    };
    tracks.set(name, {
      name,
      producer,
      startGroup,
      writeGroup(frames) {
        const group = startGroup();
        for (const frame of frames) group.writeFrame(frame);
        group.close();
        return Promise.resolve(group.sequence);
      },
      subscriptions: () => broadcast.started.get(name) ?? 0,
      activeSubscriptions: () => broadcast.active.get(name) ?? 0,
      close: () => producer.close(),
    });
  }
  // Refuse any on-demand request that still gets through, rather than leave it unanswered
  // (which would hang the peer's subscription).
  void (async () => {
    try {
      for (;;) {
        const request = await broadcast.requested();
        if (!request) return;
        request.reject(new Error(`unknown track: ${request.name}`));
      }
    } catch {
      // The broadcast was closed with an error.
    }
  })();
  peer.connection.publish(Path.from(path), broadcast);
  return {
    path,
    broadcast,
    track(name) {
      const track = tracks.get(name);
      if (!track) throw new Error(`publish(${path}): no track named ${name}`);
      return track;
    },
    subscriptions: (track) => total(broadcast.started, track),
    activeSubscriptions: (track) => total(broadcast.active, track),
    waitForSubscriptions(count, opts = {}) {
      const map = opts.active ? broadcast.active : broadcast.started;
      const what = opts.active ? "active subscriptions" : "subscriptions";
      return broadcast.changes.until(
        () => opts.active ? total(map, opts.track) === count : total(map, opts.track) >= count,
        opts.timeoutMs ?? 5000,
        () =>
          `${path}${opts.track ? `/${opts.track}` : ""}: waiting for ${count} ${what}, have ${
            total(map, opts.track)
          }`,
      );
    },
    close: () => broadcast.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Subscribing.

export interface ReceivedGroup {
  sequence: number;
  frames: Uint8Array[];
  /**
   * Frame timestamps in ms. Carried on the wire from lite-05 on; on older versions @moq/net
   * stamps frames with the wall clock on arrival.
   */
  timestamps: number[];
}

export interface Subscription {
  readonly path: string;
  readonly track: string;
  /** The underlying `@moq/net` track subscriber. */
  readonly subscriber: Track.Subscriber;
  /**
   * The next complete group (lowest buffered sequence first, each exactly once), or `null` once
   * the track ended cleanly. Rejects with the track's error when the subscription failed or was
   * reset, and with a {@link TimeoutError} after `timeoutMs` (default 5000); a read that timed
   * out keeps going, so the next call returns its group (nothing is lost).
   */
  next(timeoutMs?: number): Promise<ReceivedGroup | null>;
  /** `count` groups via {@link next}; throws if the track ends first. */
  collect(count: number, timeoutMs?: number): Promise<ReceivedGroup[]>;
  /** Settles when the track closes: `null` when it ended cleanly, else the error. */
  readonly ended: Promise<Error | null>;
  /** Unsubscribes (and releases this handle on the consumed broadcast). Idempotent. */
  close(): void;
}

async function readGroup(subscriber: Track.Subscriber): Promise<ReceivedGroup | null> {
  const group = await subscriber.recvGroup();
  if (!group) return null;
  const frames: Uint8Array[] = [];
  const timestamps: number[] = [];
  for (;;) {
    const frame = await group.readFrame();
    if (!frame) break;
    frames.push(frame.payload);
    timestamps.push(frame.timestamp.asMillis());
  }
  return { sequence: group.sequence, frames, timestamps };
}

/**
 * Subscribes to `track` of the broadcast at `path` on the peer's connection. Note that @moq/net
 * deduplicates per connection: a second `subscribe` of the same path and track on the same
 * client shares the first one's upstream SUBSCRIBE, so N independent subscribers need N clients.
 */
export function subscribe(
  peer: MoqPeer,
  path: string,
  track: string,
  options: Track.Subscription = {},
): Subscription {
  const broadcast = peer.connection.consume(Path.from(path));
  const subscriber = broadcast.subscribe(track, options);
  const ended = Promise.resolve(subscriber.closed).then((c) => c ?? null);
  let pending: Promise<ReceivedGroup | null> | undefined;
  let closed = false;
  const next = async (timeoutMs = 5000): Promise<ReceivedGroup | null> => {
    pending ??= readGroup(subscriber);
    const read = pending;
    try {
      const group = await withTimeout(read, timeoutMs, `${path}/${track}: next group`);
      pending = undefined;
      return group;
    } catch (err) {
      if (!(err instanceof TimeoutError)) pending = undefined;
      throw err;
    }
  };
  return {
    path,
    track,
    subscriber,
    next,
    async collect(count, timeoutMs = 5000) {
      const out: ReceivedGroup[] = [];
      while (out.length < count) {
        const group = await next(timeoutMs);
        if (!group) {
          throw new Error(`${path}/${track} ended after ${out.length} of ${count} groups`);
        }
        out.push(group);
      }
      return out;
    },
    ended,
    close() {
      if (closed) return;
      closed = true;
      subscriber.close();
      broadcast.close();
      // A read still in flight settles with the end; nobody may be waiting for it.
      pending?.catch(() => {});
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Announcements.

export interface AnnounceEvent {
  /** The full broadcast path (prefix joined with what the wire carried). */
  path: string;
  active: boolean;
}

export interface Announcements {
  /** The next event, `null` when the announce stream ended; rejects on timeout (default 5000). */
  next(timeoutMs?: number): Promise<AnnounceEvent | null>;
  close(): void;
}

/** Opens an announce interest for `prefix` (`""` for everything). */
export function announcements(peer: MoqPeer, prefix: string): Announcements {
  const base = prefix === "" ? Path.empty() : Path.from(prefix);
  const consumer = peer.connection.announced(base);
  let pending: Promise<AnnounceEvent | null> | undefined;
  const read = async (): Promise<AnnounceEvent | null> => {
    const event = await consumer.next();
    if (!event) return null;
    return { path: Path.join(base, event.path), active: event.active };
  };
  return {
    async next(timeoutMs = 5000) {
      pending ??= read();
      const current = pending;
      try {
        const event = await withTimeout(current, timeoutMs, `announcements under "${prefix}"`);
        pending = undefined;
        return event;
      } catch (err) {
        if (!(err instanceof TimeoutError)) pending = undefined;
        throw err;
      }
    },
    close() {
      consumer.close();
      pending?.catch(() => {});
    },
  };
}

/**
 * Resolves once the peer sees `path` announced (or, with `active: false`, unannounced) under
 * `prefix`. `path` may be the full path or the part after `prefix`.
 */
export async function waitForAnnounce(
  peer: MoqPeer,
  prefix: string,
  path: string,
  timeoutMs = 5000,
  active = true,
): Promise<void> {
  const base = prefix === "" ? Path.empty() : Path.from(prefix);
  const full = Path.join(base, Path.from(path)) as string;
  const wanted = new Set([Path.from(path) as string, full]);
  const stream = announcements(peer, prefix);
  const end = performance.now() + timeoutMs;
  const seen: string[] = [];
  try {
    for (;;) {
      const left = Math.max(1, end - performance.now());
      let event: AnnounceEvent | null;
      try {
        event = await stream.next(left);
      } catch (err) {
        if (err instanceof TimeoutError) {
          throw new TimeoutError(
            `no ${
              active ? "announce" : "unannounce"
            } of ${path} under "${prefix}" within ${timeoutMs} ms; saw [${seen.join(", ")}]`,
          );
        }
        throw err;
      }
      if (!event) throw new Error(`announce stream under "${prefix}" ended before ${path}`);
      seen.push(`${event.active ? "+" : "-"}${event.path}`);
      if (wanted.has(event.path) && event.active === active) return;
    }
  } finally {
    stream.close();
  }
}
