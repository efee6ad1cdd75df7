/**
 * Access control end to end, with real peers: headless Chromium runs upstream's `@moq/net` 0.3.4
 * over WebTransport against a relay started with four `--auth-key` files (an ES256 key
 * `browser-es`, an EdDSA key `browser-ed`, and an HS256 and an RS256 key for the third page's two
 * sessions), with tokens signed here by `jose`.
 *
 * - A publisher page (ES256 token, root `room`, publish `alice`) announces `bob` (not granted),
 *   then `alice`, and writes groups once the relay subscribes to `alice`.
 * - A subscriber page (EdDSA token, root `room`, subscribe `**`) lists every announcement for the
 *   whole session: `alice` arrives, `bob` never does (it was announced before `alice` on the same
 *   stream, so it would have come first). Subscribing to `bob` fails with an error, and `alice`'s
 *   groups then arrive whole on the same session.
 * - A third page holds two sessions: one at `/other` (token root `other`), one at `/` with a token
 *   that may subscribe to `other/**` only. Once an in-process client publishes `other/feed`, both
 *   list it and nothing of `room`; the second one's subscription to `room/alice` (which exists) is
 *   refused, and it then receives `other/feed`'s group on the same session.
 * - A fourth page uses the browser's own `WebTransport`: a token signed by a key the relay does not
 *   know, and a valid token at an unrelated path, are refused (`ready` rejects); a good token then
 *   connects. From Deno, the project's own client makes the same CONNECTs and reads the status:
 *   401 for a missing, malformed, forged, unknown-kid or expired token, 403 for a valid token with
 *   no access at the dialed path, 200 for valid ones.
 *
 * Every page session was WebTransport on moq-lite-05, on the page and on the relay; no WebSocket
 * session ever existed.
 */
import { deepEqual, equal, ok } from "assert";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { testKey } from "./support/tokens.ts";
import type { Relay } from "../src/relay.ts";
import { type Browser, findChromium, launchChromium } from "./support/chromium.ts";
import { connectOwnClient } from "./support/moq_client.ts";
import { bundlePage } from "./support/page_bundle.ts";
import { servePages } from "./support/page_server.ts";
import { startRelay } from "./support/relay.ts";
import { webTransportStatus } from "./support/webtransport_status.ts";

const TRACK = "video";
const GROUPS = 4;
const FRAMES = 3;
const EXPECTED_VERSION = "moq-lite-05";
/** The pages report what they have by then, before the test's own timeout. */
const PAGE_DEADLINE_MS = 15_000;
const RESULT_TIMEOUT_MS = 20_000;
/** How long a page waits for a refused subscription to end before calling it stalled. */
const REFUSAL_MS = 4_000;
/** How long a listing keeps collecting after its positive signal, before absence is judged. */
const GRACE_MS = 300;

/** Frame `f` of group `g`: an empty one, a 30 kB one, the rest small and distinct. */
const frameBytes = (g: number, f: number) => {
  const n = f === 1 ? 0 : g === 2 && f === 2 ? 30_000 : 16 + g * 64 + f * 5;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (g * 31 + f * 7 + i) & 255;
  return out;
};

const PAGE_MODULE = `
import { Broadcast, Connection, Path, Time } from "@moq/net";

function errorText(e) {
  return String((e && e.stack) || e);
}
function errorMessage(e) {
  return String((e && e.message) || e);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

/** What @moq/net printed, for a failure's report. */
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
  const progress = {};
  try {
    const result = await within(
      config.deadlineMs,
      config.role,
      ROLES[config.role](config, report, progress),
    );
    // Connections stay open: the test closes the browser, then the relay.
    await report({ role: config.role, ...result });
  } catch (e) {
    await report({ role: config.role, phase: "failed", error: errorText(e), progress, logs });
  }
}

async function connect(url) {
  const t0 = performance.now();
  const connection = await Connection.connect(new URL(url));
  return {
    connection,
    info: {
      transport: connection.transport,
      version: connection.version,
      connectMs: Math.round(performance.now() - t0),
    },
  };
}

/** Collects every announcement under the session's root, for as long as the session lasts. */
function collect(connection) {
  const announced = connection.announced(Path.empty());
  const seen = [];
  let wake = () => {};
  let ended;
  (async () => {
    for (;;) {
      const event = await announced.next();
      if (!event) break;
      seen.push((event.active ? "+" : "-") + String(event.path));
      wake();
    }
    ended = "the announcements ended";
  })().catch((e) => ended = "the announcements failed: " + errorMessage(e)).finally(() => wake());
  return {
    seen,
    async until(path) {
      while (!seen.includes("+" + path)) {
        if (ended) throw new Error(ended + " before " + path + "; saw " + seen.join(", "));
        await new Promise((resolve) => wake = resolve);
      }
    },
  };
}

/** Subscribes where the grant should not reach: an error, a group, or a stall. */
async function tryRefused(connection, path, track) {
  const t0 = performance.now();
  const broadcast = connection.consume(Path.from(path));
  const sub = broadcast.subscribe(track, { startGroup: 0 });
  const failed = (e) => ({ outcome: "error", error: errorMessage(e) });
  const outcome = await Promise.race([
    sub.info().then(() => ({ outcome: "accepted" }), failed),
    sub.recvGroup().then(
      (g) => g ? { outcome: "group", sequence: g.sequence } : { outcome: "ended" },
      failed,
    ),
    sub.closed.then((e) => e ? failed(e) : { outcome: "closed" }),
    sleep(${REFUSAL_MS}).then(() => ({ outcome: "stalled" })),
  ]);
  sub.close();
  broadcast.close();
  return { ...outcome, ms: Math.round(performance.now() - t0) };
}

/** Receives \`count\` groups whole: each group's sequence and its frames' lengths and hashes. */
async function receive(connection, path, track, count) {
  const broadcast = connection.consume(Path.from(path));
  const sub = broadcast.subscribe(track, { startGroup: 0 });
  const groups = [];
  for (let i = 0; i < count; i++) {
    const group = await sub.recvGroup();
    if (!group) throw new Error(path + ": the track ended after " + i + " groups");
    const frames = [];
    for (;;) {
      const frame = await group.readFrame();
      if (!frame) break;
      frames.push({ length: frame.payload.length, sha256: await sha256(frame.payload) });
    }
    groups.push({ sequence: group.sequence, frames });
  }
  return groups;
}

const ROLES = {
  async publisher(config, report, progress) {
    const { connection, info } = await connect(config.relay);
    progress.info = info;
    // What the relay asked of each broadcast (TRACK_INFO and SUBSCRIBE alike).
    const asked = progress.asked = { alice: [], bob: [] };
    let subscribed;
    const aliceSubscribed = new Promise((resolve) => subscribed = resolve);
    const watched = (name) => new (class extends Broadcast.Producer {
      subscribe(track, options) {
        asked[name].push("subscribe " + track);
        if (name === "alice") subscribed();
        return super.subscribe(track, options);
      }
      resolveTrackInfo(track) {
        asked[name].push("info " + track);
        return super.resolveTrackInfo(track);
      }
    })();
    // bob first: had it entered the relay, a subscriber would hear of it before alice.
    const bob = watched("bob");
    bob.createTrack(config.track);
    connection.publish(Path.from("bob"), bob);
    const alice = watched("alice");
    const track = alice.createTrack(config.track);
    connection.publish(Path.from("alice"), alice);
    await report({ role: config.role, phase: "published", ...info });

    await aliceSubscribed;
    const frameBytes = ${frameBytes.toString()};
    const sequences = [];
    for (let g = 0; g < config.groups; g++) {
      const group = track.appendGroup();
      sequences.push(group.sequence);
      for (let f = 0; f < config.frames; f++) {
        group.writeFrame({ payload: frameBytes(g, f), timestamp: Time.Timestamp.fromMillis(g * 100 + f) });
      }
      group.close();
    }
    return { phase: "sent", ...info, sequences, asked };
  },

  async subscriber(config, report, progress) {
    const { connection, info } = await connect(config.relay);
    progress.info = info;
    const listing = collect(connection);
    progress.seen = listing.seen;
    await listing.until("alice");
    // Refused on its own; the session goes on, as alice's groups show after it.
    const bob = await tryRefused(connection, "bob", config.track);
    progress.bob = bob;
    const groups = await receive(connection, "alice", config.track, config.groups);
    await sleep(${GRACE_MS});
    return { phase: "received", ...info, announced: [...listing.seen], bob, groups };
  },

  async other(config, report, progress) {
    const a = await connect(config.relayOther);
    const b = await connect(config.relayNarrow);
    progress.info = { a: a.info, b: b.info };
    const listA = collect(a.connection);
    const listB = collect(b.connection);
    progress.seen = { a: listA.seen, b: listB.seen };
    await report({ role: config.role, phase: "listening", a: a.info, b: b.info });
    await listA.until("feed");
    await listB.until("other/feed");
    await sleep(${GRACE_MS});
    const seenA = [...listA.seen];
    const seenB = [...listB.seen];
    // room/alice exists, but b may subscribe to other/** only.
    const alice = await tryRefused(b.connection, "room/alice", config.track);
    progress.alice = alice;
    const feed = await receive(b.connection, "other/feed", config.track, 1);
    return { phase: "done", a: a.info, b: b.info, seenA, seenB, alice, feed };
  },

  async raw(config) {
    const hex = (await (await fetch(config.certUrl)).text()).trim();
    const value = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
    const attempt = async (url) => {
      const wt = new WebTransport(url, {
        serverCertificateHashes: [{ algorithm: "sha-256", value }],
        protocols: ["moq-lite-05"],
      });
      wt.closed.catch(() => {});
      try {
        await wt.ready;
        wt.close();
        return { ready: true };
      } catch (e) {
        return { ready: false, error: String(e && e.name) + ": " + errorMessage(e), source: e && e.source };
      }
    };
    const forged = await attempt(config.forgedUrl);
    const elsewhere = await attempt(config.elsewhereUrl);
    const good = await attempt(config.goodUrl);
    return { phase: "done", forged, elsewhere, good };
  },
};
`;

function page(config: Record<string, unknown>): string {
  return `<!doctype html>
<script type="module">
import { report } from "/report.js";
import { run } from "/moq-page.js";
await run(${JSON.stringify(config)}, report);
</script>`;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

interface SigningKey {
  kid: string;
  /** The public JWK as a `--auth-key` file holds it. */
  jwk: JWK;
  sign(claims: Record<string, unknown>): Promise<string>;
}

async function signingKey(alg: "ES256" | "EdDSA", kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return {
    kid,
    jwk: { ...await exportJWK(publicKey), alg, kid },
    sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg, kid }).sign(privateKey),
  };
}

/** The `jti` of a token (each use here gets its own), to tell the relay's sessions apart. */
function tokenLabel(url: URL | undefined): string {
  const token = url?.searchParams.get("jwt");
  if (!token) return "(no token)";
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return String(JSON.parse(json).jti);
  } catch {
    return "(unreadable token)";
  }
}

type Report = Record<string, unknown> & { role: string; phase: string; error?: string };
interface Info {
  transport: string;
  version: string;
}
interface Received {
  sequence: number;
  frames: { length: number; sha256: string }[];
}
interface Refusal {
  outcome: string;
  error?: string;
  ms: number;
}

interface SessionSample {
  label: string;
  kind: string;
  protocol: string;
  version: string;
  path: string;
}

Deno.test("access control with Chromium peers over WebTransport: tokens, grants and refusals", async () => {
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "moq-access-chromium-" });
  const browsers: Browser[] = [];
  let relay: Relay | undefined;
  let pages: ReturnType<typeof servePages> | undefined;
  let feedClient: Awaited<ReturnType<typeof connectOwnClient>> | undefined;
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    const [chromium, bundle, es, ed, stranger] = await Promise.all([
      findChromium(),
      bundlePage(PAGE_MODULE),
      signingKey("ES256", "browser-es"),
      signingKey("EdDSA", "browser-ed"),
      // The relay does not know this key; it claims the kid of one it does.
      signingKey("ES256", "browser-es"),
    ]);
    // HS256 and RS256 keys too, for the third page's two sessions: every algorithm in a browser.
    const [hs, rs] = await Promise.all([
      testKey("HS256", "browser-hs"),
      testKey("RS256", "browser-rs"),
    ]);
    const esPath = `${dir}/browser-es.jwk`;
    const edPath = `${dir}/browser-ed.jwk`;
    await Deno.writeTextFile(esPath, JSON.stringify(es.jwk));
    // The other file as moq-token may write it: base64url of the JSON.
    await Deno.writeTextFile(
      edPath,
      btoa(JSON.stringify(ed.jwk)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
    );
    relay = await startRelay([
      "--auth-key",
      esPath,
      "--auth-key",
      edPath,
      "--auth-key",
      await hs.write(dir),
      "--auth-key",
      await rs.write(dir),
    ]);
    const port = relay.addr.port;
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = {
      publisher: await es.sign({ root: "room", publish: ["alice"], exp, jti: "publisher" }),
      subscriber: await ed.sign({ root: "room", subscribe: ["**"], exp, jti: "subscriber" }),
      otherA: await hs.sign({ root: "other", subscribe: ["**"], exp, jti: "other-a" }),
      otherB: await rs.sign({ root: "", subscribe: ["other/**"], exp, jti: "other-b" }),
      feed: await es.sign({ root: "other", publish: ["feed"], exp, jti: "feed" }),
      rawGood: await ed.sign({ root: "room", subscribe: ["**"], exp, jti: "raw-good" }),
      rawForged: await stranger.sign({ root: "room", subscribe: ["**"], exp, jti: "raw-forged" }),
      rawElsewhere: await ed.sign({ root: "room", subscribe: ["**"], exp, jti: "raw-elsewhere" }),
    };
    const http = (path: string, jwt: string) => `http://127.0.0.1:${port}${path}?jwt=${jwt}`;
    const https = (path: string, jwt: string) => `https://127.0.0.1:${port}${path}?jwt=${jwt}`;

    // The relay's sessions, sampled all along, so a short-lived one is seen too.
    const sampled = new Map<number, SessionSample>();
    const sample = () => {
      for (const s of relay?.sessions ?? []) {
        if (sampled.has(s.id)) continue;
        sampled.set(s.id, {
          label: tokenLabel(s.transport.url),
          kind: s.transport.kind,
          protocol: s.transport.protocol,
          version: s.versionName,
          path: s.transport.url?.pathname ?? "",
        });
      }
    };
    sampler = setInterval(sample, 5);

    // From Deno, with the project's own client: the status each CONNECT is answered with.
    const fingerprint = relay.certificates.primary.fingerprint;
    const status = (url: string) => webTransportStatus(url, fingerprint, EXPECTED_VERSION);
    const probe = async (claims: Record<string, unknown>, key = ed) =>
      await key.sign({ root: "room", subscribe: ["**"], exp, ...claims });
    const statuses = {
      noToken: await status(`https://127.0.0.1:${port}/room`),
      notAJwt: await status(https("/room", "not-a-jwt")),
      forged: await status(https("/room", await probe({ jti: "forged" }, stranger))),
      unknownKid: await status(
        https(
          "/room",
          await new SignJWT({ root: "room", subscribe: ["**"], exp })
            .setProtectedHeader({ alg: "ES256", kid: "browser-nobody" })
            .sign((await generateKeyPair("ES256")).privateKey),
        ),
      ),
      expired: await status(https("/room", await probe({ exp: exp - 1200, jti: "expired" }))),
      unknownClaim: await status(https("/room", await probe({ room: "x", jti: "claim" }))),
      elsewhere: await status(https("/elsewhere", await probe({ jti: "elsewhere" }))),
      publisherAtBob: await status(https(
        "/room/bob",
        await es.sign({
          root: "room",
          publish: ["alice"],
          exp,
          jti: "publisher-at-bob",
        }),
      )),
      good: await status(https("/room", await probe({ jti: "good" }))),
      goodEs: await status(https(
        "/room/alice",
        await es.sign({
          root: "room",
          publish: ["alice"],
          exp,
          jti: "good-es",
        }),
      )),
    };

    const common = { track: TRACK, groups: GROUPS, frames: FRAMES, deadlineMs: PAGE_DEADLINE_MS };
    const server = pages = servePages({
      "/moq-page.js": bundle,
      "/publisher": page({
        ...common,
        role: "publisher",
        relay: http("/room", token.publisher),
      }),
      "/subscriber": page({
        ...common,
        role: "subscriber",
        relay: http("/room", token.subscriber),
      }),
      "/other": page({
        ...common,
        role: "other",
        relayOther: http("/other", token.otherA),
        relayNarrow: http("/", token.otherB),
      }),
      "/raw": page({
        ...common,
        role: "raw",
        certUrl: `http://127.0.0.1:${port}/certificate.sha256`,
        forgedUrl: https("/room", token.rawForged),
        elsewhereUrl: https("/elsewhere", token.rawElsewhere),
        goodUrl: https("/room", token.rawGood),
      }),
    });

    // Reports arrive in one queue; each wait takes the next one of its role and phase.
    const reports: Report[] = [];
    const stash: Report[] = [];
    const take = async (role: string, phase: string, browser: Browser): Promise<Report> => {
      for (;;) {
        const i = stash.findIndex((r) => r.role === role && r.phase === phase);
        if (i >= 0) return stash.splice(i, 1)[0] as Report;
        const r = await server.waitForResult<Report>(RESULT_TIMEOUT_MS, browser);
        reports.push(r);
        if (r.phase === "failed") {
          throw new Error(
            `the ${r.role} page failed: ${r.error}\nreports: ${JSON.stringify(reports)}`,
          );
        }
        stash.push(r);
      }
    };
    const open = async (path: string) => {
      const browser = await launchChromium(server.url(path), { chromium });
      browsers.push(browser);
      return browser;
    };

    // 1. The publisher: bob, then alice.
    const publisherBrowser = await open("/publisher");
    const published = await take("publisher", "published", publisherBrowser);
    const publisherUp = performance.now();

    // 2. The subscriber: alice's groups whole, bob neither announced nor served.
    const subscriberBrowser = await open("/subscriber");
    const received = await take("subscriber", "received", subscriberBrowser);
    const sent = await take("publisher", "sent", publisherBrowser);
    const subscriberDone = performance.now();

    deepEqual(
      received.announced,
      ["+alice"],
      `what the subscriber was told of: ${JSON.stringify(received.announced)}`,
    );
    const bob = received.bob as Refusal;
    equal(bob.outcome, "error", `subscribing to bob: ${JSON.stringify(bob)}`);
    // The relay asked for alice's track and never for anything of bob's.
    deepEqual((sent.asked as Record<string, string[]>).bob, []);
    ok(
      (sent.asked as Record<string, string[]>).alice.includes(`subscribe ${TRACK}`),
      JSON.stringify(sent.asked),
    );
    const groups = [...received.groups as Received[]].sort((a, b) => a.sequence - b.sequence);
    deepEqual(groups.map((g) => g.sequence), sent.sequences);
    const want = await Promise.all(
      Array.from({ length: GROUPS }, (_, g) =>
        Promise.all(
          Array.from({ length: FRAMES }, async (_, f) => {
            const bytes = frameBytes(g, f);
            return { length: bytes.length, sha256: await sha256(bytes) };
          }),
        )),
    );
    deepEqual(groups.map((g) => g.frames), want);

    // And on the relay: bob never entered its routing table.
    equal(relay.context.origin.route("room/bob"), undefined, "bob entered the relay");
    ok(relay.context.origin.route("room/alice"), "alice is not in the relay");

    // 3. Another root, and a grant that reaches only other/**: nothing of room is listed.
    const otherBrowser = await open("/other");
    const listening = await take("other", "listening", otherBrowser);
    const feedClientNow = feedClient = await connectOwnClient(port, EXPECTED_VERSION, {
      fingerprint,
      path: `/other?jwt=${token.feed}`,
    });
    const feed = feedClientNow.publish("other/feed");
    const feedFrames = [new TextEncoder().encode("feed g0 f0"), new Uint8Array(0)];
    const writer = (async () => {
      const deadline = Date.now() + PAGE_DEADLINE_MS;
      while (!feed.watched(TRACK) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      if (feed.watched(TRACK)) feed.writeGroup(TRACK, 0, feedFrames);
    })();
    const other = await take("other", "done", otherBrowser);
    await writer;
    deepEqual(other.seenA, ["+feed"], `listed at /other: ${JSON.stringify(other.seenA)}`);
    deepEqual(
      other.seenB,
      ["+other/feed"],
      `listed at / with a grant for other/**: ${JSON.stringify(other.seenB)}`,
    );
    const alice = other.alice as Refusal;
    equal(alice.outcome, "error", `subscribing to room/alice: ${JSON.stringify(alice)}`);
    deepEqual(other.feed, [{
      sequence: 0,
      frames: await Promise.all(feedFrames.map(async (f) => ({
        length: f.length,
        sha256: await sha256(f),
      }))),
    }]);

    // 4. The browser's own WebTransport: refused with a forged token and at an unrelated path.
    const rawBrowser = await open("/raw");
    const raw = await take("raw", "done", rawBrowser);
    const forged = raw.forged as { ready: boolean };
    const elsewhere = raw.elsewhere as { ready: boolean };
    equal(forged.ready, false, `a forged token connected: ${JSON.stringify(raw)}`);
    equal(
      elsewhere.ready,
      false,
      `a token for room connected at /elsewhere: ${JSON.stringify(raw)}`,
    );
    deepEqual(raw.good, { ready: true }, "the same WebTransport with a good token");
    // The same refusals, seen from Deno with their statuses (asked before the pages ran).
    deepEqual(statuses, {
      noToken: 401,
      notAJwt: 401,
      forged: 401,
      unknownKid: 401,
      expired: 401,
      unknownClaim: 401,
      elsewhere: 403,
      publisherAtBob: 403,
      good: 200,
      goodEs: 200,
    });
    const finished = performance.now();
    sample();

    // WebTransport carried every @moq/net session, on the pages and on the relay.
    for (
      const [role, info] of [
        ["publisher", published],
        ["subscriber", received],
        ["other at /other", listening.a],
        ["other at /", listening.b],
        ["other at /other (done)", other.a],
        ["other at / (done)", other.b],
      ] as [string, Info][]
    ) {
      equal(info.transport, "webtransport", `${role} connected via ${info.transport}`);
      equal(info.version, EXPECTED_VERSION, `${role} speaks ${info.version}`);
    }
    const sessions = [...sampled.values()];
    deepEqual(sessions.filter((s) => s.kind !== "webtransport"), [], "a session not over WT");
    const byLabel = (label: string) =>
      sessions.filter((s) => s.label === label).map(({ kind, version, path }) => ({
        kind,
        version,
        path,
      }));
    for (
      const [label, path] of [
        ["publisher", "/room"],
        ["subscriber", "/room"],
        ["other-a", "/other"],
        ["other-b", "/"],
        ["feed", "/other"],
      ]
    ) {
      deepEqual(byLabel(label), [{ kind: "webtransport", version: EXPECTED_VERSION, path }], label);
    }
    // No refused credential ever became a session.
    for (const label of ["raw-forged", "raw-elsewhere", "forged", "elsewhere", "expired"]) {
      deepEqual(byLabel(label), [], `${label} got a session`);
    }

    const ms = (a: number, b: number) => Math.round(b - a);
    console.log(
      `timings (ms): publisher up ${ms(started, publisherUp)}, subscriber done ${
        ms(publisherUp, subscriberDone)
      }, total ${ms(started, finished)}; bob refused in ${bob.ms} ms (${bob.error}), ` +
        `room/alice refused in ${alice.ms} ms (${alice.error}); raw: ${JSON.stringify(raw)}`,
    );
  } finally {
    clearInterval(sampler);
    // Browsers first: they keep their sessions on the relay open until they go.
    await Promise.allSettled(browsers.map((b) => b.close()));
    await feedClient?.close().catch(() => {});
    await pages?.close();
    await relay?.close();
    await Deno.remove(dir, { recursive: true });
  }
});
