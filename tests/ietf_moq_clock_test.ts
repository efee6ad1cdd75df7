/**
 * Upstream's Rust `moq-clock` 0.10.21 (`cargo install moq-clock@0.10.21`) as a moq-transport peer:
 * a clock published on one draft (14 to 17, what it speaks) is read on the same draft and on
 * another, over WebTransport and raw QUIC. The binary is not part of a fresh machine; without it
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
    env: { RUST_LOG: "info", NO_COLOR: "1" },
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
    /** The process ended by itself (moq-clock's subscriber exits on a refusal). */
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
      // moq-clock's subscriber exits when its SUBSCRIBE is refused (the publisher may not serve
      // the track yet, just after announcing it): start it again, as a user would, until the
      // deadline.
      const deadline = Date.now() + 20_000;
      const said: string[] = [];
      let sub = clock(url, name, subscriber, "subscribe");
      try {
        while (ticks(sub.lines).length < 2 && Date.now() < deadline) {
          if (sub.exited) {
            said.push(...sub.logs.filter((l) => !/^\s+(\d+:|at )/.test(l)).slice(-3));
            console.log(`moq-clock's subscriber exited: ${said.slice(-3).join(" / ")}`);
            await sub.stop();
            sub = clock(url, name, subscriber, "subscribe");
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        ok(
          ticks(sub.lines).length >= 2,
          `ticks read: ${JSON.stringify(sub.lines.slice(-5))}; subscriber said: ` +
            [...said, ...sub.logs.filter((l) => !/^\s+(\d+:|at )/.test(l)).slice(-10)].join("\n"),
        );
      } finally {
        await sub.stop();
        await pub.stop();
      }
    },
  });
}
