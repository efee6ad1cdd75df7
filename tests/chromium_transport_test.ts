/**
 * Our WebTransport server against headless Chromium, end to end, in one page run: `wt-protocol`
 * negotiation and the CONNECT URL, FIN both ways on a 300 kB uni stream, bidi echo from either
 * side, datagram echo from either side, 1000 bidi streams in a row, reset and stop codes, and
 * session close codes both ways.
 *
 * The page drives; the server answers. The first byte of every stream names its purpose:
 * Chromium's streams `B` (300 kB uni), `R` (uni it resets), `E` (bidi echo), `C` (bidi command:
 * the server runs it and answers JSON); the server's `Y` (uni reply to `B`), `S` (uni Chromium
 * stops), `D` (bidi Chromium echoes). Datagrams likewise: `e` (Chromium's, the server echoes
 * them), `s` (the server's, Chromium echoes them); their second byte is their index. Both sides
 * record what they saw; the test asserts both.
 */
import { deepEqual, equal, ok } from "assert";
import { ALPNS, chooseAlpn } from "../src/codec/lite/version.ts";
import { generateCertificate } from "../src/tls/certificate.ts";
import { Endpoint } from "../src/transport/endpoint.ts";
import {
  type CloseInfo,
  type RecvStream,
  type SendStream,
  type Session,
  StreamError,
} from "../src/transport/session.ts";
import { findChromium, launchChromium } from "./support/chromium.ts";
import { servePages } from "./support/page_server.ts";
import { concat } from "./support/hex.ts";
import { readAll } from "./support/transport.ts";
import { withTimeout } from "./support/wait.ts";

const BIG = 300_000;
const REPLY = 100_000;
const SERVER_BIDI = 5_000;
const STREAMS = 1_000;
const RESET_CODE = 42;
const STOP_CODE = 43;
/** Writes of 4 KiB the server attempts before giving up on seeing the stop (16 MiB). */
const STOP_MAX_WRITES = 4096;
/** The page reports what it has by then, even if a step hangs. */
const PAGE_DEADLINE_MS = 30_000;
const PAGE_TIMEOUT_MS = 40_000;
/** More than webtransport.ts waits between a peer's session close and closing the connection. */
const PEER_CLOSE_LINGER_MS = 100;
/** Bound on any one wait of the server's, so a lost stream fails the check instead of hanging. */
const SERVER_WAIT_MS = 10_000;
/** Datagrams sent each way; at least DATAGRAM_MAJORITY must come back (they may be lost). */
const DATAGRAMS = 100;
const DATAGRAM_MAJORITY = 90;
/** How long either side waits for one more echoed datagram before counting the rest as lost. */
const DATAGRAM_QUIET_MS = 1000;
/** Datagrams sent between yields, so one burst does not overflow a UDP socket buffer. */
const DATAGRAM_BURST = 20;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Byte `i` of every patterned payload, on both sides. */
const pattern = (n: number) => new Uint8Array(n).map((_, i) => i % 251);

function isPattern(bytes: Uint8Array, n: number): boolean {
  if (bytes.length !== n) return false;
  for (let i = 0; i < n; i++) if (bytes[i] !== i % 251) return false;
  return true;
}

/** A failed read or write as the checks compare it; anything but a StreamError is "other". */
function describe(e: unknown): { kind: string; code: number | null } {
  return e instanceof StreamError ? { kind: e.kind, code: e.code } : { kind: "other", code: null };
}

/** Reads until the first chunk with bytes: its tag (first byte) and the bytes after it. */
async function readTag(stream: RecvStream): Promise<{ tag: string; rest: Uint8Array } | null> {
  for (let chunk = await stream.read(); chunk; chunk = await stream.read()) {
    if (chunk.length > 0) return { tag: String.fromCharCode(chunk[0] ?? 0), rest: chunk.slice(1) };
  }
  return null;
}

/**
 * Datagram `index` tagged `tag` (a character code): sizes run up to `max` with the index, and
 * every tenth is exactly `max`. The page builds the same ones.
 */
function datagram(tag: number, index: number, max: number): Uint8Array {
  const size = index % 10 === 9 ? max : Math.max(2, Math.round((max * (index + 1)) / DATAGRAMS));
  const bytes = new Uint8Array(size).map((_, j) => (index * 7 + j) % 251);
  bytes[0] = tag;
  bytes[1] = index;
  return bytes;
}

/** Datagrams by index, and a wait for more of them. */
class Arrivals {
  readonly byIndex = new Map<number, Uint8Array>();
  #wake: (() => void) | undefined;

  add(d: Uint8Array): void {
    this.byIndex.set(d[1] ?? -1, d);
    this.#wake?.();
  }

  /** Resolves once `count` have arrived, or when none arrived for `quietMs`. */
  async waitFor(count: number, quietMs: number): Promise<void> {
    while (this.byIndex.size < count) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const more = await new Promise<boolean>((resolve) => {
        this.#wake = () => resolve(true);
        timer = setTimeout(() => resolve(false), quietMs);
      });
      clearTimeout(timer);
      this.#wake = undefined;
      if (!more) return;
    }
  }

  /** How many arrived as `expected(index)` built them, and how many arrived changed. */
  tally(expected: (index: number) => Uint8Array): { intact: number; corrupt: number } {
    let intact = 0;
    for (const [index, d] of this.byIndex) {
      const want = expected(index);
      if (d.length === want.length && d.every((b, i) => b === want[i])) intact++;
    }
    return { intact, corrupt: this.byIndex.size - intact };
  }
}

/** A promise with its resolver outside. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

/** What the server saw. */
interface ServerObservations {
  sessions: { path: string; search: string; offered: readonly string[]; protocol: string }[];
  big?: { length: number; ok: boolean };
  echoes: number;
  serverBidi?: { ok: boolean; length: number };
  reset?: { kind: string; code: number | null; bytesBefore: number };
  stop?: { kind: string; code: number | null; writes: number };
  /** Chromium's datagrams the server echoed. */
  datagramEchoes: number;
  serverDatagrams?: { max: number; sent: number; intact: number; corrupt: number };
  firstClosed?: CloseInfo & { remote: boolean };
  secondClosed?: CloseInfo & { remote: boolean };
  errors: string[];
}

/** Serves the page's first session (the checks) and its second (a close from Chromium). */
function serveSessions(endpoint: Endpoint, obs: ServerObservations) {
  const tasks: Promise<unknown>[] = [];
  const track = (name: string, p: Promise<unknown>) =>
    tasks.push(p.catch((e) => obs.errors.push(`${name}: ${e instanceof Error ? e.stack : e}`)));

  const resetSeen = deferred<number>();
  const resetResult = deferred<NonNullable<ServerObservations["reset"]>>();

  async function onUni(session: Session, stream: RecvStream): Promise<void> {
    const head = await readTag(stream);
    if (!head) return;
    if (head.tag === "B") {
      const body = concat(head.rest, await readAll(stream));
      obs.big = { length: body.length, ok: isPattern(body, BIG) };
      const reply = await session.openUni();
      await reply.write(concat(enc.encode("Y"), pattern(REPLY)));
      await reply.close();
    } else if (head.tag === "R") {
      let bytes = head.rest.length;
      resetSeen.resolve(bytes);
      try {
        for (let chunk = await stream.read(); chunk; chunk = await stream.read()) {
          bytes += chunk.length;
        }
        resetResult.resolve({ kind: "fin", code: null, bytesBefore: bytes });
      } catch (e) {
        const { kind, code } = describe(e);
        resetResult.resolve({ kind, code, bytesBefore: bytes });
      }
    } else {
      throw new Error(`unexpected uni stream tag ${head.tag}`);
    }
  }

  /** Opens `S`, writes until Chromium's STOP_SENDING makes a write fail (bounded). */
  async function stopTest(session: Session): Promise<NonNullable<ServerObservations["stop"]>> {
    const send = await session.openUni();
    const chunk = concat(enc.encode("S"), pattern(4095));
    let writes = 0;
    try {
      for (; writes < STOP_MAX_WRITES; writes++) {
        await withTimeout(send.write(chunk), SERVER_WAIT_MS, "write on S");
      }
      send.reset(0);
      return { kind: "never stopped", code: null, writes };
    } catch (e) {
      const { kind, code } = describe(e);
      return { kind, code, writes };
    }
  }

  /** Opens `D`, writes a pattern, reads Chromium's echo to its end. */
  async function serverBidi(
    session: Session,
  ): Promise<NonNullable<ServerObservations["serverBidi"]>> {
    const bi = await session.openBi();
    await bi.send.write(concat(enc.encode("D"), pattern(SERVER_BIDI)));
    await bi.send.close();
    const back = await withTimeout(readAll(bi.recv), SERVER_WAIT_MS, "echo of D");
    return {
      ok: back[0] === "D".charCodeAt(0) && isPattern(back.subarray(1), SERVER_BIDI),
      length: back.length,
    };
  }

  const E = "e".charCodeAt(0);
  const S = "s".charCodeAt(0);
  const echoedBack = new Arrivals();

  /** Echoes Chromium's `e` datagrams; collects the echoes of our `s` ones. */
  async function onDatagrams(session: Session): Promise<void> {
    for (let d = await session.readDatagram(); d; d = await session.readDatagram()) {
      if (d[0] === E) {
        obs.datagramEchoes++;
        session.sendDatagram(d);
      } else if (d[0] === S) echoedBack.add(d);
    }
  }

  /** Sends DATAGRAMS `s` datagrams no larger than the page can echo; counts the echoes. */
  async function serverDatagrams(
    session: Session,
    pageMax: number,
  ): Promise<NonNullable<ServerObservations["serverDatagrams"]>> {
    const max = Math.min(session.maxDatagramSize, pageMax);
    for (let i = 0; i < DATAGRAMS; i++) {
      session.sendDatagram(datagram(S, i, max));
      if (i % DATAGRAM_BURST === DATAGRAM_BURST - 1) await new Promise((r) => setTimeout(r, 0));
    }
    await echoedBack.waitFor(DATAGRAMS, DATAGRAM_QUIET_MS);
    return {
      max: session.maxDatagramSize,
      sent: DATAGRAMS,
      ...echoedBack.tally((i) => datagram(S, i, max)),
    };
  }

  async function onBidi(session: Session, send: SendStream, recv: RecvStream): Promise<void> {
    const head = await readTag(recv);
    if (!head) return send.close();
    const body = concat(head.rest, await readAll(recv));
    if (head.tag === "E") {
      obs.echoes++;
      await send.write(concat(enc.encode("E"), body));
      return send.close();
    }
    if (head.tag !== "C") throw new Error(`unexpected bidi stream tag ${head.tag}`);
    const [command, argument] = dec.decode(body).split(" ");
    let answer: unknown;
    switch (command) {
      case "server-datagrams":
        answer = obs.serverDatagrams = await serverDatagrams(session, Number(argument));
        break;
      case "reset-seen":
        answer = await withTimeout(resetSeen.promise, SERVER_WAIT_MS, "R stream");
        break;
      case "reset-result":
        answer = obs.reset = await withTimeout(resetResult.promise, SERVER_WAIT_MS, "reset of R");
        break;
      case "server-bidi":
        answer = obs.serverBidi = await serverBidi(session);
        break;
      case "stop":
        answer = obs.stop = await stopTest(session);
        break;
      case "echoes":
        answer = obs.echoes;
        break;
      case "close":
        // No answer: the close capsule is the answer.
        await send.close();
        return session.close({ code: 7, reason: "bye" });
      default:
        throw new Error(`unknown command ${command}`);
    }
    await send.write(enc.encode(JSON.stringify(answer)));
    await send.close();
  }

  async function first(session: Session): Promise<void> {
    const unis = (async () => {
      for (let s = await session.acceptUni(); s; s = await session.acceptUni()) {
        track("uni stream", onUni(session, s));
      }
    })();
    const bidis = (async () => {
      for (let s = await session.acceptBi(); s; s = await session.acceptBi()) {
        track("bidi stream", onBidi(session, s.send, s.recv));
      }
    })();
    track("datagrams", onDatagrams(session));
    obs.firstClosed = await session.closed;
    await Promise.all([unis, bidis]);
  }

  const loop = (async () => {
    for (let incoming = await endpoint.accept(); incoming; incoming = await endpoint.accept()) {
      const index = obs.sessions.length;
      const protocol = chooseAlpn(incoming.protocols) ?? "";
      obs.sessions.push({
        path: incoming.url?.pathname ?? "",
        search: incoming.url?.search ?? "",
        offered: incoming.protocols,
        protocol,
      });
      if (index === 0) track("first session", incoming.accept(protocol).then(first));
      else {
        track(
          "second session",
          incoming.accept(protocol).then(async (s) => {
            obs.secondClosed = await s.closed;
            // After a peer's close the transport closes the connection on a 50 ms timer; let it
            // fire, or the op sanitizer sees it pending if the browser exits quickly.
            await new Promise((resolve) => setTimeout(resolve, PEER_CLOSE_LINGER_MS));
          }),
        );
      }
    }
  })();
  track("accept loop", loop);
  return { settled: () => Promise.allSettled(tasks) };
}

const PAGE_SCRIPT = `
const enc = new TextEncoder();
const dec = new TextDecoder();
const out = { steps: {}, ms: {} };
const t0 = performance.now();
const options = {
  serverCertificateHashes: [{ algorithm: "sha-256", value: hexBytes(CONFIG.hash) }],
  protocols: ["moq-lite-05", "moq-lite-04"],
};

function hexBytes(hex) {
  return new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
}
function pattern(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}
function isPattern(b, n) {
  if (b.length !== n) return false;
  for (let i = 0; i < n; i++) if (b[i] !== i % 251) return false;
  return true;
}
function concat(...parts) {
  const o = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { o.set(p, at); at += p.length; }
  return o;
}
function tagged(tag, bytes) {
  return concat(enc.encode(tag), bytes);
}
function errorInfo(e) {
  return { name: e && e.name, message: String(e && e.message || e), source: e && e.source,
    streamErrorCode: e && e.streamErrorCode };
}
function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(what + ": nothing within " + ms + " ms")), ms); }),
  ]).finally(() => clearTimeout(timer));
}
async function readAll(readable) {
  const reader = readable.getReader();
  const parts = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return concat(...parts);
    parts.push(value);
  }
}
function datagram(tag, index, max) {
  const size = index % 10 === 9 ? max : Math.max(2, Math.round((max * (index + 1)) / CONFIG.datagrams));
  const b = new Uint8Array(size);
  for (let j = 0; j < size; j++) b[j] = (index * 7 + j) % 251;
  b[0] = tag;
  b[1] = index;
  return b;
}
function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
async function step(name, ms, fn) {
  out.current = name;
  const start = performance.now();
  try {
    out.steps[name] = await within(ms, name, fn());
  } catch (e) {
    out.steps[name] = { error: errorInfo(e) };
  }
  out.ms[name] = Math.round(performance.now() - start);
}

// Whatever hangs, the test gets what was seen so far, before its own timeout.
const deadline = setTimeout(() => report({ ...out, incomplete: true }), CONFIG.deadlineMs);
const wt = new WebTransport(CONFIG.url, options);
wt.closed.catch(() => {});
const firstClosed = wt.closed.then((i) => ({ closeCode: i.closeCode, reason: i.reason }), (e) => ({ error: errorInfo(e) }));

// Server-opened streams, by their first byte.
const reply = { resolve: null };
const replyDone = new Promise((r) => reply.resolve = r);
const stopped = { resolve: null };
const stopDone = new Promise((r) => stopped.resolve = r);
async function onUni(stream) {
  const reader = stream.getReader();
  const first = await reader.read();
  if (first.done) return;
  const tag = String.fromCharCode(first.value[0]);
  if (tag === "Y") {
    const parts = [first.value.subarray(1)];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    const body = concat(...parts);
    reply.resolve({ length: body.length, ok: isPattern(body, CONFIG.reply), done: true });
  } else if (tag === "S") {
    await reader.cancel(new WebTransportError({ message: "stop", streamErrorCode: CONFIG.stopCode }));
    stopped.resolve({ cancelled: true, firstChunk: first.value.length });
  }
}
async function onBidi(stream) {
  const body = await readAll(stream.readable);
  const writer = stream.writable.getWriter();
  await writer.write(body);
  await writer.close();
}
(async () => {
  const r = wt.incomingUnidirectionalStreams.getReader();
  for (;;) {
    const { value, done } = await r.read();
    if (done) return;
    onUni(value).catch((e) => out.uniError = errorInfo(e));
  }
})().catch(() => {});
(async () => {
  const r = wt.incomingBidirectionalStreams.getReader();
  for (;;) {
    const { value, done } = await r.read();
    if (done) return;
    onBidi(value).catch((e) => out.bidiError = errorInfo(e));
  }
})().catch(() => {});

async function ask(command) {
  const s = await wt.createBidirectionalStream();
  const w = s.writable.getWriter();
  w.write(tagged("C", enc.encode(command))).catch(() => {});
  w.close().catch(() => {});
  return JSON.parse(dec.decode(await readAll(s.readable)));
}
async function echo(payload) {
  const s = await wt.createBidirectionalStream();
  const w = s.writable.getWriter();
  w.write(tagged("E", payload)).catch(() => {});
  const closed = w.close();
  const back = await readAll(s.readable);
  return { back, closed };
}

await step("ready", 10000, async () => {
  await wt.ready;
  return { protocol: wt.protocol };
});

await step("uni", 10000, async () => {
  const s = await wt.createUnidirectionalStream();
  const w = s.getWriter();
  await w.write(tagged("B", pattern(CONFIG.big)));
  await w.close();
  return await replyDone;
});

await step("bidiEcho", 5000, async () => {
  const payload = enc.encode("hello from chromium");
  const { back, closed } = await echo(payload);
  await closed;
  return { text: dec.decode(back) };
});

await step("serverBidi", 10000, () => ask("server-bidi"));

// Datagrams: the page echoes the server's ("s"), and collects the echoes of its own ("e").
const E = "e".charCodeAt(0);
const S = "s".charCodeAt(0);
const datagramWriter = wt.datagrams.writable.getWriter();
const echoes = new Map();
let wakeEchoes = null;
(async () => {
  const reader = wt.datagrams.readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    if (value[0] === S) datagramWriter.write(value).catch(() => {});
    else if (value[0] === E) { echoes.set(value[1], value); if (wakeEchoes) wakeEchoes(); }
  }
})().catch(() => {}); // the readable errors when the session closes

let serverDatagramMax = 0;
await step("serverDatagrams", 10000, async () => {
  const answer = await ask("server-datagrams " + wt.datagrams.maxDatagramSize);
  serverDatagramMax = answer.max;
  return answer;
});

await step("datagramEcho", 10000, async () => {
  const pageMax = wt.datagrams.maxDatagramSize;
  const max = Math.min(pageMax, serverDatagramMax);
  for (let i = 0; i < CONFIG.datagrams; i++) await datagramWriter.write(datagram(E, i, max));
  while (echoes.size < CONFIG.datagrams) {
    let timer;
    const more = await new Promise((resolve) => {
      wakeEchoes = () => resolve(true);
      timer = setTimeout(() => resolve(false), CONFIG.datagramQuietMs);
    });
    clearTimeout(timer);
    wakeEchoes = null;
    if (!more) break;
  }
  let intact = 0;
  for (const [i, d] of echoes) if (sameBytes(d, datagram(E, i, max))) intact++;
  return { pageMax, sent: CONFIG.datagrams, intact, corrupt: echoes.size - intact };
});

await step("streams", 20000, async () => {
  const closes = [];
  let ok = 0;
  for (let i = 0; i < CONFIG.streams; i++) {
    const payload = enc.encode("stream " + i);
    const { back, closed } = await echo(payload);
    closes.push(closed);
    if (dec.decode(back) === "Estream " + i) ok++;
  }
  await Promise.all(closes);
  return { ok, serverCount: await ask("echoes") };
});

await step("reset", 10000, async () => {
  const s = await wt.createUnidirectionalStream();
  const w = s.getWriter();
  await w.write(tagged("R", pattern(999)));
  const seen = await ask("reset-seen");
  const abort = w.abort(new WebTransportError({ message: "reset", streamErrorCode: CONFIG.resetCode }));
  await abort.catch(() => {});
  return { seen, server: await ask("reset-result") };
});

await step("stop", 10000, async () => {
  const server = await ask("stop");
  return { server, page: await stopDone };
});

await step("serverClose", 10000, async () => {
  const s = await wt.createBidirectionalStream();
  const w = s.writable.getWriter();
  w.write(tagged("C", enc.encode("close"))).catch(() => {});
  w.close().catch(() => {});
  return await firstClosed;
});

await step("clientClose", 10000, async () => {
  const wt2 = new WebTransport(CONFIG.url2, options);
  await wt2.ready;
  const protocol = wt2.protocol;
  wt2.close({ closeCode: 9, reason: "chrome bye" });
  const info = await wt2.closed;
  return { protocol, closeCode: info.closeCode, reason: info.reason };
});

clearTimeout(deadline);
delete out.current;
out.ms.total = Math.round(performance.now() - t0);
out.errorCtorCode = new WebTransportError({ streamErrorCode: 42 }).streamErrorCode;
await report(out);
`;

interface PageResult {
  /** Set when the page's deadline passed; `current` names the step then running. */
  incomplete?: boolean;
  current?: string;
  steps: Record<string, unknown>;
  ms: Record<string, number>;
  errorCtorCode: number;
}

Deno.test("Chromium speaks WebTransport with our endpoint: FIN, echo, datagrams, 1000 streams, codes", async () => {
  const chromium = await findChromium();
  const cert = await generateCertificate(["127.0.0.1"]);
  const obs: ServerObservations = { sessions: [], echoes: 0, datagramEchoes: 0, errors: [] };
  const endpoint = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: ALPNS,
  });
  const server = serveSessions(endpoint, obs);
  const base = `https://127.0.0.1:${endpoint.addr.port}`;
  const config = {
    url: `${base}/path?q=1`,
    url2: `${base}/second?q=2`,
    hash: cert.fingerprint,
    big: BIG,
    reply: REPLY,
    streams: STREAMS,
    resetCode: RESET_CODE,
    stopCode: STOP_CODE,
    deadlineMs: PAGE_DEADLINE_MS,
    datagrams: DATAGRAMS,
    datagramQuietMs: DATAGRAM_QUIET_MS,
  };
  const page = `<!doctype html>
<script type="module">
import { report } from "/report.js";
const CONFIG = ${JSON.stringify(config)};
${PAGE_SCRIPT}
</script>`;
  const pages = servePages({ "/": page });
  let result: PageResult;
  try {
    await using browser = await launchChromium(pages.url("/"), { chromium });
    result = await pages.waitForResult<PageResult>(PAGE_TIMEOUT_MS, browser);
  } finally {
    endpoint.close();
    await withTimeout(server.settled(), SERVER_WAIT_MS, "server tasks").catch((e) =>
      obs.errors.push(String(e))
    );
    await pages.close();
  }
  console.log(`page timings (ms): ${JSON.stringify(result.ms)}`);

  try {
    check(result, obs);
  } catch (e) {
    console.error(`page: ${JSON.stringify(result)}\nserver: ${JSON.stringify(obs)}`);
    throw e;
  }
});

function check(result: PageResult, obs: ServerObservations): void {
  equal(result.incomplete, undefined, `the page's deadline passed in step ${result.current}`);
  const steps = result.steps;
  deepEqual(obs.errors, []);
  // 1. wt-protocol and the URL.
  deepEqual(steps.ready, { protocol: "moq-lite-05" });
  deepEqual(obs.sessions, [
    {
      path: "/path",
      search: "?q=1",
      offered: ["moq-lite-05", "moq-lite-04"],
      protocol: "moq-lite-05",
    },
    {
      path: "/second",
      search: "?q=2",
      offered: ["moq-lite-05", "moq-lite-04"],
      protocol: "moq-lite-05",
    },
  ]);
  // 2. FIN both ways.
  deepEqual(obs.big, { length: BIG, ok: true });
  deepEqual(steps.uni, { length: REPLY, ok: true, done: true });
  // 3. Bidi echo from either side.
  deepEqual(steps.bidiEcho, { text: "Ehello from chromium" });
  deepEqual(steps.serverBidi, { ok: true, length: SERVER_BIDI + 1 });
  deepEqual(obs.serverBidi, { ok: true, length: SERVER_BIDI + 1 });
  // 4. Datagram echo from either side: most arrive, none changed.
  const server = steps.serverDatagrams as { max: number; sent: number; intact: number };
  ok(server.max > 1000, `the server's maxDatagramSize: ${server.max}`);
  deepEqual(steps.serverDatagrams, obs.serverDatagrams);
  equal(obs.serverDatagrams?.corrupt, 0, JSON.stringify(obs.serverDatagrams));
  ok(server.intact >= DATAGRAM_MAJORITY, `the page echoed ${server.intact} of ${DATAGRAMS}`);
  const page = steps.datagramEcho as { pageMax: number; intact: number; corrupt: number };
  ok(page.pageMax > 0, `Chromium's maxDatagramSize: ${page.pageMax}`);
  equal(page.corrupt, 0, JSON.stringify(page));
  ok(page.intact >= DATAGRAM_MAJORITY, `the server echoed ${page.intact} of ${DATAGRAMS}`);
  ok(obs.datagramEchoes >= page.intact, `the server echoed ${obs.datagramEchoes}`);
  // 5. 1000 streams in a row (plus the echo of check 3).
  deepEqual(steps.streams, { ok: STREAMS, serverCount: STREAMS + 1 });
  equal(obs.echoes, STREAMS + 1);
  // 6. Reset and stop codes.
  equal(result.errorCtorCode, RESET_CODE);
  const reset = steps.reset as { seen: number; server: { kind: string; code: number } };
  ok(
    reset.seen > 0,
    `the server saw the R stream's bytes before the reset: ${JSON.stringify(reset)}`,
  );
  deepEqual({ kind: obs.reset?.kind, code: obs.reset?.code }, { kind: "reset", code: RESET_CODE });
  deepEqual({ kind: reset.server.kind, code: reset.server.code }, {
    kind: "reset",
    code: RESET_CODE,
  });
  const stop = steps.stop as { server: { kind: string; code: number }; page: unknown };
  deepEqual({ kind: obs.stop?.kind, code: obs.stop?.code }, { kind: "stopped", code: STOP_CODE });
  equal((stop.page as { cancelled?: boolean }).cancelled, true, JSON.stringify(stop));
  // 7. Session close codes both ways.
  deepEqual(steps.serverClose, { closeCode: 7, reason: "bye" });
  deepEqual(obs.firstClosed, { code: 7, reason: "bye", remote: false });
  deepEqual(steps.clientClose, { protocol: "moq-lite-05", closeCode: 9, reason: "chrome bye" });
  deepEqual(obs.secondClosed, { code: 9, reason: "chrome bye", remote: true });
}
