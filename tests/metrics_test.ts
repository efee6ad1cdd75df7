/**
 * `GET /metrics` on the internal listener (`--internal-listen`): counters and gauges move as
 * upstream's `@moq/net` publisher and subscribers come and go, with upstream's names and labels,
 * and the exposition passes Prometheus's own checker (`promtool check metrics`).
 */
import { deepEqual, equal, ok } from "assert";
import { connectMoq, publish, subscribe, waitForAnnounce } from "./support/moqnet_client.ts";
import { rawUpgrade } from "./support/raw_websocket.ts";
import { startRelay } from "./support/relay.ts";
import { until } from "./support/wait.ts";
import type { Relay } from "../src/relay.ts";

/** One sample: its name and labels as written, e.g. `moq_relay_bytes_total{tier="",role="publisher"}`. */
type Samples = Map<string, number>;

/** Reads an exposition into samples (the families' HELP/TYPE lines are checked by promtool). */
function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function scrape(relay: Relay): Promise<{ text: string; samples: Samples }> {
  const addr = relay.internalAddr!;
  const response = await fetch(`http://${addr.hostname}:${addr.port}/metrics`);
  equal(response.status, 200);
  equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await response.text();
  return { text, samples: parse(text) };
}

/** What promtool says of an exposition: its exit code and output. */
async function promtool(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

const role = (name: string, r: "publisher" | "subscriber") =>
  `moq_relay_${name}{tier="",role="${r}"}`;

Deno.test("metrics follow @moq/net sessions, subscriptions and media, with upstream's names", async () => {
  await using relay = await startRelay(["--internal-listen", "127.0.0.1:0"]);
  const url = `http://127.0.0.1:${relay.addr.port}/live`;
  const publisher = await connectMoq(url, "moq-lite-05");
  const viewers = await Promise.all([
    connectMoq(url, "moq-lite-05"),
    connectMoq(url, "moq-lite-04"),
  ]);
  try {
    const cam = publish(publisher, "cam", ["video"]);
    const subs = [];
    for (const viewer of viewers) {
      await waitForAnnounce(viewer, "", "cam");
      subs.push(subscribe(viewer, "cam", "video"));
    }
    await cam.waitForSubscriptions(1, { track: "video" });
    await new Promise((r) => setTimeout(r, 100));
    const frames = [new Uint8Array(1000), new Uint8Array(0), new Uint8Array(234)];
    for (let g = 0; g < 3; g++) await cam.track("video").writeGroup(frames);
    for (const s of subs) equal((await s.collect(3)).length, 3);
    // Counted when the frames reached the subscribers: wait for them on the relay's side too.
    await until(
      "the egress counters",
      async () => (await scrape(relay)).samples.get(role("frames_total", "publisher")) === 18,
    );

    const { text, samples } = await scrape(relay);
    equal(samples.get(role("bytes_total", "subscriber")), 3 * 1234, "bytes in, once");
    equal(samples.get(role("bytes_total", "publisher")), 2 * 3 * 1234, "bytes out, to each viewer");
    equal(samples.get(role("frames_total", "subscriber")), 9);
    equal(samples.get(role("groups_total", "subscriber")), 3);
    equal(samples.get(role("groups_total", "publisher")), 6);
    equal(
      samples.get(role("subscriptions_opened_total", "publisher")),
      2,
      "served: one per viewer",
    );
    equal(
      samples.get(role("subscriptions_opened_total", "subscriber")),
      1,
      "upstream: deduplicated",
    );
    equal(
      samples.get(role("announces_started_total", "subscriber")),
      1,
      "taken from the publisher",
    );
    ok((samples.get(role("announces_started_total", "publisher")) ?? 0) >= 2, "shown to viewers");
    equal(samples.get('moq_relay_sessions_opened_total{tier=""}'), 3);
    equal(samples.get(role("viewers_opened_total", "publisher")), 2, "one broadcast, two viewers");
    equal(samples.get('moq_relay_sessions{transport="websocket",version="moq-lite-05"}'), 2);
    equal(samples.get('moq_relay_sessions{transport="websocket",version="moq-lite-04"}'), 1);
    equal(samples.get('moq_relay_subscriptions{role="publisher"}'), 2);
    equal(samples.get('moq_relay_subscriptions{role="subscriber"}'), 1);
    equal(samples.get("moq_relay_broadcasts"), 1);
    ok((samples.get("moq_relay_cache_bytes") ?? 0) >= 3 * 1234);
    ok((samples.get("process_resident_memory_bytes") ?? 0) > 0);
    const check = await promtool(text);
    equal(check.code, 0, `promtool: ${check.output}`);
    equal(check.output.trim(), "", `promtool warnings: ${check.output}`);

    // The viewers leave: sessions and subscriptions close; counters never go backwards.
    for (const s of subs) s.close();
    for (const v of viewers) await v.close();
    await until(
      "the viewers' sessions to close",
      async () =>
        (await scrape(relay)).samples.get('moq_relay_sessions_closed_total{tier=""}') === 2,
    );
    const after = (await scrape(relay)).samples;
    equal(after.get(role("subscriptions_closed_total", "publisher")), 2);
    equal(after.get(role("viewers_closed_total", "publisher")), 2);
    equal(after.get(role("bytes_total", "publisher")), 2 * 3 * 1234, "kept after they left");
    equal(after.get('moq_relay_sessions{transport="websocket",version="moq-lite-04"}'), undefined);
    equal(after.get('moq_relay_sessions{transport="websocket",version="moq-lite-05"}'), 1);
  } finally {
    for (const v of viewers) await v.close();
    await publisher.close();
  }
});

Deno.test("refused sessions are counted by reason, and the event loop's lag is measured", async () => {
  await using relay = await startRelay(["--internal-listen", "127.0.0.1:0", "--max-sessions", "1"]);
  const bad = await rawUpgrade(relay.addr.port, ["qmux-01.moq-lite-05"], { path: "/%zz" });
  bad.close();
  equal(bad.status, 400);
  const hold = await rawUpgrade(relay.addr.port, ["qmux-01.moq-lite-05"], { path: "/a" });
  equal(hold.status, 101);
  const over = await rawUpgrade(relay.addr.port, ["qmux-01.moq-lite-05"], { path: "/b" });
  over.close();
  equal(over.status, 503);
  hold.close();
  await until(
    "lag samples",
    async () =>
      ((await scrape(relay)).samples.get("moq_relay_event_loop_lag_seconds_count") ?? 0) >= 3,
  );
  const { samples, text } = await scrape(relay);
  equal(samples.get('moq_relay_sessions_refused_total{reason="too_many_sessions"}'), 1);
  equal(
    samples.get('moq_relay_sessions_refused_total{reason="bad_request"}'),
    bad.status === 400 ? 1 : 0,
  );
  deepEqual(
    [...samples.keys()].filter((k) => k.startsWith("moq_relay_event_loop_lag_seconds_bucket")).at(
      -1,
    ),
    'moq_relay_event_loop_lag_seconds_bucket{le="+Inf"}',
  );
  equal((await promtool(text)).code, 0);
  // Unknown paths on the internal listener are 404; /health is 200 "ok".
  const addr = relay.internalAddr!;
  const health = await fetch(`http://${addr.hostname}:${addr.port}/health`);
  equal(await health.text(), "ok\n");
  const missing = await fetch(`http://${addr.hostname}:${addr.port}/nope`);
  await missing.body?.cancel();
  equal(missing.status, 404);
});
