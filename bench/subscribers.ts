/**
 * N moq-lite subscribers in one process, each its own raw QUIC connection (ALPN moq-lite-06),
 * built from the relay's own session code in the client role. Each subscribes to the video and
 * audio tracks and records every frame the moment its last byte lands (latency = receive time
 * minus the send time stamped in the payload).
 *
 * Protocol with the harness: prints `{"ready":...}` once every subscriber has subscribed and
 * seen a frame of each track (or after --ready-timeout); reads the measurement window as a JSON
 * line `{"from","until","graceMs"}` on stdin; prints `{"result":...}` after until + grace, exits.
 *
 *   deno run -A bench/subscribers.ts --port P --fingerprint HEX --n 100 [--spread-ms 1000]
 */
import { parseArgs } from "cli-args";
import type { Group } from "../src/cache/group.ts";
import type { Origin } from "../src/cache/origin.ts";
import type { Track } from "../src/cache/track.ts";
import { MoqSession } from "../src/session/lite/session.ts";
import { fingerprintBytes } from "../src/tls/certificate.ts";
import { QuicSession } from "../src/transport/quic.ts";
import { dialQuic } from "../src/transport/webtransport.ts";
import { ownClientContext } from "../tests/support/moq_client.ts";
import {
  BENCH_PATH,
  readStamp,
  Recorder,
  reportReadyAndResult,
  sharedLatency,
  sleep,
  type TrackName,
  TRANSPORT_OPTIONS,
  windowFromHarness,
} from "./common.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    fingerprint: { type: "string" },
    n: { type: "string", default: "1" },
    "spread-ms": { type: "string", default: "0" },
    "threshold-ms": { type: "string", default: "200" },
    "max-latency": { type: "string", default: "2000" },
    "per-endpoint": { type: "string", default: "1" },
    "ready-timeout": { type: "string", default: "20000" },
    idle: { type: "boolean", default: false },
  },
});
/** Idle viewers: connected and told of the broadcast, subscribed to nothing. */
const IDLE = values.idle;
const N = Number(values.n);
const SPREAD = Number(values["spread-ms"]);
const MAX_LATENCY = Number(values["max-latency"]);
/**
 * A subscriber reads each group as it arrives and keeps none: its cache holds a few groups, so a
 * load process of hundreds of subscribers measures the relay, not its own collector (a client
 * has no timer evicting by age, only the byte limit).
 */
const SUBSCRIBER_CACHE = { maxBytes: 4 * 1024 * 1024, maxAgeMs: 5000 };
const PER_ENDPOINT = Number(values["per-endpoint"]);
const hash = fingerprintBytes(String(values.fingerprint));
const url = new URL(`moqt://${values.host}:${values.port}/`);

const shared = sharedLatency(Number(values["threshold-ms"]));
const endpoints: Deno.QuicEndpoint[] = [];
const sessions: QuicSession[] = [];

/** Frames of a group as they complete. */
async function followGroup(group: Group, name: TrackName, rec: Recorder): Promise<void> {
  let i = 0;
  while (true) {
    for (
      let frame = group.frames[i];
      frame && frame.received >= frame.size;
      frame = group.frames[i]
    ) {
      const { sent } = readStamp(frame.chunks);
      rec.frame(name, sent, frame.size);
      i++;
    }
    if (group.done) return;
    await group.changed();
  }
}

async function followTrack(track: Track, name: TrackName, rec: Recorder): Promise<void> {
  let cursor = track.startIndex();
  while (true) {
    const { group, index } = track.at(cursor);
    if (group) {
      cursor = index + 1;
      void followGroup(group, name, rec);
      continue;
    }
    if (track.ended) {
      if (track.error) rec.error ??= `${name}: ${track.error}`;
      return;
    }
    await track.changed();
  }
}

function waitRoute(origin: Origin, path: string, timeoutMs: number): Promise<void> {
  if (origin.route(path)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      watch.stop();
      reject(new Error(`${path} was never announced`));
    }, timeoutMs);
    const watch = origin.watch(path, (p, active) => {
      if (p === path && active) {
        clearTimeout(timer);
        watch.stop();
        resolve();
      }
    });
    if (origin.route(path)) {
      clearTimeout(timer);
      watch.stop();
      resolve();
    }
  });
}

async function subscriber(index: number, rec: Recorder): Promise<void> {
  const slot = Math.floor(index / PER_ENDPOINT);
  const endpoint = endpoints[slot] ??= new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const conn = await dialQuic(url, ["moq-lite-06"], {
    serverCertificateHashes: [hash],
    endpoint,
    transport: TRANSPORT_OPTIONS,
  });
  await conn.handshake;
  const transport = new QuicSession(conn, url);
  sessions.push(transport);
  const context = ownClientContext(SUBSCRIBER_CACHE);
  const session = new MoqSession(transport, context, { role: "client", path: "/" });
  void session.run();
  await waitRoute(context.origin, BENCH_PATH, 15_000);
  const route = context.origin.route(BENCH_PATH);
  if (!route) throw new Error("no route");
  rec.joined();
  if (IDLE) return;
  rec.debug = index === 0;
  // Audio first, as a player would ask.
  for (const name of ["audio", "video"] as const) {
    const lease = route.broadcast.subscribe(name, {
      priority: name === "audio" ? 2 : 1,
      maxLatency: MAX_LATENCY,
    });
    void followTrack(lease.track, name, rec);
  }
}

const windowArrived = windowFromHarness(shared);

const recorders = Array.from({ length: N }, () => new Recorder(shared));
// Without a spread, at most this many handshakes at once (a burst of hundreds times out).
const CONCURRENT = 64;
let nextIndex = 0;
const started: Promise<void>[] = [];
const runOne = async (i: number) => {
  const rec = recorders[i]!;
  try {
    await subscriber(i, rec);
  } catch (e) {
    rec.error = e instanceof Error ? e.message : String(e);
  }
};
if (SPREAD > 0) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const due = t0 + (i * SPREAD) / N;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    recorders[i] = new Recorder(shared);
    started.push(runOne(i));
  }
} else {
  const worker = async () => {
    while (nextIndex < N) {
      const i = nextIndex++;
      recorders[i] = new Recorder(shared);
      await runOne(i);
    }
  };
  for (let w = 0; w < Math.min(CONCURRENT, N); w++) started.push(worker());
}

await Promise.all(started);
await reportReadyAndResult(recorders, shared, windowArrived, {
  readyTimeoutMs: Number(values["ready-timeout"]),
  idle: IDLE,
});
for (const s of sessions) void s.close({ code: 0, reason: "bench done" }).catch(() => {});
await sleep(100);
for (const e of endpoints) e.close();
Deno.exit(0);
