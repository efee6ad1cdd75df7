/**
 * The relay with a real browser on both ends: headless Chromium runs upstream's `@moq/net` 0.3.4
 * (bundled for the browser by `deno bundle`) in two separate browser instances. The publisher
 * page announces `browser/cam` with a track `video` and, once the relay subscribes, writes five
 * groups of four frames (one of 100 kB, some empty); the subscriber page subscribes through the
 * relay from group 0 and reports every group's sequence and each frame's length, SHA-256 and
 * timestamp.
 *
 * Both pages connect with an `http://` URL, so @moq/net fetches `/certificate.sha256` from the
 * relay, pins it with `serverCertificateHashes` and races WebTransport against its WebSocket
 * fallback; the test asserts that WebTransport won, on the page and on the relay, and that the
 * version negotiated through `wt-protocol` is moq-lite-05.
 */
import { deepEqual, equal, ok } from "assert";
import { concatBytes } from "../src/bytes/concat.ts";
import { loadConfig } from "../src/config.ts";
import { Relay } from "../src/relay.ts";
import { type Browser, findChromium, launchChromium } from "./support/chromium.ts";
import { bundlePage } from "./support/page_bundle.ts";
import { servePages } from "./support/page_server.ts";

const BROADCAST = "browser/cam";
const TRACK = "video";
const GROUPS = 5;
const FRAMES = 4;
const LARGE = 100_000;
const EXPECTED_VERSION = "moq-lite-05";
/** The pages report what they have by then, before the test's own timeout. */
const PAGE_DEADLINE_MS = 15_000;
const RESULT_TIMEOUT_MS = 20_000;

/**
 * The page module, bundled for the browser. `run(config, report)` connects and plays its role;
 * every report carries `role`, `phase`, the transport @moq/net picked and the version it speaks.
 */
const PAGE_MODULE = `
import { Broadcast, Connection, Path, Time } from "@moq/net";

function errorText(e) {
  return String((e && e.stack) || e);
}

function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(what + ": nothing within " + ms + " ms")), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What @moq/net printed (it logs stream errors through console), for a failure's report. */
const logs = [];
for (const level of ["debug", "info", "log", "warn", "error"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    logs.push(level + ": " + args.map((a) => a instanceof Error ? a.message : String(a)).join(" "));
    if (logs.length > 100) logs.shift();
    original(...args);
  };
}

export async function run(config, report) {
  const base = { role: config.role };
  // How far the role got, reported if it fails.
  const progress = {};
  try {
    const t0 = performance.now();
    const connection = await within(
      config.deadlineMs,
      "connect",
      Connection.connect(new URL(config.relay)),
    );
    const info = {
      ...base,
      transport: connection.transport,
      version: connection.version,
      connectMs: Math.round(performance.now() - t0),
    };
    const work = config.role === "publisher"
      ? publish(connection, config, report, info, progress)
      : subscribe(connection, config, progress);
    const result = await within(config.deadlineMs, config.role, work);
    // The connection stays open: the test closes the browser, then the relay.
    await report({ ...info, ...result, ms: Math.round(performance.now() - t0) });
  } catch (e) {
    await report({ ...base, phase: "failed", error: errorText(e), progress, logs });
  }
}

async function publish(connection, config, report, info, progress) {
  const frames = new Uint8Array(await (await fetch(config.framesUrl)).arrayBuffer());
  let subscribed;
  const firstSubscribe = new Promise((resolve) => subscribed = resolve);
  progress.subscribes = [];
  progress.sent = [];
  // @moq/net's publisher calls subscribe() once per SUBSCRIBE the relay sends.
  class Watched extends Broadcast.Producer {
    subscribe(name, options) {
      progress.subscribes.push(name);
      const subscriber = super.subscribe(name, options);
      subscribed({ name, options: options ?? null });
      return subscriber;
    }
  }
  const broadcast = new Watched();
  const track = broadcast.createTrack(config.track);
  connection.publish(Path.from(config.broadcast), broadcast);
  await report({ ...info, phase: "published" });

  const subscription = await firstSubscribe;
  const sequences = [];
  let at = 0;
  for (const [g, lengths] of config.lengths.entries()) {
    const group = track.appendGroup();
    sequences.push(group.sequence);
    for (const [f, length] of lengths.entries()) {
      const payload = frames.slice(at, at + length);
      at += length;
      group.writeFrame({ payload, timestamp: Time.Timestamp.fromMillis(config.timestamp(g, f)) });
    }
    group.close();
    progress.sent.push(group.sequence);
  }
  return { phase: "sent", subscription, sequences };
}

async function subscribe(connection, config, progress) {
  const prefix = Path.from(config.broadcast.split("/")[0]);
  const announced = connection.announced(prefix);
  const seen = progress.announced = [];
  progress.groups = [];
  for (;;) {
    const event = await announced.next();
    if (!event) throw new Error("announcements ended; saw " + seen.join(", "));
    const path = Path.join(prefix, event.path);
    seen.push((event.active ? "+" : "-") + path);
    if (event.active && path === config.broadcast) break;
  }
  announced.close();

  const broadcast = connection.consume(Path.from(config.broadcast));
  // From group 0: the relay subscribed upstream already for this page's TRACK request (lite-05
  // asks for TRACK_INFO before it SUBSCRIBEs), so the publisher may have written groups by the
  // time the SUBSCRIBE arrives, and without a start group the relay starts at the latest one.
  const track = broadcast.subscribe(config.track, { startGroup: 0 });
  progress.subscribed = true;
  const groups = [];
  for (let i = 0; i < config.groups; i++) {
    const group = await track.recvGroup();
    if (!group) throw new Error("the track ended after " + i + " groups");
    const frames = [];
    progress.groups.push({ sequence: group.sequence, frames });
    for (;;) {
      const frame = await group.readFrame();
      if (!frame) break;
      frames.push({
        length: frame.payload.length,
        sha256: await sha256(frame.payload),
        timestamp: frame.timestamp.asMillis(),
      });
    }
    groups.push({ sequence: group.sequence, frames });
  }
  return { phase: "received", announced: seen, groups };
}
`;

/** The timestamp (ms) of frame `f` of group `g`; the page gets this function's source. */
const timestamp = (g: number, f: number) => 1_000 + g * 100 + f * 10;

/** The payloads: distinct bytes per frame, one of 100 kB, empty ones first, last and mid-group. */
function makeFrames(): Uint8Array<ArrayBuffer>[][] {
  const random = (n: number) => {
    const out = new Uint8Array(n);
    for (let at = 0; at < n; at += 65_536) crypto.getRandomValues(out.subarray(at, at + 65_536));
    return out;
  };
  return Array.from({ length: GROUPS }, (_, g) =>
    Array.from({ length: FRAMES }, (_, f) => {
      if (g === 1 && f === 2) return new Uint8Array(0);
      if (g === 3 && f === 0) return new Uint8Array(0);
      if (g === 4 && f === 3) return new Uint8Array(0);
      if (g === 2 && f === 1) return random(LARGE);
      if (f === 3) return random(1_200 + g);
      return new TextEncoder().encode(`g${g} f${f} ${"x".repeat(g * 7 + f)}`);
    }));
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function startRelay(): Promise<Relay> {
  const command = loadConfig(["--bind", "127.0.0.1:0", "--tls-generate", "127.0.0.1", "-q"], {});
  if (command.kind !== "run") throw new Error("bad config");
  const relay = await Relay.load(command.config);
  relay.start();
  return relay;
}

function page(config: Record<string, unknown>): string {
  // The timestamp function travels as source; everything else as JSON.
  return `<!doctype html>
<script type="module">
import { report } from "/report.js";
import { run } from "/moq-page.js";
const CONFIG = { ...${JSON.stringify(config)}, timestamp: ${timestamp.toString()} };
await run(CONFIG, report);
</script>`;
}

interface Report {
  role: "publisher" | "subscriber";
  phase: "published" | "sent" | "received" | "failed";
  error?: string;
  transport?: string;
  version?: string;
  connectMs?: number;
  ms?: number;
  subscription?: { name: string; options: unknown };
  sequences?: number[];
  announced?: string[];
  groups?: { sequence: number; frames: { length: number; sha256: string; timestamp: number }[] }[];
}

/** What the relay's session set looked like while the pages were connected. */
interface SessionSample {
  id: number;
  kind: string;
  protocol: string;
  version: string;
  path: string;
}

Deno.test("Chromium to Chromium through the relay: @moq/net over WebTransport, every frame intact", async () => {
  const started = performance.now();
  const frames = makeFrames();
  const [chromium, bundle] = await Promise.all([findChromium(), bundlePage(PAGE_MODULE)]);
  const bundled = performance.now();
  const want = await Promise.all(
    frames.map((g) =>
      Promise.all(g.map(async (f) => ({ length: f.length, sha256: await sha256(f) })))
    ),
  );

  // Disposed last (page server first, then relay), after the browsers are closed below.
  await using relay = await startRelay();
  const relayUrl = `http://127.0.0.1:${relay.addr.port}/`;
  const common = {
    relay: relayUrl,
    broadcast: BROADCAST,
    track: TRACK,
    groups: GROUPS,
    deadlineMs: PAGE_DEADLINE_MS,
  };
  await using pages = servePages({
    "/moq-page.js": bundle,
    "/frames.bin": concatBytes(frames.flat()),
    "/publisher": page({
      ...common,
      role: "publisher",
      framesUrl: "/frames.bin",
      lengths: frames.map((g) => g.map((f) => f.length)),
    }),
    "/subscriber": page({ ...common, role: "subscriber" }),
  });

  // Every session the relay holds during the run, sampled, so a WebSocket that won a race and
  // was closed again would still be seen.
  const sampled = new Map<number, SessionSample>();
  const sample = () => {
    for (const s of relay.sessions) {
      if (sampled.has(s.id)) continue;
      sampled.set(s.id, {
        id: s.id,
        kind: s.transport.kind,
        protocol: s.transport.protocol,
        version: s.versionName,
        path: s.transport.url?.pathname ?? "",
      });
    }
  };
  const sampler = setInterval(sample, 5);

  const browsers: Browser[] = [];
  const reports: Report[] = [];
  const next = async (browser?: Browser): Promise<Report> => {
    const r = await pages.waitForResult<Report>(RESULT_TIMEOUT_MS, browser);
    reports.push(r);
    if (r.phase === "failed") {
      throw new Error(`the ${r.role} page failed: ${r.error}\nreports: ${JSON.stringify(reports)}`);
    }
    return r;
  };
  let publisherReady = 0;
  let finished = 0;
  try {
    const publisher = await launchChromium(pages.url("/publisher"), { chromium });
    browsers.push(publisher);
    const published = await next(publisher);
    equal(`${published.role} ${published.phase}`, "publisher published");
    publisherReady = performance.now();

    const subscriber = await launchChromium(pages.url("/subscriber"), { chromium });
    browsers.push(subscriber);
    const rest = [await next(subscriber), await next(subscriber)];
    finished = performance.now();
    sample();
    const sent = rest.find((r) => r.phase === "sent");
    const received = rest.find((r) => r.phase === "received");
    ok(sent && received, `reports: ${JSON.stringify(reports)}`);

    // WebTransport won the race on both pages, and moq-lite-05 was negotiated.
    for (const r of [published, sent, received]) {
      equal(r.transport, "webtransport", `${r.role} connected via ${r.transport}`);
      equal(r.version, EXPECTED_VERSION, `${r.role} speaks ${r.version}`);
    }
    // The relay saw exactly the two sessions, both WebTransport on moq-lite-05, none WebSocket.
    deepEqual(
      [...sampled.values()].map(({ kind, protocol, version, path }) => ({
        kind,
        protocol,
        version,
        path,
      })),
      Array.from({ length: 2 }, () => ({
        kind: "webtransport",
        protocol: EXPECTED_VERSION,
        version: EXPECTED_VERSION,
        path: "/",
      })),
    );
    equal(relay.sessions.size, 2);

    // The relay subscribed to the publisher for the track.
    equal(sent.subscription?.name, TRACK);
    deepEqual(received.announced, [`+${BROADCAST}`]);

    // Every group, every frame, in order within its group, byte-identical, timestamps kept.
    const groups = [...(received.groups ?? [])].sort((a, b) => a.sequence - b.sequence);
    deepEqual(groups.map((g) => g.sequence), sent.sequences);
    deepEqual(
      groups.map((g) => g.frames),
      want.map((g, gi) => g.map((f, fi) => ({ ...f, timestamp: timestamp(gi, fi) }))),
    );
  } finally {
    clearInterval(sampler);
    // Browsers first: they keep their sessions on the relay open until they go.
    await Promise.allSettled(browsers.map((b) => b.close()));
  }
  const ms = (a: number, b: number) => Math.round(b - a);
  const pub = reports.find((r) => r.phase === "sent");
  const sub = reports.find((r) => r.phase === "received");
  console.log(
    `timings (ms): bundle ${ms(started, bundled)}, publisher up ${
      ms(bundled, publisherReady)
    }, subscriber done ${ms(publisherReady, finished)}, total ${ms(started, performance.now())}; ` +
      `page connect: publisher ${pub?.connectMs}, subscriber ${sub?.connectMs}; ` +
      `sessions: ${JSON.stringify([...sampled.values()])}`,
  );
});
