/**
 * `deno task bench`: the relay under load, as separate processes on loopback, against a raw-QUIC
 * baseline in the same run. Measured figures only; nothing here asserts a speed.
 *
 * Processes: the relay (`dist/moq-relay` if built, else `deno run -A main.ts`), one publisher
 * (bench/publisher.ts: video + audio, frames stamped with send time and sequence), subscriber
 * processes (bench/subscribers.ts: N raw-QUIC moq-lite-06 connections each), and for the baseline
 * bench/baseline.ts (one sender, N receivers, no MoQ, no cache).
 *
 * Scenarios: fan-out to N subscribers for each N (a fresh relay and publisher per N);
 * a late-join storm (subscribers joining within --storm-spread-ms while one already watches); a
 * two-hop cluster path (publisher -> relay A (root) -> relay B -> subscribers); the baseline at
 * each fan-out N.
 *
 *   deno task bench [--quick] [--n 1,10,100] [--storm 200] [--two-hop 10,100] [--idle 500]
 *                   [--window 6] [--collapse-below 0.9]
 *                   [--warmup 2] [--name NAME] [--relay-cpu-prof DIR] [--relay-root DIR]
 *                   [--video-kbps 2500 ...]
 *   deno task bench --soak [--soak-subscribers 20] [--soak-seconds 600]
 *                   [--soak-warmup-seconds 60] [--soak-interval-seconds 10] [--soak-max-growth 32]
 *                   [--soak-sample-ms 100] [--soak-v8-flags --gc-global] [--name NAME] [--out F]
 *
 * --soak runs only the memory soak (bench/soak.ts): a steady load for minutes, the slope of the
 * relay's heap floor and RSS after warm-up; exits 1 while the heap keeps growing.
 *
 * Also: memory per idle subscriber connection (--idle N connections that subscribe to nothing).
 * Fan-out stops escalating once an N delivers under --collapse-below (0.9) of its frames: the
 * larger N are reported as skipped, and the subscribers left without frames there as saturated.
 *
 * Here: the options, the relays, the scenarios and the report. Alongside: proc.ts (child
 * processes), sampler.ts (/proc sampling), figures.ts (figures and the table), common.ts (the
 * workload, frame stamps, histograms, recorders).
 *
 * Exits 0 when every scenario ran, no server died and, below saturation (always, with --quick),
 * every subscriber subscribed and received frames; 1 otherwise. Subscribers left out at
 * saturation are listed as such.
 */
import { parseArgs } from "cli-args";
import {
  DEFAULT_WORKLOAD,
  frameSizes,
  type LoadResult,
  machineInfo,
  now,
  sampleProc,
  sleep,
  udpReceiveDrops,
  type Window,
  WORKLOAD_OPTIONS,
  workloadArgs,
  workloadFrom,
} from "./common.ts";
import { f, figures, type FrameLog, type RawScenario, type Scenario, table } from "./figures.ts";
import { deno, live, Proc, ROOT, stopAll } from "./proc.ts";
import { type Monitored, Sampler } from "./sampler.ts";
import { runSoak, SOAK_OPTIONS } from "./soak.ts";

const started = now();

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    n: { type: "string" },
    storm: { type: "string" },
    idle: { type: "string" },
    "collapse-below": { type: "string", default: "0.9" },
    "storm-spread-ms": { type: "string", default: "1000" },
    "two-hop": { type: "string" },
    window: { type: "string" },
    warmup: { type: "string" },
    grace: { type: "string", default: "1" },
    "threshold-ms": { type: "string", default: "200" },
    target: { type: "string", default: "0.999" },
    "max-latency": { type: "string", default: "2000" },
    "sub-procs": { type: "string" },
    baseline: { type: "boolean", default: true },
    "no-baseline": { type: "boolean", default: false },
    name: { type: "string" },
    "relay-bin": { type: "string" },
    "relay-root": { type: "string" },
    "relay-cpu-prof": { type: "string" },
    raw: { type: "boolean", default: false },
    out: { type: "string" },
    ...WORKLOAD_OPTIONS,
    ...SOAK_OPTIONS,
  },
});
const QUICK = values.quick;
const list = (s: string | undefined, fallback: number[]) =>
  s === undefined ? fallback : s.split(",").filter((x) => x.trim()).map(Number);
const FANOUT = list(values.n, QUICK ? [1, 10, 50] : [1, 10, 100, 200, 250, 500]);
const STORM = Number(values.storm ?? (QUICK ? 50 : 200));
const STORM_SPREAD = Number(values["storm-spread-ms"]);
const IDLE = Number(values.idle ?? (QUICK ? 50 : 500));
/** A fan-out N that delivers less than this share of its frames ends the escalation. */
const COLLAPSE = Number(values["collapse-below"]);
const TWO_HOP = list(values["two-hop"], QUICK ? [10] : [10, 100]);
const WINDOW_MS = Number(values.window ?? (QUICK ? 2 : 6)) * 1000;
const WARMUP_MS = Number(values.warmup ?? (QUICK ? 1 : 2)) * 1000;
const GRACE_MS = Number(values.grace) * 1000;
const THRESHOLD = Number(values["threshold-ms"]);
const TARGET = Number(values.target);
const WORKLOAD = workloadFrom(values);
const NAME = values.name ?? (QUICK ? "quick" : "default");
const BASELINE = values.baseline && !values["no-baseline"];
const figureOptions = { target: TARGET, keepRaw: values.raw };

function relayCommand(): { command: string; args: string[]; kind: string } {
  const bin = values["relay-bin"] ?? `${ROOT}dist/moq-relay`;
  let exists = false;
  try {
    exists = Deno.statSync(bin).isFile;
  } catch {
    exists = false;
  }
  if (exists && !values["relay-cpu-prof"] && !values["relay-root"]) {
    return { command: bin, args: [], kind: bin };
  }
  const prof = values["relay-cpu-prof"]
    ? ["--cpu-prof", `--cpu-prof-dir=${values["relay-cpu-prof"]}`]
    : [];
  // --relay-root: another checkout's relay (say, before a change) under the same harness.
  const main = values["relay-root"] ? `${values["relay-root"]}/main.ts` : "main.ts";
  return {
    command: Deno.execPath(),
    args: ["run", "-A", ...prof, main],
    kind: `deno run -A ${prof.join(" ")} ${main}`.replace(/\s+/g, " "),
  };
}

interface Relay {
  proc: Proc;
  port: number;
  address: string;
  fingerprint: string;
}

/** The relay's start-up line (at the info level), with the port it bound. */
const LISTENING = /listening on (?:\[[^\]]*\]|[^\s:]+):(\d+) /;

/** Starts a relay on port 0 and learns its port from its start-up line. */
async function startRelay(
  label: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<Relay> {
  const { command, args } = relayCommand();
  const proc = new Proc(label, command, [
    ...args,
    "--bind",
    "127.0.0.1:0",
    "--tls-generate",
    "127.0.0.1",
    ...extra,
  ], env);
  const deadline = performance.now() + 30_000;
  let port: number | undefined;
  while (true) {
    if (!live.has(proc)) throw new Error(`${label} exited at start:\n${proc.stderr}`);
    port ??= Number(proc.stderr.match(LISTENING)?.[1]) || undefined;
    if (port !== undefined) {
      const address = `127.0.0.1:${port}`;
      try {
        const res = await fetch(`http://${address}/certificate.sha256`);
        const text = (await res.text()).trim();
        if (res.ok && text) return { proc, port, address, fingerprint: text };
      } catch {
        // not answering yet
      }
    }
    if (performance.now() > deadline) throw new Error(`${label} did not start:\n${proc.stderr}`);
    await sleep(50);
  }
}

function split(n: number): number[] {
  const procs = Math.min(
    n,
    values["sub-procs"] ? Number(values["sub-procs"]) : n >= 100 ? 2 : 1,
  );
  return Array.from({ length: procs }, (_, i) => Math.floor(n / procs) + (i < n % procs ? 1 : 0));
}

const subscriberArgs = (relay: { port: number; fingerprint: string }, n: number) => [
  "--port",
  String(relay.port),
  "--fingerprint",
  relay.fingerprint,
  "--n",
  String(n),
  "--threshold-ms",
  String(THRESHOLD),
];

const moqArgs = (relay: { port: number; fingerprint: string }, n: number) => [
  ...subscriberArgs(relay, n),
  "--max-latency",
  values["max-latency"],
];

const onSignal = () => {
  void stopAll().then(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

// --soak: only the memory soak (bench/soak.ts), none of the scenarios below.
if (values.soak) {
  let code = 1;
  try {
    code = await runSoak(values, {
      startRelay: (label, args, env) => startRelay(label, args, env),
      relayKind: relayCommand().kind,
      workload: WORKLOAD,
      publisherArgs: workloadArgs(WORKLOAD),
      subscriberArgs: moqArgs,
      graceMs: GRACE_MS,
      figureOptions,
      name: values.name,
      out: values.out,
    });
  } catch (e) {
    console.error(e);
  } finally {
    await stopAll();
  }
  Deno.exit(code);
}

/**
 * One measured scenario: starts the load processes, waits until they are ready (unless `storm`),
 * hands them the window, samples the servers, collects results.
 */
async function measure(options: {
  scenario: string;
  kind: RawScenario["kind"];
  n: number;
  servers: Monitored[];
  spawn: () => Proc[];
  storm?: boolean;
}): Promise<RawScenario> {
  const t0 = now();
  const loads = options.spawn();
  const sampler = new Sampler([
    ...options.servers,
    ...loads.map((p, i) => ({ label: `load${i}`, pid: p.pid })),
  ]);
  try {
    let from: number;
    if (options.storm) {
      from = Date.now() + 50;
    } else {
      await Promise.all(loads.map((p) => p.expect("ready", 120_000)));
      from = Date.now() + WARMUP_MS;
    }
    const window: Window = { from, until: from + WINDOW_MS, graceMs: GRACE_MS };
    await Promise.all(loads.map((p) => p.send(JSON.stringify({ window }))));
    await sleep(window.from - Date.now());
    sampler.mark("start");
    const dropsBefore = udpReceiveDrops();
    await sleep(window.until - Date.now());
    sampler.mark("end");
    const dropsAfter = udpReceiveDrops();
    const udpDrops = dropsBefore !== undefined && dropsAfter !== undefined
      ? dropsAfter - dropsBefore
      : undefined;
    const results = await Promise.all(
      loads.map((p) => p.expect<LoadResult>("result", GRACE_MS + 60_000)),
    );
    await Promise.all(loads.map((p) => p.exited));
    const measured = sampler.figures();
    const servers = measured.slice(0, options.servers.length);
    const loadGenerators = measured.slice(options.servers.length);
    console.error(
      `  ${options.scenario}: done in ${((now() - t0) / 1000).toFixed(1)} s`,
    );
    return {
      scenario: options.scenario,
      kind: options.kind,
      n: options.n,
      window,
      results,
      udpDrops,
      died: options.servers.filter((m) => m.proc && !live.has(m.proc)).map((m) =>
        `${m.label} exited (code ${m.proc?.status?.code}, signal ${m.proc?.status?.signal}); ` +
        `stderr tail:\n${m.proc?.stderr.slice(-1500)}`
      ),
      servers,
      loadGenerators,
    };
  } finally {
    sampler.stop();
    await Promise.all(loads.map((p) => p.stop()));
  }
}

// ---- families of scenarios ------------------------------------------------------------------

/** Scenarios left out (saturation reached below them), with the reason. */
const skipped: string[] = [];

/**
 * Whether a scenario collapsed: its subscribers received under COLLAPSE of the frames sent in
 * the window, so a larger N would only measure the same saturation for longer.
 */
function collapsed(raw: RawScenario | undefined): boolean {
  if (!raw) return false;
  const seconds = (raw.window.until - raw.window.from) / 1000;
  const sent = raw.n * seconds * (WORKLOAD.videoFps + WORKLOAD.audioFps);
  const received = raw.results.flatMap((r) => r.subscribers)
    .reduce((a, s) => a + s.tracks.video.received + s.tracks.audio.received, 0);
  return received < COLLAPSE * sent;
}

/** A relay + publisher kept up across several scenarios. */
async function withPublisher(
  relays: Relay[],
  publishOn: Relay,
  run: (servers: Monitored[]) => Promise<RawScenario[]>,
): Promise<Scenario[]> {
  const publisher = deno("bench/publisher.ts", [
    "--port",
    String(publishOn.port),
    "--fingerprint",
    publishOn.fingerprint,
    ...workloadArgs(WORKLOAD),
  ]);
  try {
    await publisher.expect("ready", 30_000);
    const raws = await run(
      relays.map((r) => ({ label: r.proc.label, pid: r.proc.pid, proc: r.proc })),
    );
    await publisher.send("stop");
    const log = await publisher.expect<FrameLog>("log", 10_000);
    return raws.map((r) => figures(r, log, figureOptions));
  } finally {
    await publisher.stop();
  }
}

/**
 * Fan-out: a fresh relay (and publisher) per N, so each N's memory figures stand alone and a
 * relay that dies at one N does not spoil the next. Then the storm, on a fresh relay too.
 */
async function fanOutFamily(): Promise<Scenario[]> {
  const out: Scenario[] = [];
  for (const n of FANOUT) {
    if (out.at(-1) && out.at(-1)!.deliveredRatio < COLLAPSE) {
      skipped.push(`fan-out N=${n}: not run, the relay collapsed at a smaller N`);
      continue;
    }
    out.push(
      ...await onFreshRelay((relay, servers) =>
        measure({
          scenario: `fan-out N=${n}`,
          kind: "relay",
          n,
          servers,
          spawn: () => split(n).map((k) => deno("bench/subscribers.ts", moqArgs(relay, k))),
        })
      ),
    );
  }
  if (STORM <= 0) return out;
  // The storm: one viewer keeps the broadcast warm, then STORM join within the spread.
  out.push(
    ...await onFreshRelay(async (relay, servers) => {
      const resident = deno("bench/subscribers.ts", moqArgs(relay, 1));
      try {
        await resident.expect("ready", 30_000);
        return await measure({
          scenario: `late-join storm N=${STORM}`,
          kind: "storm",
          n: STORM,
          servers,
          storm: true,
          spawn: () => [
            deno("bench/subscribers.ts", [
              ...moqArgs(relay, STORM),
              "--spread-ms",
              String(STORM_SPREAD),
            ]),
          ],
        });
      } finally {
        await resident.stop();
      }
    }),
  );
  return out;
}

async function onFreshRelay(
  run: (relay: Relay, servers: Monitored[]) => Promise<RawScenario>,
): Promise<Scenario[]> {
  const relay = await startRelay("relay");
  try {
    return await withPublisher([relay], relay, async (servers) => [await run(relay, servers)]);
  } finally {
    await relay.proc.stop();
  }
}

async function twoHopFamily(): Promise<Scenario[]> {
  if (TWO_HOP.length === 0) return [];
  const a = await startRelay("relay A (root)", ["--tls-disable-verify"]);
  let b: Relay | undefined;
  try {
    b = await startRelay("relay B", [
      "--cluster-root",
      a.address,
      "--cluster-node",
      "127.0.0.1", // advertises the port it binds
      "--tls-disable-verify",
    ]);
    const relayB = b;
    return await withPublisher([a, relayB], a, async (servers) => {
      const out: RawScenario[] = [];
      for (const n of TWO_HOP) {
        if (out.some((r) => r.died.length > 0)) break;
        out.push(
          await measure({
            scenario: `two-hop N=${n}`,
            kind: "two-hop",
            n,
            servers,
            spawn: () => split(n).map((k) => deno("bench/subscribers.ts", moqArgs(relayB, k))),
          }),
        );
      }
      return out;
    });
  } finally {
    await b?.proc.stop();
    await a.proc.stop();
  }
}

async function baselineFamily(): Promise<Scenario[]> {
  if (!BASELINE) return [];
  const sender = deno("bench/baseline.ts", ["--role", "sender", ...workloadArgs(WORKLOAD)]);
  try {
    const listening = await sender.expect<{ port: number; fingerprint: string }>(
      "listening",
      30_000,
    );
    const raws: RawScenario[] = [];
    for (const n of FANOUT) {
      if (raws.some((r) => r.died.length > 0)) break;
      if (collapsed(raws.at(-1))) {
        skipped.push(`baseline N=${n}: not run, the baseline collapsed at a smaller N`);
        continue;
      }
      raws.push(
        await measure({
          scenario: `baseline N=${n}`,
          kind: "baseline",
          n,
          servers: [{ label: "baseline sender", pid: sender.pid, proc: sender }],
          spawn: () =>
            split(n).map((k) =>
              deno("bench/baseline.ts", ["--role", "receivers", ...subscriberArgs(listening, k)])
            ),
        }),
      );
    }
    await sender.send("stop");
    const log = await sender.expect<FrameLog>("log", 10_000);
    return raws.map((r) => figures(r, log, figureOptions));
  } finally {
    await sender.stop();
  }
}

interface IdleFigures {
  connections: number;
  /** Connections that reached the relay and heard of the broadcast. */
  connected: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** Relay RSS growth per idle connection. */
  kibPerConnection: number;
}

/**
 * Memory per idle viewer: a relay with a publisher and nobody subscribed (so nothing cached), then
 * IDLE connections that hear of the broadcast and subscribe to nothing; the relay's RSS growth
 * per connection, after they settle.
 */
async function idleFamily(): Promise<IdleFigures | undefined> {
  if (IDLE <= 0) return undefined;
  const relay = await startRelay("relay");
  const publisher = deno("bench/publisher.ts", [
    "--port",
    String(relay.port),
    "--fingerprint",
    relay.fingerprint,
    ...workloadArgs(WORKLOAD),
  ]);
  let loads: Proc[] = [];
  try {
    await publisher.expect("ready", 30_000);
    await sleep(1000);
    const before = sampleProc(relay.proc.pid);
    loads = split(IDLE).map((k) =>
      deno("bench/subscribers.ts", [...subscriberArgs(relay, k), "--idle"])
    );
    const ready = await Promise.all(
      loads.map((p) => p.expect<{ subscribed: number }>("ready", 120_000)),
    );
    await sleep(2000);
    const after = sampleProc(relay.proc.pid);
    if (!before || !after || !live.has(relay.proc)) throw new Error("the relay is gone");
    const connected = ready.reduce((a, r) => a + r.subscribed, 0);
    console.error(`  idle connections N=${IDLE}: ${connected} connected`);
    return {
      connections: IDLE,
      connected,
      rssBeforeMiB: before.rssKiB / 1024,
      rssAfterMiB: after.rssKiB / 1024,
      kibPerConnection: (after.rssKiB - before.rssKiB) / Math.max(1, connected),
    };
  } finally {
    await Promise.all(loads.map((p) => p.stop()));
    await publisher.stop();
    await relay.proc.stop();
  }
}

let broken: string[] = [];
const scenarios: Scenario[] = [];
let failure: unknown;
let idle: IdleFigures | undefined;
try {
  const sizes = frameSizes(WORKLOAD);
  console.error(
    `bench ${NAME}: relay = ${relayCommand().kind}; subscribers = raw QUIC moq-lite-06; ` +
      `window ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s warm-up; ` +
      `video ${WORKLOAD.videoKbps} kbit/s ${WORKLOAD.videoFps} fps (key ${sizes.key} B, delta ` +
      `${sizes.delta} B), audio ${WORKLOAD.audioKbps} kbit/s ${WORKLOAD.audioFps} fps (${sizes.audio} B)`,
  );
  try {
    idle = await idleFamily();
  } catch (e) {
    failure = e;
    broken.push(`idleFamily failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  for (const family of [fanOutFamily, twoHopFamily, baselineFamily]) {
    try {
      scenarios.push(...await family());
    } catch (e) {
      failure = e;
      broken.push(`${family.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
} catch (e) {
  failure = e;
  broken.push(`run failed: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  await stopAll();
}

/**
 * At saturation (the machine's, the relay's or the baseline's: subscribers fall behind) some
 * subscribers may get nothing. A subscriber left out while every other one was on time is a
 * fault; so is anything missing in quick mode, which stays far below saturation.
 */
const saturated: string[] = [];
for (const s of scenarios) {
  for (const d of s.died) broken.push(`${s.scenario}: ${d}`);
  const missing = Math.max(s.n - s.subscribersOk, s.zeroFrameSubscribers);
  const lateOthers = s.subscribersOnTime < s.n - missing;
  const into = !QUICK && (lateOthers || s.deliveredRatio < COLLAPSE) ? saturated : broken;
  if (s.zeroFrameSubscribers > 0) {
    into.push(`${s.scenario}: ${s.zeroFrameSubscribers} subscriber(s) got no frame`);
  }
  if (s.subscribersOk < s.n) {
    into.push(`${s.scenario}: ${s.n - s.subscribersOk} never subscribed`);
  }
}
if (idle && idle.connected < idle.connections) {
  broken.push(`idle connections: ${idle.connections - idle.connected} never connected`);
}
broken = [...new Set(broken)];

const relayRuns = scenarios.filter((s) => s.kind === "relay");
const baselineRuns = scenarios.filter((s) => s.kind === "baseline");
const viewers = Math.max(0, ...relayRuns.filter((s) => s.allOnTime).map((s) => s.n));
const viewersBaseline = Math.max(0, ...baselineRuns.filter((s) => s.allOnTime).map((s) => s.n));
const perHop = scenarios.filter((s) => s.kind === "two-hop").map((two) => {
  const one = relayRuns.find((s) => s.n === two.n);
  return {
    n: two.n,
    addedP50Ms: one ? two.latencyMs.p50 - one.latencyMs.p50 : null,
    addedP99Ms: one ? two.latencyMs.p99 - one.latencyMs.p99 : null,
  };
});
/** Egress at saturation: the most either process delivered at any N (the headline ratio). */
const peakEgress = (runs: Scenario[]) => Math.max(0, ...runs.map((s) => s.egressBytesPerSecond));
const peak = {
  relayBytesPerSecond: peakEgress(relayRuns),
  baselineBytesPerSecond: peakEgress(baselineRuns),
  ratio: peakEgress(baselineRuns) > 0 ? peakEgress(relayRuns) / peakEgress(baselineRuns) : null,
};
const ratios = relayRuns.map((r) => {
  const b = baselineRuns.find((s) => s.n === r.n);
  return {
    n: r.n,
    egress: b ? r.egressBytesPerSecond / b.egressBytesPerSecond : null,
    cpuPerByte: b ? r.serverCpuMsPerMB / b.serverCpuMsPerMB : null,
  };
});

console.log("");
console.log(table(scenarios));
console.log("");
console.log(
  `viewers per relay process (every subscriber >= ${TARGET * 100}% of frames within ` +
    `${THRESHOLD} ms): ${viewers}${
      viewers === Math.max(...FANOUT) ? " (the largest N tried)" : ""
    }` +
    `; baseline: ${viewersBaseline}`,
);
for (const h of perHop) {
  console.log(
    `latency added per hop at N=${h.n}: p50 ${f(h.addedP50Ms ?? NaN, 2)} ms, p99 ${
      f(h.addedP99Ms ?? NaN, 2)
    } ms`,
  );
}
for (const r of ratios) {
  console.log(
    `relay/baseline at N=${r.n}: egress ${f(r.egress ?? NaN, 3)}, CPU per delivered byte ${
      f(r.cpuPerByte ?? NaN, 2)
    }`,
  );
}
console.log(
  `egress at saturation (peak over N): relay ${f(peak.relayBytesPerSecond * 8 / 1e6, 1)} Mbit/s, ` +
    `baseline ${f(peak.baselineBytesPerSecond * 8 / 1e6, 1)} Mbit/s, ratio ${
      f(peak.ratio ?? NaN, 3)
    }`,
);
if (idle) {
  console.log(
    `memory per idle subscriber connection: ${f(idle.kibPerConnection, 1)} KiB ` +
      `(${idle.connected} connections; relay RSS ${f(idle.rssBeforeMiB, 0)} -> ` +
      `${f(idle.rssAfterMiB, 0)} MiB)`,
  );
}
for (const s of skipped) console.log(s);
for (const s of saturated) console.log(`saturated: ${s}`);
const runtime = (now() - started) / 1000;
console.log(`runtime ${runtime.toFixed(1)} s`);

const date = new Date().toISOString();
const out = values.out ?? `${ROOT}bench/results/${date.slice(0, 10)}-${NAME}.json`;
await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
await Deno.writeTextFile(
  out,
  JSON.stringify(
    {
      date,
      name: NAME,
      quick: QUICK,
      runtimeSeconds: runtime,
      machine: machineInfo(),
      relay: relayCommand().kind,
      subscriberTransport: "raw QUIC, ALPN moq-lite-06 (one connection per subscriber)",
      workload: { ...WORKLOAD, frameSizes: frameSizes(WORKLOAD) },
      defaults: DEFAULT_WORKLOAD,
      options: {
        fanOut: FANOUT,
        storm: STORM,
        stormSpreadMs: STORM_SPREAD,
        twoHop: TWO_HOP,
        idleConnections: IDLE,
        collapseBelow: COLLAPSE,
        windowMs: WINDOW_MS,
        warmupMs: WARMUP_MS,
        graceMs: GRACE_MS,
        thresholdMs: THRESHOLD,
        target: TARGET,
      },
      summary: {
        viewersPerRelayProcess: viewers,
        viewersBaseline,
        perHop,
        relayOverBaseline: ratios,
        peakEgress: peak,
        idle,
      },
      skipped,
      saturated,
      scenarios,
      broken,
    },
    (_k, v) => typeof v === "number" && !Number.isFinite(v) ? null : v,
    2,
  ) + "\n",
);
console.log(`wrote ${out}`);
if (failure) console.error(failure);
if (broken.length > 0) {
  console.error(`broken:\n  ${broken.join("\n  ")}`);
  Deno.exit(1);
}
Deno.exit(0);
