/**
 * Shared by the benchmark processes: the workload (frame sizes and schedule), the frame stamp
 * (send time + sequence number at the start of every payload), the latency recorder and its
 * histogram, /proc sampling, and line-based stdin/stdout plumbing.
 */

/** Wall-clock milliseconds with sub-ms precision, comparable across processes of this machine. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

const DEBUG = Deno.env.get("BENCH_DEBUG") === "1";
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The broadcast path the publisher announces and subscribers watch. */
export const BENCH_PATH = "bench";
/** Bytes of the stamp at the start of each payload: float64 send time, uint32 sequence. */
export const STAMP_BYTES = 12;

export interface Workload {
  videoKbps: number;
  videoFps: number;
  /** Seconds per video group. */
  gopSeconds: number;
  /** Key frame size / delta frame size. */
  keyRatio: number;
  audioKbps: number;
  audioFps: number;
}

export const DEFAULT_WORKLOAD: Workload = {
  videoKbps: 2500,
  videoFps: 30,
  gopSeconds: 2,
  keyRatio: 10,
  audioKbps: 64,
  audioFps: 50,
};

/** Workload flags, as `--video-kbps 2500 ...`, for the load processes. */
export function workloadArgs(w: Workload): string[] {
  return [
    "--video-kbps",
    String(w.videoKbps),
    "--video-fps",
    String(w.videoFps),
    "--gop",
    String(w.gopSeconds),
    "--key-ratio",
    String(w.keyRatio),
    "--audio-kbps",
    String(w.audioKbps),
    "--audio-fps",
    String(w.audioFps),
  ];
}

export const WORKLOAD_OPTIONS = {
  "video-kbps": { type: "string" },
  "video-fps": { type: "string" },
  gop: { type: "string" },
  "key-ratio": { type: "string" },
  "audio-kbps": { type: "string" },
  "audio-fps": { type: "string" },
} as const;

export function workloadFrom(values: Record<string, unknown>): Workload {
  const num = (key: string, fallback: number) =>
    typeof values[key] === "string" ? Number(values[key]) : fallback;
  const d = DEFAULT_WORKLOAD;
  return {
    videoKbps: num("video-kbps", d.videoKbps),
    videoFps: num("video-fps", d.videoFps),
    gopSeconds: num("gop", d.gopSeconds),
    keyRatio: num("key-ratio", d.keyRatio),
    audioKbps: num("audio-kbps", d.audioKbps),
    audioFps: num("audio-fps", d.audioFps),
  };
}

/** Frame sizes in bytes: video key and delta frames (a group's bytes match the bit rate). */
export function frameSizes(w: Workload): {
  framesPerGroup: number;
  key: number;
  delta: number;
  audio: number;
} {
  const framesPerGroup = Math.max(1, Math.round(w.videoFps * w.gopSeconds));
  const groupBytes = (w.videoKbps * 1000 / 8) * (framesPerGroup / w.videoFps);
  const delta = Math.max(STAMP_BYTES, Math.round(groupBytes / (w.keyRatio + framesPerGroup - 1)));
  const key = Math.max(STAMP_BYTES, Math.round(delta * w.keyRatio));
  const audio = Math.max(STAMP_BYTES, Math.round(w.audioKbps * 1000 / 8 / w.audioFps));
  return { framesPerGroup, key, delta, audio };
}

export type TrackName = "video" | "audio";
export const TRACKS: readonly TrackName[] = ["video", "audio"];

/** One frame to send: which track, whether it opens a group, its group and frame sequence. */
export interface ScheduledFrame {
  track: TrackName;
  /** Frame sequence number within the track (0, 1, 2, ...). */
  seq: number;
  group: number;
  newGroup: boolean;
  size: number;
}

/**
 * Runs the publishing schedule until `stop()` is called: `emit` gets each frame when due (late
 * frames are emitted at once, in order, so the count always matches the rate). Returns a stop
 * function and a promise that settles when the loop has ended.
 */
export function runSchedule(
  w: Workload,
  emit: (frame: ScheduledFrame) => void,
): { stop(): void; done: Promise<void> } {
  const sizes = frameSizes(w);
  const start = performance.now() + 20;
  let video = 0;
  let audio = 0;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => finish = r);
  const videoDue = () => start + video * 1000 / w.videoFps;
  const audioDue = () => start + audio * 1000 / w.audioFps;
  const tick = () => {
    if (stopped) return;
    const t = performance.now();
    while (videoDue() <= t || audioDue() <= t) {
      if (audioDue() <= videoDue()) {
        emit({ track: "audio", seq: audio, group: audio, newGroup: true, size: sizes.audio });
        audio++;
      } else {
        const index = video % sizes.framesPerGroup;
        emit({
          track: "video",
          seq: video,
          group: Math.floor(video / sizes.framesPerGroup),
          newGroup: index === 0,
          size: index === 0 ? sizes.key : sizes.delta,
        });
        video++;
      }
    }
    timer = setTimeout(tick, Math.max(0, Math.min(videoDue(), audioDue()) - performance.now()));
  };
  timer = setTimeout(tick, 20);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      finish();
    },
    done,
  };
}

/** A payload of `size` bytes stamped with the send time (now) and `seq`; returns the time. */
export function stampedPayload(size: number, seq: number): { payload: Uint8Array; sent: number } {
  const payload = new Uint8Array(size);
  const view = new DataView(payload.buffer);
  const sent = now();
  view.setFloat64(0, sent, true);
  view.setUint32(8, seq, true);
  return { payload, sent };
}

/** Reads the stamp from the first bytes of a payload given as chunks. */
export function readStamp(chunks: readonly Uint8Array[]): { sent: number; seq: number } {
  let head: Uint8Array;
  const first = chunks[0];
  if (first && first.length >= STAMP_BYTES) head = first;
  else {
    head = new Uint8Array(STAMP_BYTES);
    let at = 0;
    for (const c of chunks) {
      const take = Math.min(c.length, STAMP_BYTES - at);
      head.set(c.subarray(0, take), at);
      at += take;
      if (at >= STAMP_BYTES) break;
    }
  }
  const view = new DataView(head.buffer, head.byteOffset, STAMP_BYTES);
  return { sent: view.getFloat64(0, true), seq: view.getUint32(8, true) };
}

/** Log-bucketed latency histogram (1% buckets from 0.01 ms), mergeable across processes. */
export class Histogram {
  static readonly BASE = 0.01;
  static readonly STEP = Math.log(1.01);
  buckets = new Map<number, number>();
  count = 0;
  max = 0;

  add(ms: number): void {
    const index = ms <= Histogram.BASE
      ? 0
      : Math.ceil(Math.log(ms / Histogram.BASE) / Histogram.STEP);
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + 1);
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  merge(other: HistogramJson): void {
    for (const [index, n] of other.buckets) {
      this.buckets.set(index, (this.buckets.get(index) ?? 0) + n);
      this.count += n;
    }
    this.max = Math.max(this.max, other.max);
  }

  /** The upper bound of the bucket holding quantile `q` (within 1%). */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (const index of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(index) ?? 0;
      if (seen >= rank) {
        return Math.min(this.max, Histogram.BASE * Math.exp(index * Histogram.STEP));
      }
    }
    return this.max;
  }

  toJSON(): HistogramJson {
    return { buckets: [...this.buckets], max: this.max };
  }
}

export interface HistogramJson {
  buckets: [number, number][];
  max: number;
}

/** Per-track counts of one subscriber inside its measurement window. */
export interface TrackCounts {
  received: number;
  /** Received within the latency threshold. */
  onTime: number;
  bytes: number;
}

/** One subscriber's result, as a load process reports it. */
export interface SubscriberResult {
  /** When it asked for the tracks (frames sent from then on are expected). */
  joinedAt: number;
  /** From starting to connect until subscribed. */
  connectMs: number;
  /** From starting to connect until its first complete frame (any track), or -1. */
  firstFrameMs: number;
  error?: string;
  tracks: Record<TrackName, TrackCounts>;
}

export interface LoadResult {
  subscribers: SubscriberResult[];
  histogram: HistogramJson;
  byTrack: Record<TrackName, HistogramJson>;
}

/** What the recorders of one load process share: the window and the latency histograms. */
export interface SharedLatency {
  window: Window | undefined;
  histogram: Histogram;
  byTrack: Record<TrackName, Histogram>;
  thresholdMs: number;
}

export function sharedLatency(thresholdMs: number): SharedLatency {
  return {
    window: undefined,
    histogram: new Histogram(),
    byTrack: { video: new Histogram(), audio: new Histogram() },
    thresholdMs,
  };
}

/** The result line of a load process. */
export function loadResult(recorders: Recorder[], shared: SharedLatency): LoadResult {
  return {
    subscribers: recorders.map((r) => r.result()),
    histogram: shared.histogram.toJSON(),
    byTrack: { video: shared.byTrack.video.toJSON(), audio: shared.byTrack.audio.toJSON() },
  };
}

/** The measurement window the harness hands a load process on stdin. */
export interface Window {
  from: number;
  until: number;
  /** Milliseconds after `until` to keep receiving frames sent before it. */
  graceMs: number;
}

/** Records frames of one subscriber against the current window. */
export class Recorder {
  readonly started = now();
  joinedAt = Infinity;
  connectMs = -1;
  firstFrameMs = -1;
  error: string | undefined;
  readonly tracks: Record<TrackName, TrackCounts> = {
    video: { received: 0, onTime: 0, bytes: 0 },
    audio: { received: 0, onTime: 0, bytes: 0 },
  };
  /** Frames of each track seen by the first-frame check (for readiness). */
  readonly seen: Record<TrackName, number> = { video: 0, audio: 0 };
  debug = false;

  constructor(
    readonly shared: SharedLatency,
  ) {}

  joined(): void {
    this.joinedAt = now();
    this.connectMs = this.joinedAt - this.started;
  }

  frame(track: TrackName, sent: number, size: number): void {
    const at = now();
    if (this.firstFrameMs < 0) this.firstFrameMs = at - this.started;
    this.seen[track]++;
    if (DEBUG && this.debug) {
      console.error(`${track} +${(sent - this.joinedAt).toFixed(0)} lat ${(at - sent).toFixed(1)}`);
    }
    const window = this.shared.window;
    if (!window || sent < Math.max(window.from, this.joinedAt) || sent > window.until) return;
    const latency = at - sent;
    const counts = this.tracks[track];
    counts.received++;
    counts.bytes += size;
    if (latency <= this.shared.thresholdMs) counts.onTime++;
    this.shared.histogram.add(latency);
    this.shared.byTrack[track].add(latency);
  }

  result(): SubscriberResult {
    const r: SubscriberResult = {
      joinedAt: this.joinedAt,
      connectMs: this.connectMs,
      firstFrameMs: this.firstFrameMs,
      tracks: this.tracks,
    };
    if (this.error) r.error = this.error;
    return r;
  }
}

/** Reads newline-separated lines from a byte stream. */
export class LineReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next line, or null at the end of the stream. */
  async next(): Promise<string | null> {
    while (true) {
      const at = this.#buffer.indexOf("\n");
      if (at >= 0) {
        const line = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.slice(at + 1);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) {
        if (this.#buffer.length === 0) return null;
        const rest = this.#buffer;
        this.#buffer = "";
        return rest;
      }
      this.#buffer += value;
    }
  }
}

/** Writes one JSON message as a line on stdout (the harness reads them). */
export async function report(message: unknown): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(message) + "\n");
  let at = 0;
  while (at < bytes.length) at += await Deno.stdout.write(bytes.subarray(at));
}

/**
 * The measurement window from the harness, whenever it arrives on stdin (a storm gets it before
 * anyone joined); it is also set on `shared` so recorders count against it.
 */
export function windowFromHarness(shared: SharedLatency): Promise<Window | undefined> {
  const arrived = (async () => {
    const stdin = new LineReader(Deno.stdin.readable);
    for (let line = await stdin.next(); line !== null; line = await stdin.next()) {
      if (!line.trim()) continue;
      const message = JSON.parse(line) as { window?: Window };
      if (message.window) return message.window;
    }
    return undefined;
  })();
  void arrived.then((w) => shared.window = w);
  return arrived;
}

/**
 * The rest of a load process's exchange with the harness, once every subscriber has started:
 * `{"ready"}` when each sees frames of both tracks (unless `idle`) or after `readyTimeoutMs`,
 * then `{"result"}` once the window and its grace have passed.
 */
export async function reportReadyAndResult(
  recorders: Recorder[],
  shared: SharedLatency,
  window: Promise<Window | undefined>,
  options: { readyTimeoutMs: number; idle?: boolean },
): Promise<void> {
  const readyBy = performance.now() + options.readyTimeoutMs;
  while (
    performance.now() < readyBy && !options.idle &&
    recorders.some((r) => !r.error && (r.seen.video === 0 || r.seen.audio === 0))
  ) {
    await sleep(20);
  }
  await report({
    ready: {
      subscribed: recorders.filter((r) => r.joinedAt < Infinity).length,
      flowing: recorders.filter((r) => r.seen.video > 0 && r.seen.audio > 0).length,
    },
  });
  const w = await window;
  if (w) {
    const wait = w.until + w.graceMs - Date.now();
    if (wait > 0) await sleep(wait);
  }
  await report({ result: loadResult(recorders, shared) });
}

/** The QUIC transport options the relay's endpoint uses (src/transport/endpoint.ts). */
export const TRANSPORT_OPTIONS: Deno.QuicTransportOptions = {
  maxConcurrentBidirectionalStreams: 256,
  maxConcurrentUnidirectionalStreams: 256,
  maxIdleTimeout: 10_000,
  keepAliveInterval: 4_000,
  congestionControl: "low-latency",
};

/** CPU seconds, resident memory and I/O of a process, from /proc. */
export interface ProcSample {
  at: number;
  cpuSeconds: number;
  rssKiB: number;
  hwmKiB: number;
  /** Bytes written by write-like syscalls (undefined where /proc/<pid>/io is unreadable). */
  wchar: number | undefined;
}

const CLOCK_TICKS = 100;

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kib = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    let wchar: number | undefined;
    try {
      const io = Deno.readTextFileSync(`/proc/${pid}/io`);
      wchar = Number(/^wchar:\s+(\d+)/m.exec(io)?.[1]);
    } catch {
      wchar = undefined;
    }
    return { at: now(), cpuSeconds, rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM"), wchar };
  } catch {
    return undefined;
  }
}

/** UDP datagrams dropped for want of socket receive buffer, machine-wide (/proc/net/snmp). */
export function udpReceiveDrops(): number | undefined {
  try {
    const lines = Deno.readTextFileSync("/proc/net/snmp").split("\n").filter((l) =>
      l.startsWith("Udp:")
    );
    const names = lines[0]?.split(/\s+/) ?? [];
    const counts = lines[1]?.split(/\s+/) ?? [];
    const at = names.indexOf("RcvbufErrors");
    return at > 0 ? Number(counts[at]) : undefined;
  } catch {
    return undefined;
  }
}

/** The machine a result was measured on, as every results file records it. */
export function machineInfo(): Record<string, unknown> {
  return {
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    os: Deno.build.os,
    note: "relay, publisher and subscriber processes share this machine's cores",
  };
}
