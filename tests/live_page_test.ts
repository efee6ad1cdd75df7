/**
 * The relay's own page (`GET /`) in headless Chromium, driven through the DevTools protocol
 * (tests/support/devtools.ts), against an in-process relay and real `@moq/net` peers. The page's
 * state is read from the DOM (its `data-*` attributes).
 *
 * - The generated asset module is current: its source hash is recomputed (no rebundling).
 * - On air: a Deno-side publisher's broadcast appears in the list, its viewer count follows a
 *   Deno-side subscriber joining and leaving, and it goes when the publisher does.
 * - Play: the page's "Publish a test pattern" button publishes a canvas through `@moq/publish`,
 *   the page's `<moq-watch>` plays it back through the relay, and its decoded-frame count
 *   advances. This test saves the README's screenshot: `tests/output/live-page.png` (copied by
 *   hand to `docs/live-page.png`).
 * - Same origin: every request the page and its workers make (HTTP, WebSocket, WebTransport)
 *   goes to the relay's host and port.
 * - Access control: with `--auth-key`, the page asks for a token, keeps it in `sessionStorage`,
 *   and lists only what it grants.
 */
import { deepEqual, equal, ok } from "assert";
import { PAGE_SOURCE_HASH } from "../src/web/page/assets.generated.ts";
import type { Relay } from "../src/relay.ts";
import { pageSourceHash } from "../tools/page_sources.ts";
import { findChromium } from "./support/chromium.ts";
import { launchDevTools, type Tab } from "./support/devtools.ts";
import { connectMoq, publish, subscribe } from "./support/moqnet_client.ts";
import { startRelay } from "./support/relay.ts";
import { testKey } from "./support/tokens.ts";

const OUTPUT_DIR = new URL("./output/", import.meta.url);
/** Frames the player must decode within a few seconds once playing (30 fps published). */
const MIN_FRAMES_ADVANCE = 30;

function originOf(relay: Relay): string {
  return `http://127.0.0.1:${relay.addr.port}`;
}

/** What the page lists: path -> viewers, tracks. */
function listed(tab: Tab): Promise<Record<string, { viewers: number; tracks: string }>> {
  return tab.evaluate(`Object.fromEntries([...document.querySelectorAll("[data-broadcast]")]
    .map((row) => [row.dataset.broadcast, {
      viewers: Number(row.dataset.viewers),
      tracks: row.querySelector("[data-tracks]").dataset.tracks,
    }]))`);
}

function viewersIs(path: string, viewers: number): string {
  return `document.querySelector('[data-broadcast="${path}"]')?.dataset.viewers === "${viewers}"`;
}

/** The page's player's decoded frames (upstream's `video.out.stats`), or -1 without one. */
const DECODED_FRAMES =
  `document.querySelector("moq-watch")?.video?.out?.stats?.peek()?.frameCount ?? -1`;

/** Clicks the test-pattern button and waits for the page to say it is publishing. */
async function publishTestPattern(tab: Tab): Promise<string> {
  await tab.evaluate(`document.querySelector("[data-test-pattern]").click()`);
  return await tab.waitFor<string>(
    `document.querySelector("[data-test-pattern]").dataset.publishing`,
    "the test pattern is published",
  );
}

Deno.test("the page's generated assets are built from the current sources", async () => {
  equal(
    PAGE_SOURCE_HASH,
    await pageSourceHash(),
    "src/web/page/ or the npm versions changed since the last build: run `deno task page`",
  );
});

Deno.test("on air: a broadcast appears, its viewers follow a subscriber, it goes with its publisher", async () => {
  const chromium = await findChromium();
  await using relay = await startRelay();
  const origin = originOf(relay);
  await using devtools = await launchDevTools({ chromium });
  const tab = await devtools.newTab();
  await tab.goto(`${origin}/`);
  await tab.waitFor(
    `document.querySelector("[data-live-state]").dataset.liveState === "live"`,
    "live",
  );

  const publisherClient = await connectMoq(`${origin}/`, "moq-lite-05");
  try {
    const publisher = publish(publisherClient, "demo/cam", ["video"]);
    await tab.waitFor(viewersIs("demo/cam", 0), "demo/cam listed with no viewers", 5000);
    equal(
      await tab.evaluate(`document.querySelector("[data-broadcast-count]").dataset.broadcastCount`),
      "1",
    );

    const subscriberClient = await connectMoq(`${origin}/`, "moq-lite-05");
    try {
      const subscription = subscribe(subscriberClient, "demo/cam", "video");
      await publisher.waitForSubscriptions(1);
      await tab.waitFor(viewersIs("demo/cam", 1), "one viewer", 5000);
      deepEqual(await listed(tab), { "demo/cam": { viewers: 1, tracks: "video" } });
      subscription.close();
      await tab.waitFor(viewersIs("demo/cam", 0), "no viewers after the subscriber left", 5000);
    } finally {
      await subscriberClient.close();
    }

    publisher.close();
    await tab.waitFor(
      `!document.querySelector('[data-broadcast="demo/cam"]')`,
      "demo/cam gone after its publisher left",
      5000,
    );
    equal(
      await tab.evaluate(`document.querySelector("[data-broadcast-count]").dataset.broadcastCount`),
      "0",
    );
  } finally {
    await publisherClient.close();
  }
});

Deno.test("play: the page's test pattern goes through the relay and its player decodes frames", async () => {
  const chromium = await findChromium();
  await using relay = await startRelay();
  const origin = originOf(relay);
  await using devtools = await launchDevTools({ chromium });
  const tab = await devtools.newTab();
  await tab.goto(`${origin}/`);

  const name = await publishTestPattern(tab);
  ok(/^test\/[0-9a-f]{8}\.hang$/.test(name), name);
  // Listed by the relay, then picked in the list (the page also starts watching it by itself).
  await tab.waitFor(`document.querySelector('[data-broadcast="${name}"] [data-watch]')`, "listed");
  await tab.evaluate(`document.querySelector('[data-broadcast="${name}"] [data-watch]').click()`);
  equal(await tab.evaluate(`document.querySelector("[data-player]").dataset.watching`), name);

  await tab.waitFor(`${DECODED_FRAMES} > 0`, "the player decodes a first frame", 15_000);
  const first = await tab.evaluate<number>(DECODED_FRAMES);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const later = await tab.evaluate<number>(DECODED_FRAMES);
  ok(later - first >= MIN_FRAMES_ADVANCE, `decoded frames went from ${first} to ${later} in 3 s`);
  // The relay saw the page's player subscribe.
  await tab.waitFor(viewersIs(name, 1), "the page's own player is the broadcast's viewer", 5000);

  await Deno.mkdir(OUTPUT_DIR, { recursive: true });
  await Deno.writeFile(new URL("live-page.png", OUTPUT_DIR), await tab.screenshot());
});

Deno.test("same origin: the page makes no request outside the relay", async () => {
  const chromium = await findChromium();
  await using relay = await startRelay();
  const origin = originOf(relay);
  const host = `127.0.0.1:${relay.addr.port}`;
  await using devtools = await launchDevTools({ chromium });
  const tab = await devtools.newTab();
  await tab.goto(`${origin}/`);
  await publishTestPattern(tab);
  await tab.waitFor(`${DECODED_FRAMES} > 0`, "the player decodes a first frame", 15_000);

  const kinds = new Set(tab.requests.map((r) => r.kind));
  // Both peers connected (WebTransport, or the WebSocket fallback) and /live was read.
  ok(kinds.has("webtransport") || kinds.has("websocket"), JSON.stringify(tab.requests));
  ok(tab.requests.some((r) => new URL(r.url).pathname === "/live"), "the page read /live");
  const outside = tab.requests.filter(({ url }) => {
    const parsed = new URL(url);
    if (parsed.protocol === "blob:" || parsed.protocol === "data:") return false;
    if (url === "about:blank") return false;
    return parsed.host !== host || !["http:", "https:", "ws:", "wss:"].includes(parsed.protocol);
  });
  deepEqual(outside, [], `requests outside ${host}`);
});

Deno.test("access control: the page asks for a token and lists only what it grants", async () => {
  const chromium = await findChromium();
  const key = await testKey("ES256");
  const dir = await Deno.makeTempDir({ prefix: "moq-live-page-" });
  try {
    await using relay = await startRelay(["--auth-key", await key.write(dir)]);
    const origin = originOf(relay);
    const publisherClient = await connectMoq(
      `${origin}/?jwt=${await key.sign({ publish: ["**"] })}`,
      "moq-lite-05",
    );
    try {
      publish(publisherClient, "allowed/cam", ["video"]);
      publish(publisherClient, "secret/cam", ["video"]);
      await using devtools = await launchDevTools({ chromium });
      const tab = await devtools.newTab();
      await tab.goto(`${origin}/`);
      await tab.waitFor(
        `!document.querySelector("[data-token-prompt]").hidden &&
          document.querySelector("[data-live-state]").dataset.liveState === "refused"`,
        "the token prompt",
      );
      deepEqual(await listed(tab), {});

      const token = await key.sign({ subscribe: ["allowed/**"] });
      await tab.evaluate(`(() => {
        document.querySelector("[data-token-input]").value = ${JSON.stringify(token)};
        document.querySelector("[data-token-form]").requestSubmit();
      })()`);
      await tab.waitFor(`document.querySelector('[data-broadcast="allowed/cam"]')`, "allowed/cam");
      // A few snapshots later, still only what the token grants.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      deepEqual(Object.keys(await listed(tab)), ["allowed/cam"]);
      equal(
        await tab.evaluate(
          `document.querySelector("[data-broadcast-count]").dataset.broadcastCount`,
        ),
        "1",
      );
      equal(await tab.evaluate(`document.querySelector("[data-token-prompt]").hidden`), true);

      // The token lasts the tab's session: a reload lists at once, with no prompt.
      equal(await tab.evaluate(`sessionStorage.getItem("moq-relay.jwt")`), token);
      await tab.goto(`${origin}/`);
      await tab.waitFor(
        `document.querySelector('[data-broadcast="allowed/cam"]')`,
        "allowed/cam after reload",
      );
      deepEqual(Object.keys(await listed(tab)), ["allowed/cam"]);
    } finally {
      await publisherClient.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
