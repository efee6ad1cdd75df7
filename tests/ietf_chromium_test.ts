/**
 * IETF moq-transport in a real browser: one headless Chromium, one page running upstream's
 * `@moq/net` 0.3.4 (bundled by `deno bundle --platform browser`). For each draft 14..20 in turn
 * the page opens a publisher and a subscriber connection over WebTransport pinned to that draft,
 * publishes `chromium/dNN` with a track `video`, subscribes to it through our relay, and reports
 * every received frame's length and SHA-256; the test compares them with what it served.
 *
 * Pinning (see `support/moqnet_ietf.ts`): drafts 15..20 through `Connection.connect(url,
 * { webtransport: { protocols: ["moqt-NN"] }, websocket: { enabled: false } })`; draft 14
 * through an explicit `WebTransport` on `moql` whose CLIENT_SETUP `offerOnlyDraft14` cuts to
 * draft 14. Each connection must report `transport` `webtransport` and `moq-transport-NN`.
 *
 * `IETF_TEST_RELAY=http://host:port` points the page at another relay (WebTransport on that UDP
 * port, its `/certificate.sha256` on that TCP port).
 */
import { deepEqual, equal } from "assert";
import { concatBytes } from "../src/bytes/concat.ts";
import { findChromium, launchChromium } from "./support/chromium.ts";
import { DRAFTS, startIetfRelay, versionName } from "./support/moqnet_ietf.ts";
import { bundlePage } from "./support/page_bundle.ts";
import { servePages } from "./support/page_server.ts";

const GROUPS = 3;
const FRAMES = 3;
const LARGE = 100_000;
/** Per draft, in the page: connect, publish, receive everything. */
const DRAFT_DEADLINE_MS = 6_000;

const SHIM = new URL("./support/draft14_offer.ts", import.meta.url).href;

const PAGE_MODULE = `
import { Broadcast, Connection, Path } from "@moq/net";
import { offerOnlyDraft14 } from ${JSON.stringify(SHIM)};

const errorText = (e) => String((e && e.stack) || e);

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

async function connect(relay, draft) {
  const url = new URL(relay);
  if (draft !== 14) {
    return await Connection.connect(url, {
      webtransport: { protocols: ["moqt-" + draft] },
      websocket: { enabled: false },
    });
  }
  // Draft 14: WebTransport on moql, CLIENT_SETUP offering draft 14 only.
  const hex = (await (await fetch(new URL("/certificate.sha256", url))).text()).trim();
  const value = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
  const https = new URL(url);
  https.protocol = "https:";
  const wt = new WebTransport(https, {
    protocols: ["moql"],
    serverCertificateHashes: [{ algorithm: "sha-256", value }],
  });
  wt.closed.catch(() => {});
  await wt.ready;
  return await Connection.connect(url, { transport: offerOnlyDraft14(wt) });
}

async function oneDraft(config, frames, draft, out) {
  const path = "chromium/d" + draft;
  const pubConn = await connect(config.relay, draft);
  const subConn = await connect(config.relay, draft);
  out.connections = [pubConn, subConn].map((c) => ({ transport: c.transport, version: c.version }));
  out.phase = "connected";
  try {
    let subscribes = 0;
    class Counting extends Broadcast.Producer {
      subscribe(name, options) {
        subscribes++;
        return super.subscribe(name, options);
      }
    }
    const broadcast = new Counting();
    const track = broadcast.createTrack("video");
    pubConn.publish(Path.from(path), broadcast);

    const announced = subConn.announced(Path.from("chromium"));
    for (;;) {
      const event = await announced.next();
      if (!event) throw new Error("announcements ended");
      if (event.active && Path.join(Path.from("chromium"), event.path) === path) break;
    }
    announced.close();
    out.phase = "announced";
    const sub = subConn.consume(Path.from(path)).subscribe("video");
    const received = [];
    let wake = () => {};
    const reading = (async () => {
      for (;;) {
        const group = await sub.recvGroup();
        if (!group) return;
        const got = [];
        for (;;) {
          const frame = await group.readFrame();
          if (!frame) break;
          got.push(frame.payload);
        }
        received.push({ sequence: group.sequence, frames: got });
        wake();
      }
    })();
    reading.catch(() => {});
    const arrived = (check, ms) => new Promise((resolve) => {
      if (check()) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      wake = () => { if (check()) { clearTimeout(timer); resolve(true); } };
    });
    // Prime groups until the subscription delivers, then the counted groups one at a time.
    let last = -1;
    out.phase = "priming";
    while (received.length === 0) {
      const g = track.appendGroup();
      g.writeFrame({ payload: new TextEncoder().encode("prime") });
      g.close();
      last = g.sequence;
      await arrived(() => received.length > 0, 100);
    }
    const base = last + 1;
    out.phase = "primed after " + (base - 1) + " (subscribes " + subscribes + ")";
    let at = 0;
    const sent = [];
    for (const lengths of config.lengths) {
      const g = track.appendGroup();
      for (const length of lengths) {
        g.writeFrame({ payload: frames.slice(at, at + length) });
        at += length;
      }
      g.close();
      sent.push(g.sequence);
      out.phase = "sent group " + g.sequence;
      const seq = g.sequence;
      if (!(await arrived(() => received.some((r) => r.sequence === seq), 3000))) {
        throw new Error("group " + seq + " did not arrive; got " + received.map((r) => r.sequence));
      }
    }
    out.sent = sent;
    out.subscribes = subscribes;
    out.groups = [];
    for (const r of received.filter((r) => r.sequence >= base)) {
      const list = [];
      for (const f of r.frames) list.push({ length: f.length, sha256: await sha256(f) });
      out.groups.push({ sequence: r.sequence, frames: list });
    }
    sub.close();
    broadcast.close();
  } finally {
    pubConn.close();
    subConn.close();
  }
}

export async function run(config, report) {
  const frames = new Uint8Array(await (await fetch("/frames.bin")).arrayBuffer());
  for (const draft of config.drafts) {
    const out = { draft };
    try {
      await within(config.deadlineMs, "draft " + draft, oneDraft(config, frames, draft, out));
    } catch (e) {
      out.error = errorText(e) + " (phase: " + out.phase + ")";
    }
    await report(out);
  }
}
`;

interface DraftReport {
  draft: number;
  /** How far the page got. */
  phase?: string;
  error?: string;
  connections?: { transport: string; version: string }[];
  sent?: number[];
  subscribes?: number;
  groups?: { sequence: number; frames: { length: number; sha256: string }[] }[];
}

function makeFrames(): Uint8Array<ArrayBuffer>[][] {
  return Array.from({ length: GROUPS }, (_, g) =>
    Array.from({ length: FRAMES }, (_, f) => {
      if (g === 1 && f === 1) return new Uint8Array(0);
      if (g === 2 && f === 0) {
        const out = new Uint8Array(LARGE);
        for (let at = 0; at < LARGE; at += 65_536) {
          crypto.getRandomValues(out.subarray(at, at + 65_536));
        }
        return out;
      }
      return new TextEncoder().encode(`chromium g${g} f${f}`);
    }));
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("Chromium over WebTransport, drafts 14..20: @moq/net pinned per draft, publisher to subscriber, every frame intact", async () => {
  const frames = makeFrames();
  const [chromium, bundle] = await Promise.all([findChromium(), bundlePage(PAGE_MODULE)]);
  const want = await Promise.all(
    frames.map((g) =>
      Promise.all(g.map(async (f) => ({ length: f.length, sha256: await sha256(f) })))
    ),
  );
  await using relay = await startIetfRelay();
  const config = {
    relay: relay.url(),
    drafts: DRAFTS,
    lengths: frames.map((g) => g.map((f) => f.length)),
    deadlineMs: DRAFT_DEADLINE_MS,
  };
  await using pages = servePages({
    "/moq-page.js": bundle,
    "/frames.bin": concatBytes(frames.flat()),
    "/": `<!doctype html>
<script type="module">
import { report } from "/report.js";
import { run } from "/moq-page.js";
await run(${JSON.stringify(config)}, report);
</script>`,
  });
  const reports: DraftReport[] = [];
  const browser = await launchChromium(pages.url("/"), { chromium });
  try {
    for (const _ of DRAFTS) {
      reports.push(await pages.waitForResult<DraftReport>(DRAFT_DEADLINE_MS + 4000, browser));
    }
  } finally {
    await browser.close();
  }
  // Every draft is checked, and every failure named, before the test fails.
  const failures: string[] = [];
  for (const r of reports) {
    try {
      if (r.error) throw new Error(r.error);
      for (const c of r.connections ?? []) {
        equal(c.transport, "webtransport", "transport");
        equal(c.version, versionName(r.draft as 14), "version");
      }
      deepEqual(r.groups?.map((g) => g.sequence), r.sent, "every group, once, in order");
      deepEqual(r.groups?.map((g) => g.frames), want, "every frame intact");
      equal(r.subscribes, 1, "SUBSCRIBEs the publisher received");
    } catch (e) {
      failures.push(
        `draft ${r.draft}: ${(e as Error).message.split("\n").slice(0, 6).join(" ")} ` +
          `(connections ${JSON.stringify(r.connections ?? [])})`,
      );
    }
  }
  equal(reports.length, DRAFTS.length);
  if (failures.length) throw new Error(`${failures.length} drafts failed:\n${failures.join("\n")}`);
});
