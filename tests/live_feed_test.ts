/**
 * `GET /live`, the event stream the relay's page reads: a snapshot a second of the broadcasts
 * the page may see (tracks, viewers, ingress bitrate, age) and of the relay, scoped by access
 * control, and released when the page goes.
 */
import { equal, ok } from "assert";
import type { LiveSnapshot } from "../src/ops/live.ts";
import { connectMoq, publish, subscribe } from "./support/moqnet_client.ts";
import { startRelay } from "./support/relay.ts";
import { testKey } from "./support/tokens.ts";
import { until } from "./support/wait.ts";

/** Reads a `/live` stream's `stats` events. */
async function openLive(port: number, query = "") {
  const controller = new AbortController();
  const response = await fetch(`http://127.0.0.1:${port}/live${query}`, {
    signal: controller.signal,
  });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    /** The next snapshot. */
    async next(): Promise<LiveSnapshot> {
      if (!reader) throw new Error("no body");
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event.split("\n").find((l) => l.startsWith("data: "));
          if (event.startsWith("event: stats") && data) return JSON.parse(data.slice(6));
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        buffer += decoder.decode(value, { stream: true });
      }
    },
    /** Snapshots until one satisfies `check` (within `limit` of them). */
    async until(check: (s: LiveSnapshot) => boolean, limit = 10): Promise<LiveSnapshot> {
      for (let i = 0; i < limit; i++) {
        const snapshot = await this.next();
        if (check(snapshot)) return snapshot;
      }
      throw new Error("no snapshot matched");
    },
    async close() {
      controller.abort();
      await reader?.cancel().catch(() => {});
    },
  };
}

Deno.test("/live: a broadcast appears with its tracks, viewers and bitrate, and goes when it ends", async () => {
  await using relay = await startRelay();
  const port = relay.addr.port;
  const live = await openLive(port);
  equal(live.status, 200);
  equal(live.type, "text/event-stream");
  const publisher = await connectMoq(`http://127.0.0.1:${port}/`, "moq-lite-05");
  const viewer = await connectMoq(`http://127.0.0.1:${port}/`, "moq-lite-05");
  try {
    await live.until((s) => s.relay.sessions.reduce((n, x) => n + x.count, 0) === 2);
    const cam = publish(publisher, "room/cam", ["video"]);
    const on = await live.until((s) => s.broadcasts.some((b) => b.path === "room/cam"));
    equal(on.broadcastCount, 1);
    const sub = subscribe(viewer, "room/cam", "video");
    await cam.waitForSubscriptions(1, { track: "video" });
    const writer = setInterval(
      () => void cam.track("video").writeGroup([new Uint8Array(5000)]),
      50,
    );
    try {
      const watched = await live.until((s) => {
        const b = s.broadcasts.find((x) => x.path === "room/cam");
        return b !== undefined && b.viewers === 1 && b.bitrate > 0;
      });
      const b = watched.broadcasts.find((x) => x.path === "room/cam")!;
      equal(b.tracks[0]?.name, "video");
      // About 5000 bytes every 50 ms: 800 kbit/s.
      ok(b.bitrate > 200_000 && b.bitrate < 2_000_000, `bitrate ${b.bitrate}`);
      ok(b.ageMs > 0);
    } finally {
      clearInterval(writer);
    }
    sub.close();
    await live.until((s) => s.broadcasts.find((x) => x.path === "room/cam")?.viewers === 0);
    cam.close();
    await live.until((s) => !s.broadcasts.some((b) => b.path === "room/cam"));
  } finally {
    await live.close();
    await publisher.close();
    await viewer.close();
  }
});

Deno.test("/live under access control: a token sees what it grants, none is refused", async () => {
  const dir = await Deno.makeTempDir();
  const key = await testKey("ES256");
  await using relay = await startRelay(["--auth-key", await key.write(dir)]);
  const port = relay.addr.port;
  const refused = await openLive(port);
  equal(refused.status, 401);
  await refused.close();
  const publisher = await connectMoq(
    `http://127.0.0.1:${port}/?jwt=${await key.sign({ publish: ["**"] })}`,
    "moq-lite-05",
  );
  const live = await openLive(port, `?jwt=${await key.sign({ subscribe: ["allowed/**"] })}`);
  try {
    publish(publisher, "secret/cam", ["video"]);
    publish(publisher, "allowed/cam", ["video"]);
    const seen = await live.until((s) => s.broadcasts.some((b) => b.path === "allowed/cam"));
    equal(seen.broadcasts.some((b) => b.path === "secret/cam"), false);
    equal(seen.broadcastCount, 1);
    equal(seen.relay.members, undefined, "cluster members only for members");
  } finally {
    await live.close();
    await publisher.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("/live: ten pages come and go, and the relay keeps nothing of them", async () => {
  await using relay = await startRelay();
  const port = relay.addr.port;
  const gauge = (name: string) =>
    Number(relay.metrics().match(new RegExp(`^${name} (\\d+)$`, "m"))?.[1] ?? NaN);
  const connections = () => gauge("moq_relay_http_connections");
  const pages = await Promise.all(Array.from({ length: 10 }, () => openLive(port)));
  for (const page of pages) await page.next();
  equal(connections(), 10);
  equal(gauge("moq_relay_live_pages"), 10);
  for (const page of pages) await page.close();
  // Each page's stream (its timer, its byte counts) went with its connection.
  await until("the pages' connections to close", () => connections() === 0);
  await until("the pages' streams to stop", () => gauge("moq_relay_live_pages") === 0);
  const again = await openLive(port);
  const snapshot = await again.next();
  equal(snapshot.relay.sessions.length, 0, "pages open no MoQ sessions");
  await again.close();
});
