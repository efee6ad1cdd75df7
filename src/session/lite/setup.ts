/**
 * Negotiating a session's version, and the setup exchange the version needs:
 * - lite-01/02 (`moql` or no protocol): CLIENT_SETUP / SERVER_SETUP on the first bidirectional
 *   stream, which then stays open for the session's life;
 * - lite-03/04: the ALPN or subprotocol is the version, nothing to exchange;
 * - lite-05+: each side sends one SETUP on its own unidirectional stream (hop id; from a client
 *   on raw QUIC, the path and query a URL would carry).
 *
 * @module
 */
import {
  chooseLegacyVersion,
  type ClientSetup,
  decodeBidiType,
  decodeClientSetup,
  decodeServerSetup,
  decodeSetup,
  encodeClientSetup,
  encodeServerSetup,
  encodeSetup,
  hasSetupStream,
  LEGACY_VERSIONS,
  ProtocolError,
  SessionCode,
  setupInfo,
  setupParameters,
  UniType,
  Version,
  versionForAlpn,
} from "../../codec/lite/mod.ts";
import type { BiStream, Session } from "../../transport/session.ts";
import { CONTROL_PRIORITY } from "./peer.ts";
import { MessageReader } from "../reader.ts";

import { SETUP_TIMEOUT_MS } from "../context.ts";
export { SETUP_TIMEOUT_MS };

/** Reads the first stream before any version is chosen: every legacy version has CLIENT_SETUP. */
const LEGACY_READER = Version.Lite02;

/** What the setup told us of the peer. */
export interface Negotiated {
  version: Version;
  /** The peer's hop id from its lite-05+ SETUP. */
  peerHop?: bigint;
  /** From a lite-05+ client on raw QUIC: the path and query its SETUP carried. */
  path?: string;
  /** lite-01/02: the session stream, whose end ends the session. */
  sessionStream?: { stream: BiStream; reader: MessageReader };
}

export interface SetupOptions {
  role: "server" | "client";
  /** Our hop id, sent in a lite-05+ SETUP. */
  hop: bigint;
  /** Client role on raw QUIC (lite-05+): the path (and query) to send in SETUP. */
  path?: string;
  /** Client role with `moql`: the versions to offer (default lite-02, lite-01). */
  legacyVersions?: readonly Version[];
  /** Server role with `moql`: the CLIENT_SETUP the relay already read to pick the family. */
  preread?: LegacySetup;
}

/** A legacy CLIENT_SETUP read from the first bidirectional stream, and that stream. */
export interface LegacySetup {
  stream: BiStream;
  reader: MessageReader;
  setup: ClientSetup;
}

/**
 * Server side, `moql` or no protocol: reads the first bidirectional stream's CLIENT_SETUP
 * (lite-01/02 and moq-transport draft 14 share its framing), so the relay can tell which family
 * the client chose before making its session. Throws a ProtocolError for anything else.
 */
export async function readLegacySetup(transport: Session): Promise<LegacySetup> {
  const stream = await transport.acceptBi();
  if (!stream) throw new ProtocolError("the session ended before SETUP");
  const reader = new MessageReader(stream.recv);
  const type = await reader.expect(
    (b, o) => decodeBidiType(b, LEGACY_READER, o),
    "stream type",
  );
  if (type !== "setup") throw new ProtocolError("the first stream is not CLIENT_SETUP");
  const setup = await reader.expect(decodeClientSetup, "CLIENT_SETUP");
  return { stream, reader, setup };
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

/**
 * The setup of one session. The session routes the peer's lite-05+ SETUP stream here
 * ({@link receive}) from its own stream dispatch, since that stream may come at any time.
 */
export class SetupExchange {
  readonly #transport: Session;
  readonly #options: SetupOptions;
  #peerSetup: ((info: ReturnType<typeof setupInfo>) => void) | undefined;
  readonly #peerSetupArrived: Promise<ReturnType<typeof setupInfo>>;
  #seen = false;

  constructor(transport: Session, options: SetupOptions) {
    this.#transport = transport;
    this.#options = options;
    this.#peerSetupArrived = new Promise((resolve) => this.#peerSetup = resolve);
  }

  /**
   * Picks the version and runs its setup exchange; throws a ProtocolError if it fails, takes
   * longer than SETUP_TIMEOUT_MS (opening our own SETUP stream included: a peer granting no
   * stream credit must not hold a session), or the session ends first.
   */
  negotiate(): Promise<Negotiated> {
    const ended = this.#transport.closed.then(() => {
      throw new ProtocolError("the session ended during SETUP", SessionCode.Cancel);
    });
    ended.catch(() => {});
    return withTimeout(Promise.race([this.#negotiate(), ended]), SETUP_TIMEOUT_MS, "SETUP");
  }

  async #negotiate(): Promise<Negotiated> {
    const chosen = versionForAlpn(this.#transport.protocol);
    if (chosen === undefined) {
      throw new ProtocolError(`unknown protocol ${this.#transport.protocol}`, SessionCode.Version);
    }
    if (chosen === "legacy") return await this.#legacy();
    if (!hasSetupStream(chosen)) return { version: chosen };
    const stream = await this.#transport.openUni({
      priority: CONTROL_PRIORITY,
      initial: Uint8Array.of(UniType.Setup),
    });
    const sendPath = this.#options.role === "client" && this.#transport.kind === "quic";
    await stream.write(encodeSetup(setupParameters({
      hop: this.#options.hop,
      path: sendPath ? this.#options.path : undefined,
    })));
    await stream.close();
    const info = await this.#peerSetupArrived;
    // Raw QUIC has no URL: a client's SETUP path (and query) takes its place.
    const takesPath = this.#options.role === "server" && this.#transport.kind === "quic";
    return { version: chosen, peerHop: info.hop, path: takesPath ? info.path : undefined };
  }

  /** The peer's SETUP stream (lite-05+), after its type byte. A second one is a violation. */
  async receive(reader: MessageReader): Promise<void> {
    if (this.#seen) throw new ProtocolError("a second SETUP stream");
    this.#seen = true;
    const setup = await reader.expect(decodeSetup, "SETUP");
    this.#peerSetup?.(setupInfo(setup));
  }

  /** lite-01/02: CLIENT_SETUP / SERVER_SETUP on the first bidirectional stream, kept open. */
  async #legacy(): Promise<Negotiated> {
    const transport = this.#transport;
    if (this.#options.role === "client") {
      const stream = await transport.openBi({ priority: CONTROL_PRIORITY });
      await stream.send.write(encodeClientSetup({
        versions: [...(this.#options.legacyVersions ?? LEGACY_VERSIONS)],
        parameters: Uint8Array.of(0),
      }));
      const reader = new MessageReader(stream.recv);
      const answer = await reader.expect(decodeServerSetup, "SERVER_SETUP");
      const version = chooseLegacyVersion([answer.version]);
      if (!version) {
        throw new ProtocolError(
          `the server chose unsupported version ${answer.version}`,
          SessionCode.Version,
        );
      }
      return { version, sessionStream: { stream, reader } };
    }
    const { stream, reader, setup } = this.#options.preread ?? await readLegacySetup(transport);
    const version = chooseLegacyVersion(setup.versions);
    if (!version) {
      throw new ProtocolError(
        `no common version in ${setup.versions.map((v) => v.toString(16)).join(",")}`,
        SessionCode.Version,
      );
    }
    await stream.send.write(encodeServerSetup({ version, parameters: Uint8Array.of(0) }));
    return { version, sessionStream: { stream, reader } };
  }
}
