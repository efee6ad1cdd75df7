/**
 * Graceful drain, on relay processes: the first SIGTERM (or SIGINT) makes `/health` answer 503
 * "draining", refuses new sessions, sends every session a GOAWAY (with `--goaway-redirect`), and
 * the relay exits 0 once its clients have left or at `--drain-timeout`; a second signal exits at
 * once; a cluster node withdraws its membership record first, and the rest of the cluster goes on.
 */
import { equal, ok } from "assert";
import { connectOwnClient, type OwnClient } from "./support/moq_client.ts";
import { rawUpgrade } from "./support/raw_websocket.ts";
import { type RelayProcess, startRelayProcess } from "./support/relay_process.ts";
import { until, withTimeout } from "./support/wait.ts";
import { webTransportStatus } from "./support/webtransport_status.ts";

const text = (s: string) => new TextEncoder().encode(s);

async function clientOf(relay: RelayProcess): Promise<OwnClient> {
  return await connectOwnClient(relay.port, "moq-lite-06", {
    fingerprint: await relay.fingerprint(),
  });
}

async function health(relay: RelayProcess): Promise<[number, string]> {
  const response = await fetch(`http://${relay.address}/health`);
  return [response.status, (await response.text()).trim()];
}

/** Keeps writing groups to `source` until stopped. */
function keepPublishing(source: ReturnType<OwnClient["publish"]>) {
  let seq = 0;
  const timer = setInterval(() => source.writeGroup("video", seq++, [text(`g${seq}`)]), 50);
  return () => clearInterval(timer);
}

Deno.test("SIGTERM: health 503, new sessions refused, GOAWAY with the redirect, exit 0 at the drain timeout", async () => {
  const redirect = "https://next.relay.example/";
  await using relay = await startRelayProcess([
    "--drain-timeout",
    "3s",
    "--goaway-redirect",
    redirect,
  ]);
  const publisher = await clientOf(relay);
  const viewer = await clientOf(relay);
  const stop = keepPublishing(publisher.publish("show"));
  try {
    await viewer.announced("show", 5000);
    const groups = viewer.subscribe("show", "video");
    await groups.next();
    equal((await health(relay))[0], 200);

    const signalled = performance.now();
    relay.signal("SIGTERM");
    const uri = await withTimeout(viewer.session.goaway, 3000, "the viewer's GOAWAY");
    const goawayAt = performance.now() - signalled;
    equal(uri, redirect);
    equal(await withTimeout(publisher.session.goaway, 3000, "the publisher's GOAWAY"), redirect);
    const [status, body] = await health(relay);
    equal(status, 503);
    equal(JSON.parse(body).status, "draining");
    const ws = await rawUpgrade(relay.port, ["qmux-01.moq-lite-06"], { path: "/late" });
    ws.close();
    equal(ws.status, 503, "a new WebSocket session is refused");
    equal(
      await webTransportStatus(
        `https://${relay.address}/`,
        await relay.fingerprint(),
        "moq-lite-06",
      ),
      503,
      "a new WebTransport session is refused",
    );
    // The open session goes on meanwhile.
    ok((await groups.next()).value, "frames still flow while draining");
    // These clients ignore the GOAWAY: the relay closes them at the timeout, then exits 0.
    const status0 = await withTimeout(relay.exited(), 6000, "the relay's exit");
    const exitAt = performance.now() - signalled;
    equal(status0.code, 0);
    ok(exitAt >= 2800 && exitAt < 5000, `exited ${Math.round(exitAt)} ms after the signal`);
    ok(relay.log().includes("drain timeout: closing 2 sessions still open"));
    console.log(
      `drain timeline: GOAWAY at ${Math.round(goawayAt)} ms, exit at ${Math.round(exitAt)} ms`,
    );
    await groups.return(undefined);
  } finally {
    stop();
    await publisher.close().catch(() => {});
    await viewer.close().catch(() => {});
  }
});

Deno.test("clients that leave on GOAWAY let the relay exit before the timeout; a second signal exits at once", async () => {
  await using relay = await startRelayProcess(["--drain-timeout", "20s"]);
  const clients = await Promise.all([clientOf(relay), clientOf(relay), clientOf(relay)]);
  // Each leaves when told to go away.
  for (const c of clients) void c.session.goaway.then(() => c.close());
  const signalled = performance.now();
  relay.signal("SIGTERM");
  const status = await withTimeout(relay.exited(), 10_000, "the relay's exit");
  const exitAt = performance.now() - signalled;
  equal(status.code, 0);
  ok(exitAt < 3000, `exited ${Math.round(exitAt)} ms after the signal, not at the 20 s timeout`);
  ok(relay.log().includes("drained in"), relay.log().slice(-1000));
  console.log(`drain with leaving clients: exit at ${Math.round(exitAt)} ms`);

  await using stubborn = await startRelayProcess(["--drain-timeout", "30s"]);
  const stays = await clientOf(stubborn);
  try {
    stubborn.signal("SIGTERM");
    await withTimeout(stays.session.goaway, 3000, "the GOAWAY");
    const second = performance.now();
    stubborn.signal("SIGTERM");
    const again = await withTimeout(stubborn.exited(), 5000, "the exit on the second signal");
    equal(again.code, 0);
    ok(performance.now() - second < 2000, "the second signal exits at once");
    ok(stubborn.log().includes("second signal: exiting now"));
  } finally {
    await stays.close().catch(() => {});
  }
});

Deno.test("a draining cluster node withdraws its record first; viewers elsewhere keep watching", async () => {
  await using root = await startRelayProcess([]);
  const node = (extra: string[] = []) =>
    startRelayProcess(["--cluster-root", root.address, "--cluster-node", "127.0.0.1", ...extra]);
  await using a = await node(["--drain-timeout", "4s"]);
  await using b = await node();
  await until("A and B to link", async () => {
    const members = [...(await a.stats()).members, ...(await b.stats()).members];
    return members.includes(a.address) || members.includes(b.address);
  }, 15_000);
  // A broadcast on B, watched on B and on the root; a client on A keeps A's drain waiting.
  const publisher = await clientOf(b);
  const stop = keepPublishing(publisher.publish("show"));
  const onB = await clientOf(b);
  const onRoot = await clientOf(root);
  const onA = await clientOf(a);
  try {
    for (const c of [onB, onRoot, onA]) await c.announced("show", 10_000);
    const watchers = [onB, onRoot].map((c) => c.subscribe("show", "video"));
    for (const w of watchers) await w.next();

    a.signal("SIGTERM");
    // Withdrawn first: B stops linking to A while A is still draining (its client stays).
    await until(
      "B to let go of A",
      async () => !(await b.stats()).members.includes(a.address),
      5000,
    );
    equal((await health(a))[0], 503, "A is still up, draining");
    equal((await a.exited()).code, 0);
    // After A is gone the broadcast still flows on B and through the root.
    for (const w of watchers) {
      for (let i = 0; i < 3; i++) ok((await w.next()).value, "still watching after A left");
      await w.return(undefined);
    }
  } finally {
    stop();
    for (const c of [publisher, onB, onRoot, onA]) await c.close().catch(() => {});
  }
});

Deno.test("access log: one line per session when it ends, as JSON with --log-format json", async () => {
  await using relay = await startRelayProcess(["--log-format", "json"]);
  const publisher = await clientOf(relay);
  const viewer = await clientOf(relay);
  const source = publisher.publish("show");
  await viewer.announced("show", 5000);
  const groups = viewer.subscribe("show", "video");
  const first = groups.next();
  let seq = 0;
  const timer = setInterval(() => source.writeGroup("video", seq++, [text("12345")]), 50);
  await first;
  clearInterval(timer);
  await groups.return(undefined);
  await viewer.close();
  const lines = () =>
    relay.log().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
      .filter((r) => r.logger === "moq-relay.access");
  await until("the viewer's access line", () => lines().length >= 1);
  const line = lines()[0];
  for (const key of ["remote", "transport", "version", "path", "durationMs", "reason"]) {
    ok(key in line, `${key} in ${JSON.stringify(line)}`);
  }
  equal(line.transport, "webtransport");
  equal(line.version, "moq-lite-06");
  ok(line.framesOut >= 1 && line.mediaBytesOut >= 5, "what it sent the viewer");
  ok(line.bytesIn > 0 && line.bytesOut > 0, "bytes on its streams both ways");
  equal(line.closedBy, "peer");
  await publisher.close();
});
