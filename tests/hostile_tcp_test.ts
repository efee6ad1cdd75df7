/**
 * Hostile peers on the relay's TCP side (HTTP, and the WebSocket fallback on it), each attack on
 * loopback, bounded in count and time, with a healthy publisher/subscriber pair on raw QUIC beside
 * it that must keep receiving every group whole and in order:
 *
 * - memory: the legacy `webtransport` WebSocket binding (no flow control) is refused; the QMux
 *   bindings hold what a flooding peer may make the relay buffer, before and after SETUP;
 * - answers: every upgrade the relay cannot serve is answered 400 at once, never left hanging;
 * - connections: idle connections are closed after a deadline, their number is capped, and
 *   running out of file descriptors does not end the TCP listener;
 * - logs: nothing a peer does reaches the error level.
 */
import { equal, match, ok } from "assert";
import QmuxSession from "@moq/qmux";
import { acceptLoop } from "../src/web/front.ts";
import { serveWeb } from "../src/web/server.ts";
import { startHealthyPair } from "./support/healthy_pair.ts";
import {
  clientStream,
  legacyStream,
  liteSetupStream,
  qmuxPings,
  qmuxStream,
  qmuxTransportParameters,
  rawUpgrade,
  rssMiB,
  wsFrame,
} from "./support/raw_websocket.ts";
import { type RelayProcess, startRelayProcess } from "./support/relay_process.ts";
import { until, withTimeout } from "./support/wait.ts";

const MiB = 1024 * 1024;

/**
 * What the floods may add to the relay's resident set, all sessions together. Coarse: what the
 * relay reads and refuses passes through the heap before the collector frees it (the legacy
 * binding grew by 1.5 GiB in 4 s; QMux with its limits lifted, by 490 MiB).
 */
const MAX_GROWTH_MIB = 256;

/** Sessions in the relay's /stats. */
async function sessionCount(relay: RelayProcess): Promise<number> {
  return (await relay.stats()).sessions.length;
}

// ---- Break 5: every upgrade the relay cannot serve is answered, at once ----

for (
  const [name, protocols] of [
    ["no Sec-WebSocket-Protocol", undefined],
    ["only an unknown subprotocol", ["chat"]],
    ["an unknown application protocol and no bare QMux", ["qmux-01.moqt-99", "qmux-00.moqt-99"]],
  ] as const
) {
  Deno.test(`hostile websocket: an upgrade with ${name} is answered 400 at once`, async () => {
    // A process: a relay left with an unanswered request could not shut down.
    const relay = await startRelayProcess([]);
    const started = Date.now();
    const answer = await rawUpgrade(relay.port, protocols ? [...protocols] : undefined, {
      timeoutMs: 3000,
    });
    const answered = Date.now() - started;
    answer.close();
    await relay.kill();
    console.log(
      `answered ${answer.status} after ${answered} ms: ${answer.head.split("\r\n").at(-1)}`,
    );
    equal(answer.status, 400, answer.head);
    match(answer.head, /subprotocol/);
    ok(answered < 1000, `answered after ${answered} ms`);
  });
}

// ---- Break 1: what a WebSocket peer may make the relay buffer ----

Deno.test("hostile websocket: the legacy webtransport binding is refused, so 1 MiB STREAM frames before SETUP cannot grow the relay", async () => {
  await using relay = await startRelayProcess([]);
  await using pair = await startHealthyPair(relay.port, await relay.fingerprint());
  const before = rssMiB(relay.pid);
  const attack = await rawUpgrade(relay.port, ["webtransport"]);
  let sent = 0;
  let peak = before;
  if (attack.status === 101) {
    // An empty first bidirectional stream holds the legacy SETUP waiting; then new streams,
    // 1 MiB each, that nothing reads before SETUP.
    await attack.send(wsFrame(legacyStream(clientStream(0, true), new Uint8Array(0))));
    const chunk = new Uint8Array(MiB);
    const started = Date.now();
    for (let i = 1; sent < 2048 * MiB && Date.now() - started < 4000; i++) {
      if (!await attack.send(wsFrame(legacyStream(clientStream(i, true), chunk)))) break;
      sent += MiB;
      if (i % 64 === 0) peak = Math.max(peak, rssMiB(relay.pid));
    }
  }
  peak = Math.max(peak, rssMiB(relay.pid));
  attack.close();
  await pair.delivered();
  console.log(
    `legacy binding: answer ${attack.status}, sent ${sent / MiB} MiB, relay RSS ${
      before.toFixed(0)
    } -> peak ${peak.toFixed(0)} MiB`,
  );
  ok(peak - before < MAX_GROWTH_MIB, `relay RSS grew ${(peak - before).toFixed(0)} MiB`);
  equal(attack.status, 400, attack.head);
  match(attack.head, /webtransport/);
});

/** What a flood got through: bytes sent, and whether the relay closed the session on it. */
interface Flood {
  sent: number;
  closed: boolean;
}

/**
 * One flood on a QMux binding: frames of `frameSize` on `streams` new streams (unidirectional,
 * or bidirectional, which nothing reads before SETUP), sent as fast as the relay takes them. The
 * relay either reads (and refuses) the streams as fast as they come, or closes the session when
 * the peer overruns the credit it was given; either way it holds no more than its flow-control
 * window. Ends the attack once everything is sent or the relay has closed the session.
 */
async function qmuxFlood(
  relay: RelayProcess,
  binding: string,
  afterSetup: boolean,
  frameSize: number,
  streams: number,
  bidi = false,
): Promise<Flood> {
  const attack = await rawUpgrade(relay.port, [binding]);
  equal(attack.status, 101, attack.head);
  let next = 0;
  if (afterSetup) {
    const set = relay.log().match(/ session moq-lite-05 root/g)?.length ?? 0;
    await attack.send(wsFrame(qmuxTransportParameters()));
    await attack.send(wsFrame(qmuxStream(clientStream(next++), liteSetupStream(), 0, true)));
    await until(
      "the flooding session's SETUP",
      () => (relay.log().match(/ session moq-lite-05 root/g)?.length ?? 0) > set,
    );
  }
  const chunk = new Uint8Array(frameSize).fill(0x07);
  const started = Date.now();
  const flood = { sent: 0, closed: false };
  attack.closing.then(() => flood.closed = true);
  for (let i = 0; i < streams && !flood.closed && Date.now() - started < 5000; i++) {
    const id = bidi ? clientStream(i, true) : clientStream(next++);
    // Once the relay has closed the session it stops reading: a write may then never finish.
    const sent = await Promise.race([attack.send(wsFrame(qmuxStream(id, chunk))), attack.closing]);
    if (sent === false) break;
    if (sent === true) flood.sent += frameSize;
  }
  attack.close();
  return flood;
}

Deno.test("hostile websocket: qmux-00 and qmux-01 bound a flooding peer before and after SETUP, round after round", async () => {
  await using relay = await startRelayProcess([]);
  await using pair = await startHealthyPair(relay.port, await relay.fingerprint());
  const before = rssMiB(relay.pid);
  let peak = before;
  const unread: number[] = [];
  for (let round = 0; round < 2; round++) {
    for (const binding of ["qmux-01.moq-lite-05", "qmux-00.moq-lite-05"]) {
      for (const afterSetup of [false, true]) {
        // 1 MiB frames: past the record (qmux-01) and frame (qmux-00) size; closed at once.
        const big = await qmuxFlood(relay, binding, afterSetup, MiB, 256);
        ok(big.closed && big.sent <= 64 * MiB, `${binding}: 1 MiB frames: ${JSON.stringify(big)}`);
        // 16 000-byte frames on 1 000 new unidirectional streams (16 MB: past the stream count
        // and the 1 MiB window unless the relay reads and refuses them as fast as they come).
        await qmuxFlood(relay, binding, afterSetup, 16_000, 1000);
        // ... and on 10 000 bidirectional ones (160 MB), which nothing reads before SETUP: the
        // relay must close the session once the peer overruns its window, long before the end.
        const bidi = await qmuxFlood(relay, binding, afterSetup, 16_000, 10_000, true);
        if (!afterSetup) {
          ok(bidi.closed, `${binding}: unread bidirectional streams: ${JSON.stringify(bidi)}`);
          unread.push(bidi.sent / MiB);
        }
        peak = Math.max(peak, rssMiB(relay.pid));
      }
    }
    // Every flooding session has ended before the next round (the pair's two remain).
    await until("the flooding sessions to end", async () => (await sessionCount(relay)) === 2);
  }
  await pair.delivered();
  console.log(
    `qmux floods: relay RSS ${before.toFixed(0)} -> peak ${peak.toFixed(0)} MiB; unread ` +
      `streams were cut off after ${unread.map((m) => m.toFixed(1)).join(", ")} MiB of 160`,
  );
  // The window is 1 MiB; the rest was in flight in the loopback sockets when the relay closed.
  ok(unread.every((m) => m < 48), `MiB sent on unread streams: ${unread}`);
  // Over both rounds: what the first round's sessions held was given back, or the second's
  // would have added to it.
  ok(peak - before < MAX_GROWTH_MIB, `relay RSS grew ${(peak - before).toFixed(0)} MiB`);
});

Deno.test("hostile websocket: a peer that floods QX_PING after SETUP and reads nothing is cut off", async () => {
  await using relay = await startRelayProcess([]);
  await using pair = await startHealthyPair(relay.port, await relay.fingerprint());
  const before = rssMiB(relay.pid);
  const attack = await rawUpgrade(relay.port, ["qmux-01.moq-lite-05"], { read: false });
  equal(attack.status, 101, attack.head);
  await attack.send(wsFrame(qmuxTransportParameters()));
  await attack.send(wsFrame(qmuxStream(clientStream(0), liteSetupStream(), 0, true)));
  await until("the pinging session's SETUP", () => / session moq-lite-05 root/.test(relay.log()));
  // Records of 1,600 pings each, every one of which QMux answers; for at most 6 s.
  let sent = 0;
  let next = 0;
  const started = Date.now();
  while (Date.now() - started < 6000) {
    const pings = qmuxPings(next);
    next = pings.next;
    if (!await attack.send(wsFrame(pings.record))) break;
    sent += pings.record.length;
  }
  const cutOff = Date.now() - started;
  const after = rssMiB(relay.pid);
  attack.close();
  await pair.delivered();
  console.log(
    `ping flood: cut off after ${(sent / MiB).toFixed(2)} MiB (${next} pings) in ${cutOff} ms; ` +
      `relay RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MiB`,
  );
  ok(cutOff < 5000, `the relay took pings for ${cutOff} ms`);
  ok(after - before < 48, `relay RSS grew ${(after - before).toFixed(0)} MiB`);
  await until("the relay to say why", () => /pings in a second/.test(relay.log()));
});

// ---- Logs: a peer cannot make the relay log at error level ----

Deno.test("hostile websocket: bad QMux frames and abrupt closes log nothing at error level", async () => {
  await using relay = await startRelayProcess([]);
  await using pair = await startHealthyPair(relay.port, await relay.fingerprint());
  // A frame type QMux does not have; a record past max_record_size; a session set up and then
  // dropped; an upgrade dropped right after the 101, and some before it.
  const junk = await rawUpgrade(relay.port, ["qmux-01.moq-lite-05"]);
  await junk.send(wsFrame(Uint8Array.of(0x3e, 0x00)));
  for (let i = 0; i < 20; i++) await junk.send(wsFrame(Uint8Array.of(0x3e, 0x00)));
  await withTimeout(junk.closed, 5000, "the relay closing a session that sent a bad frame");
  junk.close();
  await qmuxFlood(relay, "qmux-01.moq-lite-05", false, MiB, 20);
  const dropped = await rawUpgrade(relay.port, ["qmux-01.moq-lite-05"]);
  await dropped.send(wsFrame(qmuxTransportParameters()));
  await dropped.send(wsFrame(qmuxStream(clientStream(0), liteSetupStream(), 0, true)));
  await until("the dropped session's SETUP", () => / session moq-lite-05 root/.test(relay.log()));
  dropped.close();
  const early = await rawUpgrade(relay.port, ["qmux-00.moq-lite-05"]);
  early.close();
  // Upgrades abandoned before the answer (the relay accepts them, then finds no one there).
  for (let i = 0; i < 5; i++) {
    const gone = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
    await gone.write(new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Protocol: qmux-01.moq-lite-05\r\n\r\n",
    ));
    gone.close();
  }
  // The positive signal: every one of those sessions has ended (the pair's two remain).
  await until("the hostile sessions to end", async () => (await sessionCount(relay)) === 2);
  await pair.delivered();
  const log = relay.log();
  ok(!/ ERR /.test(log), `error-level lines:\n${log.split("\n").filter((l) => / ERR /.test(l))}`);
  ok(!log.includes("Protocol violation"), `raw console lines:\n${log.slice(-2000)}`);
});

// ---- Break 7: connections: a cap, deadlines, and an accept loop that survives EMFILE ----

/** Opens a TCP connection and notes when the relay closes it. */
async function idleConnection(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let closedAt: number | undefined;
  let received = "";
  const closed = (async () => {
    const buf = new Uint8Array(4096);
    try {
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        received += new TextDecoder().decode(buf.subarray(0, n));
      }
    } catch {
      // reset
    }
    closedAt = Date.now();
  })();
  return {
    conn,
    closed,
    get closedAt() {
      return closedAt;
    },
    /** What the relay sent before closing. */
    get received() {
      return received;
    },
    close() {
      try {
        conn.close();
      } catch {
        // closed already
      }
    },
  };
}

Deno.test("hostile tcp: connections past the cap are closed at once, idle ones at the deadlines, oversized heads get 431", async () => {
  const web = serveWeb({
    hostname: "127.0.0.1",
    port: 0,
    fingerprint: () => "f00d",
    offer: (incoming) => void incoming.reject(503, "no"),
    limits: { maxConnections: 4, headTimeoutMs: 600, idleTimeoutMs: 900, maxHeadBytes: 8192 },
  });
  const port = web.addr.port;
  try {
    const started = Date.now();
    const held = await Promise.all([0, 1, 2, 3].map(() => idleConnection(port)));
    await until("the four connections to be held", () => web.connections === 4);
    // One past the cap: closed as soon as it is accepted.
    const extra = await idleConnection(port);
    await withTimeout(extra.closed, 500, "the connection past the cap being closed");
    equal(web.connections, 4, "the four held connections are still open");
    // A slow loris: a header line every 100 ms, never the blank line that ends the head.
    held[0]!.close();
    await until("a slot to free", () => web.connections === 3);
    const loris = await idleConnection(port);
    const trickle = setInterval(
      () => loris.conn.write(new TextEncoder().encode("X-Slow: 1\r\n")).catch(() => {}),
      100,
    );
    await loris.conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    await withTimeout(
      Promise.all([...held.slice(1), loris].map((c) => c.closed)),
      3000,
      "head deadline",
    );
    clearInterval(trickle);
    for (const c of [...held.slice(1), loris]) {
      const after = (c.closedAt ?? 0) - started;
      ok(after >= 500 && after < 2500, `an idle connection closed after ${after} ms`);
    }
    // A whole request is served; its keep-alive connection, left idle, closes at the idle deadline.
    const keep = await idleConnection(port);
    await keep.conn.write(new TextEncoder().encode("GET /fingerprint HTTP/1.1\r\nHost: x\r\n\r\n"));
    const answered = Date.now();
    await withTimeout(keep.closed, 3000, "idle deadline");
    const idle = (keep.closedAt ?? 0) - answered;
    ok(idle >= 800 && idle < 2500, `a keep-alive connection closed after ${idle} ms idle`);
    equal(await (await fetch(`http://127.0.0.1:${port}/fingerprint`)).text(), "f00d");
    // A head past the size limit is answered 431 and closed.
    const big = await idleConnection(port);
    await big.conn.write(
      new TextEncoder().encode(`GET / HTTP/1.1\r\nX-Big: ${"x".repeat(10_000)}\r\n\r\n`),
    ).catch(() => {});
    await until("the answer to a head past the limit", () => big.received.length > 0, 3000);
    match(big.received, /^HTTP\/1\.1 431/);
    for (const c of [...held, extra, loris, keep, big]) c.close();
  } finally {
    await web.shutdown();
  }
});

Deno.test("hostile tcp: the accept loop survives accept errors (EMFILE) and goes on", async () => {
  let calls = 0;
  const handled: number[] = [];
  const sleeps: number[] = [];
  const listener = {
    accept(): Promise<number> {
      calls++;
      if (calls <= 5) return Promise.reject(new Error("Too many open files (os error 24)"));
      return Promise.resolve(calls);
    },
  };
  await acceptLoop(listener, (conn) => handled.push(conn), () => handled.length >= 3, (ms) => {
    sleeps.push(ms);
    return Promise.resolve();
  });
  equal(handled.join(","), "6,7,8");
  equal(sleeps.length, 5);
  ok(sleeps.every((ms, i) => i === 0 || ms >= sleeps[i - 1]!), `backoff ${sleeps}`);
});

Deno.test("hostile tcp: running out of file descriptors does not end the TCP listener", async () => {
  // 256 descriptors; 600 idle connections, more than the relay could ever hold.
  await using relay = await startRelayProcess([], 0, { nofile: 256 });
  const fingerprint = await relay.fingerprint();
  await using pair = await startHealthyPair(relay.port, fingerprint);
  const idle = [];
  for (let i = 0; i < 600; i++) {
    try {
      idle.push(await idleConnection(relay.port));
    } catch {
      break; // refused: the backlog is full
    }
  }
  const fds = Deno.readDirSync(`/proc/${relay.pid}/fd`).toArray().length;
  await pair.delivered(3);
  for (const c of idle) c.close();
  const released = Date.now();
  // Within a few seconds, HTTP and a WebSocket session work again.
  let answer = "";
  await until("/certificate.sha256 to answer again", async () => {
    answer = await fetch(`http://127.0.0.1:${relay.port}/certificate.sha256`, {
      signal: AbortSignal.timeout(500),
    }).then((r) => r.text(), () => "");
    return answer === fingerprint;
  }, 5000);
  equal(answer, fingerprint);
  const back = Date.now() - released;
  const client = new QmuxSession(`http://127.0.0.1:${relay.port}/`, {
    protocols: ["moq-lite-05"],
    versions: { "moq-lite-05": ["qmux-01"] },
  });
  await withTimeout(client.ready, 5000, "a WebSocket session after the flood");
  client.close({ closeCode: 0, reason: "done" });
  await client.closed.catch(() => {});
  await pair.delivered();
  console.log(
    `${idle.length} idle connections held the relay at ${fds} fds; HTTP back ${back} ms after release`,
  );
  ok(!/ ERR /.test(relay.log()), relay.log().slice(-2000));
});
