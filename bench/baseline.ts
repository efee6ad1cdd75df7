/**
 * The raw-QUIC baseline: the same frames, the same schedule, the same receivers' measurements,
 * with no MoQ and no cache. One sender process accepts any number of connections and writes each
 * frame to every connected receiver, on a unidirectional stream per group (video: one per GOP;
 * audio: one per frame). Stream: 1 byte track id, then frames as u32 length + payload.
 *
 *   deno run -A bench/baseline.ts --role sender [--video-kbps 2500 ...]
 *     prints {"listening":{"port","fingerprint"}}; on `stop` prints {"log":...} and exits.
 *   deno run -A bench/baseline.ts --role receivers --port P --fingerprint HEX --n 100
 *     the same stdin/stdout protocol as bench/subscribers.ts.
 */
import { parseArgs } from "cli-args";
import { fingerprintBytes, generateCertificate } from "../src/tls/certificate.ts";
import { StreamError } from "../src/transport/session.ts";
import { ReadableRecvStream } from "../src/transport/streams.ts";
import { dialQuic } from "../src/transport/webtransport.ts";
import {
  LineReader,
  Recorder,
  report,
  reportReadyAndResult,
  runSchedule,
  sharedLatency,
  sleep,
  stampedPayload,
  type TrackName,
  TRANSPORT_OPTIONS,
  windowFromHarness,
  WORKLOAD_OPTIONS,
  workloadFrom,
} from "./common.ts";

const ALPN = "bench-baseline";
const TRACK_ID: Record<TrackName, number> = { video: 0, audio: 1 };
const PRIORITY: Record<TrackName, number> = { video: 1, audio: 2 };

const { values } = parseArgs({
  options: {
    role: { type: "string" },
    port: { type: "string" },
    fingerprint: { type: "string" },
    n: { type: "string", default: "1" },
    "threshold-ms": { type: "string", default: "200" },
    "per-endpoint": { type: "string", default: "1" },
    "ready-timeout": { type: "string", default: "20000" },
    ...WORKLOAD_OPTIONS,
  },
});

/** Received bytes as a list of chunks (never concatenated): peek copies a few leading bytes. */
class ByteQueue {
  #chunks: Uint8Array[] = [];
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.length += chunk.length;
  }

  peek(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.#chunks) {
      const take = Math.min(c.length, n - at);
      out.set(c.subarray(0, take), at);
      at += take;
      if (at >= n) break;
    }
    return out;
  }

  skip(n: number): void {
    this.length -= n;
    while (n > 0) {
      const first = this.#chunks[0]!;
      if (first.length <= n) {
        n -= first.length;
        this.#chunks.shift();
      } else {
        this.#chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}

if (values.role === "sender") await sender();
else if (values.role === "receivers") await receivers();
else throw new Error("--role sender|receivers");

async function sender(): Promise<void> {
  const cert = await generateCertificate(["127.0.0.1"]);
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = endpoint.listen({
    cert: cert.certPem,
    key: cert.keyPem,
    alpnProtocols: [ALPN],
    ...TRANSPORT_OPTIONS,
  });
  interface Receiver {
    conn: Deno.QuicConn;
    current: Partial<Record<TrackName, Promise<WritableStreamDefaultWriter<Uint8Array>>>>;
  }
  const receivers = new Set<Receiver>();
  void (async () => {
    while (true) {
      let incoming: Deno.QuicIncoming;
      try {
        incoming = await listener.incoming();
      } catch {
        return;
      }
      void (async () => {
        const conn = await incoming.accept();
        await conn.handshake;
        const r: Receiver = { conn, current: {} };
        receivers.add(r);
        conn.closed.catch(() => {}).finally(() => receivers.delete(r));
      })().catch(() => {});
    }
  })();

  const log = { video: [] as number[], audio: [] as number[] };
  const workload = workloadFrom(values);
  const schedule = runSchedule(workload, (frame) => {
    const { payload, sent } = stampedPayload(frame.size, frame.seq);
    const framed = new Uint8Array(4 + payload.length);
    new DataView(framed.buffer).setUint32(0, payload.length, true);
    framed.set(payload, 4);
    for (const r of receivers) {
      let writer = r.current[frame.track];
      if (frame.newGroup || !writer) {
        void writer?.then((w) => w.close()).catch(() => {});
        writer = r.conn.createUnidirectionalStream({
          sendOrder: PRIORITY[frame.track] * 0x100000 + (frame.group % 0x100000),
          waitUntilAvailable: true,
        }).then((s) => {
          const w = s.getWriter();
          void w.write(Uint8Array.of(TRACK_ID[frame.track])).catch(() => {});
          return w;
        });
        writer.catch(() => {});
        r.current[frame.track] = writer;
      }
      // Each group is one stream; its frames are queued in order on the stream's writer.
      void writer.then((w) => w.write(framed)).catch(() => {});
    }
    log[frame.track].push(sent);
  });
  await report({ listening: { port: endpoint.addr.port, fingerprint: cert.fingerprint } });
  const stdin = new LineReader(Deno.stdin.readable);
  for (let line = await stdin.next(); line !== null; line = await stdin.next()) {
    if (line.trim() === "stop") break;
  }
  schedule.stop();
  await report({ log });
  for (const r of receivers) r.conn.close({ closeCode: 0, reason: "done" });
  Deno.exit(0);
}

async function receivers(): Promise<void> {
  const N = Number(values.n);
  const PER_ENDPOINT = Number(values["per-endpoint"]);
  const hash = fingerprintBytes(String(values.fingerprint));
  const shared = sharedLatency(Number(values["threshold-ms"]));
  const endpoints: Deno.QuicEndpoint[] = [];
  const conns: Deno.QuicConn[] = [];

  const readGroup = async (stream: Deno.QuicReceiveStream, rec: Recorder) => {
    // Read as the relay and the MoQ subscribers read (right-sized buffers), so both load
    // generators cost the same per byte received.
    const reader = new ReadableRecvStream(stream, () => new StreamError("reset", null));
    const queue = new ByteQueue();
    let track: TrackName | undefined;
    let size = -1;
    try {
      while (true) {
        const value = await reader.read();
        if (!value) return;
        queue.push(value);
        if (!track) {
          track = queue.peek(1)[0] === TRACK_ID.audio ? "audio" : "video";
          queue.skip(1);
        }
        while (true) {
          if (size < 0) {
            if (queue.length < 4) break;
            size = new DataView(queue.peek(4).buffer).getUint32(0, true);
            queue.skip(4);
          }
          if (queue.length < size) break;
          const stamp = new DataView(queue.peek(12).buffer);
          rec.frame(track, stamp.getFloat64(0, true), size);
          queue.skip(size);
          size = -1;
        }
      }
    } catch {
      // the connection ended
    }
  };

  const receiver = async (index: number, rec: Recorder) => {
    const slot = Math.floor(index / PER_ENDPOINT);
    const endpoint = endpoints[slot] ??= new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    // dialQuic is Deno.connectQuic plus the certificate-hash pin Deno accepts untyped.
    const conn = await dialQuic(new URL(`moqt://127.0.0.1:${values.port}/`), [ALPN], {
      serverCertificateHashes: [hash],
      endpoint,
      transport: TRANSPORT_OPTIONS,
    });
    await conn.handshake;
    conns.push(conn);
    rec.joined();
    void (async () => {
      const streams = conn.incomingUnidirectionalStreams.getReader();
      try {
        while (true) {
          const { value, done } = await streams.read();
          if (done) return;
          void readGroup(value, rec);
        }
      } catch {
        // closed
      }
    })();
  };

  const recorders = Array.from({ length: N }, () => new Recorder(shared));
  let next = 0;
  const workers = Array.from({ length: Math.min(64, N) }, async () => {
    while (next < N) {
      const i = next++;
      const rec = recorders[i] = new Recorder(shared);
      try {
        await receiver(i, rec);
      } catch (e) {
        rec.error = e instanceof Error ? e.message : String(e);
      }
    }
  });
  const windowArrived = windowFromHarness(shared);
  await Promise.all(workers);
  await reportReadyAndResult(recorders, shared, windowArrived, {
    readyTimeoutMs: Number(values["ready-timeout"]),
  });
  for (const c of conns) c.close({ closeCode: 0, reason: "done" });
  await sleep(100);
  for (const e of endpoints) e.close();
  Deno.exit(0);
}
