/**
 * From raw results to figures: frames delivered against the publisher's log, latency quantiles
 * overall and per track, on-time subscribers, egress, CPU per delivered MB; and the printed table.
 *
 * @module
 */
import { Histogram, type LoadResult, type TrackName, TRACKS, type Window } from "./common.ts";
import type { ProcFigures } from "./sampler.ts";

export interface RawScenario {
  scenario: string;
  kind: "relay" | "baseline" | "two-hop" | "storm";
  n: number;
  window: Window;
  results: LoadResult[];
  /** UDP receive-buffer drops on the machine during the window (all processes). */
  udpDrops: number | undefined;
  /** Server processes that died during the scenario (with their exit and stderr tail). */
  died: string[];
  servers: ProcFigures[];
  loadGenerators: ProcFigures[];
}

export type FrameLog = Record<TrackName, number[]>;

/** Frames of a sorted send-time list within [lo, hi]. */
function countBetween(sorted: number[], lo: number, hi: number): number {
  const bound = (x: number, strict: boolean) => {
    let a = 0;
    let b = sorted.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (strict ? sorted[m]! <= x : sorted[m]! < x) a = m + 1;
      else b = m;
    }
    return a;
  };
  return Math.max(0, bound(hi, true) - bound(lo, false));
}

export interface Scenario {
  scenario: string;
  kind: RawScenario["kind"];
  n: number;
  subscribersOk: number;
  expected: number;
  delivered: number;
  byTrack: Record<
    TrackName,
    { expected: number; delivered: number; latencyMs: { p50: number; p99: number; max: number } }
  >;
  deliveredRatio: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Subscribers that got >= target of their frames within the threshold. */
  subscribersOnTime: number;
  allOnTime: boolean;
  /** The worst subscriber's share of frames within the threshold. */
  worstOnTimeRatio: number;
  zeroFrameSubscribers: number;
  egressBytesPerSecond: number;
  udpReceiveDrops: number | undefined;
  serverCpuPerSecond: number;
  serverCpuMsPerMB: number;
  servers: ProcFigures[];
  loadGenerators: ProcFigures[];
  connectMs: { p50: number; max: number };
  firstFrameMs: { p50: number; p99: number; max: number };
  errors: string[];
  died: string[];
  /** Per-subscriber results, with --raw. */
  raw?: { window: Window; subscribers: LoadResult["subscribers"] };
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function latencies(h: Histogram): { p50: number; p99: number; max: number } {
  return { p50: h.quantile(0.5), p99: h.quantile(0.99), max: h.count ? h.max : NaN };
}

/** The figures of one scenario from its load processes' results and the publisher's log. */
export function figures(
  raw: RawScenario,
  log: FrameLog,
  options: { target: number; keepRaw: boolean },
): Scenario {
  const histogram = new Histogram();
  let expected = 0;
  let delivered = 0;
  let bytes = 0;
  let onTimeSubs = 0;
  let worst = 1;
  let zero = 0;
  let ok = 0;
  const errors = new Set<string>();
  const connect: number[] = [];
  const first: number[] = [];
  const trackHistograms = { video: new Histogram(), audio: new Histogram() };
  const byTrack = {
    video: { expected: 0, delivered: 0, latencyMs: { p50: NaN, p99: NaN, max: NaN } },
    audio: { expected: 0, delivered: 0, latencyMs: { p50: NaN, p99: NaN, max: NaN } },
  };
  for (const result of raw.results) {
    histogram.merge(result.histogram);
    for (const t of TRACKS) trackHistograms[t].merge(result.byTrack[t]);
    for (const s of result.subscribers) {
      if (s.error) errors.add(s.error);
      if (s.joinedAt !== null && Number.isFinite(s.joinedAt)) {
        ok++;
        connect.push(s.connectMs);
      }
      if (s.firstFrameMs >= 0) first.push(s.firstFrameMs);
      const lo = Math.max(raw.window.from, s.joinedAt ?? Infinity);
      let e = 0;
      let d = 0;
      let onTime = 0;
      for (const t of TRACKS) {
        const te = countBetween(
          log[t],
          Number.isFinite(lo) ? lo : raw.window.from,
          raw.window.until,
        );
        e += te;
        byTrack[t].expected += te;
        byTrack[t].delivered += s.tracks[t].received;
        d += s.tracks[t].received;
        onTime += s.tracks[t].onTime;
        bytes += s.tracks[t].bytes;
      }
      expected += e;
      delivered += d;
      const ratio = e > 0 ? onTime / e : 1;
      worst = Math.min(worst, ratio);
      if (ratio >= options.target) onTimeSubs++;
      if (e > 0 && d === 0) zero++;
    }
  }
  for (const t of TRACKS) byTrack[t].latencyMs = latencies(trackHistograms[t]);
  const seconds = (raw.window.until - raw.window.from) / 1000;
  const cpu = raw.servers.reduce((a, s) => a + s.cpuPerSecond, 0);
  const n = raw.results.reduce((a, r) => a + r.subscribers.length, 0);
  return {
    scenario: raw.scenario,
    kind: raw.kind,
    n,
    subscribersOk: ok,
    expected,
    delivered,
    byTrack,
    deliveredRatio: expected > 0 ? delivered / expected : NaN,
    latencyMs: latencies(histogram),
    subscribersOnTime: onTimeSubs,
    allOnTime: onTimeSubs === n,
    worstOnTimeRatio: worst,
    zeroFrameSubscribers: zero,
    egressBytesPerSecond: bytes / seconds,
    udpReceiveDrops: raw.udpDrops,
    serverCpuPerSecond: cpu,
    serverCpuMsPerMB: bytes > 0 ? (cpu * seconds * 1000) / (bytes / 1e6) : NaN,
    servers: raw.servers,
    loadGenerators: raw.loadGenerators,
    connectMs: { p50: quantile(connect, 0.5), max: quantile(connect, 1) },
    firstFrameMs: {
      p50: quantile(first, 0.5),
      p99: quantile(first, 0.99),
      max: quantile(first, 1),
    },
    errors: [...errors].slice(0, 5),
    died: raw.died,
    ...(options.keepRaw
      ? {
        raw: { window: raw.window, subscribers: raw.results.flatMap((r) => r.subscribers) },
      }
      : {}),
  };
}

/** A figure for the table: fixed digits, "-" when unknown. */
export const f = (x: number, digits = 1): string => Number.isFinite(x) ? x.toFixed(digits) : "-";

/** The printed table, one row per scenario. */
export function table(scenarios: Scenario[]): string {
  const head = [
    "scenario",
    "delivered/expected",
    "p50 ms",
    "p99 ms",
    "max ms",
    "p99 video/audio",
    "on time",
    "CPU s/s",
    "RSS MiB",
    "egress Mbit/s",
    "CPU ms/MB",
    "loadgen CPU",
    "UDP drops",
  ];
  const rows = scenarios.map((s) => [
    s.scenario,
    `${s.delivered}/${s.expected} (${f(s.deliveredRatio * 100, 2)}%)`,
    f(s.latencyMs.p50, 2),
    f(s.latencyMs.p99, 1),
    f(s.latencyMs.max, 1),
    `${f(s.byTrack.video.latencyMs.p99, 1)}/${f(s.byTrack.audio.latencyMs.p99, 1)}`,
    `${s.subscribersOnTime}/${s.n}`,
    s.servers.map((p) => f(p.cpuPerSecond, 2)).join("+"),
    s.servers.map((p) => f(p.rssPeakMiB, 0)).join("+"),
    f(s.egressBytesPerSecond * 8 / 1e6, 1),
    f(s.serverCpuMsPerMB, 2),
    s.loadGenerators.map((p) => f(p.cpuPerSecond, 2)).join("+"),
    s.udpReceiveDrops === undefined ? "-" : String(s.udpReceiveDrops),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
