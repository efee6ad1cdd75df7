import { deepEqual, equal, match, ok, throws } from "assert";
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
  equal(run(["--dev", "--config", tomlFile("max-streams = 24\n")]).limits.maxStreams, 24);
  match(
    configError(["--dev", "--max-streams", "0"]),
    /^--max-streams: "0" must be a positive number \(a whole number, 1 to 10000\)$/,
  );
  equal(run(["--dev"], { MOQ_MAX_SESSIONS: "500" }).limits.maxSessions, 500);
  match(configError(["--dev", "--max-sessions", "lots"]), /^--max-sessions: "lots" must be/);
  match(configError(["--dev", "--max-sessions", "1.5"]), /^--max-sessions: "1.5" must be/);
});

Deno.test("every count has a maximum: at it accepted, past it refused naming the flag", () => {
  const maxima = {
    "--max-streams": 10_000,
    "--max-sessions": 100_000,
    "--max-subscriptions": 100_000,
    "--max-announcements": 100_000,
    "--max-group-streams": 10_000,
  };
  for (const [flag, max] of Object.entries(maxima)) {
    run(["--dev", flag, String(max)]);
    equal(
      configError(["--dev", flag, String(max + 1)]),
      `${flag}: "${max + 1}" is above the maximum, ${max}`,
    );
  }
  // The value: 3 GiB of stream state after two connections.
  equal(
    configError(["--dev", "--max-streams", "10000000"]),
    '--max-streams: "10000000" is above the maximum, 10000',
  );
  equal(
    configError(["--dev", "--max-streams", "99999999999999999999"]),
    '--max-streams: "99999999999999999999" is above the maximum, 10000',
  );
  equal(
    configError(["--dev"], { MOQ_MAX_STREAMS: "20000" }),
    'MOQ_MAX_STREAMS: "20000" is above the maximum, 10000',
  );
  const file = tomlFile("max-sessions = 1000000\n");
  equal(
    configError(["--dev", "--config", file]),
    `${file}: key "max-sessions": "1000000" is above the maximum, 100000`,
  );
});

Deno.test("a negative number names the flag and says it must be positive, from every source", () => {
  const positive = '"-5" must be a positive number (a whole number, 1 to 100000)';
  equal(configError(["--dev", "--max-sessions", "-5"]), `--max-sessions: ${positive}`);
  equal(configError(["--dev", "--max-sessions=-5"]), `--max-sessions: ${positive}`);
  equal(configError(["--dev"], { MOQ_MAX_SESSIONS: "-5" }), `MOQ_MAX_SESSIONS: ${positive}`);
  const file = tomlFile("max-sessions = -5\n");
  equal(configError(["--dev", "--config", file]), `${file}: key "max-sessions": ${positive}`);
  const sectioned = tomlFile("[max]\nsessions = -5\n");
  equal(
    configError(["--dev", "--config", sectioned]),
    `${sectioned}: key "max-sessions": ${positive}`,
  );
  match(
    configError(["--dev", "--cache-max-bytes", "-1MiB"]),
    /^--cache-max-bytes: "-1MiB" must be a positive size/,
  );
  match(
    configError(["--dev", "--cache-max-age", "-5s"]),
    /^--cache-max-age: "-5s" must be a positive duration/,
  );
  // Other values that start with a dash are still a missing value, not a number.
  match(configError(["--dev", "--max-sessions", "--dev"]), /^--max-sessions: needs a value/);
});

Deno.test("sizes: fractions are computed exactly and rounded to whole bytes", () => {
  equal(run(["--dev", "--max-lag-bytes", "0.5MiB"]).limits.maxLagBytes, 512 * 1024);
  equal(run(["--dev", "--max-lag-bytes", "1.5MiB"]).limits.maxLagBytes, 1536 * 1024);
  // In floating point these come out as 64004.99999999999 and 33299999.999999996.
  equal(run(["--dev", "--max-lag-bytes", "64.005KB"]).limits.maxLagBytes, 64_005);
  equal(run(["--dev", "--max-lag-bytes", "33.3MB"]).limits.maxLagBytes, 33_300_000);
  equal(run(["--dev", "--max-lag-bytes", "20.0004KiB"]).limits.maxLagBytes, 20_480); // 20480.4096
  equal(run(["--dev", "--max-lag-bytes", "20.0005KiB"]).limits.maxLagBytes, 20_481); // 20480.512
  equal(run(["--dev", "--cache-max-bytes", "1.25GiB"]).cache.maxBytes, 1.25 * 1024 ** 3);
  equal(run(["--dev", "--config", tomlFile("cache-max-bytes = 65536\n")]).cache.maxBytes, 65536);
});

Deno.test("sizes: below the minimum (never silently 0) or above the maximum, the flag is named", () => {
  for (const text of ["0.4", "0.5B", "0.0000001MiB", "1.5KiB", "512"]) {
    equal(
      configError(["--dev", "--cache-max-bytes", text]),
      `--cache-max-bytes: "${text}" is below the minimum, 16KiB`,
    );
    equal(
      configError(["--dev", "--max-lag-bytes", text]),
      `--max-lag-bytes: "${text}" is below the minimum, 16KiB`,
    );
  }
  equal(
    configError(["--dev", "--cache-max-bytes", "1.5TiB"]),
    '--cache-max-bytes: "1.5TiB" is above the maximum, 1TiB',
  );
  equal(
    configError(["--dev", "--max-lag-bytes", "257MiB"]),
    '--max-lag-bytes: "257MiB" is above the maximum, 256MiB',
  );
  equal(
    configError(["--dev"], { MOQ_CACHE_MAX_BYTES: "0.5" }),
    'MOQ_CACHE_MAX_BYTES: "0.5" is below the minimum, 16KiB',
  );
  match(configError(["--dev", "--cache-max-bytes", "0"]), /^--cache-max-bytes: "0" must be/);
  match(configError(["--dev", "--cache-max-bytes", "1e9"]), /^--cache-max-bytes: "1e9" must be/);
});

Deno.test("durations: fractions rounded to milliseconds; a minimum and a maximum", () => {
  equal(run(["--dev", "--cache-max-age", "1.5s"]).cache.maxAgeMs, 1500);
  equal(run(["--dev", "--cache-max-age", "24h"]).cache.maxAgeMs, 24 * 3_600_000);
  for (const text of ["0.0001s", "500ms", "0.9s"]) {
    equal(
      configError(["--dev", "--cache-max-age", text]),
      `--cache-max-age: "${text}" is below the minimum, 1s`,
    );
  }
  equal(
    configError(["--dev", "--cache-max-age", "25h"]),
    '--cache-max-age: "25h" is above the maximum, 24h',
  );
  match(configError(["--dev", "--cache-max-age", "30"]), /^--cache-max-age: "30" must be/);
});

Deno.test("an empty --cluster-token is refused from the flag, the variable and the file", () => {
  const why = "the cluster token is empty; give a secret, or leave --cluster-token out " +
    "for an open cluster";
  equal(configError(["--dev", "--cluster-token", ""]), `--cluster-token: ${why}`);
  equal(configError(["--dev", "--cluster-token="]), `--cluster-token: ${why}`);
  equal(configError(["--dev", "--cluster-token", "  "]), `--cluster-token: ${why}`);
  equal(configError(["--dev"], { MOQ_CLUSTER_TOKEN: "" }), `MOQ_CLUSTER_TOKEN: ${why}`);
  const file = tomlFile('cluster-token = ""\n');
  equal(configError(["--dev", "--config", file]), `${file}: key "cluster-token": ${why}`);
  const sectioned = tomlFile('[cluster]\ntoken = ""\n');
  equal(
    configError(["--dev", "--config", sectioned]),
    `${sectioned}: key "cluster-token": ${why}`,
  );
  equal(run(["--dev", "--cluster-token", "s3cret"]).cluster.token, "s3cret");
  equal(run(["--dev"]).cluster.token, undefined);
  // Other empty variables still mean "not set".
  equal(run(["--dev"], { MOQ_LOG_LEVEL: "" }).log.level, "info");
});

Deno.test("access control settings: one decider, patterns with wildcards, a URL that keeps facts private", () => {
  const auth =
    run(["--dev", "--auth-key", "a.jwk", "--auth-key", "b.jwk", "--auth-public", "anon/**"])
      .auth;
  deepEqual(auth.keys, ["a.jwk", "b.jwk"]);
  deepEqual(auth.publicBoth, ["anon/**"]);
  deepEqual(
    run(["--dev"], { MOQ_AUTH_PUBLIC_SUBSCRIBE: "demo/**,*/chat" }).auth.publicSubscribe,
    ["demo/**", "*/chat"],
  );
  const file = tomlFile('[auth]\nkey-dir = "/etc/moq/keys"\npublic-publish = ["up/**"]\n');
  const fromFile = run(["--dev", "--config", file]).auth;
  equal(fromFile.keyDir, "/etc/moq/keys");
  deepEqual(fromFile.publicPublish, ["up/**"]);
  equal(
    run(["--dev", "--auth-url", "https://auth.example.com/moq"]).auth.url?.host,
    "auth.example.com",
  );
  equal(run(["--dev", "--auth-url", "http://127.0.0.1:9/auth"]).auth.url?.port, "9");

  equal(
    configError(["--dev", "--auth-url", "http://auth.example.com/"]),
    "--auth-url: plain http:// is allowed for a loopback host only; use https://",
  );
  equal(configError(["--dev", "--auth-url", "nope"]), '--auth-url: "nope" is not a URL');
  equal(
    configError(["--dev", "--auth-url", "https://a.example/", "--auth-key", "k.jwk"]),
    "--auth-url: cannot be combined with --auth-key: the auth server decides",
  );
  equal(
    configError(["--dev", "--auth-public", "anon"]),
    '--auth-public: "anon" has no wildcard, so it names exactly one broadcast; write "anon/**" ' +
      "for the subtree",
  );
  equal(
    configError(["--dev"], { MOQ_AUTH_PUBLIC_PUBLISH: "a//b" }),
    'MOQ_AUTH_PUBLIC_PUBLISH: "a//b": empty path segment',
  );
  equal(configError(["--dev", "--cluster-jwt", ""]), "--cluster-jwt: the token is empty");
  equal(configError(["--dev"], { MOQ_CLUSTER_JWT: "" }), "MOQ_CLUSTER_JWT: the token is empty");
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
  const rows = new Map<string, { variable: string; shown: string; meaning: string }>();
  for (const line of readme.split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    const flag = cells[0]?.match(/`(--[\w-]+)/)?.[1];
    if (!flag || cells.length < 4) continue;
    rows.set(flag, {
      variable: cells[1]?.replaceAll("`", "") ?? "",
      shown: cells[2]?.replaceAll("`", "") ?? "",
      meaning: cells[3]?.replaceAll("`", "") ?? "",
    });
  }
  for (const option of OPTION_TABLE) {
    const row = rows.get(option.flag);
    deepEqual(
      row && { variable: row.variable, shown: row.shown },
      { variable: option.variable ?? "", shown: option.shown ?? "" },
      `README row for ${option.flag}`,
    );
    // A numeric option's range is documented as --help shows it.
    if (option.range) {
      ok(row?.meaning.includes(option.range), `README ${option.flag}: "${option.range}"`);
      match(helpText(), new RegExp(`--${option.flag.slice(2)} .*; ${option.range}\\]`));
    }
  }
  deepEqual([...rows.keys()].sort(), OPTION_TABLE.map((o) => o.flag).sort());
});
