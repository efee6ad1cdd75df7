import { deepEqual, equal, match, throws } from "assert";
import {
  type Command,
  type Config,
  ConfigError,
  envName,
  helpText,
  loadConfig,
  OPTION_TABLE,
  parseHostPort,
} from "../src/config.ts";
import { DEFAULT_TRANSPORT_LIMITS } from "../src/transport/endpoint.ts";

function run(args: string[], env: Record<string, string> = {}): Config {
  const command: Command = loadConfig(args, env);
  if (command.kind !== "run") throw new Error(`expected a run command, got ${command.kind}`);
  return command.config;
}

function configError(args: string[], env: Record<string, string> = {}): string {
  let message = "";
  throws(() => loadConfig(args, env), (e: unknown) => {
    if (!(e instanceof ConfigError)) return false;
    message = e.message;
    return true;
  });
  return message;
}

function tomlFile(text: string): string {
  const path = Deno.makeTempFileSync({ suffix: ".toml" });
  Deno.writeTextFileSync(path, text);
  return path;
}

Deno.test("defaults: bind [::]:4443, info level, text format", () => {
  const config = run(["--dev"]);
  deepEqual(config.bind, { hostname: "::", port: 4443 });
  equal(config.log.level, "info");
  equal(config.log.format, "text");
  deepEqual(config.tls.generate, ["localhost", "127.0.0.1", "::1"]);
  equal(config.cluster.root, undefined);
});

Deno.test("the seed's flags keep their spelling", () => {
  const config = run([
    "--bind",
    "127.0.0.1:4443",
    "--tls-cert",
    "a.pem",
    "--tls-key",
    "a.key",
    "--tls-cert",
    "b.pem",
    "--tls-key",
    "b.key",
    "--tls-root",
    "ca.pem",
    "--tls-disable-verify",
    "--cluster-root",
    "root.example:4443",
    "--cluster-node",
    "node1.example:4443",
    "-v",
  ]);
  deepEqual(config.bind, { hostname: "127.0.0.1", port: 4443 });
  deepEqual(config.tls.certificates, [{ cert: "a.pem", key: "a.key" }, {
    cert: "b.pem",
    key: "b.key",
  }]);
  deepEqual(config.tls.roots, ["ca.pem"]);
  equal(config.tls.disableVerify, true);
  equal(config.cluster.root, "root.example:4443");
  equal(config.cluster.node, "node1.example:4443");
  equal(config.log.level, "debug");
});

Deno.test("-v and -q repeat and shift the level", () => {
  equal(run(["--dev", "-vv"]).log.level, "trace");
  equal(run(["--dev", "-v", "-v", "-v"]).log.level, "trace");
  equal(run(["--dev", "-q"]).log.level, "warning");
  equal(run(["--dev", "-qq"]).log.level, "error");
  equal(run(["--dev", "--log-level", "error", "-v"]).log.level, "warning");
});

Deno.test("precedence: flag, then environment, then config file, then default", () => {
  const file = tomlFile(
    'bind = "10.0.0.1:1"\nlog-format = "json"\nlog-level = "debug"\ndev = true\n',
  );
  const env = { MOQ_CONFIG: file, MOQ_BIND: "127.0.0.2:2", MOQ_LOG_LEVEL: "warning" };
  const fromEnv = run([], env);
  deepEqual(fromEnv.bind, { hostname: "127.0.0.2", port: 2 });
  equal(fromEnv.log.level, "warning");
  equal(fromEnv.log.format, "json"); // only the file sets it
  equal(fromEnv.dev, true);
  const fromFlag = run(["--bind", "127.0.0.3:3"], env);
  deepEqual(fromFlag.bind, { hostname: "127.0.0.3", port: 3 });
  equal(fromFlag.configFile, file);
});

Deno.test("every setting has an environment variable, lists are comma-separated", () => {
  const config = run([], {
    MOQ_TLS_CERT: "a.pem,b.pem",
    MOQ_TLS_KEY: "a.key,b.key",
    MOQ_TLS_GENERATE: "relay.test",
    MOQ_TLS_DISABLE_VERIFY: "true",
    MOQ_VERBOSE: "1",
    MOQ_CLUSTER_ROOT: "root:4443",
  });
  equal(config.tls.certificates.length, 2);
  deepEqual(config.tls.generate, ["relay.test"]);
  equal(config.tls.disableVerify, true);
  equal(config.log.level, "debug");
  equal(config.cluster.root, "root:4443");
  equal(envName("tls-disable-verify"), "MOQ_TLS_DISABLE_VERIFY");
});

Deno.test("limits: stream credit and per-connection caps from flags, variables and files", () => {
  equal(run(["--dev"]).limits.maxStreams, DEFAULT_TRANSPORT_LIMITS.maxIncomingBidiStreams);
  equal(run(["--dev", "--max-streams", "64"]).limits.maxStreams, 64);
  equal(run(["--dev"], { MOQ_MAX_STREAMS: "32" }).limits.maxStreams, 32);
  equal(run(["--dev", "--config", tomlFile('max-streams = "16"\n')]).limits.maxStreams, 16);
  match(
    configError(["--dev", "--max-streams", "0"]),
    /^--max-streams: "0" is not a positive integer$/,
  );
  equal(run(["--dev"], { MOQ_MAX_SESSIONS: "500" }).limits.maxSessions, 500);
  match(configError(["--dev", "--max-sessions", "lots"]), /^--max-sessions: "lots" is not/);
});

Deno.test("config file: flat keys and [sections] both mirror the flags", () => {
  const flat = tomlFile('tls-generate = ["a.test", "b.test"]\nverbose = 1\n');
  deepEqual(run(["--config", flat]).tls.generate, ["a.test", "b.test"]);
  const sectioned = tomlFile('[tls]\ngenerate = "c.test"\n[cluster]\nroot = "root.test:4443"\n');
  const config = run(["--config", sectioned]);
  deepEqual(config.tls.generate, ["c.test"]);
  equal(config.cluster.root, "root.test:4443");
});

Deno.test("bad input names the flag, variable or file key in one line", () => {
  match(configError(["--nope"]), /^--nope: unknown flag/);
  match(configError(["--bind", "nonsense", "--dev"]), /^--bind: "nonsense" is not an address/);
  match(configError(["--bind", "1.2.3.4:99999", "--dev"]), /^--bind: /);
  match(configError(["--bind", "::1:4443", "--dev"]), /^--bind: /);
  match(configError(["--dev"], { MOQ_BIND: "x:y" }), /^MOQ_BIND: "x:y" is not an address/);
  match(configError(["--dev", "--log-level", "loud"]), /^--log-level: "loud" is not a log level/);
  match(configError(["--dev", "--log-format", "xml"]), /^--log-format: "xml"/);
  match(configError(["--dev"], { MOQ_DEV: "maybe" }), /^MOQ_DEV: "maybe" is not a boolean/);
  match(configError(["--tls-cert", "a.pem"]), /^--tls-cert: 1 certificate\(s\) but 0 key\(s\)/);
  match(configError([]), /^--tls-cert: no certificate/);
  match(configError(["--bind"]), /^--bind: needs a value/);
  match(configError(["--dev", "extra"]), /^extra: unexpected argument/);
  for (const message of [configError(["--nope"]), configError([])]) {
    equal(message.includes("\n"), false);
  }
});

Deno.test("config file errors name the file and key", () => {
  const unknown = tomlFile('dev = true\nbindd = "x"\n');
  match(configError(["--config", unknown]), new RegExp(`^${unknown}: unknown key "bindd"$`));
  const mistyped = tomlFile("bind = 4443\n");
  match(
    configError(["--config", mistyped, "--dev"]),
    new RegExp(`^${mistyped}: key "bind" must be a string$`),
  );
  const broken = tomlFile("bind = [\n");
  match(configError(["--config", broken]), new RegExp(`^${broken}: not valid TOML`));
  match(
    configError(["--config", "/nonexistent/relay.toml"]),
    /^--config: cannot read \/nonexistent\/relay.toml: no such file$/,
  );
});

Deno.test("addresses: IPv4, bracketed IPv6, host names; ports checked", () => {
  deepEqual(parseHostPort("[::]:4443", "x", true), { hostname: "::", port: 4443 });
  deepEqual(parseHostPort("[::1]:0", "x", true), { hostname: "::1", port: 0 });
  deepEqual(parseHostPort("relay.example.com:443", "x", true), {
    hostname: "relay.example.com",
    port: 443,
  });
  deepEqual(parseHostPort("relay.example.com", "x", false), {
    hostname: "relay.example.com",
    port: 443,
  });
  throws(() => parseHostPort("relay.example.com", "x", true), ConfigError);
  throws(() => parseHostPort("[zz::1]:4443", "x", true), ConfigError);
  throws(() => parseHostPort("300.1.1.1:1", "x", true), /not an address/);
  throws(() => parseHostPort("host:-1", "x", true), ConfigError);
});

Deno.test("--help lists every flag with its variable and default", () => {
  const text = helpText();
  for (
    const flag of [
      "--bind",
      "--tls-cert",
      "--tls-key",
      "--tls-root",
      "--tls-disable-verify",
      "--tls-generate",
      "--cluster-root",
      "--cluster-node",
      "--verbose",
      "--quiet",
      "--log-level",
      "--log-format",
      "--dev",
      "--config",
      "--help",
      "--version",
    ]
  ) {
    match(text, new RegExp(`${flag}\\b`));
  }
  match(text, /--bind <ADDR>.*env MOQ_BIND; default \[::\]:4443/);
  match(text, /--cluster-root <HOST>.*env MOQ_CLUSTER_ROOT/);
  deepEqual(loadConfig(["--help"]).kind, "help");
  deepEqual(loadConfig(["-V"]).kind, "version");
});

Deno.test("the README's flag table says what the code does: every flag, variable and default", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  // Rows of the table: | `--flag <ARG>` | `MOQ_X` | default | meaning |
  const rows = new Map<string, { variable: string; shown: string }>();
  for (const line of readme.split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    const flag = cells[0]?.match(/`(--[\w-]+)/)?.[1];
    if (!flag || cells.length < 4) continue;
    rows.set(flag, {
      variable: cells[1]?.replaceAll("`", "") ?? "",
      shown: cells[2]?.replaceAll("`", "") ?? "",
    });
  }
  for (const option of OPTION_TABLE) {
    const row = rows.get(option.flag);
    deepEqual(
      row,
      { variable: option.variable ?? "", shown: option.shown ?? "" },
      `README row for ${option.flag}`,
    );
  }
  deepEqual([...rows.keys()].sort(), OPTION_TABLE.map((o) => o.flag).sort());
});
