/**
 * Datagrams through the relay between real browsers: headless Chromium runs upstream's
 * `@moq/net` 0.3.4 on both ends over WebTransport (moq-lite-05). The publisher page, once the
 * relay subscribes, appends a datagram every 20 ms (`track.appendDatagram`); the subscriber page
 * reads them (`track.recvDatagram`) and reports each one's sequence, timestamp and payload. Then
 * the publisher writes one group, which the subscriber also reads: the positive signal that the
 * path is up, so the datagram count is not judged too early.
 */
import { equal, ok } from "assert";
import { findChromium, launchChromium } from "./support/chromium.ts";
import { bundlePage } from "./support/page_bundle.ts";
import { servePages } from "./support/page_server.ts";
import { startRelay } from "./support/relay.ts";

const DATAGRAMS = 100;
const RESULT_TIMEOUT_MS = 30_000;

const PAGE_MODULE = `
import { Broadcast, Connection, Path, Time } from "@moq/net";

export async function run(config, report) {
  try {
    const connection = await Connection.connect(new URL(config.relay));
    const info = { role: config.role, transport: connection.transport, version: connection.version };
    const result = config.role === "publisher"
      ? await publish(connection, config, report, info)
      : await subscribe(connection, config);
    await report({ ...info, ...result });
  } catch (e) {
    await report({ role: config.role, phase: "failed", error: String((e && e.stack) || e) });
  }
}

async function publish(connection, config, report, info) {
  let subscribed;
  const firstSubscribe = new Promise((resolve) => subscribed = resolve);
  class Watched extends Broadcast.Producer {
    subscribe(name, options) {
      const subscriber = super.subscribe(name, options);
      subscribed();
      return subscriber;
    }
  }
  const broadcast = new Watched();
  const track = broadcast.createTrack("audio");
  connection.publish(Path.from(config.broadcast), broadcast);
  await report({ ...info, phase: "published" });
  await firstSubscribe;
  const sent = [];
  for (let i = 0; i < config.datagrams; i++) {
    const payload = new TextEncoder().encode("datagram " + i);
    const sequence = track.appendDatagram(Time.Timestamp.fromMillis(1000 + i * 20), payload);
    sent.push(sequence);
    await new Promise((r) => setTimeout(r, 20));
  }
  const group = track.appendGroup();
  group.writeFrame({ payload: new TextEncoder().encode("done"), timestamp: Time.Timestamp.fromMillis(9999) });
  group.close();
  return { phase: "sent", sent };
}

async function subscribe(connection, config) {
  const announced = connection.announced(Path.from(""));
  for (;;) {
    const event = await announced.next();
    if (!event) throw new Error("announcements ended");
    if (event.active && String(event.path) === config.broadcast) break;
  }
  announced.close();
  const track = connection.consume(Path.from(config.broadcast)).subscribe("audio");
  const received = [];
  let done = false;
  const datagrams = (async () => {
    while (!done) {
      const datagram = await Promise.race([
        track.recvDatagram(),
        new Promise((r) => setTimeout(() => r(null), 100)),
      ]);
      if (!datagram) continue;
      received.push({
        sequence: datagram.sequence,
        timestamp: datagram.timestamp.asMillis(),
        payload: new TextDecoder().decode(datagram.payload),
      });
    }
  })();
  const group = await track.recvGroup();
  const frame = group && await group.readFrame();
  // The group came after every datagram: give the last ones a moment to land, then report.
  await new Promise((r) => setTimeout(r, 200));
  done = true;
  await datagrams;
  return { phase: "received", received, group: frame ? new TextDecoder().decode(frame.payload) : null };
}
`;

function page(config: Record<string, unknown>): string {
  return `<!doctype html>
<script type="module">
import { report } from "/report.js";
import { run } from "/moq-page.js";
await run(${JSON.stringify(config)}, report);
</script>`;
}

interface Report {
  role: string;
  phase: "published" | "sent" | "received" | "failed";
  error?: string;
  transport?: string;
  version?: string;
  sent?: number[];
  received?: { sequence: number; timestamp: number; payload: string }[];
  group?: string | null;
}

Deno.test("datagrams from a lite-05 publisher reach a lite-05 subscriber through the relay, intact", async () => {
  const [chromium, bundle] = await Promise.all([findChromium(), bundlePage(PAGE_MODULE)]);
  await using relay = await startRelay();
  const common = { relay: `http://127.0.0.1:${relay.addr.port}/`, broadcast: "browser/mic" };
  await using pages = servePages({
    "/moq-page.js": bundle,
    "/publisher": page({ ...common, role: "publisher", datagrams: DATAGRAMS }),
    "/subscriber": page({ ...common, role: "subscriber" }),
  });
  const browsers = [];
  try {
    const publisher = await launchChromium(pages.url("/publisher"), { chromium });
    browsers.push(publisher);
    const published = await pages.waitForResult<Report>(RESULT_TIMEOUT_MS, publisher);
    equal(published.phase, "published", published.error);
    const subscriber = await launchChromium(pages.url("/subscriber"), { chromium });
    browsers.push(subscriber);
    const reports = [
      await pages.waitForResult<Report>(RESULT_TIMEOUT_MS),
      await pages.waitForResult<Report>(RESULT_TIMEOUT_MS),
    ];
    for (const r of reports) equal(r.phase === "failed", false, r.error);
    const sent = reports.find((r) => r.phase === "sent");
    const received = reports.find((r) => r.phase === "received");
    ok(sent && received, JSON.stringify(reports));
    for (const r of [published, received]) {
      equal(r.transport, "webtransport");
      equal(r.version, "moq-lite-05");
    }
    // The group after the datagrams arrived: the path was up the whole time.
    equal(received.group, "done");
    const got = received.received ?? [];
    // Datagrams are best effort, but on loopback nearly all arrive; each one intact.
    ok(got.length >= DATAGRAMS / 2, `only ${got.length} of ${DATAGRAMS} datagrams arrived`);
    const sequences = new Set(sent.sent);
    for (const d of got) {
      ok(sequences.has(d.sequence), `datagram ${d.sequence} was never sent`);
      const i = Number(d.payload.match(/^datagram (\d+)$/)?.[1]);
      ok(Number.isInteger(i), `payload ${d.payload}`);
      equal(d.timestamp, 1000 + i * 20, `timestamp of datagram ${i}`);
    }
    equal(new Set(got.map((d) => d.sequence)).size, got.length, "a datagram arrived twice");
  } finally {
    await Promise.allSettled(browsers.map((b) => b.close()));
  }
});
