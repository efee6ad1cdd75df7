/**
 * `deno task bench --soak`: the relay's memory over a long run under a steady load, to catch
 * memory kept per group (a leak that grows with every group shows fastest on a track whose every
 * frame is its own group).
 *
 * Workload: one broadcast, the default video track (a group per GOP) and the audio track (50
 * frames/s, each frame its own group); `--soak-subscribers` (20) subscribers on both tracks, one
 * QUIC connection each; `--soak-seconds` (600) in all, of which the first `--soak-warmup-seconds`
 * (a third of the run, at most 60) are warm-up and not measured.
 *
 * Memory: the relay's RSS (/proc/<pid>/status) and V8 heap used (its `GET /stats`), sampled every
 * `--soak-sample-ms` (100). The estimate is the least-squares slope of the heap's floor: the
 * minimum of each `--soak-interval-seconds` (10; shorter in short runs) interval, i.e. the heap
 * just after a collection. RSS gets the same treatment (reported, not tested). Growth per
 * subscriber-hour = slope * 3600 / subscribers.
 *
 * The relay runs with `DENO_V8_FLAGS=--gc-global` (`--soak-v8-flags`, empty for V8's own schedule)
 * so that every collection is a full one and the floor is the live heap. Under V8's own schedule
 * most collections are scavenges: between full collections, 6 to 80 s apart here, the floor after
 * scavenges climbs 0.7 to 1 MiB/s with garbage promoted to the old generation (2 to 3 times the
 * leak this soak was built for), so a slope over less than several minutes measures where the
 * window falls on that sawtooth (measured over 40 s windows: -140 to +160 MiB per
 * subscriber-hour for a flat heap, -220 to +190 for the leaking one). Nothing is added to the
 * relay and nothing calls a collection: only which kind V8 runs changes. It costs the relay CPU,
 * more as the heap grows (+0.05 to 0.13 s/s at a flat 17 MiB; 0.60 against 0.24 s/s over 10
 * minutes of the leak, up to 200 MiB); over such a run V8's own schedule gives a slope near the
 * same (bench/results/2026-12-01-soak-before-natural-gc.json: 44 MiB per subscriber-hour against
 * 54).
 *
 * Exits 1 when the heap floor grows faster than `--soak-max-growth` MiB per subscriber-hour, when
 * the relay (or the publisher) dies, or when a subscriber never subscribed or received no frame in
 * the measured window.
 *
 * @module
 */
import {
  type LoadResult,
  machineInfo,
  now,
  sampleProc,
  sleep,
  type Window,
  type Workload,
} from "./common.ts";
import { f, figures, type FrameLog, type RawScenario, type Scenario } from "./figures.ts";
import { deno, live, type Proc, ROOT } from "./proc.ts";
import { type ProcFigures, Sampler } from "./sampler.ts";

export const SOAK_OPTIONS = {
  soak: { type: "boolean", default: false },
  "soak-subscribers": { type: "string", default: "20" },
  "soak-seconds": { type: "string", default: "600" },
  "soak-warmup-seconds": { type: "string" },
  "soak-interval-seconds": { type: "string" },
  "soak-max-growth": { type: "string" },
  "soak-sample-ms": { type: "string" },
  "soak-v8-flags": { type: "string", default: "--gc-global" },
} as const;

/**
 * The default limit on heap-floor growth, MiB per subscriber-hour (32: about 185 B per group per
 * subscriber here): twice the most a flat heap showed (16, in 40 s just after a 20 s warm-up, while
 * the cache still fills; about 1 over minutes), half the least the ~320 B-per-group leak showed (65).
 */
export const DEFAULT_MAX_GROWTH_MIB_PER_SUBSCRIBER_HOUR = 32;

/**
 * Milliseconds between memory samples: the relay allocates ~20 MiB/s here and collects about
 * twice a second, so an interval's lowest sample lands just after a collection.
 */
const SAMPLE_MS = 100;

const MIB = 1024 * 1024;

/** What the soak needs from the harness (bench/main.ts). */
export interface SoakHarness {
  startRelay(
    label: string,
    args: string[],
    env: Record<string, string>,
  ): Promise<{ proc: Proc; port: number; fingerprint: string }>;
  /** How the relay runs, for the report. */
  relayKind: string;
  workload: Workload;
  /** Publisher flags for the workload. */
  publisherArgs: string[];
  /** Subscriber-process flags for a relay and a count of subscribers. */
  subscriberArgs(relay: { port: number; fingerprint: string }, n: number): string[];
  graceMs: number;
  figureOptions: { target: number; keepRaw: boolean };
  name: string | undefined;
  out: string | undefined;
}

/** One memory sample of the relay; `t` in seconds from the start of the measured window. */
export interface MemorySample {
  t: number;
  rss: number;
  heapUsed: number;
  external: number;
}

/** One interval's floor: the sample with the least heapUsed, and the least RSS. */
export interface IntervalFloor {
  /** Interval start, seconds from the start of the measured window. */
  from: number;
  samples: number;
  /** When the heap floor was sampled. */
  heapAt: number;
  heapUsed: number;
  rss: number;
  rssEnd: number;
}

/** Least-squares slope of y over x (NaN under two points). */
export function leastSquaresSlope(points: { x: number; y: number }[]): number {
  if (points.length < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/** The floors of the measured window's intervals (those without samples are left out). */
export function intervalFloors(
  samples: MemorySample[],
  seconds: number,
  intervalSeconds: number,
): IntervalFloor[] {
  const out: IntervalFloor[] = [];
  for (let k = 0; (k + 1) * intervalSeconds <= seconds + 1e-6; k++) {
    const from = k * intervalSeconds;
    const inside = samples.filter((s) => s.t >= from && s.t < from + intervalSeconds);
    if (inside.length === 0) continue;
    const heap = inside.reduce((a, s) => s.heapUsed < a.heapUsed ? s : a);
    out.push({
      from,
      samples: inside.length,
      heapAt: heap.t,
      heapUsed: heap.heapUsed,
      rss: Math.min(...inside.map((s) => s.rss)),
      rssEnd: inside.at(-1)!.rss,
    });
  }
  return out;
}

/** Growth figures of the floors: slopes in bytes/s, and per subscriber-hour. */
export function growth(floors: IntervalFloor[], intervalSeconds: number, subscribers: number) {
  const heapSlope = leastSquaresSlope(floors.map((p) => ({ x: p.heapAt, y: p.heapUsed })));
  const rssSlope = leastSquaresSlope(
    floors.map((p) => ({ x: p.from + intervalSeconds / 2, y: p.rss })),
  );
  return {
    heapSlopeBytesPerSecond: heapSlope,
    rssSlopeBytesPerSecond: rssSlope,
    heapBytesPerSubscriberHour: heapSlope * 3600 / subscribers,
    rssBytesPerSubscriberHour: rssSlope * 3600 / subscribers,
  };
}

async function relayMemory(
  relay: { proc: Proc; port: number },
  t: number,
): Promise<MemorySample | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${relay.port}/stats`, {
      signal: AbortSignal.timeout(2000),
    });
    const stats = await res.json() as {
      memory?: { rss: number; heapUsed: number; external: number };
    };
    const proc = sampleProc(relay.proc.pid);
    if (!stats.memory || !proc) return undefined;
    return {
      t,
      rss: proc.rssKiB * 1024,
      heapUsed: stats.memory.heapUsed,
      external: stats.memory.external,
    };
  } catch {
    return undefined;
  }
}

const mib = (bytes: number, digits = 1) => f(bytes / MIB, digits);

/** Runs the soak; returns the exit code. */
export async function runSoak(values: Record<string, unknown>, h: SoakHarness): Promise<number> {
  const started = now();
  const num = (key: string) => typeof values[key] === "string" ? Number(values[key]) : undefined;
  const N = num("soak-subscribers") ?? 20;
  const SECONDS = num("soak-seconds") ?? 600;
  // The cache keeps 30 s of groups and compacts its eviction queue about as often, so the heap
  // settles about a minute in: a minute of a long run, a third of a short one.
  const WARMUP = num("soak-warmup-seconds") ?? Math.min(60, Math.round(SECONDS / 3));
  // What the cache holds on purpose must be full before the window opens, so a warm-up shorter
  // than twice the default age (30 s) runs the relay with half the warm-up as its cache age.
  const CACHE_AGE = Math.max(1, Math.min(30, Math.floor(WARMUP / 2)));
  const MEASURED = SECONDS - WARMUP;
  // At least 12 floors to fit a line through, and none shorter than a second or longer than 10.
  const INTERVAL = num("soak-interval-seconds") ??
    Math.min(10, Math.max(1, Math.floor(MEASURED / 12 * 10) / 10));
  const SAMPLE = num("soak-sample-ms") ?? SAMPLE_MS;
  const MAX_GROWTH = num("soak-max-growth") ?? DEFAULT_MAX_GROWTH_MIB_PER_SUBSCRIBER_HOUR;
  const V8_FLAGS = String(values["soak-v8-flags"] ?? "").trim();
  const NAME = h.name === undefined ? "soak" : `soak-${h.name}`;
  const broken: string[] = [];
  if (
    !(N >= 1 && WARMUP >= 0 && MEASURED > 0 && INTERVAL > 0 && MEASURED / INTERVAL >= 3 &&
      SAMPLE > 0 && SAMPLE < INTERVAL * 1000 && Number.isFinite(MAX_GROWTH))
  ) {
    console.error(
      `soak: need >= 1 subscriber, >= 3 intervals after warm-up and samples shorter than an ` +
        `interval (${SECONDS} s - ${WARMUP} s warm-up, ${INTERVAL} s intervals, ${SAMPLE} ms)`,
    );
    return 1;
  }
  console.error(
    `bench ${NAME}: relay = ${h.relayKind}${V8_FLAGS ? ` (DENO_V8_FLAGS=${V8_FLAGS})` : ""}; ` +
      `${N} subscribers (raw QUIC moq-lite-06) on video ${h.workload.videoKbps} kbit/s + audio ` +
      `${h.workload.audioFps} groups/s; ${SECONDS} s, ${WARMUP} s warm-up, cache age ` +
      `${CACHE_AGE} s; memory every ` +
      `${SAMPLE} ms, floor per ${INTERVAL} s`,
  );

  const relay = await h.startRelay(
    "relay",
    ["--cache-max-age", `${CACHE_AGE}s`],
    V8_FLAGS ? { DENO_V8_FLAGS: V8_FLAGS } : {},
  );
  let publisher: Proc | undefined;
  let subscribers: Proc | undefined;
  let sampler: Sampler | undefined;
  let cpu: ProcFigures | undefined;
  const samples: MemorySample[] = [];
  let window: Window | undefined;
  let results: LoadResult[] = [];
  let log: FrameLog | undefined;
  let ready: { subscribed: number; flowing: number } | undefined;
  let missed = 0;
  try {
    publisher = deno("bench/publisher.ts", [
      "--port",
      String(relay.port),
      "--fingerprint",
      relay.fingerprint,
      ...h.publisherArgs,
    ]);
    await publisher.expect("ready", 30_000);
    subscribers = deno("bench/subscribers.ts", h.subscriberArgs(relay, N));
    ready = await subscribers.expect<{ subscribed: number; flowing: number }>("ready", 120_000);
    if (ready.flowing < N) {
      broken.push(`only ${ready.flowing} of ${N} subscribers had frames of both tracks at start`);
    }
    const from = Date.now() + WARMUP * 1000;
    window = { from, until: from + MEASURED * 1000, graceMs: h.graceMs };
    await subscribers.send(JSON.stringify({ window }));
    sampler = new Sampler([{ label: "relay", pid: relay.proc.pid, proc: relay.proc }]);
    // From the start of the warm-up (kept, not fitted) to the window's end.
    const everyMs = INTERVAL * (MEASURED > 120 ? 3 : 1) * 1000;
    let next = performance.now();
    let progress = Date.now();
    let marked = false;
    const alive = () => live.has(relay.proc) && live.has(publisher!) && live.has(subscribers!);
    while (Date.now() < window.until && alive()) {
      if (!marked && Date.now() >= window.from) {
        sampler.mark("start");
        marked = true;
      }
      const t = (Date.now() - window.from) / 1000;
      const s = await relayMemory(relay, t);
      if (s) samples.push(s);
      else missed++;
      if (Date.now() >= progress) {
        progress += everyMs;
        const recent = samples.filter((x) => x.t > t - INTERVAL);
        if (recent.length) {
          console.error(
            `  t=${f(t, 0)} s: heap floor ${mib(Math.min(...recent.map((x) => x.heapUsed)))} ` +
              `MiB, RSS ${mib(recent.at(-1)!.rss, 0)} MiB`,
          );
        }
      }
      next += SAMPLE;
      const wait = Math.min(next - performance.now(), window.until - Date.now());
      if (wait > 0) await sleep(wait);
    }
    if (marked) sampler.mark("end");
    cpu = sampler.figures()[0];
    for (const [proc, what] of [[relay.proc, "relay"], [publisher, "publisher"]] as const) {
      if (!live.has(proc)) {
        broken.push(
          `the ${what} exited (code ${proc.status?.code}, signal ${proc.status?.signal}); ` +
            `stderr tail:\n${proc.stderr.slice(-1500)}`,
        );
      }
    }
    // Without the relay the subscribers would only wait out the window: no results then.
    if (live.has(relay.proc)) {
      results = [await subscribers.expect<LoadResult>("result", h.graceMs + 60_000)];
      await subscribers.exited;
      await publisher.send("stop");
      log = await publisher.expect<FrameLog>("log", 30_000);
    }
  } catch (e) {
    broken.push(`soak failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    sampler?.stop();
    await subscribers?.stop();
    await publisher?.stop();
    await relay.proc.stop();
  }

  // ---- figures ------------------------------------------------------------------------------
  const measured = samples.filter((s) => s.t >= 0 && s.t <= MEASURED);
  const floors = intervalFloors(measured, MEASURED, INTERVAL);
  const g = growth(floors, INTERVAL, N);
  const first = floors[0];
  const last = floors.at(-1);
  let delivery: Scenario | undefined;
  if (window && log && results.length) {
    delivery = figures(
      {
        scenario: `soak N=${N}`,
        kind: "relay",
        n: N,
        window,
        results,
        udpDrops: undefined,
        died: [],
        servers: cpu ? [cpu] : [],
        loadGenerators: [],
      } satisfies RawScenario,
      log,
      h.figureOptions,
    );
  }
  const perSubscriber = results.flatMap((r) => r.subscribers).map((s) => ({
    video: s.tracks.video.received,
    audio: s.tracks.audio.received,
    frames: s.tracks.video.received + s.tracks.audio.received,
    ...(s.error ? { error: s.error } : {}),
  }));
  const frames = perSubscriber.map((s) => s.frames).sort((a, b) => a - b);
  const median = frames[Math.floor((frames.length - 1) / 2)];
  const zero = perSubscriber.filter((s) => s.frames === 0).length;
  if (results.length && perSubscriber.length < N) {
    broken.push(`${N - perSubscriber.length} subscriber(s) missing from the results`);
  }
  if (zero > 0) broken.push(`${zero} subscriber(s) received no frame in the measured window`);
  if (delivery && delivery.subscribersOk < N) {
    broken.push(`${N - delivery.subscribersOk} subscriber(s) never subscribed`);
  }
  if (floors.length < 3) broken.push(`only ${floors.length} intervals with memory samples`);
  const growing = Number.isFinite(g.heapBytesPerSubscriberHour) &&
    g.heapBytesPerSubscriberHour > MAX_GROWTH * MIB;

  console.log("");
  console.log(
    `soak: ${N} subscribers, ${MEASURED} s measured after ${WARMUP} s warm-up; ` +
      `${measured.length} memory samples (${missed} missed), ${floors.length} floors of ` +
      `${INTERVAL} s; relay ${h.relayKind}${V8_FLAGS ? ` with ${V8_FLAGS}` : ""}`,
  );
  if (floors.length) {
    console.log(`heap floors (MiB): ${floors.map((p) => mib(p.heapUsed)).join(" ")}`);
    console.log(`RSS floors (MiB):  ${floors.map((p) => mib(p.rss, 0)).join(" ")}`);
  }
  if (first && last) {
    console.log(
      `heap used (floor): ${mib(first.heapUsed)} -> ${mib(last.heapUsed)} MiB; slope ` +
        `${f(g.heapSlopeBytesPerSecond, 0)} B/s = ${mib(g.heapBytesPerSubscriberHour, 2)} MiB ` +
        `per subscriber-hour (limit ${MAX_GROWTH})`,
    );
    console.log(
      `RSS: ${mib(first.rss)} -> ${mib(last.rss)} MiB; slope ${f(g.rssSlopeBytesPerSecond, 0)} ` +
        `B/s = ${mib(g.rssBytesPerSubscriberHour, 2)} MiB per subscriber-hour (not tested)`,
    );
  }
  if (frames.length) {
    console.log(
      `frames delivered per subscriber in the window: min ${frames[0]}, median ${median}, ` +
        `max ${frames.at(-1)}` +
        (delivery
          ? ` (delivered/expected ${f(delivery.deliveredRatio * 100, 2)}%, p50 ` +
            `${f(delivery.latencyMs.p50, 1)} ms, p99 ${f(delivery.latencyMs.p99, 1)} ms)`
          : ""),
    );
  }
  if (cpu) console.log(`relay CPU ${f(cpu.cpuPerSecond, 2)} s/s, peak RSS ${f(cpu.rssPeakMiB, 0)}`);
  if (growing) {
    broken.push(
      `the heap keeps growing after warm-up: ${mib(g.heapBytesPerSubscriberHour, 2)} MiB per ` +
        `subscriber-hour (limit ${MAX_GROWTH}, --soak-max-growth)`,
    );
  }
  const runtime = (now() - started) / 1000;
  console.log(`runtime ${runtime.toFixed(1)} s`);

  const date = new Date().toISOString();
  const out = h.out ?? `${ROOT}bench/results/${date.slice(0, 10)}-${NAME}.json`;
  const numbers = (_k: string, v: unknown) =>
    typeof v === "number" && !Number.isFinite(v) ? null : v;
  const report = {
    date,
    name: NAME,
    soak: true,
    runtimeSeconds: runtime,
    machine: machineInfo(),
    relay: h.relayKind,
    relayV8Flags: V8_FLAGS,
    subscriberTransport: "raw QUIC, ALPN moq-lite-06 (one connection per subscriber)",
    workload: h.workload,
    options: {
      subscribers: N,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      cacheMaxAgeSeconds: CACHE_AGE,
      measuredSeconds: MEASURED,
      intervalSeconds: INTERVAL,
      sampleMs: SAMPLE,
      maxGrowthMiBPerSubscriberHour: MAX_GROWTH,
    },
    estimator: "least-squares slope of the per-interval minima (the floor after collections)",
    summary: {
      heapStartBytes: first?.heapUsed,
      heapEndBytes: last?.heapUsed,
      rssStartBytes: first?.rss,
      rssEndBytes: last?.rss,
      ...g,
      heapMiBPerSubscriberHour: g.heapBytesPerSubscriberHour / MIB,
      rssMiBPerSubscriberHour: g.rssBytesPerSubscriberHour / MIB,
      growing,
      framesPerSubscriber: { min: frames[0], median, max: frames.at(-1) },
      deliveredRatio: delivery?.deliveredRatio,
      latencyMs: delivery?.latencyMs,
      relayCpuPerSecond: cpu?.cpuPerSecond,
      ready,
    },
    broken,
    floors,
    perSubscriber,
    delivery,
    sampleColumns: ["t", "rss", "heapUsed", "external"],
    samples: "SAMPLES",
  };
  // One line per sample (thousands of them), as deno fmt writes them.
  const sampleLines = samples.map((s) =>
    `    [${[Number(s.t.toFixed(3)), s.rss, s.heapUsed, s.external].join(", ")}]`
  );
  await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
  await Deno.writeTextFile(
    out,
    JSON.stringify(report, numbers, 2).replace(
      '"samples": "SAMPLES"',
      `"samples": [\n${sampleLines.join(",\n")}\n  ]`,
    ) + "\n",
  );
  console.log(`wrote ${out}`);
  if (broken.length > 0) {
    console.error(`broken:\n  ${broken.join("\n  ")}`);
    return 1;
  }
  return 0;
}
