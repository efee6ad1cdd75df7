/**
 * One moq-lite session over any transport, in both roles at once: its {@link Publisher} serves
 * what the peer asks for (subscriptions, FETCH, TRACK, announce requests) from the cache; its
 * {@link Subscriber} takes what the peer publishes into the cache when someone wants it. What the
 * session may see and announce is its view of the origin, handed to it by the relay's policy.
 * Protocol violations close this session with the protocol's code and a log line; they never
 * touch other sessions.
 *
 * @module
 */
import type { Admission } from "../../auth/access.ts";
import type { CacheBudget } from "../../cache/budget.ts";
import type { OriginView } from "../../cache/view.ts";
import {
  BidiType,
  decodeBidiType,
  decodeGoaway,
  decodeUniType,
  encodeGoaway,
  hasGoaway,
  hasTrackStream,
  ProtocolError,
  SessionCode,
  StreamCode,
  toleratesUnknownStreams,
  Version,
  versionForAlpn,
  versionName,
} from "../../codec/lite/mod.ts";
import { type Logger, logger, peerFault } from "../../log.ts";
import { Traffic } from "../../ops/traffic.ts";
import { concatBytes } from "../../bytes/concat.ts";
import { CONTROL_PRIORITY, type Peer } from "./peer.ts";
import type { BiStream, RecvStream, Session } from "../../transport/session.ts";
import { StreamError } from "../../transport/session.ts";
import type { SessionContext, SessionLimits } from "../context.ts";
import { aborted } from "../abort.ts";
import { Publisher } from "./publisher/publisher.ts";
import { MessageReader } from "../reader.ts";
import { type LegacySetup, type Negotiated, SetupExchange } from "./setup.ts";
import { Subscriber } from "./subscriber/subscriber.ts";
import { formatRemote, nextSessionId, type RelaySession } from "../relay_session.ts";
import { rootOf, sessionUrl, settleScope } from "../scope.ts";

/** How long after a stream's carrier error the session may report closing, for it to be the cause. */
const CLOSE_GRACE_MS = 250;

export interface SessionOptions {
  /** "server" for sessions we accepted, "client" for those we opened. */
  role: "server" | "client";
  /** Client role on raw QUIC (lite-05+): the path (and query) to send in SETUP. */
  path?: string;
  /** Client role with `moql`: the versions to offer in the legacy SETUP (default lite-02, lite-01). */
  legacyVersions?: Version[];
  /** The view this session gets; by default the context's scope for its URL. */
  view?: OriginView;
  /** Server role: the admission decided before the transport was accepted (URL transports). */
  admission?: Admission;
  /** Server role with `moql`: the CLIENT_SETUP already read (see `readLegacySetup`). */
  preread?: LegacySetup;
}

export class MoqSession implements Peer, RelaySession {
  readonly id = nextSessionId();
  readonly transport: Session;
  readonly log: Logger;
  /** What the protocol names until the setup settles it (a legacy setup picks 01 or 02). */
  version: Version;
  peerHop: bigint | undefined;
  /** The session's root: every path on the wire is relative to it. */
  root = "";
  #traffic = new Traffic();
  /** When the session began (ms since the epoch), for its access-log line. */
  readonly started = Date.now();
  readonly #ctx: SessionContext;
  readonly #options: SessionOptions;
  readonly #done = new AbortController();
  readonly #setup: SetupExchange;
  #view: OriginView | undefined;
  #publisher: Publisher | undefined;
  #subscriber: Subscriber | undefined;
  #closing = false;
  /** The URI of the peer's GOAWAY, once one came ("" means: reconnect to the same place). */
  goawayReceived: string | undefined;
  readonly #goaway = Promise.withResolvers<string>();

  constructor(transport: Session, ctx: SessionContext, options: SessionOptions) {
    this.transport = transport;
    this.#ctx = ctx;
    this.#options = options;
    this.log = logger("session").with({ conn: this.id, remote: formatRemote(transport.remote) });
    const named = versionForAlpn(transport.protocol);
    this.version = typeof named === "number" ? named : Version.Lite02;
    this.#setup = new SetupExchange(transport, {
      role: options.role,
      hop: ctx.hop,
      path: options.path,
      legacyVersions: options.legacyVersions,
      preread: options.preread,
    });
    void transport.closed.then(() => this.#done.abort());
  }

  get signal(): AbortSignal {
    return this.#done.signal;
  }

  get versionName(): string {
    return versionName(this.version);
  }

  get versionCode(): number {
    return this.version;
  }

  /** What the session moved (until retired, see {@link retireTraffic}). */
  get traffic(): Traffic {
    return this.#traffic;
  }

  /**
   * The session is over: its totals join `into` (the relay's), and whatever its last streams
   * still count from now on goes there too, so no count is lost or counted twice.
   */
  retireTraffic(into: Traffic): void {
    if (this.#traffic === into) return;
    into.add(this.#traffic);
    this.#traffic = into;
  }

  /** Settles with the URI of the peer's GOAWAY, if it sends one. */
  get goaway(): Promise<string> {
    return this.#goaway.promise;
  }

  /**
   * Tells the peer this relay is going away (lite-04+: a GOAWAY stream; `uri` is where to
   * reconnect, "" for the same place). False when the version has no GOAWAY or it could not go.
   */
  async sendGoaway(uri: string): Promise<boolean> {
    if (!this.#subscriber || !hasGoaway(this.version) || this.#closing) return false;
    try {
      const stream = await this.transport.openBi({
        priority: CONTROL_PRIORITY,
        initial: concatBytes([Uint8Array.of(BidiType.Goaway), encodeGoaway({ uri })]),
      });
      await stream.send.close();
      stream.recv.stop(StreamCode.Cancel);
      return true;
    } catch {
      return false; // the session ended meanwhile
    }
  }

  get view(): OriginView {
    if (!this.#view) throw new Error("the session has no view before its setup");
    return this.#view;
  }

  get budget(): CacheBudget {
    return this.#ctx.budget;
  }

  get hop(): bigint {
    return this.#ctx.hop;
  }

  get limits(): SessionLimits {
    return (this.#view && this.#ctx.limitsFor?.(this.#view)) ?? this.#ctx.limits;
  }

  /** The publisher side (for stats and tests); undefined until set up. */
  get publisher(): Publisher | undefined {
    return this.#publisher;
  }

  /** The subscriber side (for stats and tests); undefined until set up. */
  get subscriber(): Subscriber | undefined {
    return this.#subscriber;
  }

  fail(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    // Mostly the peer's doing (a violation, a bad setup): never an error line of ours.
    peerFault(this.log, "closing session: {reason}", { reason, code });
    this.transport.close({ code, reason }).catch(() => {});
  }

  /** Negotiates, then serves until the session ends. */
  async run(): Promise<void> {
    // From the start: a lite-05+ peer's SETUP comes on a unidirectional stream.
    const accepting = this.#acceptUni().catch((e) =>
      this.#streamFailed("unidirectional accept", e)
    );
    try {
      const negotiated = await this.#setup.negotiate();
      await this.#begin(negotiated);
    } catch (e) {
      this.fail(
        e instanceof ProtocolError ? e.code : SessionCode.ProtocolViolation,
        `setup failed: ${e instanceof Error ? e.message : e}`,
      );
      await Promise.allSettled([accepting]);
      return;
    }
    const subscriber = this.#subscriber!;
    this.log.info("session {version} root {root}", {
      version: versionName(this.version),
      root: this.root || "/",
      kind: this.transport.kind,
    });
    const tasks = [
      accepting,
      this.#acceptBidi(),
      subscriber.takeAnnouncements().catch((e) => this.#streamFailed("announcements", e)),
      subscriber.receiveDatagrams().catch((e) => this.#streamFailed("datagrams", e)),
    ];
    await aborted(this.signal);
    subscriber.close();
    await Promise.allSettled(tasks);
    this.log.info("session closed");
  }

  /**
   * The setup is done: the version is known, and so are the session's root and view (on raw
   * QUIC this is where access control decides, the SETUP path carrying the token).
   */
  async #begin(negotiated: Negotiated): Promise<void> {
    this.version = negotiated.version;
    this.peerHop = negotiated.peerHop;
    if (negotiated.sessionStream) this.#holdSessionStream(negotiated.sessionStream);
    // Raw QUIC has no URL: a lite-05+ client's SETUP path (and query) takes its place.
    const url = sessionUrl(this.transport, negotiated.path);
    this.root = rootOf(url);
    if (this.#options.view) {
      this.#view = this.#options.view;
    } else {
      const scope = await settleScope(this, this.#ctx, url, this.#options.admission);
      this.#view = scope.view;
      this.root = scope.root;
    }
    this.#publisher = new Publisher(this);
    this.#subscriber = new Subscriber(this);
  }

  /** The lite-01/02 session stream lives as long as the session; its end ends the session. */
  #holdSessionStream({ stream, reader }: { stream: BiStream; reader: MessageReader }): void {
    void reader.drain().catch(() => {}).then(() => {
      if (!this.#closing) this.fail(SessionCode.Cancel, "session stream closed");
      void stream.send.close().catch(() => {});
    });
  }

  async #acceptBidi(): Promise<void> {
    for (
      let stream = await this.transport.acceptBi();
      stream;
      stream = await this.transport.acceptBi()
    ) {
      this.#handleBidi(stream).catch((e) => this.#streamFailed("bidirectional stream", e, stream));
    }
  }

  async #acceptUni(): Promise<void> {
    for (
      let stream = await this.transport.acceptUni();
      stream;
      stream = await this.transport.acceptUni()
    ) {
      this.#handleUni(stream).catch((e) =>
        this.#streamFailed("unidirectional stream", e, undefined, stream)
      );
    }
  }

  async #handleBidi(stream: BiStream): Promise<void> {
    const reader = new MessageReader(stream.recv);
    let kind;
    try {
      kind = await reader.read((b, o) => decodeBidiType(b, this.version, o));
    } catch (e) {
      if (e instanceof ProtocolError && toleratesUnknownStreams(this.version)) {
        // An unknown stream type is refused, not fatal (that is how extensions probe).
        stream.recv.stop(StreamCode.Cancel);
        stream.send.reset(StreamCode.Cancel);
        return;
      }
      throw e;
    }
    if (kind === null) return void stream.send.close().catch(() => {});
    switch (kind) {
      case "announce":
      case "subscribe":
      case "track":
        return await this.#publisher!.serve(kind, stream, reader);
      case "fetch":
        if (!hasTrackStream(this.version)) return stream.send.reset(StreamCode.Cancel);
        return await this.#publisher!.serve(kind, stream, reader);
      case "probe":
        // We have no bandwidth estimate to report: finish our side, keep reading theirs.
        await stream.send.close().catch(() => {});
        return await reader.drain();
      case "goaway": {
        const goaway = await reader.read(decodeGoaway);
        this.log.info("peer sent GOAWAY {uri}", { uri: goaway?.uri ?? "" });
        this.goawayReceived = goaway?.uri ?? "";
        this.#goaway.resolve(this.goawayReceived);
        return;
      }
      case "setup":
        throw new ProtocolError("a second CLIENT_SETUP");
    }
  }

  async #handleUni(stream: RecvStream): Promise<void> {
    const reader = new MessageReader(stream);
    let kind;
    try {
      kind = await reader.read((b, o) => decodeUniType(b, this.version, o));
    } catch (e) {
      if (e instanceof ProtocolError && toleratesUnknownStreams(this.version)) {
        return stream.stop(StreamCode.Cancel);
      }
      throw e;
    }
    if (kind === null) return;
    if (kind === "setup") {
      // Unlike a bad group stream, a bad or second SETUP breaks the whole session at once.
      try {
        return await this.#setup.receive(reader);
      } catch (e) {
        if (e instanceof ProtocolError) return this.fail(e.code, e.message);
        throw e;
      }
    }
    // Groups before the setup completed cannot belong to a subscription of ours.
    if (!this.#subscriber) return stream.stop(StreamCode.Cancel);
    await this.#subscriber.receiveGroup(stream, reader);
  }

  #streamFailed(what: string, e: unknown, bidi?: BiStream, uni?: RecvStream): void {
    if (e instanceof ProtocolError) {
      // Bad bytes on a control stream break the session; on a group stream only that group.
      if (uni) {
        this.log.debug("{what}: {error}", { what, error: e.message });
        return uni.stop(e.streamCode);
      }
      return this.fail(e.code, e.message);
    }
    if (e instanceof StreamError || this.#closing) return; // the peer reset or went away
    bidi?.send.reset(StreamCode.Internal);
    // A carrier error as the peer hangs up (it may land before the close is reported) is the
    // peer's doing; anything else is a bug of ours.
    const error = e instanceof Error ? e.stack ?? e.message : String(e);
    const timer = setTimeout(() => {
      if (this.signal.aborted) {
        this.log.debug("{what} ended with the session: {error}", { what, error });
      } else this.log.error("{what} failed: {error}", { what, error });
    }, CLOSE_GRACE_MS);
    Deno.unrefTimer(timer);
  }
}
