/**
 * The deployment material in `deploy/`: the systemd unit passes `systemd-analyze verify` and
 * stays under an exposure score in `systemd-analyze security`, the example config loads with
 * every commented-out setting valid too, and certbot's deploy hook does what it says.
 *
 * Without `systemd-analyze` on PATH (or without `security --offline`) those tests are reported
 * as ignored, with why: never as passed.
 */
import { deepEqual, equal, match, ok } from "assert";
import { type Command, type Config, loadConfig, OPTION_TABLE } from "../src/config.ts";

const deploy = new URL("../deploy/", import.meta.url).pathname;
const UNIT = `${deploy}moq-relay.service`;
const EXAMPLE = `${deploy}relay.toml`;
const HOOK = `${deploy}certbot-deploy-hook.sh`;

const EXEC_START = "ExecStart=/usr/local/bin/moq-relay --config /etc/moq-relay/relay.toml";
/** The highest exposure `systemd-analyze security` may give the unit (1.5 with systemd 252). */
const MAX_EXPOSURE = 2.0;
/**
 * Checks of `systemd-analyze security` (by name prefix) the unit must pass, whatever the score:
 * the hardening the unit is there for. A systemd that lacks a check just does not list it.
 */
const HARDENED = [
  "User=/DynamicUser=",
  "NoNewPrivileges=",
  "CapabilityBoundingSet=",
  "ProtectSystem=",
  "ProtectHome=",
  "PrivateTmp=",
  "PrivateDevices=",
  "ProtectKernelTunables=",
  "ProtectKernelModules=",
  "ProtectKernelLogs=",
  "ProtectControlGroups=",
  "RestrictAddressFamilies=",
  "RestrictNamespaces=",
  "LockPersonality=",
  "RestrictRealtime=",
  "RestrictSUIDSGID=",
  "SystemCallArchitectures=",
  "SystemCallFilter=",
];
/** ...but for these, which a relay on port 443 needs. */
const ACCEPTED = new Set([
  "CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)",
  "RestrictAddressFamilies=~AF_(INET|INET6)",
  "RestrictAddressFamilies=~AF_UNIX",
  "RestrictAddressFamilies=~AF_NETLINK",
]);

/** `name`'s path on PATH, or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const path = `${dir}/${name}`;
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): { code: number; stdout: string; stderr: string } {
  const out = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).outputSync();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

const analyze = onPath("systemd-analyze");
const noAnalyze = analyze === undefined ? "systemd-analyze is not on PATH" : undefined;
if (noAnalyze) console.log(`deploy_test: systemd unit checks not run: ${noAnalyze}`);

/** Why `security --offline` cannot run here (checked only where systemd-analyze exists). */
function noOffline(): string | undefined {
  if (!analyze) return noAnalyze;
  const help = run(analyze, ["--help"]).stdout;
  return help.includes("--offline") ? undefined : "this systemd-analyze has no security --offline";
}
const noSecurity = noOffline();
if (noSecurity && analyze) console.log(`deploy_test: exposure check not run: ${noSecurity}`);

/**
 * A copy of the unit in a temporary directory whose ExecStart names an executable there (verify
 * checks that the binary exists, and `dist/moq-relay` cannot be built on this machine).
 */
function unitCopy(): { dir: string; unit: string } {
  const dir = Deno.makeTempDirSync({ prefix: "moq-unit-" });
  const standIn = `${dir}/moq-relay`;
  Deno.writeTextFileSync(standIn, "#!/bin/sh\nexit 0\n");
  Deno.chmodSync(standIn, 0o755);
  const text = Deno.readTextFileSync(UNIT);
  ok(text.split("\n").includes(EXEC_START), `the unit has the line ${EXEC_START}`);
  const unit = `${dir}/moq-relay.service`;
  Deno.writeTextFileSync(
    unit,
    text.replace(EXEC_START, EXEC_START.replace("/usr/local/bin/moq-relay", standIn)),
  );
  return { dir, unit };
}

/** systemd's complaints about the unit itself (a misspelt directive, a value it cannot parse). */
function unitWarnings(stderr: string): string[] {
  return stderr.split("\n").filter((line) =>
    line.includes("moq-relay.service") || /Unknown (key|section)|ignoring/i.test(line)
  );
}

Deno.test("the unit starts the installed binary with the config, and reloads with SIGHUP", () => {
  const lines = Deno.readTextFileSync(UNIT).split("\n").map((l) => l.trim());
  const value = (key: string) =>
    lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  deepEqual(value("ExecStart"), [EXEC_START.slice("ExecStart=".length)]);
  deepEqual(value("ExecReload"), ["/bin/kill -HUP $MAINPID"]);
  deepEqual(value("KillSignal"), ["SIGTERM"]);
  deepEqual(value("Restart"), ["on-failure"]);
  deepEqual(value("AmbientCapabilities"), ["CAP_NET_BIND_SERVICE"]);
  deepEqual(value("CapabilityBoundingSet"), ["CAP_NET_BIND_SERVICE"]);
  // Longer than the relay's default drain (10 s), so a drain is not cut short by SIGKILL.
  const stop = value("TimeoutStopSec")[0] ?? "";
  match(stop, /^\d+s$/);
  ok(parseInt(stop) > 10, `TimeoutStopSec=${stop} exceeds the 10 s drain`);
  ok(Number(value("LimitNOFILE")[0]) >= 3 * 4096 + 128, "room for the HTTP connection cap");
  // V8 needs writable and executable memory for its JIT.
  deepEqual(value("MemoryDenyWriteExecute"), []);
});

Deno.test({
  name: `systemd-analyze verify accepts the unit${noAnalyze ? ` (not run: ${noAnalyze})` : ""}`,
  ignore: noAnalyze !== undefined,
  fn() {
    const { dir, unit } = unitCopy();
    try {
      const out = run(analyze!, ["verify", unit]);
      if (out.stderr.trim()) console.log(`systemd-analyze verify:\n${out.stderr.trim()}`);
      equal(out.code, 0, `systemd-analyze verify exited ${out.code}:\n${out.stderr}`);
      const warnings = unitWarnings(out.stderr);
      deepEqual(warnings, [], `systemd warns about the unit:\n${warnings.join("\n")}`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `systemd-analyze security: exposure at most ${MAX_EXPOSURE.toFixed(1)}${
    noSecurity ? ` (not run: ${noSecurity})` : ""
  }`,
  ignore: noSecurity !== undefined,
  fn() {
    const { dir, unit } = unitCopy();
    try {
      const out = run(analyze!, ["security", "--offline=yes", "--no-pager", unit]);
      equal(out.code, 0, `systemd-analyze security exited ${out.code}:\n${out.stderr}`);
      const warnings = unitWarnings(out.stderr);
      deepEqual(warnings, [], `systemd warns about the unit:\n${warnings.join("\n")}`);
      const score = out.stdout.match(/Overall exposure level for moq-relay\.service: ([\d.]+)/);
      ok(score, `an overall exposure level in:\n${out.stdout}`);
      const exposure = Number(score[1]);
      const checks = out.stdout.split("\n").flatMap((l) => {
        const item = l.match(/^([✓✗]) (\S+).*?(?:\s(\d+\.\d+))?\s*$/);
        return item ? [{ passed: item[1] === "✓", name: item[2] ?? "", weight: item[3] }] : [];
      });
      const open = checks.filter((c) => !c.passed);
      console.log(
        `exposure ${exposure}; not hardened: ${
          open.map((c) => `${c.name} (${c.weight})`).join(", ")
        }`,
      );
      const lost = open.map((c) => c.name).filter((name) =>
        HARDENED.some((prefix) => name.startsWith(prefix)) && !ACCEPTED.has(name)
      );
      deepEqual(lost, [], `hardening the unit must keep: ${lost.join(", ")}`);
      ok(exposure <= MAX_EXPOSURE, `exposure ${exposure} is over ${MAX_EXPOSURE}`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

function load(path: string): Config {
  // No environment: MOQ_* variables of whoever runs the tests must not mask the file.
  const command: Command = loadConfig(["--config", path], {});
  if (command.kind !== "run") throw new Error(`expected a run command, got ${command.kind}`);
  return command.config;
}

Deno.test("the example config loads: port 443, Let's Encrypt's files, text logs", () => {
  const config = load(EXAMPLE);
  deepEqual(config.bind, { hostname: "::", port: 443 });
  deepEqual(config.tls.certificates, [{
    cert: "/etc/letsencrypt/live/relay.example.com/fullchain.pem",
    key: "/etc/letsencrypt/live/relay.example.com/privkey.pem",
  }]);
  deepEqual(config.tls.generate, []);
  equal(config.dev, false);
  deepEqual(config.log, { level: "info", format: "text" });
  equal(config.auth.url, undefined);
  deepEqual(config.auth.keys, []);
});

/** The example's settings: each key as its flag name, and whether it is commented out. */
function exampleSettings(): { name: string; line: number; commented: boolean }[] {
  let table = "";
  const out: { name: string; line: number; commented: boolean }[] = [];
  Deno.readTextFileSync(EXAMPLE).split("\n").forEach((text, line) => {
    const header = text.match(/^\[([a-z-]+)\]\s*$/);
    if (header) table = header[1] ?? "";
    // "# key = value" is a setting; "#   key = value" (indented) is prose about a future one.
    const setting = text.match(/^(# )?([a-z][a-z0-9-]*) = /);
    if (setting) {
      const name = table ? `${table}-${setting[2]}` : setting[2] ?? "";
      out.push({ name, line, commented: setting[1] !== undefined });
    }
  });
  return out;
}

/** Settings the example leaves out on purpose: development only, or said another way. */
const LEFT_OUT = new Set([
  "--dev",
  "--tls-generate",
  "--tls-disable-verify",
  "--verbose", // log.level says it
  "--quiet",
  "--config", // the unit's ExecStart gives it
  "--help",
  "--version",
]);

Deno.test("the example names every setting, each commented-out one valid when uncommented", () => {
  const settings = exampleSettings();
  const flags = OPTION_TABLE.map((o) => o.flag);
  for (const { name } of settings) ok(flags.includes(`--${name}`), `${name} is a flag`);
  const named = new Set(settings.map((s) => `--${s.name}`));
  const missing = flags.filter((f) => !named.has(f) && !LEFT_OUT.has(f));
  deepEqual(missing, [], "settings neither in deploy/relay.toml nor left out on purpose");

  const lines = Deno.readTextFileSync(EXAMPLE).split("\n");
  const dir = Deno.makeTempDirSync({ prefix: "moq-example-" });
  try {
    for (const { name, line } of settings.filter((s) => s.commented)) {
      const copy = lines.with(line, (lines[line] ?? "").slice(2));
      const path = `${dir}/relay.toml`;
      Deno.writeTextFileSync(path, copy.join("\n"));
      try {
        load(path);
      } catch (e) {
        throw new Error(`${name}, uncommented: ${e instanceof Error ? e.message : e}`);
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

const noShell = onPath("sh") ? undefined : "no sh on PATH";

Deno.test({
  name: `certbot's deploy hook: group read on the relay's key, then reload${
    noShell ? ` (not run: ${noShell})` : ""
  }`,
  ignore: noShell !== undefined,
  fn() {
    const root = Deno.makeTempDirSync({ prefix: "moq-hook-" });
    try {
      // A lineage as certbot leaves it, and stand-ins for chgrp and systemctl that log their calls.
      const le = `${root}/letsencrypt`;
      for (const d of ["live/relay.example.com", "archive/relay.example.com", "live/other"]) {
        Deno.mkdirSync(`${le}/${d}`, { recursive: true });
      }
      Deno.chmodSync(`${le}/live`, 0o700);
      Deno.chmodSync(`${le}/archive`, 0o700);
      const key = `${le}/archive/relay.example.com/privkey1.pem`;
      Deno.writeTextFileSync(key, "key");
      Deno.chmodSync(key, 0o600);
      Deno.symlinkSync(
        "../../archive/relay.example.com/privkey1.pem",
        `${le}/live/relay.example.com/privkey.pem`,
      );
      const config = `${root}/relay.toml`;
      Deno.writeTextFileSync(
        config,
        Deno.readTextFileSync(EXAMPLE).replaceAll("/etc/letsencrypt", le),
      );
      const bin = `${root}/bin`;
      Deno.mkdirSync(bin);
      const log = `${root}/calls`;
      for (const cmd of ["chgrp", "systemctl"]) {
        Deno.writeTextFileSync(`${bin}/${cmd}`, `#!/bin/sh\necho "${cmd} $*" >> "${log}"\n`);
        Deno.chmodSync(`${bin}/${cmd}`, 0o755);
      }
      const hook = (lineage: string) =>
        run("sh", [HOOK], {
          PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`,
          MOQ_RELAY_CONFIG: config,
          RENEWED_LINEAGE: lineage,
        });
      const calls = () => {
        try {
          return Deno.readTextFileSync(log).trim().split("\n");
        } catch {
          return [];
        }
      };

      const other = hook(`${le}/live/other`);
      equal(other.code, 0, other.stderr);
      deepEqual(calls(), [], "a certificate the relay does not use is left alone");

      const ours = hook(`${le}/live/relay.example.com`);
      equal(ours.code, 0, ours.stderr);
      deepEqual(calls(), [
        `chgrp moq-relay ${le}/live ${le}/archive`,
        `chgrp moq-relay ${Deno.realPathSync(key)}`,
        "systemctl is-active --quiet moq-relay",
        "systemctl reload moq-relay",
      ]);
      const mode = (path: string) => ((Deno.statSync(path).mode ?? 0) & 0o777).toString(8);
      deepEqual([mode(`${le}/live`), mode(`${le}/archive`), mode(key)], ["750", "750", "640"]);
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  },
});
