/**
 * Upstream's Rust `moq-clock` 0.10.21 (`cargo install moq-clock@0.10.21`) as a moq-transport peer:
 * a clock published on one draft (14 to 17, what it speaks) is read on the same draft and on
 * another, over WebTransport and raw QUIC, by a first subscriber and then by a late one (served
 * from the relay's cache). Its codec is `moq-net` 0.1.18, older than the 0.3.18 `WIRE.md` reads. The binary is not part of a fresh machine; without it
 * on PATH these tests are ignored (reported as such, never as passed).
 */
import { ok } from "assert";
import { startRelay } from "./support/relay.ts";
import { until } from "./support/wait.ts";

const CLOCK = "moq-clock";

function onPath(name: string): boolean {
  try {
    return new Deno.Command(name, { args: ["--help"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const present = onPath(CLOCK);

/** Runs `moq-clock` against `url`; the process and a reader of its stdout lines. */
function clock(url: string, broadcast: string, version: string, command: string) {
  const child = new Deno.Command(CLOCK, {
    args: [
      "--url",
      url,
      "--broadcast",
      broadcast,
      "--tls-disable-verify",
      "--client-version",
      version,
      command,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { RUST_LOG: "debug", NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const logs: string[] = [];
  const logging = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      logs.push(...decoder.decode(chunk).split("\n").filter((l) => l.trim()));
      if (logs.length > 200) logs.splice(0, logs.length - 200);
    }
  })();
  const reading = (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of child.stdout) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts.filter((l) => l.trim().length > 0));
    }
  })();
  let exited = false;
  void child.status.then(() => exited = true);
  return {
    lines,
    logs,
    /** The process ended by itself (moq-clock's subscriber exits on an error). */
    get exited() {
      return exited;
    },
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
      await reading.catch(() => {});
      await logging.catch(() => {});
    },
  };
}

/** Waits for two seconds printed by `sub`; fails at once, with what it said, if it exits. */
async function readsTicks(
  sub: ReturnType<typeof clock>,
  who: string,
  state: () => unknown = () => undefined,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (ticks(sub.lines).length < 2 && !sub.exited && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  ok(
    ticks(sub.lines).length >= 2,
    `${who} read ${JSON.stringify(sub.lines.slice(-5))}${sub.exited ? " and exited" : ""} ` +
      `(relay: ${JSON.stringify(state())}): ` +
      sub.logs.filter((l) => !/^\s+(\d+:|at )/.test(l)).slice(-25).join("\n"),
  );
}

/** Seconds the subscriber printed: lines like `2026-12-02 07:03:08`. */
const ticks = (lines: string[]) => lines.filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(l));

for (
  const [publisher, subscriber, scheme] of [
    ["moq-transport-14", "moq-transport-14", "https"],
    ["moq-transport-15", "moq-transport-15", "https"],
    ["moq-transport-16", "moq-transport-16", "https"],
    ["moq-transport-17", "moq-transport-17", "https"],
    ["moq-transport-17", "moq-transport-16", "moqt"],
    ["moq-transport-16", "moq-lite-03", "moqt"],
  ] as const
) {
  Deno.test({
    name: `moq-clock: published on ${publisher}, read on ${subscriber} (${scheme})`,
    ignore: !present,
    async fn() {
      await using relay = await startRelay();
      const url = `${scheme}://127.0.0.1:${relay.addr.port}/`;
      const name = `clock-${crypto.randomUUID().slice(0, 8)}`;
      const pub = clock(url, name, publisher, "publish");
      // The subscriber starts once the relay routes the clock (its PUBLISH_NAMESPACE arrived).
      await until(
        "the clock is announced",
        () => relay.context.origin.route(name) !== undefined,
        10_000,
      )
        .catch(async (e) => {
          await pub.stop();
          throw e;
        });
      const first = clock(url, name, subscriber, "subscribe");
      let late: ReturnType<typeof clock> | undefined;
      try {
        const state = () => (relay.stats() as { sessions: unknown }).sessions;
        await readsTicks(first, "the first subscriber", state);
        // A late joiner: the relay now holds the track, so its SUBSCRIBE_OK is answered from
        // the cache (this is where a LARGEST_OBJECT moq-net 0.1.18 cannot read once broke it).
        late = clock(url, name, subscriber, "subscribe");
        await readsTicks(late, "a late subscriber", state);
      } finally {
        await late?.stop();
        await first.stop();
        await pub.stop();
      }
    },
  });
}
