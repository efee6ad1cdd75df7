/**
 * `main.ts` as a process: what an operator sees for good and bad command lines.
 */
import { equal, match, ok } from "assert";

const main = new URL("../main.ts", import.meta.url).pathname;
const tls = new URL("./fixtures/tls/", import.meta.url).pathname;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the relay to its exit; one still running after 15 s (it should have refused) is killed. */
async function relay(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", main, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 15_000);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    clearTimeout(deadline);
  }
}

/** Exit code 2 and exactly one line on stderr, which matches `pattern`. */
async function refused(
  args: string[],
  pattern: RegExp,
  env: Record<string, string> = {},
): Promise<void> {
  const { code, stderr } = await relay(args, env);
  equal(code, 2, `exit code for ${args.join(" ")}: stderr was ${stderr}`);
  const lines = stderr.trimEnd().split("\n");
  equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  match(lines[0] ?? "", pattern);
  ok(!stderr.includes("    at "), "no stack trace");
}

Deno.test("--help prints every flag and exits 0", async () => {
  const { code, stdout } = await relay(["--help"]);
  equal(code, 0);
  match(stdout, /--bind <ADDR>/);
  match(stdout, /MOQ_TLS_CERT/);
});

Deno.test("--version prints the version", async () => {
  const { code, stdout } = await relay(["--version"]);
  equal(code, 0);
  match(stdout, /^moq-relay \d+\.\d+\.\d+/);
});

Deno.test("an unknown flag exits 2 naming it", () =>
  refused(["--frobnicate"], /^moq-relay: --frobnicate: unknown flag/));

Deno.test("a malformed --bind exits 2 naming it", () =>
  refused(["--dev", "--bind", "localhost"], /^moq-relay: --bind: "localhost" is not an address/));

Deno.test("a missing certificate file exits 2 naming it", () =>
  refused(
    ["--tls-cert", `${tls}nope.pem`, "--tls-key", `${tls}ec.key`],
    /^moq-relay: cannot read certificate .*nope\.pem: no such file$/,
  ));

Deno.test("a key that does not match its certificate exits 2", () =>
  refused(
    ["--tls-cert", `${tls}ec.pem`, "--tls-key", `${tls}other.key`],
    /^moq-relay: .*other\.key: this key does not match the certificate .*ec\.pem$/,
  ));

Deno.test("a bad config key exits 2 naming the file and key", async () => {
  const file = await Deno.makeTempFile({ suffix: ".toml" });
  await Deno.writeTextFile(file, 'bind = "[::]:4443"\ntls-certs = ["a.pem"]\n');
  await refused(["--config", file], new RegExp(`^moq-relay: ${file}: unknown key "tls-certs"$`));
});

Deno.test("a missing --tls-root file exits 2 naming it, before anything listens", () =>
  refused(
    ["--dev", "--bind", "127.0.0.1:0", "--tls-root", `${tls}nope.pem`],
    /^moq-relay: cannot read trust root .*nope\.pem: no such file$/,
  ));

Deno.test("a --tls-root file without a certificate exits 2 naming it", () =>
  refused(
    ["--dev", "--bind", "127.0.0.1:0", "--tls-root", `${tls}ec.key`],
    /^moq-relay: .*ec\.key: no CERTIFICATE block in the file$/,
  ));

Deno.test("an auth key that is missing, weak or malformed exits 2 naming the file, before anything listens", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await refused(
      ["--dev", "--bind", "127.0.0.1:0", "--auth-key", `${dir}/nope.jwk`],
      /^moq-relay: cannot read key .*nope\.jwk: no such file$/,
    );
    const weak = `${dir}/weak.jwk`;
    await Deno.writeTextFile(weak, JSON.stringify({ kty: "oct", alg: "HS256", k: "c2hvcnQ" }));
    await refused(
      ["--dev", "--bind", "127.0.0.1:0", "--auth-key", weak],
      /^moq-relay: .*weak\.jwk: a 5-byte secret is too weak for HS256 \(needs 32\)$/,
    );
    const wrong = `${dir}/wrong.jwk`;
    await Deno.writeTextFile(wrong, JSON.stringify({ kty: "oct", alg: "ES256", k: "c2hvcnQ" }));
    await refused(
      ["--dev", "--bind", "127.0.0.1:0", "--auth-key", wrong],
      /^moq-relay: .*wrong\.jwk: ES256 needs a "EC" key, not "oct"$/,
    );
    await refused(
      ["--dev", "--bind", "127.0.0.1:0", "--auth-key-dir", `${dir}/none`],
      /^moq-relay: cannot read key directory .*none: no such directory$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Holds a UDP or TCP port on `hostname` while `body` runs. */
async function withPortTaken(
  transport: "udp" | "tcp",
  hostname: string,
  body: (port: number) => Promise<void>,
): Promise<void> {
  const taken = transport === "udp"
    ? Deno.listenDatagram({ hostname, port: 0, transport: "udp" })
    : Deno.listen({ hostname, port: 0 });
  try {
    await body((taken.addr as Deno.NetAddr).port);
  } finally {
    taken.close();
  }
}

Deno.test("a UDP port already taken exits 2 with one line naming the address", () =>
  withPortTaken("udp", "127.0.0.1", (port) =>
    refused(
      ["--dev", "--bind", `127.0.0.1:${port}`],
      new RegExp(
        `^moq-relay: --bind: cannot listen on UDP 127\\.0\\.0\\.1:${port}: address already in use$`,
      ),
    )));

Deno.test("a TCP port already taken exits 2 with one line naming the address", () =>
  withPortTaken("tcp", "127.0.0.1", (port) =>
    refused(
      ["--dev", "--bind", `127.0.0.1:${port}`],
      new RegExp(
        `^moq-relay: --bind: cannot listen on TCP 127\\.0\\.0\\.1:${port}: address already in use$`,
      ),
    )));

Deno.test("a port taken on another address ([::] against 127.0.0.1) exits 2 naming it", async () => {
  await withPortTaken("udp", "::", (port) =>
    refused(
      ["--dev", "--bind", `127.0.0.1:${port}`],
      new RegExp(`^moq-relay: --bind: cannot listen on UDP 127\\.0\\.0\\.1:${port}: address`),
    ));
  await withPortTaken("tcp", "0.0.0.0", (port) =>
    refused(
      ["--dev", "--bind", `[::]:${port}`],
      new RegExp(`^moq-relay: --bind: cannot listen on TCP \\[::\\]:${port}: address`),
    ));
});

Deno.test("an empty --cluster-token exits 2 naming it (flag and variable)", async () => {
  const line = /^moq-relay: (--cluster-token|MOQ_CLUSTER_TOKEN): the cluster token is empty; /;
  await refused(["--dev", "--bind", "127.0.0.1:0", "--cluster-token", ""], line);
  await refused(["--dev", "--bind", "127.0.0.1:0"], line, { MOQ_CLUSTER_TOKEN: "" });
});

Deno.test("--max-streams past its maximum exits 2 naming the flag and the maximum", () =>
  refused(
    ["--dev", "--bind", "127.0.0.1:0", "--max-streams", "10000000"],
    /^moq-relay: --max-streams: "10000000" is above the maximum, 10000$/,
  ));

Deno.test("a size that comes out below the minimum (0.4 bytes) exits 2 naming the flag", () =>
  refused(
    ["--dev", "--bind", "127.0.0.1:0", "--max-lag-bytes", "0.4"],
    /^moq-relay: --max-lag-bytes: "0\.4" is below the minimum, 16KiB$/,
  ));

Deno.test("a negative number exits 2 naming the flag: --flag -5, --flag=-5, variable, file", async () => {
  const line = (source: string) =>
    new RegExp(`^moq-relay: ${source}: "-5" must be a positive number \\(a whole number`);
  const args = ["--dev", "--bind", "127.0.0.1:0"];
  await refused([...args, "--max-sessions", "-5"], line("--max-sessions"));
  await refused([...args, "--max-sessions=-5"], line("--max-sessions"));
  await refused(args, line("MOQ_MAX_SESSIONS"), { MOQ_MAX_SESSIONS: "-5" });
  const file = await Deno.makeTempFile({ suffix: ".toml" });
  await Deno.writeTextFile(file, "max-sessions = -5\n");
  await refused([...args, "--config", file], line(`${file}: key "max-sessions"`));
});

/** Starts the relay, collects stderr until `until` matches, then stops it with SIGTERM. */
async function runUntil(args: string[], until: RegExp): Promise<{ stderr: string; code: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", main, ...args],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 15_000);
  try {
    while (!until.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value, { stream: true });
    }
    child.kill("SIGTERM");
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      stderr += decoder.decode(r.value);
    }
  } finally {
    clearTimeout(deadline);
    reader.releaseLock();
  }
  const { code } = await child.status;
  return { stderr, code };
}

Deno.test("a seed-style command line is accepted and reports address and fingerprint", async () => {
  const { code, stderr } = await runUntil([
    "--bind",
    "127.0.0.1:0",
    "--tls-cert",
    `${tls}ec.pem`,
    "--tls-key",
    `${tls}ec.key`,
    "-v",
  ], /listening on/);
  match(stderr, /fingerprint [0-9a-f]{64}/);
  match(stderr, /listening on 127\.0\.0\.1:\d+ \(QUIC on UDP, HTTPS on TCP\)/);
  equal(code, 0, stderr);
});

Deno.test("--dev generates a certificate, prints its fingerprint and serves it over HTTP", async () => {
  const { code, stderr } = await runUntil(
    ["--dev", "--bind", "127.0.0.1:0", "--log-format", "json"],
    /listening on/,
  );
  const lines = stderr.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  const cert = lines.find((l) => typeof l.fingerprint === "string");
  ok(cert, stderr);
  match(String(cert.fingerprint), /^[0-9a-f]{64}$/);
  equal(cert.generated, true);
  ok(lines.some((l) => l.http === "HTTP"), stderr);
  equal(code, 0, stderr);
});
