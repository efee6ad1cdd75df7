/**
 * Runs upstream's own `@moq/net` 0.3.4 on BOTH ends of an in-memory connection and records
 * every byte each side writes, per stream, so codec tests can decode the real bytes and check
 * that re-encoding reproduces them.
 *
 * The client end is `Connection.connect(url, { transport })`, the server end is
 * `Connection.accept(transport, url, props)`. The scenario (see {@link captureMoqNet}) walks
 * through everything @moq/net's public API makes it put on the wire for the negotiated version.
 *
 * @module
 */
import { Broadcast, Connection, Path, Time, type Track } from "@moq/net";
import {
  createMemoryWebTransportPair,
  type DirectionEnd,
  type MemoryStats,
  type MemoryWebTransportPair,
  type Side,
} from "./memory_webtransport.ts";

export type { DirectionEnd, Side } from "./memory_webtransport.ts";

/** One stream of the session, with everything each side wrote on it. */
export interface CapturedStream {
  /** Open order across the session (both sides), starting at 0. */
  index: number;
  kind: "bidi" | "uni";
  /** Who opened it. A uni stream only carries bytes in the opener's direction. */
  opener: Side;
  /**
   * True when the harness, not @moq/net, opened the stream and wrote the opener's bytes (used
   * to make @moq/net's publisher answer a PROBE stream on lite-03/04, which @moq/net itself
   * never opens there). The other direction is still @moq/net's own output.
   */
  injected: boolean;
  clientToServer: Uint8Array;
  serverToClient: Uint8Array;
  /** How the client's direction ended. */
  clientToServerEnd: DirectionEnd;
  /** How the server's direction ended. */
  serverToClientEnd: DirectionEnd;
}

/** One datagram of the session. */
export interface CapturedDatagram {
  /** Send order across the session, starting at 0. */
  index: number;
  from: Side;
  bytes: Uint8Array;
}

/** A console line @moq/net printed during the capture (it logs through `console.*`). */
export interface CapturedLog {
  level: "debug" | "info" | "log" | "warn" | "error";
  message: string;
}

/** Everything recorded during one {@link captureMoqNet} run. */
export interface Transcript {
  /** The WebTransport subprotocol both ends reported (`""` = none negotiated). */
  protocol: string;
  /** The version @moq/net's client reports after the handshake, e.g. `"moq-lite-02"`. */
  version: string;
  /** The version @moq/net's server reports (always equal to `version` so far). */
  serverVersion: string;
  /** The per-connection origin (hop) ids @moq/net drew, when the connection exposes them. */
  origins: { client?: bigint; server?: bigint };
  streams: CapturedStream[];
  datagrams: CapturedDatagram[];
  /** Who closed the session and how. */
  close?: { by: Side; closeCode: number; reason: string };
  /** What the scenario exercised and what it skipped for this version (human-readable). */
  notes: string[];
  /** Console output of both @moq/net instances (not recorded in fixtures). */
  logs: CapturedLog[];
}

/** Options for {@link captureMoqNet}. */
export interface CaptureOptions {
  /**
   * Passed as `accept(transport, url, { version })`: on the `moql`/`""` path it overrides the
   * server's choice in SERVER_SETUP. `0xff0dad01` makes the pair speak moq-lite-01.
   */
  acceptVersion?: number;
  /**
   * What both transports report from `getStats()`. Defaults to {@link DEFAULT_STATS}, which
   * makes @moq/net advertise `Probe = Report` in the lite-05 SETUP and send PROBE messages
   * (lite-03+). `false` leaves `getStats` undefined (then the publisher closes every PROBE
   * stream at once and lite-05 opens none).
   */
  stats?: MemoryStats | false;
  /**
   * Replace @moq/net's random per-connection origin ids with {@link DETERMINISTIC_ORIGINS}
   * (the first connection constructed gets `[0]`, the second `[1]`), so transcripts are
   * byte-for-byte reproducible. Implemented by temporarily wrapping `crypto.getRandomValues`
   * (only for `BigUint64Array(1)` requests, which is how `randomOrigin()` asks) until both
   * connections exist. Defaults to true.
   */
  deterministicOrigins?: boolean;
  /** Pass @moq/net's console output through as well as recording it. Defaults to false. */
  echoLogs?: boolean;
  /** Deadline for each step of the scenario, in ms. Defaults to 2000. */
  stepTimeoutMs?: number;
}

/** The protocols {@link captureMoqNet} is known to work with, in upstream preference order. */
export const CAPTURE_PROTOCOLS: readonly string[] = [
  "moq-lite-05",
  "moq-lite-04",
  "moq-lite-03",
  "moql",
  "",
];

/** The default `getStats()` values: 2.5 Mbit/s, 25 ms RTT. */
export const DEFAULT_STATS: Readonly<MemoryStats> = {
  estimatedSendRate: 2_500_000,
  smoothedRtt: 25,
};

/**
 * The origin ids handed out when `deterministicOrigins` is on, in construction order. On
 * moq-lite-03/04/05 the client's connection is constructed first; on `moql`/`""` the server's
 * is (it is built while the client still waits for SERVER_SETUP), but lite-01/02 never put an
 * origin on the wire. Both are 53-bit values, like real ones, so they take 8-byte varints.
 */
export const DETERMINISTIC_ORIGINS: readonly bigint[] = [0x1c11e47c11e47an, 0x15e4e45e4e45ebn];

const URL_ = new URL("https://relay.test/anon");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Frames written by the client's `demo/bbb` track `video`: [payload, timestamp ms] per group. */
export const VIDEO_GROUPS: readonly (readonly (readonly [string, number])[])[] = [
  [["hello", 1000], ["world", 1033]],
  [["frame-1-0", 2000], ["frame-1-1", 2033], ["frame-1-2", 2066]],
];

/** Frames written by the server's `room/alice` track `audio`: [payload, timestamp µs]. */
export const AUDIO_GROUPS: readonly (readonly (readonly [string, number])[])[] = [
  [["alice-0-0", 20_000], ["alice-0-1", 40_000]],
  [["alice-1-0", 1_000_000], ["alice-1-1", 1_020_000], ["alice-1-2", 1_040_000]],
];

/** The datagram payload sent on `video` (lite-05 only), and its timestamp in ms. */
export const VIDEO_DATAGRAM: readonly [string, number] = ["dgram-2", 3000];

function liteNumber(version: string): number {
  const m = /^moq-lite-(\d\d)/.exec(version);
  if (!m) throw new Error(`not a moq-lite version: ${version}`);
  return Number(m[1]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Let every promise chain run to completion: the memory transport only uses promise jobs. */
async function quiesce(): Promise<void> {
  for (let i = 0; i < 3; i++) await sleep(0);
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`capture step timed out after ${ms}ms: ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`capture step timed out after ${ms}ms: ${what}`);
    await sleep(1);
  }
}

function originOf(conn: unknown): bigint | undefined {
  if (typeof conn === "object" && conn !== null && "origin" in conn) {
    const origin = conn.origin;
    if (typeof origin === "bigint") return origin;
  }
  return undefined;
}

/** Route @moq/net's console output into `logs` until the returned function is called. */
function captureConsole(logs: CapturedLog[], echo: boolean): () => void {
  const levels = ["debug", "info", "log", "warn", "error"] as const;
  const saved = levels.map((level) => [level, console[level]] as const);
  for (const [level, original] of saved) {
    console[level] = (...args: unknown[]) => {
      const message = args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ");
      logs.push({ level, message });
      if (echo) original.apply(console, args);
    };
  }
  return () => {
    for (const [level, original] of saved) console[level] = original;
  };
}

/** Make `randomOrigin()` deterministic until the returned function is called. */
function patchOrigins(): () => void {
  const original = crypto.getRandomValues;
  let next = 0;
  const patched = <T extends ArrayBufferView | null>(array: T): T => {
    if (
      array instanceof BigUint64Array && array.length === 1 && next < DETERMINISTIC_ORIGINS.length
    ) {
      array[0] = DETERMINISTIC_ORIGINS[next++];
      return array;
    }
    return original.call(crypto, array as ArrayBufferView) as unknown as T;
  };
  Object.defineProperty(crypto, "getRandomValues", {
    value: patched,
    configurable: true,
    writable: true,
  });
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    delete (crypto as { getRandomValues?: unknown }).getRandomValues;
    if (crypto.getRandomValues !== original) {
      Object.defineProperty(crypto, "getRandomValues", {
        value: original,
        configurable: true,
        writable: true,
      });
    }
  };
}

function writeGroups(
  track: Track.Producer,
  groups: readonly (readonly (readonly [string, number])[])[],
  stamp: (t: number) => Time.Timestamp,
): void {
  for (const frames of groups) {
    const group = track.appendGroup();
    for (const [payload, t] of frames) {
      group.writeFrame({ payload: encoder.encode(payload), timestamp: stamp(t) });
    }
    group.close();
  }
}

type GroupConsumer = Awaited<ReturnType<Track.Subscriber["recvGroup"]>>;

async function readFrames(group: NonNullable<GroupConsumer>): Promise<string[]> {
  const frames: string[] = [];
  for (;;) {
    const frame = await group.readFrame();
    if (!frame) return frames;
    frames.push(decoder.decode(frame.payload));
  }
}

async function readGroups(sub: Track.Subscriber, count: number): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < count; i++) {
    const group = await sub.recvGroup();
    if (!group) throw new Error(`track ${sub.name} ended after ${i} groups`);
    out.push(await readFrames(group));
  }
  return out;
}

function expectFrames(
  got: string[][],
  want: readonly (readonly (readonly [string, number])[])[],
  what: string,
): void {
  const expected = want.map((g) => g.map(([p]) => p));
  if (JSON.stringify(got) !== JSON.stringify(expected)) {
    throw new Error(
      `${what}: received ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`,
    );
  }
}

async function expectAnnounce(
  announced: ReturnType<Connection.Established["announced"]>,
  path: string,
  active: boolean,
  ms: number,
): Promise<void> {
  const event = await within(announced.next(), ms, `announce ${path} active=${active}`);
  if (!event || event.path !== path || event.active !== active) {
    throw new Error(`expected announce ${path} active=${active}, got ${JSON.stringify(event)}`);
  }
}

/** Open a Probe stream from the client end by hand and read the server's first PROBE. */
async function injectProbe(pair: MemoryWebTransportPair): Promise<Uint8Array> {
  const stream = await pair.injectBidirectionalStream("client");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  await writer.write(new Uint8Array([0x04]));
  let received = new Uint8Array(0);
  // One PROBE message: a one-byte size (always < 64 here) and that many bytes.
  while (received.byteLength === 0 || received.byteLength < 1 + received[0]) {
    const { value, done } = await reader.read();
    if (done) throw new Error("probe stream ended before a PROBE arrived");
    const next = new Uint8Array(received.byteLength + value.byteLength);
    next.set(received);
    next.set(value, received.byteLength);
    received = next;
  }
  await writer.close();
  // The publisher ends its probe loop on our FIN and FINs back.
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
  return received;
}

/** The scenario proper; both connections are up. Returns notes on what it did. */
async function runScenario(
  client: Connection.Established,
  server: Connection.Established,
  pair: MemoryWebTransportPair,
  probing: boolean,
  ms: number,
): Promise<string[]> {
  const notes: string[] = [];
  const lite = liteNumber(client.version);
  const hasUpdate = lite >= 3;
  const hasProbe = lite >= 3;
  const lite05 = lite >= 5;

  if (lite05 && probing) {
    // Each side subscribes to the other's PROBE reports once the peer's SETUP says Probe >=
    // Report; the first report goes out after the publisher's 100 ms probe tick. Waiting for
    // both keeps the transcript stable.
    await until(
      () =>
        client.probe.peek().estimatedRecvRate !== undefined &&
        server.probe.peek().estimatedRecvRate !== undefined,
      ms,
      "PROBE reports on both sides",
    );
    notes.push("PROBE: each side opened a probe stream and received one PROBE report");
  } else if (hasProbe && probing) {
    // @moq/net 0.3.4's subscriber gates its PROBE stream on the peer's lite-05 SETUP, which
    // never comes on lite-03/04, so neither side opens one. To still record its publisher's
    // PROBE encoding, the harness opens one by hand on the client's behalf (`04`, no message),
    // waits for the server's first report, then FINs.
    const report = await within(injectProbe(pair), ms, "PROBE report on an injected stream");
    notes.push(
      `PROBE: @moq/net opens none on lite-0${lite}; the harness opened one (injected) and ` +
        `the server's publisher answered ${report.byteLength} bytes`,
    );
  }

  // --- Phase A: the client publishes demo/bbb (track video); the server discovers it. ---
  const bbb = new Broadcast.Producer();
  const video = bbb.createTrack("video", {
    priority: 7,
    ordered: true,
    latencyMax: 5000,
    timescale: Time.Timescale.MILLI,
  });
  client.publish(Path.from("demo/bbb"), bbb);
  await quiesce();

  // Published before the interest arrives, so it is part of the initial set.
  const serverAnnounced = server.announced(Path.from("demo"));
  await expectAnnounce(serverAnnounced, "bbb", true, ms);
  notes.push("ANNOUNCE: server announced(demo) found bbb in the initial set");

  const remoteBbb = server.consume(Path.join(Path.from("demo"), Path.from("bbb")));
  const videoSub = remoteBbb.subscribe("video", { priority: 2, ordered: false, latencyMax: 500 });
  await until(() => video.used.peek(), ms, "publisher sees the video subscription");
  await quiesce();

  writeGroups(video, VIDEO_GROUPS, (t) => Time.Timestamp.fromMillis(t));
  const videoFrames = await within(readGroups(videoSub, VIDEO_GROUPS.length), ms, "video groups");
  expectFrames(videoFrames, VIDEO_GROUPS, "video");
  await quiesce();
  notes.push(`GROUP: server received ${VIDEO_GROUPS.length} video groups`);

  if (hasUpdate) {
    videoSub.update({ priority: 5, ordered: true, latencyMax: 1000, endGroup: 10 });
    await until(
      () => video.subscription.peek()?.priority === 5,
      ms,
      "publisher sees SUBSCRIBE_UPDATE",
    );
    await quiesce();
    notes.push("SUBSCRIBE_UPDATE: priority 5, ordered, max latency 1000 ms, end group 10");
  } else {
    notes.push("SUBSCRIBE_UPDATE: not on the wire before lite-03 (skipped)");
  }

  if (lite05) {
    const [payload, ms_] = VIDEO_DATAGRAM;
    video.appendDatagram(Time.Timestamp.fromMillis(ms_), encoder.encode(payload));
    const datagram = await within(videoSub.recvDatagram(), ms, "video datagram");
    if (!datagram || decoder.decode(datagram.payload) !== payload) {
      throw new Error(`datagram: got ${datagram && decoder.decode(datagram.payload)}`);
    }
    notes.push("DATAGRAM: one video datagram client -> server");

    const info = await within(remoteBbb.track("video").info(), ms, "video TRACK_INFO");
    if (info.priority !== 7 || info.timescale !== Time.Timescale.MILLI) {
      throw new Error(`TRACK_INFO mismatch: ${JSON.stringify(info)}`);
    }
    notes.push("TRACK: standalone track info() request for video");

    const fetched = await within(remoteBbb.track("video").fetchGroup(0), ms, "FETCH group 0");
    const fetchedFrames = await within(readFrames(fetched), ms, "FETCH frames");
    expectFrames([fetchedFrames], [VIDEO_GROUPS[0]], "fetch");
    await quiesce();
    notes.push("FETCH: server fetched video group 0 (preceded by its own TRACK stream)");
  } else {
    notes.push("DATAGRAM, TRACK, FETCH: lite-05+ only; @moq/net refuses them locally (skipped)");
  }

  // The publisher ends the track: the subscription finishes from the publisher's side.
  video.close();
  await within(Promise.resolve(videoSub.closed), ms, "video subscription end");
  await quiesce();
  notes.push("publisher closed track video (subscription ended by the publisher)");

  // Unannounce.
  bbb.close();
  await expectAnnounce(serverAnnounced, "bbb", false, ms);
  await quiesce();
  notes.push("ANNOUNCE ended: client closed demo/bbb");
  remoteBbb.close();
  serverAnnounced.close();
  await quiesce();

  // --- Phase B: the server publishes room/alice (track audio); the client discovers it. ---
  // The interest goes out first (empty prefix), so room/alice arrives as a live update.
  const clientAnnounced = client.announced();
  await until(
    () =>
      pair.streams().some((s) =>
        s.opener === "client" && s.kind === "bidi" && s.clientToServer.bytes[0] === 0x01
      ),
    ms,
    "client announce interest on the wire",
  );
  await quiesce();

  const alice = new Broadcast.Producer();
  const audio = alice.createTrack("audio", {
    priority: 1,
    ordered: false,
    latencyMax: 2000,
    timescale: Time.Timescale.MICRO,
  });
  server.publish(Path.from("room/alice"), alice);
  await expectAnnounce(clientAnnounced, "room/alice", true, ms);
  notes.push("ANNOUNCE: client announced('') saw room/alice as a live update");

  const remoteAlice = client.consume(Path.from("room/alice"));
  const audioSub = remoteAlice.subscribe("audio", {
    priority: 1,
    ordered: true,
    latencyMax: 2000,
    startGroup: 0,
  });
  await until(() => audio.used.peek(), ms, "publisher sees the audio subscription");
  await quiesce();

  writeGroups(audio, AUDIO_GROUPS, (t) => Time.Timestamp.fromMicros(t));
  const audioFrames = await within(readGroups(audioSub, AUDIO_GROUPS.length), ms, "audio groups");
  expectFrames(audioFrames, AUDIO_GROUPS, "audio");
  await quiesce();
  notes.push(`GROUP: client received ${AUDIO_GROUPS.length} audio groups`);

  // The subscriber cancels.
  audioSub.close();
  await until(() => !audio.used.peek(), ms, "publisher sees the audio subscription cancelled");
  await quiesce();
  notes.push("subscriber closed its audio subscription (cancel)");

  alice.close();
  await expectAnnounce(clientAnnounced, "room/alice", false, ms);
  await quiesce();
  notes.push("ANNOUNCE ended: server closed room/alice");
  audio.close();
  remoteAlice.close();
  clientAnnounced.close();
  await quiesce();

  return notes;
}

/**
 * Connect @moq/net to itself over an in-memory transport negotiated as `protocol`
 * (`"moq-lite-05"`, `"moq-lite-04"`, `"moq-lite-03"`, `"moql"` or `""`), run the scenario and
 * return the transcript.
 *
 * Scenario: handshake; (lite-05) wait for a PROBE report each way, (lite-03/04) the harness
 * injects one Probe stream for the server to answer; client publishes `demo/bbb` with track
 * `video`; server `announced("demo")` sees it, subscribes (priority 2, max latency 500 ms) and
 * receives two groups (`hello`,`world` / `frame-1-0..2`); (lite-03+) SUBSCRIBE_UPDATE
 * (priority 5, ordered, 1000 ms, end group 10); (lite-05) a datagram, a standalone TRACK info
 * request and a FETCH of group 0; the client closes the track (publisher-side end), then the
 * broadcast (ANNOUNCE ended);
 * client `announced("")` then the server publishes `room/alice` track `audio`; the client
 * subscribes (start group 0), receives two groups (`alice-0-*`, `alice-1-*`) and cancels;
 * server closes the broadcast (ANNOUNCE ended); client closes the connection.
 *
 * Leaves no timers or pending ops behind (waits out @moq/net's 100 ms probe tick).
 */
export async function captureMoqNet(
  protocol: string,
  options: CaptureOptions = {},
): Promise<Transcript> {
  const ms = options.stepTimeoutMs ?? 2000;
  const stats = options.stats === false ? undefined : (options.stats ?? DEFAULT_STATS);
  const pair = createMemoryWebTransportPair({ protocol, stats: stats && { ...stats } });
  const logs: CapturedLog[] = [];
  const restoreConsole = captureConsole(logs, options.echoLogs ?? false);
  const restoreOrigins = options.deterministicOrigins === false ? () => {} : patchOrigins();

  let client: Connection.Established | undefined;
  let server: Connection.Established | undefined;
  let notes: string[] = [];
  try {
    const acceptProps = options.acceptVersion === undefined
      ? undefined
      : { version: options.acceptVersion };
    const connecting = Connection.connect(URL_, { transport: pair.client.asWebTransport() });
    const accepting = Connection.accept(pair.server.asWebTransport(), URL_, acceptProps);
    // Whichever fails first, don't leave the other rejection unhandled.
    connecting.catch(() => {});
    accepting.catch(() => {});
    [client, server] = await within(Promise.all([connecting, accepting]), ms, "handshake");
    restoreOrigins();
    if (client.version !== server.version) {
      throw new Error(`version mismatch: client ${client.version}, server ${server.version}`);
    }

    notes = await runScenario(client, server, pair, stats !== undefined, ms);

    // Clean close from the client; the server follows when its transport reports closed.
    client.close();
    await within(server.closed, ms, "server sees the session closed");
    server.close();
    await quiesce();
  } finally {
    restoreOrigins();
    client?.close();
    server?.close();
    pair.close("client");
    // @moq/net's publisher-side probe loop (lite-03+, only with getStats) arms a 100 ms
    // setTimeout per tick and never clears it when the stream ends, so wait one tick out
    // before returning: otherwise Deno's op sanitizer reports the pending timers as leaks.
    const probed = stats !== undefined && client !== undefined && liteNumber(client.version) >= 3;
    await sleep(probed ? 150 : 0);
    await quiesce();
    restoreConsole();
  }

  if (!client || !server) throw new Error("unreachable: connections missing after capture");
  return {
    protocol,
    version: client.version,
    serverVersion: server.version,
    origins: { client: originOf(client), server: originOf(server) },
    streams: pair.streams().map((s) => ({
      index: s.index,
      kind: s.kind,
      opener: s.opener,
      injected: s.injected,
      clientToServer: s.clientToServer.bytes,
      serverToClient: s.serverToClient.bytes,
      clientToServerEnd: s.clientToServer.end,
      serverToClientEnd: s.serverToClient.end,
    })),
    datagrams: pair.datagrams().map((d) => ({ index: d.index, from: d.from, bytes: d.bytes })),
    close: pair.closeRecord,
    notes,
    logs,
  };
}

// ---------------------------------------------------------------------------------------------
// Fixture (JSON) form: hex strings, for tests/fixtures/moqnet/*.json.

/** Lowercase hex, bytes separated by single spaces (`"20 00 31"`); `""` for no bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Parse {@link toHex} output (whitespace is ignored). */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex: ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const BIDI_TYPES: Record<number, string> = {
  0x00: "Session (never sent by @moq/net)",
  0x01: "Announce",
  0x02: "Subscribe",
  0x03: "Fetch",
  0x04: "Probe",
  0x05: "Goaway",
  0x06: "Track",
  0x20: "ClientCompat (legacy SETUP; becomes the lite-01/02 session stream)",
};
const UNI_TYPES: Record<number, string> = { 0x00: "Group", 0x01: "Setup (lite-05+)" };

/** A label for a stream from its first byte (every stream type in use fits one byte). */
export function describeStream(
  stream: Pick<CapturedStream, "kind" | "opener" | "clientToServer" | "serverToClient">,
): string {
  const opened = stream.opener === "client" ? stream.clientToServer : stream.serverToClient;
  if (opened.byteLength === 0) return `${stream.kind} (opener wrote nothing)`;
  const type = opened[0];
  const names = stream.kind === "bidi" ? BIDI_TYPES : UNI_TYPES;
  return `${stream.kind} 0x${type.toString(16).padStart(2, "0")} ${names[type] ?? "unknown"}`;
}

/** The JSON shape of a fixture stream. */
export interface FixtureStream {
  index: number;
  kind: "bidi" | "uni";
  opener: Side;
  injected?: true;
  type: string;
  clientToServer: string;
  clientToServerEnd: DirectionEnd;
  serverToClient: string;
  serverToClientEnd: DirectionEnd;
}

/** The JSON shape of a fixture file. */
export interface Fixture {
  generator: string;
  protocol: string;
  acceptVersion?: string;
  version: string;
  origins: { client?: string; server?: string };
  close?: { by: Side; closeCode: number; reason: string };
  notes: string[];
  streams: FixtureStream[];
  datagrams: { index: number; from: Side; bytes: string }[];
}

function hexBig(v: bigint | undefined): string | undefined {
  return v === undefined ? undefined : `0x${v.toString(16)}`;
}

/** Convert a transcript to its fixture (JSON) form. */
export function toFixture(t: Transcript, acceptVersion?: number): Fixture {
  return {
    generator: "tests/tools/dump_moqnet.ts (@moq/net 0.3.4 on both ends, in-memory transport)",
    protocol: t.protocol,
    ...(acceptVersion === undefined ? {} : { acceptVersion: `0x${acceptVersion.toString(16)}` }),
    version: t.version,
    origins: { client: hexBig(t.origins.client), server: hexBig(t.origins.server) },
    close: t.close,
    notes: t.notes,
    streams: t.streams.map((s) => ({
      index: s.index,
      kind: s.kind,
      opener: s.opener,
      ...(s.injected ? { injected: true as const } : {}),
      type: describeStream(s),
      clientToServer: toHex(s.clientToServer),
      clientToServerEnd: s.clientToServerEnd,
      serverToClient: toHex(s.serverToClient),
      serverToClientEnd: s.serverToClientEnd,
    })),
    datagrams: t.datagrams.map((d) => ({ index: d.index, from: d.from, bytes: toHex(d.bytes) })),
  };
}

/** Convert a fixture back into a transcript (without logs). */
export function fromFixture(f: Fixture): Transcript {
  const big = (v: string | undefined) => (v === undefined ? undefined : BigInt(v));
  return {
    protocol: f.protocol,
    version: f.version,
    serverVersion: f.version,
    origins: { client: big(f.origins.client), server: big(f.origins.server) },
    streams: f.streams.map((s) => ({
      index: s.index,
      kind: s.kind,
      opener: s.opener,
      injected: s.injected === true,
      clientToServer: fromHex(s.clientToServer),
      serverToClient: fromHex(s.serverToClient),
      clientToServerEnd: s.clientToServerEnd,
      serverToClientEnd: s.serverToClientEnd,
    })),
    datagrams: f.datagrams.map((d) => ({ index: d.index, from: d.from, bytes: fromHex(d.bytes) })),
    close: f.close,
    notes: f.notes,
    logs: [],
  };
}

/** Fixture file name for a protocol: `none` for `""`, `+lite-0N` suffix for a forced version. */
export function fixtureName(protocol: string, acceptVersion?: number): string {
  const base = protocol === "" ? "none" : protocol;
  if (acceptVersion === undefined) return `${base}.json`;
  return `${base}+lite-${(acceptVersion & 0xff).toString(16).padStart(2, "0")}.json`;
}
