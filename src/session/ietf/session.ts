/**
 * One moq-transport session (drafts 14 to 20), server side, in both roles at once: its
 * {@link IetfPublisher} serves the peer's SUBSCRIBE and SUBSCRIBE_NAMESPACE from the cache; its
 * {@link IetfSubscriber} takes the peer's PUBLISH_NAMESPACE broadcasts into the cache, which
 * moq-lite sessions share: the bridge between the families is the cache itself.
 *
 * Setup: 14-16 read CLIENT_SETUP on the first bidirectional stream and answer SERVER_SETUP; that
 * stream stays the control stream, every request multiplexed on it ({@link ControlMux}). 17+:
 * each side sends SETUP on its own unidirectional stream, kept open for GOAWAY; every request is
 * a bidirectional stream of its own.
 *
 * Protocol violations close this session with the protocol's code; they never touch others.
 *
 * @module
 */
import type { Admission } from "../../auth/access.ts";
import type { CacheBudget } from "../../cache/budget.ts";
import type { OriginView } from "../../cache/view.ts";
import { ProtocolError, SessionCode, StreamCode } from "../../codec/error.ts";
import {
  type ClientSetup,
  type CodecOptions,
  type ControlMessage,
  decodeMessage,
  decodeSetupAfterType,
  decodeSetupParameterBlock,
  decodeUniStreamType,
  type Draft,
  draftCode,
  draftForAlpn,
  draftName,
  encodeMessage,
  hasNamespaceStream,
  hasRequestIdFlowControl,
  hasRequestStreams,
  hasSetupStream,
  hasSetupVersions,
  locationStyleFor,
  type SetupParameters,
} from "../../codec/ietf/mod.ts";
import { type Logger, logger, peerFault } from "../../log.ts";
import { Traffic } from "../../ops/traffic.ts";
import type { BiStream, RecvStream, Session } from "../../transport/session.ts";
import { StreamError } from "../../transport/session.ts";
import { aborted } from "../abort.ts";
import { type SessionContext, type SessionLimits, SETUP_TIMEOUT_MS } from "../context.ts";
import { CONTROL_PRIORITY } from "../delivery/send_order.ts";
import { MessageReader } from "../reader.ts";
import { formatRemote, nextSessionId, type RelaySession } from "../relay_session.ts";
import type { LegacySetup } from "../lite/setup.ts";
import { SerialWriter } from "../writer.ts";
import type { IetfPeer } from "./peer.ts";
import { IetfPublisher } from "./publisher.ts";
import { ControlMux, NativeRequest, type RequestStream } from "./requests.ts";
import { IetfSubscriber } from "./subscriber.ts";
import { rootOf, sessionUrl, settleScope } from "../scope.ts";

/** What we name ourselves there. */
export const IMPLEMENTATION = "moq-relay-ts";
/** How long a request of ours waits for the peer to raise MAX_REQUEST_ID (14-16). */
const REQUEST_ID_WAIT_MS = 10_000;

export interface IetfSessionOptions {
  /** The admission decided before the transport was accepted (URL transports). */
  admission?: Admission;
  /** Draft 14 through `moql`: the draft (no ALPN names it) and the CLIENT_SETUP already read. */
  draft?: Draft;
  preread?: LegacySetup;
}

export class IetfSession implements IetfPeer, RelaySession {
  readonly id = nextSessionId();
  readonly transport: Session;
  readonly log: Logger;
  readonly draft: Draft;
  readonly started = Date.now();
  root = "";
  readonly #ctx: SessionContext;
  readonly #options: IetfSessionOptions;
  readonly #done = new AbortController();
  #traffic = new Traffic();
  #view: OriginView | undefined;
  #publisher: IetfPublisher | undefined;
  #subscriber: IetfSubscriber | undefined;
  #closing = false;
  /** The peer's implementation, from its setup (decides what `codec()` answers). */
  #implementation: string | undefined;
  /** 14-16: the control stream. */
  #mux: ControlMux | undefined;
  /** 17+: our SETUP stream, kept open for GOAWAY. */
  #setupStream: SerialWriter | undefined;
  readonly #peerSetup = Promise.withResolvers<SetupParameters>();
  #peerSetupSeen = false;
  /** Our next request id (server: odd), and how far the peer lets us go (14-16). */
  #nextRequestId = 1n;
  #peerMaxRequestId = 0n;
  #requestIdRaised: (() => void)[] = [];
  goawayReceived: string | undefined;

  constructor(transport: Session, ctx: SessionContext, options: IetfSessionOptions = {}) {
    const draft = options.draft ?? draftForAlpn(transport.protocol);
    if (draft === undefined) throw new Error(`not a moq-transport protocol: ${transport.protocol}`);
    this.transport = transport;
    this.draft = draft;
    this.#ctx = ctx;
    this.#options = options;
    this.log = logger("session").with({ conn: this.id, remote: formatRemote(transport.remote) });
    void transport.closed.then(() => this.#done.abort());
  }

  get signal(): AbortSignal {
    return this.#done.signal;
  }

  get versionName(): string {
    return draftName(this.draft);
  }

  get versionCode(): number {
    return draftCode(this.draft);
  }

  get traffic(): Traffic {
    return this.#traffic;
  }

  retireTraffic(into: Traffic): void {
    if (this.#traffic === into) return;
    into.add(this.#traffic);
    this.#traffic = into;
  }

  get view(): OriginView {
    if (!this.#view) throw new Error("the session has no view before its setup");
    return this.#view;
  }

  get budget(): CacheBudget {
    return this.#ctx.budget;
  }

  get limits(): SessionLimits {
    return (this.#view && this.#ctx.limitsFor?.(this.#view)) ?? this.#ctx.limits;
  }

  get publisher(): IetfPublisher | undefined {
    return this.#publisher;
  }

  get subscriber(): IetfSubscriber | undefined {
    return this.#subscriber;
  }

  /**
   * LARGEST_OBJECT (0x09) on 17-20 is two bare varints in upstream's Rust and length-prefixed in
   * `@moq/net` (`WIRE.md` 5.2): write and read the form of the peer's implementation.
   */
  codec(): CodecOptions {
    return { location: locationStyleFor(this.#implementation) };
  }

  /** Whether SUBSCRIBE_OK should carry LARGEST_OBJECT to this peer (see {@link carriesLargest}). */
  get readsLargest(): boolean {
    return carriesLargest(this.draft);
  }

  fail(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    peerFault(this.log, "closing session: {reason}", { reason, code });
    this.transport.close({ code, reason }).catch(() => {});
  }

  async sendGoaway(uri: string): Promise<boolean> {
    if (!this.#publisher || this.#closing) return false;
    const goaway: ControlMessage = { type: "goaway", uri };
    try {
      if (this.#mux) await this.#mux.send(goaway);
      else if (this.#setupStream) {
        await this.#setupStream.write(encodeMessage(goaway, this.draft, this.codec()));
      } else return false;
      return !this.#closing;
    } catch {
      return false;
    }
  }

  async run(): Promise<void> {
    const accepting = this.#acceptUni().catch((e) =>
      this.#streamFailed("unidirectional accept", e)
    );
    let setup: SetupParameters;
    try {
      setup = await this.#negotiate();
      await this.#begin(setup);
    } catch (e) {
      this.fail(
        e instanceof ProtocolError ? e.code : SessionCode.ProtocolViolation,
        `setup failed: ${e instanceof Error ? e.message : e}`,
      );
      await Promise.allSettled([accepting]);
      return;
    }
    this.log.info("session {version} root {root}", {
      version: this.versionName,
      root: this.root || "/",
      kind: this.transport.kind,
    });
    const tasks = [
      accepting,
      this.#acceptBidi(),
      this.#subscriber!.receiveDatagrams().catch((e) => this.#streamFailed("datagrams", e)),
    ];
    if (this.#mux) tasks.push(this.#runControl(this.#mux));
    await aborted(this.signal);
    this.#subscriber?.close();
    await Promise.allSettled(tasks);
    this.log.info("session closed");
  }

  // ---- Setup ------------------------------------------------------------------------------------

  #negotiate(): Promise<SetupParameters> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) =>
      timer = setTimeout(
        () => reject(new ProtocolError("SETUP timed out", SessionCode.Timeout)),
        SETUP_TIMEOUT_MS,
      )
    );
    const ended = this.transport.closed.then(() => {
      throw new ProtocolError("the session ended during SETUP", SessionCode.Cancel);
    });
    ended.catch(() => {});
    const exchange = hasSetupStream(this.draft) ? this.#setupStreams() : this.#controlSetup();
    return Promise.race([exchange, ended, timeout]).finally(() => clearTimeout(timer));
  }

  /** 14-16: CLIENT_SETUP on the first bidirectional stream, SERVER_SETUP back on it. */
  async #controlSetup(): Promise<SetupParameters> {
    const draft = this.draft;
    const { stream, reader, setup } = this.#options.preread
      ? fromLegacy(this.#options.preread, draft)
      : await readClientSetup(this.transport, draft);
    if (hasSetupVersions(draft) && !setup.versions.includes(draftCode(draft))) {
      throw new ProtocolError(
        `CLIENT_SETUP does not offer ${draftName(draft)}`,
        SessionCode.Version,
      );
    }
    this.#implementation = setup.parameters.implementation;
    this.#peerMaxRequestId = setup.parameters.maxRequestId ?? 0n;
    const mux = new ControlMux(stream, reader, draft, () => this.codec(), {
      window: this.#ctx.limits.maxSubscriptions + this.#ctx.limits.maxAnnounceRequests,
      peerParity: 0n,
    });
    await mux.send({
      type: "server_setup",
      version: hasSetupVersions(draft) ? draftCode(draft) : 0,
      parameters: {
        maxRequestId: mux.maxRequestId,
        implementation: IMPLEMENTATION,
        unknown: [],
      },
    });
    this.#mux = mux;
    return setup.parameters;
  }

  /** 17+: our SETUP on a stream of ours (kept open), the peer's on one of its own. */
  async #setupStreams(): Promise<SetupParameters> {
    const ours = encodeMessage({
      type: "setup",
      parameters: { implementation: IMPLEMENTATION, unknown: [] },
    }, this.draft);
    const stream = await this.transport.openUni({ priority: CONTROL_PRIORITY, initial: ours });
    this.#setupStream = new SerialWriter(stream);
    const setup = await this.#peerSetup.promise;
    this.#implementation = setup.implementation;
    return setup;
  }

  /** The setup is done: the session's root and view are known (raw QUIC: from SETUP's path). */
  async #begin(setup: SetupParameters): Promise<void> {
    const url = sessionUrl(this.transport, setup.path);
    this.root = rootOf(url);
    const scope = await settleScope(this, this.#ctx, url, this.#options.admission);
    this.#view = scope.view;
    this.root = scope.root;
    this.#publisher = new IetfPublisher(this);
    this.#subscriber = new IetfSubscriber(this);
  }

  // ---- Requests ---------------------------------------------------------------------------------

  /** Opens a request of ours (see {@link IetfPeer.request}). */
  async request(first: (requestId: bigint) => ControlMessage): Promise<RequestStream> {
    const id = await this.#allocateRequestId();
    const message = first(id);
    if (this.#mux) {
      const stream = this.#mux.open(
        id,
        message.type === "publish_namespace" ? message.namespace : undefined,
      );
      await this.#mux.send(message);
      return stream;
    }
    const bytes = encodeMessage(message, this.draft, this.codec());
    const stream = await this.transport.openBi({ priority: CONTROL_PRIORITY, initial: bytes });
    return new NativeRequest(
      stream,
      new MessageReader(stream.recv),
      this.draft,
      () => this.codec(),
    );
  }

  async #allocateRequestId(): Promise<bigint> {
    if (hasRequestIdFlowControl(this.draft)) {
      const deadline = Date.now() + REQUEST_ID_WAIT_MS;
      while (this.#nextRequestId >= this.#peerMaxRequestId) {
        if (Date.now() >= deadline || this.signal.aborted) {
          throw new ProtocolError("the peer allows no more requests", SessionCode.Cancel);
        }
        void this.#mux?.send({ type: "requests_blocked", maximum: this.#peerMaxRequestId });
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            this.#requestIdRaised = this.#requestIdRaised.filter((w) => w !== wake);
            resolve();
          };
          const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
          this.#requestIdRaised.push(wake);
        });
      }
    }
    const id = this.#nextRequestId;
    this.#nextRequestId += 2n;
    return id;
  }

  /** A request of the peer's, with its first message. */
  #dispatch(message: ControlMessage, stream: RequestStream): void {
    const serve = async () => {
      switch (message.type) {
        case "subscribe":
        case "subscribe_namespace":
        case "fetch":
        case "track_status":
          return await this.#publisher!.serve(message, stream);
        case "publish_namespace":
        case "publish":
          return await this.#subscriber!.serve(message, stream);
        default:
          throw new ProtocolError(`${message.type} does not open a request`);
      }
    };
    serve().catch((e) => {
      stream.cancel(StreamCode.Internal);
      this.#streamFailed(message.type, e);
    });
  }

  /** GOAWAY, MAX_REQUEST_ID, REQUESTS_BLOCKED. */
  #sessionMessage(message: ControlMessage): void {
    switch (message.type) {
      case "goaway":
        if (this.goawayReceived !== undefined) throw new ProtocolError("a second GOAWAY");
        this.goawayReceived = message.uri;
        this.log.info("peer sent GOAWAY {uri}", { uri: message.uri });
        return;
      case "max_request_id": {
        if (message.requestId < this.#peerMaxRequestId) {
          throw new ProtocolError("MAX_REQUEST_ID went down");
        }
        this.#peerMaxRequestId = message.requestId;
        const waiters = this.#requestIdRaised;
        this.#requestIdRaised = [];
        for (const wake of waiters) wake();
        return;
      }
      case "requests_blocked":
        // We raise the limit as the peer's requests end; nothing more to do.
        return;
    }
  }

  /** 14-16: the control stream until it ends, which ends the session. */
  async #runControl(mux: ControlMux): Promise<void> {
    try {
      await mux.run({
        request: (message, stream) => this.#dispatch(message, stream),
        session: (message) => this.#sessionMessage(message),
      });
      if (!this.#closing) this.fail(SessionCode.Cancel, "control stream closed");
    } catch (e) {
      this.#streamFailed("control stream", e);
      if (!this.#closing) this.fail(SessionCode.Cancel, "control stream failed");
    }
  }

  async #acceptBidi(): Promise<void> {
    for (
      let stream = await this.transport.acceptBi();
      stream;
      stream = await this.transport.acceptBi()
    ) {
      this.#handleBidi(stream).catch((e) => this.#streamFailed("bidirectional stream", e));
    }
  }

  /** 17+: a request stream; 16: a SUBSCRIBE_NAMESPACE stream; 14/15: none is expected. */
  async #handleBidi(stream: BiStream): Promise<void> {
    if (!hasRequestStreams(this.draft) && !hasNamespaceStream(this.draft)) {
      throw new ProtocolError("a bidirectional stream beside the control stream");
    }
    const reader = new MessageReader(stream.recv);
    const request = new NativeRequest(stream, reader, this.draft, () => this.codec());
    const first = await request.read();
    if (!first) return void stream.send.close().catch(() => {}); // gave up before asking
    if (!hasRequestStreams(this.draft) && first.type !== "subscribe_namespace") {
      throw new ProtocolError(`${first.type} on its own stream`);
    }
    this.#dispatch(first, request);
  }

  async #acceptUni(): Promise<void> {
    for (
      let stream = await this.transport.acceptUni();
      stream;
      stream = await this.transport.acceptUni()
    ) {
      const recv = stream;
      this.#handleUni(recv).catch((e) => this.#streamFailed("unidirectional stream", e, recv));
    }
  }

  async #handleUni(stream: RecvStream): Promise<void> {
    const reader = new MessageReader(stream);
    const draft = this.draft;
    const kind = await reader.read((b, o) => decodeUniStreamType(b, o, draft));
    if (kind === null) return;
    switch (kind.kind) {
      case "setup":
        return await this.#receiveSetup(reader);
      case "padding":
        return await reader.drain();
      case "fetch":
        // We never FETCH: nothing can be waiting for this stream.
        return stream.stop(StreamCode.Cancel);
      case "subgroup":
        // Groups before the setup completed cannot belong to a subscription of ours.
        if (!this.#subscriber) return stream.stop(StreamCode.Cancel);
        return await this.#subscriber.receiveSubgroup(stream, reader, kind.flags);
    }
  }

  /** 17+: the peer's SETUP stream (its type read); it stays open and may carry a GOAWAY. */
  async #receiveSetup(reader: MessageReader): Promise<void> {
    if (this.#peerSetupSeen) return this.fail(SessionCode.ProtocolViolation, "a second SETUP");
    this.#peerSetupSeen = true;
    const draft = this.draft;
    const body = (b: Uint8Array, o: number) => decodeSetupAfterType(b, o, draft);
    let setup;
    try {
      setup = await reader.expect(body, "SETUP");
    } catch (e) {
      if (e instanceof ProtocolError) return this.fail(e.code, `setup failed: ${e.message}`);
      throw e;
    }
    if (setup.type !== "setup") return this.fail(SessionCode.ProtocolViolation, "not SETUP");
    this.#peerSetup.resolve(setup.parameters);
    // Then at most a GOAWAY; the stream's end before the session's is nothing to act on.
    const next = await reader.read((b, o) => decodeMessage(b, o, draft, this.codec()));
    if (next) this.#sessionMessage(next);
  }

  #streamFailed(what: string, e: unknown, uni?: RecvStream): void {
    if (e instanceof ProtocolError) {
      if (uni) {
        // Bad bytes on a data stream lose that group only.
        this.log.debug("{what}: {error}", { what, error: e.message });
        return uni.stop(e.streamCode);
      }
      return this.fail(e.code, e.message);
    }
    if (e instanceof StreamError || this.#closing || this.signal.aborted) return;
    this.log.error("{what} failed: {error}", {
      what,
      error: e instanceof Error ? e.stack ?? e.message : String(e),
    });
  }
}

/** CLIENT_SETUP on the first bidirectional stream (15, 16, or 14 through `moq-00`). */
async function readClientSetup(
  transport: Session,
  draft: Draft,
): Promise<{ stream: BiStream; reader: MessageReader; setup: ClientSetup }> {
  const stream = await transport.acceptBi();
  if (!stream) throw new ProtocolError("the session ended before CLIENT_SETUP");
  const reader = new MessageReader(stream.recv);
  const setup = await reader.expect((b, o) => decodeMessage(b, o, draft), "CLIENT_SETUP");
  if (setup.type !== "client_setup") {
    throw new ProtocolError(`the first message is ${setup.type}, not CLIENT_SETUP`);
  }
  return { stream, reader, setup };
}

/** Draft 14 through `moql`: the CLIENT_SETUP the relay read, its parameters decoded for 14. */
function fromLegacy(
  legacy: LegacySetup,
  draft: Draft,
): { stream: BiStream; reader: MessageReader; setup: ClientSetup } {
  return {
    stream: legacy.stream,
    reader: legacy.reader,
    setup: {
      type: "client_setup",
      versions: legacy.setup.versions,
      parameters: decodeSetupParameterBlock(legacy.setup.parameters, draft),
    },
  };
}

/**
 * Where SUBSCRIBE_OK carries LARGEST_OBJECT: on draft 14 (inline, which every implementation
 * reads) and on 20 (in the form of the peer's implementation, see `codec()`). Not on 15-19,
 * where each implementation we meet reads it differently or not at all: `moq-net` 0.1.18 (inside
 * upstream's `moq-clock` 0.10.21) refuses any SUBSCRIBE_OK parameter but GROUP_ORDER
 * (InvalidValue, `ietf/subscribe.rs:223`), 0.3.18 and `@moq/net` disagree on its form on 17-19
 * (`WIRE.md` 5.2), and both name themselves `moq-lite-rs` / `moq-lite-js` alike across versions.
 * None of them needs it there: a relay starts a subscription at its latest group, whole.
 */
function carriesLargest(draft: Draft): boolean {
  return draft === 14 || draft === 20;
}
