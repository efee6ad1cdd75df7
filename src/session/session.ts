/**
 * One moq-lite session over any transport, in both roles at once: it serves the peer's
 * announce, subscribe, track and fetch requests from the cache, and it subscribes to what the
 * peer publishes when someone downstream wants it. Protocol violations close this session with
 * the protocol's code and a log line; they never touch other sessions.
 *
 * @module
 */
import {
  chooseLegacyVersion,
  decodeBidiType,
  decodeClientSetup,
  decodeGoaway,
  decodeServerSetup,
  decodeSetup,
  decodeUniType,
  encodeClientSetup,
  encodeServerSetup,
  encodeSetup,
  normalizePath,
  ProtocolError,
  SessionCode,
  setupInfo,
  setupParameters,
  StreamCode,
  UniType,
  unknownStreamIsFatal,
  Version,
  versionForAlpn,
  versionName,
} from "../codec/mod.ts";
import { type Logger, logger } from "../log.ts";
import type { BiStream, RecvStream, Session } from "../transport/session.ts";
import { StreamError } from "../transport/session.ts";
import { runAnnounceIntake, serveAnnounceRequest } from "./announce.ts";
import { isClusterMember, type RelayContext } from "./context.ts";
import { serveFetch, serveTrack } from "./info.ts";
import { CONTROL_PRIORITY, type Peer } from "./peer.ts";
import { MessageReader } from "./reader.ts";
import { ServeState, serveSubscribe } from "./subscribe.ts";
import { UpstreamSubscriber } from "./upstream.ts";

/** How long a peer has to complete the setup exchange. */
const SETUP_TIMEOUT_MS = 10_000;

let nextSessionId = 1;

export interface SessionOptions {
  /** "server" for sessions we accepted, "client" for those we opened. */
  role: "server" | "client";
  /** Client role on raw QUIC (lite-05+): the path (and query) to send in SETUP. */
  path?: string;
  /** Client role: the peer is another relay of our cluster. */
  cluster?: boolean;
  /** Client role with `moql`: the versions to offer in the legacy SETUP (default lite-02, lite-01). */
  legacyVersions?: Version[];
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      timer = setTimeout(
        () => reject(new ProtocolError(`${what} timed out`, SessionCode.Timeout)),
        ms,
      )
    ),
  ]).finally(() => clearTimeout(timer));
}

export class MoqSession implements Peer {
  readonly id = nextSessionId++;
  readonly transport: Session;
  readonly ctx: RelayContext;
  readonly log: Logger;
  readonly self = this;
  readonly done: Promise<void>;
  version: Version = Version.Lite03;
  root = "";
  peerHop: bigint | undefined;
  cluster = false;
  readonly #role: "server" | "client";
  readonly #options: SessionOptions;
  readonly #serve = new ServeState();
  #upstream: UpstreamSubscriber | undefined;
  #closing = false;
  #peerSetup: ((info: ReturnType<typeof setupInfo>) => void) | undefined;
  #peerSetupSeen = false;

  constructor(transport: Session, ctx: RelayContext, options: SessionOptions) {
    this.transport = transport;
    this.ctx = ctx;
    this.#role = options.role;
    this.#options = options;
    const remote = transport.remote;
    this.log = logger("session").with({
      conn: this.id,
      remote: remote.hostname.includes(":")
        ? `[${remote.hostname}]:${remote.port}`
        : `${remote.hostname}:${remote.port}`,
    });
    this.done = transport.closed.then(() => {});
    if (transport.url) this.root = normalizePath(decodeURIComponent(transport.url.pathname));
    if (options.role === "client") this.cluster = options.cluster ?? false;
    else if (transport.url) this.#authorize(transport.url);
  }

  /** A server-side session is a cluster member if its URL presents the cluster token. */
  #authorize(url: URL): void {
    const presented = url.searchParams.get("cluster");
    this.cluster = isClusterMember(this.ctx.cluster, presented);
    if (presented !== null && !this.cluster) {
      this.log.warn("a session presented a wrong cluster token");
    }
  }

  /** Subscriptions and group streams this session is being served (for stats and tests). */
  get serving(): ServeState {
    return this.#serve;
  }

  /** The upstream side (for stats and tests). */
  get upstream(): UpstreamSubscriber | undefined {
    return this.#upstream;
  }

  fail(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.log.warn("closing session: {reason}", { reason, code });
    this.transport.close({ code, reason }).catch(() => {});
  }

  /** Negotiates, then serves until the session ends. */
  async run(): Promise<void> {
    try {
      await this.#negotiate();
    } catch (e) {
      this.fail(
        e instanceof ProtocolError ? e.code : SessionCode.ProtocolViolation,
        `setup failed: ${e instanceof Error ? e.message : e}`,
      );
      await this.done;
      return;
    }
    this.log.info(`${this.cluster ? "cluster " : ""}session {version} root {root}`, {
      version: versionName(this.version),
      root: this.root || "/",
      kind: this.transport.kind,
    });
    const upstream = new UpstreamSubscriber(this);
    this.#upstream = upstream;
    const tasks = [
      this.#acceptBidi(),
      runAnnounceIntake(this, upstream).catch((e) => this.#streamFailed("announce intake", e)),
    ];
    if (this.version < Version.Lite05) tasks.push(this.#acceptUni());
    await this.done;
    upstream.close();
    await Promise.allSettled(tasks);
    this.log.info("session closed");
  }

  /** Picks the version and runs the setup exchange the version needs. */
  async #negotiate(): Promise<void> {
    const chosen = versionForAlpn(this.transport.protocol);
    if (chosen === undefined) {
      throw new ProtocolError(`unknown protocol ${this.transport.protocol}`, SessionCode.Version);
    }
    if (chosen === "legacy") {
      this.version = await withTimeout(this.#legacySetup(), SETUP_TIMEOUT_MS, "SETUP");
      return;
    }
    this.version = chosen;
    if (chosen < Version.Lite05) return;
    // lite-05+: each side sends one SETUP on its own unidirectional stream.
    const peerSetup = new Promise<ReturnType<typeof setupInfo>>((resolve) =>
      this.#peerSetup = resolve
    );
    this.#acceptUni().catch((e) => this.#streamFailed("unidirectional accept", e));
    const ours = setupParameters({
      hop: this.ctx.hop,
      path: this.#role === "client" && this.transport.kind === "quic"
        ? this.#options.path
        : undefined,
    });
    const stream = await this.transport.openUni({
      priority: CONTROL_PRIORITY,
      initial: Uint8Array.of(UniType.Setup),
    });
    await stream.write(encodeSetup(ours));
    await stream.close();
    const info = await withTimeout(peerSetup, SETUP_TIMEOUT_MS, "SETUP");
    this.peerHop = info.hop;
    if (this.#role === "server" && this.transport.kind === "quic" && info.path !== undefined) {
      // Raw QUIC has no URL: the SETUP path (and query) takes its place.
      const url = new URL(info.path, "moqt://relay/");
      this.root = normalizePath(decodeURIComponent(url.pathname));
      this.#authorize(url);
    }
  }

  /** lite-01/02: CLIENT_SETUP / SERVER_SETUP on the first bidirectional stream, kept open. */
  async #legacySetup(): Promise<Version> {
    if (this.#role === "client") {
      const stream = await this.transport.openBi({ priority: CONTROL_PRIORITY });
      await stream.send.write(
        encodeClientSetup({
          versions: this.#options.legacyVersions ?? [Version.Lite02, Version.Lite01],
          parameters: Uint8Array.of(0),
        }),
      );
      const reader = new MessageReader(stream.recv);
      const answer = await reader.expect(decodeServerSetup, "SERVER_SETUP");
      const version = chooseLegacyVersion([answer.version]);
      if (!version) {
        throw new ProtocolError(
          `the server chose unsupported version ${answer.version}`,
          SessionCode.Version,
        );
      }
      this.#holdSessionStream(stream, reader);
      return version;
    }
    const stream = await this.transport.acceptBi();
    if (!stream) throw new ProtocolError("the session ended before SETUP");
    const reader = new MessageReader(stream.recv);
    const type = await reader.expect((b, o) => decodeBidiType(b, Version.Lite02, o), "stream type");
    if (type !== "setup") throw new ProtocolError("the first stream is not CLIENT_SETUP");
    const setup = await reader.expect(decodeClientSetup, "CLIENT_SETUP");
    const version = chooseLegacyVersion(setup.versions);
    if (!version) {
      throw new ProtocolError(
        `no common version in ${setup.versions.map((v) => v.toString(16)).join(",")}`,
        SessionCode.Version,
      );
    }
    await stream.send.write(encodeServerSetup({ version, parameters: Uint8Array.of(0) }));
    this.#holdSessionStream(stream, reader);
    return version;
  }

  /** The lite-01/02 session stream lives as long as the session; its end ends the session. */
  #holdSessionStream(stream: BiStream, reader: MessageReader): void {
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
      if (e instanceof ProtocolError && !unknownStreamIsFatal(this.version)) {
        // lite-03+: an unknown stream type is refused, not fatal (that is how extensions probe).
        stream.recv.stop(StreamCode.Cancel);
        stream.send.reset(StreamCode.Cancel);
        return;
      }
      throw e;
    }
    if (kind === null) return void stream.send.close().catch(() => {});
    switch (kind) {
      case "announce":
        return await this.#limitedAnnounce(stream, reader);
      case "subscribe":
        return await serveSubscribe(this, this.#serve, stream, reader);
      case "track":
        return await serveTrack(this, stream, reader);
      case "fetch":
        if (this.version < Version.Lite05) return stream.send.reset(StreamCode.Cancel);
        return await serveFetch(this, stream, reader);
      case "probe":
        // We have no bandwidth estimate to report: finish our side, keep reading theirs.
        await stream.send.close().catch(() => {});
        return await reader.drain();
      case "goaway": {
        const goaway = await reader.read(decodeGoaway);
        this.log.info("peer sent GOAWAY {uri}", { uri: goaway?.uri ?? "" });
        return;
      }
      case "setup":
        throw new ProtocolError("a second CLIENT_SETUP");
    }
  }

  #announceRequests = 0;

  async #limitedAnnounce(stream: BiStream, reader: MessageReader): Promise<void> {
    if (this.#announceRequests >= this.ctx.limits.maxAnnounceRequests) {
      this.log.warn("refusing an announce request: over the limit of {limit}", {
        limit: this.ctx.limits.maxAnnounceRequests,
      });
      stream.recv.stop(StreamCode.Cancel);
      stream.send.reset(StreamCode.Cancel);
      return;
    }
    this.#announceRequests++;
    try {
      await serveAnnounceRequest(this, stream, reader);
    } finally {
      this.#announceRequests--;
    }
  }

  async #handleUni(stream: RecvStream): Promise<void> {
    const reader = new MessageReader(stream);
    let kind;
    try {
      kind = await reader.read((b, o) => decodeUniType(b, this.version, o));
    } catch (e) {
      if (e instanceof ProtocolError && !unknownStreamIsFatal(this.version)) {
        return stream.stop(StreamCode.Cancel);
      }
      throw e;
    }
    if (kind === null) return;
    if (kind === "setup") {
      // Unlike a bad group stream, a bad or second SETUP breaks the whole session at once.
      try {
        if (this.#peerSetupSeen) throw new ProtocolError("a second SETUP stream");
        this.#peerSetupSeen = true;
        const setup = await reader.expect(decodeSetup, "SETUP");
        this.#peerSetup?.(setupInfo(setup));
      } catch (e) {
        if (e instanceof ProtocolError) return this.fail(e.code, e.message);
        throw e;
      }
      return;
    }
    if (!this.#upstream) {
      // Groups before setup completed cannot belong to a subscription of ours.
      return stream.stop(StreamCode.Cancel);
    }
    await this.#upstream.receiveGroup(stream, reader);
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
    this.log.error("{what} failed: {error}", {
      what,
      error: e instanceof Error ? e.stack ?? e.message : String(e),
    });
    bidi?.send.reset(StreamCode.Internal);
  }
}
