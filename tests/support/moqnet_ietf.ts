/**
 * Upstream's `@moq/net` 0.3.4 pinned to one moq-transport draft (14 to 20), for the IETF interop
 * tests; built on the moq-lite harness in `moqnet_client.ts` (same connect, publish, subscribe).
 *
 * ## How each draft is pinned over WebSocket (QMux)
 *
 * {@link connectIetf} builds the `@moq/qmux` client `Session` itself, offering one subprotocol
 * with `requireProtocol: true`, and hands the opened session to `Connection.connect(url,
 * { transport })` (no WebTransport/WebSocket race, no `/certificate.sha256` fetch). @moq/net
 * then reads the negotiated `protocol` (`connection/connect.js` `connectTransport`):
 *
 * - `qmux-01.moqt-17` .. `qmux-01.moqt-20`: the ALPN fixes the draft; each side sends SETUP
 *   (0x2F00) on a unidirectional stream. `qmux-01` works for every draft (`qmux-00.moqt-18` and
 *   later is refused by upstream); draft 19 must be offered explicitly (@moq/net's default offer
 *   leaves it out).
 * - `qmux-01.moqt-15` / `qmux-01.moqt-16`: legacy CLIENT_SETUP 0x20 / SERVER_SETUP 0x21 on the
 *   first bidirectional stream, no version list (the ALPN fixed it).
 * - draft 14: there is no ALPN @moq/net accepts for it (it refuses `moq-00`). With `moql`, `""`
 *   (a bare `protocols: []` offer) or no protocol it sends CLIENT_SETUP listing
 *   `[lite-02, lite-01, draft-14]`, and a server that takes the client's first choice (upstream's
 *   `server.rs`, our `chooseLegacyVersion`) answers lite-02. So draft 14 is reached by offering
 *   `qmux-01.moql` and wrapping the session with `offerOnlyDraft14` (`draft14_offer.ts`), which
 *   cuts that one list to `[0xff00000e]`; from there on it is @moq/net's own draft-14 code.
 *
 * `conn.version` then reads `moq-transport-NN`, which {@link connectIetf} asserts.
 *
 * ## How a draft is pinned over WebTransport (Chromium)
 *
 * `Connection.connect(url, { webtransport: { protocols: ["moqt-NN"] }, websocket: { enabled:
 * false } })`: `connectWebTransport` spreads the `webtransport` options over its own, so
 * `protocols` replaces the default list (`moq-lite-05/04/03`, `moql`, `moqt-20`..`moqt-15`), and
 * Chromium exposes the server's choice as `WebTransport.protocol`, which @moq/net reads as above.
 * `http://` URLs still get the `/certificate.sha256` pin. Draft 14 needs an explicit transport:
 * `new WebTransport(url, { protocols: ["moql"], serverCertificateHashes })` wrapped with
 * `offerOnlyDraft14`, passed as `{ transport }` (see `tests/ietf_chromium_test.ts`).
 *
 * ## Which relay
 *
 * Tests run against our relay, started in-process ({@link startIetfRelay}). For checking the
 * tests themselves against another relay by hand, set `IETF_TEST_RELAY=ws://127.0.0.1:PORT` (or
 * `http://`): every test then dials that relay instead (never set in CI). Paths are unique per
 * test, so one external relay serves a whole run. Upstream's Rust relay, for instance (our own
 * lite-06 client then dials the same port number over raw QUIC):
 *
 *   cargo install moq-relay@0.17.10
 *   moq-relay --listen 127.0.0.1:24443 --listen-tls-generate 127.0.0.1,localhost \
 *     --web-http-listen 127.0.0.1:24443 --auth-public '**'
 *   IETF_TEST_RELAY=ws://127.0.0.1:24443 deno test -A tests/ietf_moqnet_test.ts \
 *     tests/ietf_bridge_test.ts tests/ietf_chromium_test.ts
 *
 * @module
 */
import QmuxSession from "@moq/qmux";
import { offerOnlyDraft14 } from "./draft14_offer.ts";
import {
  connectMoq,
  type ConnectOptions,
  type MoqClient,
  publish,
  type Publisher,
  type ReceivedGroup,
  subscribe,
  type Subscription,
  waitForAnnounce,
  withTimeout,
} from "./moqnet_client.ts";
import { startRelay } from "./relay.ts";
import { until } from "./wait.ts";

export {
  connectMoq,
  type MoqClient,
  publish,
  type Publisher,
  type ReceivedGroup,
  subscribe,
  type Subscription,
  waitForAnnounce,
} from "./moqnet_client.ts";

// ---------------------------------------------------------------------------------------------
// Drafts.

export type Draft = 14 | 15 | 16 | 17 | 18 | 19 | 20;

/** Every draft the tests cover, oldest first. */
export const DRAFTS: readonly Draft[] = [14, 15, 16, 17, 18, 19, 20];

/** The application protocol offered for a draft (wrapped as `qmux-01.<it>` on WebSocket). */
export function protocolFor(draft: Draft): string {
  return draft === 14 ? "moql" : `moqt-${draft}`;
}

/** What `@moq/net` reports as `connection.version` on a draft. */
export function versionName(draft: Draft): string {
  return `moq-transport-${draft}`;
}

// ---------------------------------------------------------------------------------------------
// The relay under test.

/** A relay the tests dial: ours in-process, or the one named by `IETF_TEST_RELAY`. */
export interface TestRelay extends AsyncDisposable {
  /** `http://host:port` (no trailing slash); @moq/qmux dials it as `ws://`. */
  readonly origin: string;
  readonly hostname: string;
  readonly port: number;
  /** True when `IETF_TEST_RELAY` named it (so it is not ours to inspect). */
  readonly external: boolean;
  /** A URL on the relay for `connectIetf` / `connectMoq`. */
  url(path?: string): string;
  /** The SHA-256 fingerprint of its certificate, as served at `/certificate.sha256`. */
  fingerprint(): Promise<string>;
  close(): Promise<void>;
}

/** `IETF_TEST_RELAY`, normalised to an `http://host:port` origin, or undefined. */
export function externalRelay(): string | undefined {
  let value: string | undefined;
  try {
    value = Deno.env.get("IETF_TEST_RELAY");
  } catch {
    return undefined;
  }
  if (!value) return undefined;
  const url = new URL(value);
  url.protocol = url.protocol === "wss:" || url.protocol === "https:" ? "https:" : "http:";
  return url.origin;
}

/** Starts our relay in-process (port 0, generated certificate), unless `IETF_TEST_RELAY` is set. */
export async function startIetfRelay(args: string[] = []): Promise<TestRelay> {
  const external = externalRelay();
  const relay = external ? undefined : await startRelay(args);
  const origin = external ?? `http://127.0.0.1:${relay!.addr.port}`;
  const parsed = new URL(origin);
  let closing: Promise<void> | undefined;
  const close = () => closing ??= relay ? relay.close() : Promise.resolve();
  return {
    origin,
    hostname: parsed.hostname,
    port: Number(parsed.port),
    external: external !== undefined,
    url: (path = "/") => origin + (path.startsWith("/") ? path : `/${path}`),
    fingerprint: async () => (await (await fetch(`${origin}/certificate.sha256`)).text()).trim(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A path unique to this test run (an external relay may have seen other runs). */
export function uniquePath(name: string): string {
  return `${name}-${crypto.randomUUID().slice(0, 8)}`;
}

// ---------------------------------------------------------------------------------------------
// Connecting.

/**
 * Connects `@moq/net` to `url` over WebSocket (QMux) on `draft` only, and checks that it speaks
 * `moq-transport-<draft>` (throws otherwise: a relay that refuses the draft, or answers lite,
 * fails here).
 */
export function connectIetf(
  url: string,
  draft: Draft,
  options: Omit<ConnectOptions, "expectVersion" | "qmux" | "wrap"> = {},
): Promise<MoqClient> {
  return connectMoq(url, protocolFor(draft), {
    ...options,
    qmux: ["qmux-01"],
    expectVersion: versionName(draft),
    wrap: draft === 14 ? offerOnlyDraft14 : undefined,
  });
}

// ---------------------------------------------------------------------------------------------
// Payloads and checks.

const encoder = new TextEncoder();

/** Bytes that depend on every input, so a frame from another place never compares equal. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A frame larger than 64 KiB (a QMux frame and a u16 length cannot carry it whole). */
export const LARGE_FRAME = 100_000;

/**
 * The frames of group `g` of a stream named `tag`: `count` frames with known contents; in group
 * 1 frame 1 is empty and in group 2 frame 0 is {@link LARGE_FRAME} bytes (with `count >= 2` and
 * enough groups), every other frame a short text naming its tag, group and index.
 */
export function framesOf(tag: string, g: number, count = 4): Uint8Array[] {
  return Array.from({ length: count }, (_, f) => {
    if (g === 1 && f === 1) return new Uint8Array(0);
    if (g === 2 && f === 0) return pattern(LARGE_FRAME, g * 31 + tag.length);
    return encoder.encode(`${tag} g${g} f${f}`);
  });
}

/** A short description of a frame for assertion messages. */
function describe(frame: Uint8Array): string {
  if (frame.length <= 40) return JSON.stringify(new TextDecoder().decode(frame));
  return `${frame.length} bytes`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Throws unless `group` holds exactly `want`, frame by frame in order, byte for byte; `what`
 * names it in the message.
 */
export function expectWhole(group: ReceivedGroup, want: Uint8Array[], what: string): void {
  const got = group.frames;
  const problem = got.length !== want.length
    ? `${got.length} frames, expected ${want.length}`
    : got.findIndex((f, i) => !sameBytes(f, want[i]!)) >= 0
    ? (() => {
      const i = got.findIndex((f, i) => !sameBytes(f, want[i]!));
      return `frame ${i} is ${describe(got[i]!)}, expected ${describe(want[i]!)}`;
    })()
    : undefined;
  if (problem) {
    throw new Error(
      `${what}: group ${group.sequence}: ${problem} (got [${got.map(describe).join(", ")}])`,
    );
  }
}

/** Throws unless the sequences go up by one from the first (no group lost, none repeated). */
export function expectContiguous(groups: ReceivedGroup[], what: string): void {
  const seqs = groups.map((g) => g.sequence);
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[0]! + i) throw new Error(`${what}: group sequences ${seqs.join(", ")}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Demand and collection.

/**
 * Resolves once the publisher's track has a subscriber attached (`Track.Producer.used`, which
 * @moq/net sets when it serves a SUBSCRIBE): the relay asked for it. No sleeping: it waits on
 * the signal itself.
 */
export async function waitForDemand(
  publisher: Publisher,
  track: string,
  timeoutMs = 5000,
): Promise<void> {
  const used = publisher.track(track).producer.used;
  if (used.peek()) return;
  let dispose: (() => void) | undefined;
  const demanded = new Promise<void>((resolve) => {
    dispose = used.subscribe((value) => {
      if (value) resolve();
    });
  });
  try {
    if (used.peek()) return;
    await withTimeout(demanded, timeoutMs, `${publisher.path}/${track}: no demand from the relay`);
  } finally {
    dispose?.();
  }
}

/** Reads a subscription continuously, so several can be watched at once. */
export interface Collector {
  readonly groups: ReceivedGroup[];
  /** The error that ended the subscription, if it failed. */
  readonly error: Error | undefined;
  /** Resolves once `check(groups)` holds; throws when it failed or after `timeoutMs`. */
  until(
    what: string,
    check: (groups: ReceivedGroup[]) => boolean,
    timeoutMs?: number,
  ): Promise<void>;
  stop(): void;
}

/** Any source of whole groups: a {@link Subscription} or our own client's subscribe(). */
export type GroupSource = Subscription | AsyncIterable<{ sequence: number; frames: Uint8Array[] }>;

export function collect(source: GroupSource): Collector {
  const groups: ReceivedGroup[] = [];
  let error: Error | undefined;
  let stopped = false;
  const iterate = async () => {
    if (Symbol.asyncIterator in source) {
      for await (const g of source) {
        if (stopped) return;
        groups.push({ sequence: g.sequence, frames: g.frames, timestamps: [] });
      }
      return;
    }
    for (;;) {
      const g = await source.next(3_600_000);
      if (!g || stopped) return;
      groups.push(g);
    }
  };
  const done = iterate().catch((e) => {
    if (!stopped) error = e instanceof Error ? e : new Error(String(e));
  });
  return {
    groups,
    get error() {
      return error;
    },
    async until(what, check, timeoutMs = 5000) {
      let finished = false;
      void done.then(() => finished = true);
      try {
        await until(what, () => check(groups) || error !== undefined || finished, timeoutMs);
      } catch (e) {
        const seen = groups.map((g) => `${g.sequence}(${g.frames.length})`).join(" ");
        throw new Error(`${(e as Error).message}; received groups: [${seen}]`);
      }
      if (check(groups)) return;
      throw error ?? new Error(`${what}: the subscription ended; received ${groups.length}`);
    },
    stop() {
      stopped = true;
      if (!(Symbol.asyncIterator in source)) source.close();
    },
  };
}

/**
 * Writes one-frame "prime" groups on `track` (at least one) until every collector has received a
 * group: each subscription then provably runs end to end, whatever the relay deduplicated
 * upstream. Returns the sequence of the last prime group (the next group written is one up).
 */
export async function primeUntilFlowing(
  publisher: Publisher,
  track: string,
  collectors: Collector[],
  timeoutMs = 8000,
): Promise<number> {
  const t = publisher.track(track);
  const deadline = Date.now() + timeoutMs;
  let last: number;
  do {
    const failed = collectors.find((c) => c.error);
    if (failed) throw failed.error;
    if (Date.now() > deadline) {
      throw new Error(
        `${publisher.path}/${track}: prime groups reached ${
          collectors.filter((c) => c.groups.length > 0).length
        } of ${collectors.length} subscribers within ${timeoutMs} ms`,
      );
    }
    last = await t.writeGroup([PRIME]);
    // Wait (up to 100 ms) for one of those still without a group to get one.
    const waiting = collectors.filter((c) => c.groups.length === 0);
    await Promise.race(waiting.map((c) => c.until("a group", (g) => g.length > 0, 100)))
      .catch(() => {});
  } while (!collectors.every((c) => c.groups.length > 0));
  return last;
}

/**
 * Writes one group and waits until every collector has it (so a burst never makes a relay or a
 * subscriber skip a group as superseded: every group must then arrive). Returns its sequence;
 * throws naming the collectors that did not get it.
 */
export async function writePaced(
  publisher: Publisher,
  track: string,
  frames: Uint8Array[],
  collectors: Collector[],
  timeoutMs = 5000,
): Promise<number> {
  const sequence = await publisher.track(track).writeGroup(frames);
  await Promise.all(collectors.map((c) =>
    c.until(
      `${publisher.path}/${track}: group ${sequence}`,
      (gs) => gs.some((g) => g.sequence === sequence),
      timeoutMs,
    )
  ));
  return sequence;
}

/** The payload of a prime group. */
export const PRIME = encoder.encode("prime");

// ---------------------------------------------------------------------------------------------
// Fan-out, for any mix of versions.

/** A subscriber of any kind: finds a broadcast, then subscribes to its tracks. */
export interface Viewer extends AsyncDisposable {
  /** Names it in assertion messages, e.g. `moqt-16`. */
  readonly name: string;
  /** Waits until `path` is announced to it, then subscribes to `track`. */
  watch(path: string, track: string): Promise<GroupSource>;
}

/** A `@moq/net` client as a {@link Viewer}. */
export function moqnetViewer(name: string, client: MoqClient, timeoutMs = 5000): Viewer {
  return {
    name,
    async watch(path, track) {
      await waitForAnnounce(client, "", path, timeoutMs);
      return subscribe(client, path, track);
    },
    [Symbol.asyncDispose]: () => client.close(),
  };
}

export interface FanOutOptions {
  tracks: string[];
  /** Groups written per track (default 4), of `frames` frames each (default 4). */
  groups?: number;
  frames?: number;
  timeoutMs?: number;
}

/**
 * Publishes `tracks` on `publisher` and has every viewer subscribe to every track. Once the
 * relay asked for each track and prime groups reach every viewer, `groups` groups of known
 * frames (an empty one and one over 64 KiB among them) are written per track; each viewer must
 * receive every one of them, once, whole and in order. Returns the publication (its
 * `subscriptions()` count the SUBSCRIBEs the publisher received), still open.
 */
export async function expectFanOut(
  publisher: MoqClient,
  viewers: Viewer[],
  options: FanOutOptions,
): Promise<Publisher> {
  const { tracks, groups = 4, frames = 4, timeoutMs = 5000 } = options;
  const path = uniquePath("fanout");
  const pub = publish(publisher, path, tracks);
  const watching: { viewer: Viewer; track: string; collector: Collector }[] = [];
  try {
    for (const viewer of viewers) {
      for (const track of tracks) {
        watching.push({ viewer, track, collector: collect(await viewer.watch(path, track)) });
      }
    }
    for (const track of tracks) {
      await waitForDemand(pub, track, timeoutMs);
      const collectors = watching.filter((w) => w.track === track).map((w) => w.collector);
      const base = (await primeUntilFlowing(pub, track, collectors, timeoutMs)) + 1;
      const sent: number[] = [];
      for (let g = 0; g < groups; g++) {
        const payloads = framesOf(`${path}/${track}`, g, frames);
        sent.push(await writePaced(pub, track, payloads, collectors, timeoutMs));
      }
      for (const { viewer, collector } of watching.filter((w) => w.track === track)) {
        const what = `${viewer.name} ${track}`;
        const got = collector.groups.filter((g) => g.sequence >= base);
        const seqs = got.map((g) => g.sequence).join(",");
        if (seqs !== sent.join(",")) throw new Error(`${what}: groups ${seqs}, sent ${sent}`);
        for (const [i, g] of got.entries()) {
          expectWhole(g, framesOf(`${path}/${track}`, i, frames), what);
        }
      }
    }
    return pub;
  } catch (e) {
    pub.close();
    throw e;
  } finally {
    for (const w of watching) w.collector.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Late join, for any mix of versions.

/** How each role of {@link expectLateJoin} connects to the relay. */
export interface LateJoinPeers {
  publisher: () => Promise<MoqClient>;
  /** Holds the track at the relay while the groups are written. */
  early: () => Promise<MoqClient>;
  /** Subscribes once those groups are written. */
  late: () => Promise<MoqClient>;
}

/**
 * Late join: once an early viewer receives groups (so the relay holds the track), a publisher
 * writes three groups of three frames, then a late viewer subscribes and two more groups are
 * written. The late viewer's first group must be the third (the latest written when it
 * subscribed) or later, and from there it must get every group, each whole.
 */
export async function expectLateJoin(
  peers: LateJoinPeers,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const path = uniquePath("late");
  await using publisher = await peers.publisher();
  await using early = await peers.early();
  await using late = await peers.late();
  const pub = publish(publisher, path, ["video"]);
  const video = pub.track("video");
  await waitForAnnounce(early, "", path, timeoutMs);
  const first = collect(subscribe(early, path, "video"));
  let second: Collector | undefined;
  try {
    // The early viewer's subscription runs end to end before anything counted is written.
    await waitForDemand(pub, "video", timeoutMs);
    const base = (await primeUntilFlowing(pub, "video", [first], timeoutMs)) + 1;
    const frames = (sequence: number) => framesOf(path, sequence - base, 3);
    let latest = -1;
    for (let g = 0; g < 3; g++) latest = await writePaced(pub, "video", frames(base + g), [first]);

    // The late viewer subscribes now: `latest` is the newest group written. Groups go on being
    // written (one at a time, each waited for) until it has received one, then two more.
    await waitForAnnounce(late, "", path, timeoutMs);
    second = collect(subscribe(late, path, "video"));
    const atSubscribe = latest;
    const deadline = Date.now() + timeoutMs;
    const viewer = second;
    while (viewer.groups.length === 0) {
      if (viewer.error) throw viewer.error;
      if (Date.now() > deadline) {
        throw new Error(`${what}: the late viewer got nothing within ${timeoutMs} ms`);
      }
      latest = await video.writeGroup(frames(latest + 1));
      await viewer.until("a group", (gs) => gs.length > 0, 200).catch(() => {});
    }
    for (let g = 0; g < 2; g++) {
      latest = await writePaced(pub, "video", frames(latest + 1), [first, viewer], timeoutMs);
    }
    const got = second.groups;
    if (got[0]!.sequence < atSubscribe) {
      throw new Error(
        `${what}: the late viewer started at group ${
          got[0]!.sequence
        }, before the latest (${atSubscribe})`,
      );
    }
    const summary = got.map((g) => `${g.sequence}(${g.frames.length})`).join(" ");
    const label = `${what}: the late viewer (subscribed at ${atSubscribe}; got ${summary})`;
    expectContiguous(got, label);
    for (const g of got) expectWhole(g, frames(g.sequence), label);
  } finally {
    first.stop();
    second?.stop();
    pub.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A raw client, bytes written by hand.

/** The close a relay gave a session: `closeCode` 3 is PROTOCOL_VIOLATION. */
export interface CloseInfo {
  closeCode: number;
  reason: string;
}

/**
 * A QMux session on `qmux-01.<draft's protocol>` whose MoQ bytes are written by hand: a valid
 * client setup, then a control message that does not decode.
 */
export interface RawIetfClient extends AsyncDisposable {
  /** Writes a valid client setup for the draft (kept open, as the drafts require). */
  setup(): Promise<void>;
  /**
   * Writes a SUBSCRIBE (type 0x03) whose Length (1) ends inside its Request ID: a varint whose
   * first byte (0xC0) announces more bytes than the message has, malformed in either varint
   * codec. Drafts 14-16: on the control stream; 17+: as the first message of a new request
   * stream.
   */
  sendMalformedSubscribe(): Promise<void>;
  /** How the relay closed the session (rejects if it closed without an application close). */
  readonly closed: Promise<CloseInfo>;
  close(): void;
}

/** The draft's client setup, as bytes on the wire (see `src/codec/ietf/WIRE.md` section 0). */
export function clientSetupBytes(draft: Draft): Uint8Array {
  if (draft >= 17) {
    // SETUP: type 0x2F00 as a leading-ones varint (10xxxxxx xxxxxxxx), Length 0, no options.
    return Uint8Array.from([0x80 | 0x2f, 0x00, 0x00, 0x00]);
  }
  // CLIENT_SETUP 0x20, u16 length, [draft 14: 1 version, 0xff00000e as an 8-byte QUIC varint],
  // setup options: count 0.
  const body = draft === 14 ? [0x01, 0xc0, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x0e, 0x00] : [0x00];
  return Uint8Array.from([0x20, 0x00, body.length, ...body]);
}

/** SUBSCRIBE, Length 1, Request ID cut short. */
export const MALFORMED_SUBSCRIBE = Uint8Array.from([0x03, 0x00, 0x01, 0xc0]);

export async function connectRawIetf(url: string, draft: Draft): Promise<RawIetfClient> {
  const protocol = protocolFor(draft);
  const session = new QmuxSession(url, {
    protocols: [protocol],
    versions: { [protocol]: ["qmux-01"] },
    requireProtocol: true,
  });
  session.closed.catch(() => {});
  await withTimeout(session.ready, 5000, `raw ${protocol}: WebSocket upgrade to ${url}`);
  let control: WritableStreamDefaultWriter<Uint8Array> | undefined;
  const kept: WritableStreamDefaultWriter<Uint8Array>[] = [];
  const closed = session.closed.then((info) => ({
    closeCode: info.closeCode ?? -1,
    reason: info.reason ?? "",
  }));
  closed.catch(() => {});
  const close = () => {
    try {
      session.close();
    } catch {
      // closed already
    }
  };
  return {
    async setup() {
      const stream = draft >= 17
        ? await session.createUnidirectionalStream()
        : (await session.createBidirectionalStream()).writable;
      const writer = stream.getWriter();
      kept.push(writer);
      if (draft < 17) control = writer;
      await writer.write(clientSetupBytes(draft));
    },
    async sendMalformedSubscribe() {
      let writer = control;
      if (!writer) {
        writer = (await session.createBidirectionalStream()).writable.getWriter();
        kept.push(writer);
      }
      await writer.write(MALFORMED_SUBSCRIBE);
    },
    closed,
    close,
    async [Symbol.asyncDispose]() {
      close();
      await closed.catch(() => {});
      await new Promise((r) => setTimeout(r, 120));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A healthy @moq/net pair on one draft, beside an attack.

export interface IetfHealthyPair extends AsyncDisposable {
  /** Waits until `groups` more groups, written from now on, arrived whole and in order. */
  delivered(groups?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A @moq/net publisher and subscriber on `draft` through the relay at `origin`: a group of
 * three known frames every 50 ms once the relay asks for the track. `delivered()` throws if a
 * group after the first was skipped or any frame differs.
 */
export async function startIetfHealthyPair(
  relay: TestRelay,
  draft: Draft,
): Promise<IetfHealthyPair> {
  const path = uniquePath(`healthy-${draft}`);
  const publisher = await connectIetf(relay.url(), draft);
  const viewer = await connectIetf(relay.url(), draft);
  const pub = publish(publisher, path, ["video"]);
  await waitForAnnounce(viewer, "", path);
  const sub = collect(subscribe(viewer, path, "video"));
  await waitForDemand(pub, "video");
  const frames = (g: number) => [0, 1, 2].map((f) => encoder.encode(`healthy ${g}.${f}`));
  let written = 0;
  const timer = setInterval(() => {
    const group = pub.track("video").startGroup();
    for (const frame of frames(group.sequence)) group.writeFrame(frame);
    group.close();
    written = group.sequence + 1;
  }, 50);
  const check = () => {
    expectContiguous(sub.groups, `healthy pair (draft ${draft})`);
    for (const g of sub.groups) expectWhole(g, frames(g.sequence), `healthy pair (draft ${draft})`);
  };
  const close = async () => {
    clearInterval(timer);
    sub.stop();
    pub.close();
    await viewer.close();
    await publisher.close();
  };
  try {
    await sub.until("the healthy pair's first group", (g) => g.length > 0);
    check();
  } catch (e) {
    await close();
    throw e;
  }
  return {
    async delivered(groups = 5, timeoutMs = 5000) {
      const after = written;
      await sub.until(
        `the healthy pair (draft ${draft}) to receive ${groups} groups from ${after} on`,
        (g) => (g.at(-1)?.sequence ?? -1) >= after + groups - 1,
        timeoutMs,
      );
      check();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
