/**
 * The relay's settings: command-line flags, `MOQ_*` environment variables, a TOML file, defaults.
 *
 * Precedence is flag, then environment, then config file, then default. Every problem is a
 * {@link ConfigError} whose message is one line naming the flag, variable or file key at fault;
 * `main.ts` prints it and exits with code 2.
 *
 * @module
 */
import { parseArgs } from "cli-args";
import { parse as parseToml } from "smol-toml";
import denoJson from "../deno.json" with { type: "json" };
import { type CacheLimits, DEFAULT_CACHE_LIMITS } from "./cache/budget.ts";
import { MAX_GROUP_BYTES } from "./cache/group.ts";
import { publicPatterns } from "./auth/access.ts";
import { checkAuthUrl } from "./auth/auth_server.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel, shiftLevel } from "./log.ts";
import { type Bounds, formatDuration, formatRange, formatSize, parseQuantity } from "./quantity.ts";
import { DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_LIMITS } from "./session/context.ts";
import { MAX_GROUPS_IN_FLIGHT } from "./session/lite/publisher/subscription.ts";
import { DEFAULT_TRANSPORT_LIMITS } from "./transport/endpoint.ts";

const DEFAULT_BIND = "[::]:4443";
const DEFAULT_LOG_LEVEL: LogLevel = "info";
const DEFAULT_LOG_FORMAT: LogFormat = "text";
/** How long a drain waits for sessions, as upstream's default. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/** The program's version, from `deno.json`. */
export const VERSION: string = denoJson.version;

/** A user error in the settings: printed as one line, exit code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A host and port, as given by `--bind` or the cluster flags. */
export interface HostPort {
  /** An IP literal (IPv6 without brackets) or a host name. */
  hostname: string;
  port: number;
}

/** One certificate chain and its private key, both PEM files. */
export interface CertificatePaths {
  cert: string;
  key: string;
}

/** The settings after merging every source and checking each value. */
export interface Config {
  bind: HostPort;
  tls: {
    /** Certificates to serve; Deno 2.9.6 listeners take one, so the first is served. */
    certificates: CertificatePaths[];
    /** Host names for a generated self-signed certificate (also set by `--dev`). */
    generate: string[];
    /** Extra trust anchors for connections this relay makes to other relays. */
    roots: string[];
    disableVerify: boolean;
  };
  cluster: {
    /** How to reach the root; absent means this relay is the root. */
    root: string | undefined;
    /** How other relays reach this one; absent means a read-only member. */
    node: string | undefined;
    /** Shared secret cluster members present; absent leaves the internal prefix open. */
    token: string | undefined;
    /** A token this relay presents (`?jwt=`) on its links, for relays that check tokens. */
    jwt: string | undefined;
  };
  /** Access control: where sessions' grants come from (none of them: an open relay). */
  auth: {
    /** Key files that verify `?jwt=` tokens. */
    keys: string[];
    /** A directory of `<kid>.jwk` files, read when a token names its key. */
    keyDir: string | undefined;
    /** An auth server asked once per session (upstream's protocol). */
    url: URL | undefined;
    /** Patterns (rooted at the relay's root) anonymous sessions may publish and subscribe to. */
    publicBoth: string[];
    publicPublish: string[];
    publicSubscribe: string[];
  };
  log: { level: LogLevel; format: LogFormat };
  /** Operations: the internal listener, and how a shutdown drains. */
  ops: {
    /** Where `/metrics` and `/health` are served, plain HTTP; absent: not served. */
    internalListen: HostPort | undefined;
    /** How long sessions may stay after the first SIGTERM/SIGINT before they are closed. */
    drainTimeoutMs: number;
    /** The URI sessions are sent to in their GOAWAY ("" means: reconnect here). */
    goawayRedirect: string;
  };
  cache: CacheLimits;
  /** Per-connection limits. */
  limits: {
    maxSubscriptions: number;
    maxAnnouncements: number;
    maxGroupStreams: number;
    maxLagBytes: number;
    /** QUIC stream credit per connection and kind (a transport limit, not a session one). */
    maxStreams: number;
    /** Sessions served at once (a relay limit). */
    maxSessions: number;
  };
  dev: boolean;
  /** The config file that was read, if any. */
  configFile: string | undefined;
}

/** What the command line asks for: run the relay, or print something and exit 0. */
export type Command =
  | { kind: "run"; config: Config }
  | { kind: "help"; text: string }
  | { kind: "version"; text: string };

type Kind = "string" | "list" | "boolean" | "count";

interface OptionSpec {
  kind: Kind;
  short?: string;
  /** Placeholder shown in `--help`. */
  arg?: string;
  help: string;
  /** Default as shown in `--help`. */
  shown?: string;
  /** false: the option has no environment variable or config key (e.g. `--help`). */
  setting?: false;
  /** A numeric option: what it measures and the range it accepts (`--help` shows it). */
  bounds?: Bounds;
}

/**
 * The range of each numeric setting, with its reason. Each is memory a peer (or a typo) could
 * make the relay commit to, so a value outside is refused at start-up rather than trusted.
 */
const BOUNDS = {
  /**
   * Deno's QUIC reserves state at connect for every stream a peer may open: about 1.2 MiB per
   * connection at 10,000 (10,000,000 came to 3 GiB after two connections).
   */
  streams: { unit: "count", min: 1, max: 10_000 },
  /** An idle session holds about 160 KiB: 100,000 of them are some 16 GiB. */
  sessions: { unit: "count", min: 1, max: 100_000 },
  /**
   * Subscriptions and announcements each hold state for the connection's life; 100,000 is far
   * past one client and leaves room for a cluster link carrying a node's whole catalogue.
   */
  perConnection: { unit: "count", min: 1, max: 100_000 },
  /** Each open group stream holds QUIC send state; a relay of ours grants no more (--max-streams). */
  groupStreams: { unit: "count", min: 1, max: 10_000 },
  /** Less is most likely a forgotten unit (`512` is bytes); more is more memory than a host has. */
  cacheBytes: { unit: "size", min: 16 * 1024, max: 1024 ** 4 },
  /**
   * Below it a subscriber a few frames behind loses its older groups; above it the bound can
   * never apply (at most MAX_GROUPS_IN_FLIGHT groups of at most MAX_GROUP_BYTES are in flight).
   */
  lagBytes: { unit: "size", min: 16 * 1024, max: MAX_GROUPS_IN_FLIGHT * MAX_GROUP_BYTES },
  /** The cache is swept once a second, so a shorter age is not kept to; a day is past live use. */
  cacheAge: { unit: "duration", min: 1000, max: 24 * 3_600_000 },
  /** 0 closes sessions at once (no GOAWAY); past an hour a deploy would wait on stragglers. */
  drain: { unit: "duration", min: 0, max: 3_600_000 },
} as const satisfies Record<string, Bounds>;

/**
 * Every option. The flag is `--<name>`, the variable `MOQ_<NAME>` with `-` as `_`, the config
 * key `<name>` (or the same name split into a TOML table: `[tls] cert = ...` is `tls-cert`).
 */
const OPTIONS = {
  bind: {
    kind: "string",
    arg: "ADDR",
    help: "QUIC (UDP) and HTTP (TCP) listen address",
    shown: DEFAULT_BIND,
  },
  "tls-cert": {
    kind: "list",
    arg: "PATH",
    help: "certificate chain, PEM; repeatable (Deno 2.9.6 serves the first: no SNI choice yet)",
  },
  "tls-key": {
    kind: "list",
    arg: "PATH",
    help: "private key, PEM; paired with --tls-cert by order",
  },
  "tls-root": {
    kind: "list",
    arg: "PATH",
    help: "extra trusted root, PEM, for connections to other relays; repeatable",
  },
  "tls-disable-verify": {
    kind: "boolean",
    help: "do not verify other relays' certificates (development only)",
    shown: "false",
  },
  "tls-generate": {
    kind: "list",
    arg: "HOST,...",
    help: "serve a generated self-signed ECDSA certificate (14 days, renewed) for these hosts",
  },
  "cluster-root": {
    kind: "string",
    arg: "HOST",
    help: "the cluster's root relay; without it this relay is a root",
  },
  "cluster-node": {
    kind: "string",
    arg: "HOST",
    help: "host[:port] by which other relays reach this one (no port, or 0: the bound port); " +
      "without it, a read-only member",
  },
  "cache-max-bytes": {
    kind: "string",
    arg: "SIZE",
    help: "total cached payload across all tracks (e.g. 512MiB); oldest groups go first",
    shown: formatSize(DEFAULT_CACHE_LIMITS.maxBytes),
    bounds: BOUNDS.cacheBytes,
  },
  "cache-max-age": {
    kind: "string",
    arg: "DURATION",
    help: "drop non-latest cached groups older than this (e.g. 30s; swept once a second)",
    shown: formatDuration(DEFAULT_CACHE_LIMITS.maxAgeMs),
    bounds: BOUNDS.cacheAge,
  },
  "max-sessions": {
    kind: "string",
    arg: "N",
    help: "sessions served at once, cluster links included; more are refused " +
      "(WebTransport: 503); QUIC connections that open no session count too; " +
      "each idle one costs about 160 KiB",
    shown: String(DEFAULT_MAX_SESSIONS),
    bounds: BOUNDS.sessions,
  },
  "max-subscriptions": {
    kind: "string",
    arg: "N",
    help: "subscriptions one connection may hold open",
    shown: String(DEFAULT_SESSION_LIMITS.maxSubscriptions),
    bounds: BOUNDS.perConnection,
  },
  "max-announcements": {
    kind: "string",
    arg: "N",
    help: "broadcasts one connection may announce",
    shown: String(DEFAULT_SESSION_LIMITS.maxAnnouncements),
    bounds: BOUNDS.perConnection,
  },
  "max-group-streams": {
    kind: "string",
    arg: "N",
    help: "group streams written to one connection at once (older groups dropped first)",
    shown: String(DEFAULT_SESSION_LIMITS.maxGroupStreams),
    bounds: BOUNDS.groupStreams,
  },
  "max-streams": {
    kind: "string",
    arg: "N",
    help: "QUIC streams a peer may hold open at once on one connection, per kind " +
      "(bidirectional: subscriptions and announcements; unidirectional: groups); " +
      "every connection reserves memory for them up front (about 1.2 MiB at 10000)",
    shown: String(DEFAULT_TRANSPORT_LIMITS.maxIncomingBidiStreams),
    bounds: BOUNDS.streams,
  },
  "max-lag-bytes": {
    kind: "string",
    arg: "SIZE",
    help: "cached bytes a subscriber may lag behind before its oldest groups are dropped " +
      `(at most ${MAX_GROUPS_IN_FLIGHT} groups of at most ${formatSize(MAX_GROUP_BYTES)} are ` +
      "in flight)",
    shown: formatSize(DEFAULT_SESSION_LIMITS.maxLagBytes),
    bounds: BOUNDS.lagBytes,
  },
  "cluster-token": {
    kind: "string",
    arg: "SECRET",
    help: "secret that relays present to each other; only they may use internal/ paths " +
      "(must not be empty)",
  },
  "cluster-jwt": {
    kind: "string",
    arg: "TOKEN",
    help: "token this relay presents (as ?jwt=) on its cluster links, for relays that check " +
      "tokens; it must grant internal/** in both roles",
  },
  "auth-key": {
    kind: "list",
    arg: "PATH",
    help:
      "JWK file (JSON or base64url, as moq-token writes) that verifies ?jwt= tokens; repeatable",
  },
  "auth-key-dir": {
    kind: "string",
    arg: "DIR",
    help: "directory of <kid>.jwk files, read when a token names its key (rotate without restart)",
  },
  "auth-url": {
    kind: "string",
    arg: "URL",
    help:
      "auth server asked once per session (upstream moq-auth protocol); http:// only on loopback",
  },
  "auth-public": {
    kind: "list",
    arg: "PATTERN",
    help: "broadcasts anyone may publish and subscribe to without a token (e.g. anon/**)",
  },
  "auth-public-publish": {
    kind: "list",
    arg: "PATTERN",
    help: "broadcasts anyone may publish without a token",
  },
  "auth-public-subscribe": {
    kind: "list",
    arg: "PATTERN",
    help: "broadcasts anyone may subscribe to without a token",
  },
  "internal-listen": {
    kind: "string",
    arg: "ADDR",
    help: "serve /metrics (Prometheus) and /health on this address, plain HTTP (keep it private)",
  },
  "drain-timeout": {
    kind: "string",
    arg: "DURATION",
    help: "on the first SIGTERM/SIGINT, how long sessions may stay after their GOAWAY " +
      "(0: close at once); a second signal exits at once",
    shown: formatDuration(DEFAULT_DRAIN_TIMEOUT_MS),
    bounds: BOUNDS.drain,
  },
  "goaway-redirect": {
    kind: "string",
    arg: "URL",
    help: "the URL sessions are sent to in their GOAWAY when the relay drains " +
      "(default: none, reconnect to the same address)",
  },
  verbose: { kind: "count", short: "v", help: "more log output; repeatable", shown: "0" },
  quiet: { kind: "count", short: "q", help: "less log output; repeatable", shown: "0" },
  "log-level": {
    kind: "string",
    arg: "LEVEL",
    help: `log level: ${LOG_LEVELS.join(", ")}`,
    shown: DEFAULT_LOG_LEVEL,
  },
  "log-format": {
    kind: "string",
    arg: "FORMAT",
    help: "log format: text or json",
    shown: DEFAULT_LOG_FORMAT,
  },
  dev: {
    kind: "boolean",
    help: "development mode: generate a certificate if none is given",
    shown: "false",
  },
  config: { kind: "string", arg: "FILE", help: "TOML config file whose keys mirror the flags" },
  help: { kind: "boolean", short: "h", help: "print this help and exit", setting: false },
  version: { kind: "boolean", short: "V", help: "print the version and exit", setting: false },
} as const satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof OPTIONS;
type Value = string | string[] | boolean | number;

/** A raw value and where it came from, for error messages. */
interface Sourced {
  value: Value;
  source: string;
}

const NAMES = Object.keys(OPTIONS) as OptionName[];

/** Settings whose empty value is refused rather than read as "not set". */
const SECRETS = new Set<OptionName>(["cluster-token", "cluster-jwt"]);

function spec(name: OptionName): OptionSpec {
  return OPTIONS[name];
}

/** `tls-cert` -> `MOQ_TLS_CERT`. */
export function envName(name: string): string {
  return `MOQ_${name.toUpperCase().replaceAll("-", "_")}`;
}

/** Every option as `--help` and the README show it: flag, variable, default, range (if any). */
export const OPTION_TABLE: readonly {
  flag: string;
  variable?: string;
  shown?: string;
  range?: string;
}[] = NAMES.map((name) => {
  const s = spec(name);
  return {
    flag: `--${name}`,
    ...(s.setting === false ? {} : { variable: envName(name) }),
    ...(s.shown ? { shown: s.shown } : {}),
    ...(s.bounds ? { range: formatRange(s.bounds) } : {}),
  };
});

/** The `--help` text: every flag with its variable and default. */
export function helpText(): string {
  const lines = [
    `moq-relay ${VERSION}: a Media over QUIC (moq-lite) relay`,
    "",
    "Usage: moq-relay [OPTIONS]",
    "",
    "Options (flag, then environment variable, then config file key, then default):",
  ];
  for (const name of NAMES) {
    const s = spec(name);
    const flag = `${s.short ? `-${s.short}, ` : "    "}--${name}${s.arg ? ` <${s.arg}>` : ""}`;
    const extra = [
      s.setting === false ? undefined : `env ${envName(name)}`,
      s.shown ? `default ${s.shown}` : undefined,
      s.bounds ? formatRange(s.bounds) : undefined,
    ].filter((x) => x !== undefined).join("; ");
    lines.push(`  ${flag.padEnd(34)} ${s.help}${extra ? ` [${extra}]` : ""}`);
  }
  lines.push(
    "",
    "List variables take comma-separated values (MOQ_TLS_CERT=a.pem,b.pem).",
    "Boolean variables take 1/0, true/false, yes/no.",
  );
  return lines.join("\n");
}

/** Parses the command line, environment and config file into a {@link Command}. */
export function loadConfig(
  args: string[],
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Command {
  const flags = parseFlags(args);
  if (flags.get("help")?.value === true) return { kind: "help", text: helpText() };
  if (flags.get("version")?.value === true) {
    return { kind: "version", text: `moq-relay ${VERSION}` };
  }

  const environment = readEnvironment(env);
  const configSource = flags.get("config") ?? environment.get("config");
  const configFile = configSource ? String(configSource.value) : undefined;
  const file = configFile ? readConfigFile(configFile) : new Map<OptionName, Sourced>();

  const pick = (name: OptionName): Sourced | undefined =>
    flags.get(name) ?? environment.get(name) ?? file.get(name);
  return { kind: "run", config: buildConfig(pick, configFile) };
}

function parseFlags(args: string[]): Map<OptionName, Sourced> {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const name of NAMES) {
    const s = spec(name);
    options[name] = {
      type: s.kind === "string" || s.kind === "list" ? "string" : "boolean",
      ...(s.short ? { short: s.short } : {}),
      ...(s.kind === "list" || s.kind === "count" ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args),
      options,
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new ConfigError(flagParseMessage(e));
  }
  const out = new Map<OptionName, Sourced>();
  for (const name of NAMES) {
    const raw: unknown = parsed.values[name];
    if (raw === undefined) continue;
    const kind = spec(name).kind;
    const source = `--${name}`;
    if (kind === "count") {
      out.set(name, { value: Array.isArray(raw) ? raw.length : 1, source });
    } else if (kind === "list") {
      const items = (Array.isArray(raw) ? raw : [raw]).map(String);
      // `--tls-generate a,b` and `--tls-generate a --tls-generate b` mean the same.
      const value = name === "tls-generate" ? items.flatMap(splitList) : items;
      out.set(name, { value, source });
    } else {
      out.set(name, { value: raw as string | boolean, source });
    }
  }
  return out;
}

/**
 * `--max-sessions -5` -> `--max-sessions=-5`: node:util takes a value starting with `-` for a
 * flag ("argument is ambiguous"); a negative number is a value, so the check of that value can
 * name the flag and say what it must be. (No flag starts with a digit.)
 */
function joinNegativeValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const next = args[i + 1];
    if (arg === "--") return [...out, ...args.slice(i)];
    const name = NAMES.find((n) => `--${n}` === arg);
    const takesValue = name !== undefined && ["string", "list"].includes(spec(name).kind);
    if (takesValue && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** node:util's messages are long and mention `parseArgs`; keep the part a user needs. */
function flagParseMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const unknown = message.match(/Unknown option '([^']+)'/);
  if (unknown) return `${unknown[1]}: unknown flag (see --help)`;
  const missing = message.match(/Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/);
  if (missing) return `${missing[1]}: needs a value`;
  const positional = message.match(/Unexpected argument '([^']+)'/);
  if (positional) return `${positional[1]}: unexpected argument (see --help)`;
  const needsNoValue = message.match(/Option '(?:-\w, )?(--[\w-]+)' does not take an argument/);
  if (needsNoValue) return `${needsNoValue[1]}: takes no value`;
  const ambiguous = message.match(/Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/);
  if (ambiguous) {
    return `${ambiguous[1]}: needs a value (one starting with "-" is given as ${
      ambiguous[1]
    }=-...)`;
  }
  return message.split("\n")[0] ?? message;
}

function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

function readEnvironment(env: Record<string, string | undefined>): Map<OptionName, Sourced> {
  const out = new Map<OptionName, Sourced>();
  for (const name of NAMES) {
    const s = spec(name);
    if (s.setting === false) continue;
    const variable = envName(name);
    const text = env[variable];
    // An empty variable means "not set", but not for the secret: an empty one is refused later.
    if (text === undefined || (text === "" && !SECRETS.has(name))) continue;
    out.set(name, { value: parseText(text, s.kind, variable), source: variable });
  }
  return out;
}

function parseText(text: string, kind: Kind, source: string): Value {
  switch (kind) {
    case "string":
      return text;
    case "list":
      return splitList(text);
    case "boolean": {
      const lower = text.toLowerCase();
      if (["1", "true", "yes", "on"].includes(lower)) return true;
      if (["0", "false", "no", "off"].includes(lower)) return false;
      throw new ConfigError(`${source}: "${text}" is not a boolean (use true or false)`);
    }
    case "count": {
      if (!/^\d+$/.test(text)) {
        throw new ConfigError(`${source}: "${text}" is not a non-negative integer`);
      }
      return Number(text);
    }
  }
}

function readConfigFile(path: string): Map<OptionName, Sourced> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new ConfigError(`--config: cannot read ${path}: ${errorText(e)}`);
  }
  let table: Record<string, unknown>;
  try {
    table = parseToml(text);
  } catch (e) {
    const first = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    throw new ConfigError(`${path}: not valid TOML: ${first}`);
  }
  const out = new Map<OptionName, Sourced>();
  for (const [key, value] of flattenTable(table)) {
    const name = NAMES.find((n) => n === key);
    if (!name || spec(name).setting === false || name === "config") {
      throw new ConfigError(`${path}: unknown key "${key}"`);
    }
    const source = `${path}: key "${key}"`;
    const numeric = spec(name).bounds && (typeof value === "number" || typeof value === "bigint");
    out.set(name, {
      // `max-sessions = 500` and `max-sessions = "500"` both work; the value is checked later.
      value: numeric ? String(value) : fileValue(value, spec(name).kind, source),
      source,
    });
  }
  return out;
}

/** `{ tls: { cert: x } }` -> `["tls-cert", x]`, so both flat and sectioned files work. */
function flattenTable(table: Record<string, unknown>, prefix = ""): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [key, value] of Object.entries(table)) {
    const name = prefix ? `${prefix}-${key}` : key;
    const isTable = typeof value === "object" && value !== null && !Array.isArray(value) &&
      !(value instanceof Date);
    if (isTable) out.push(...flattenTable(value as Record<string, unknown>, name));
    else out.push([name, value]);
  }
  return out;
}

function fileValue(value: unknown, kind: Kind, source: string): Value {
  switch (kind) {
    case "string":
      if (typeof value === "string") return value;
      throw new ConfigError(`${source} must be a string`);
    case "list":
      if (typeof value === "string") return [value];
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
      throw new ConfigError(`${source} must be a string or an array of strings`);
    case "boolean":
      if (typeof value === "boolean") return value;
      throw new ConfigError(`${source} must be true or false`);
    case "count":
      if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
      throw new ConfigError(`${source} must be a non-negative integer`);
  }
}

function buildConfig(
  pick: (name: OptionName) => Sourced | undefined,
  configFile: string | undefined,
): Config {
  const str = (name: OptionName): Sourced | undefined => pick(name);
  const list = (name: OptionName): string[] => (pick(name)?.value as string[] | undefined) ?? [];
  const bool = (name: OptionName): boolean => pick(name)?.value === true;
  const count = (name: OptionName): number => (pick(name)?.value as number | undefined) ?? 0;

  const bindSource = str("bind");
  const bind = bindSource
    ? parseHostPort(String(bindSource.value), bindSource.source, true)
    : parseHostPort(DEFAULT_BIND, "default", true);

  const certs = pick("tls-cert");
  const keys = pick("tls-key");
  const certPaths = list("tls-cert");
  const keyPaths = list("tls-key");
  if (certPaths.length !== keyPaths.length) {
    const where = certs?.source ?? keys?.source ?? "--tls-cert";
    throw new ConfigError(
      `${where}: ${certPaths.length} certificate(s) but ${keyPaths.length} key(s); ` +
        "give one --tls-key per --tls-cert",
    );
  }
  const certificates = certPaths.map((cert, i) => ({ cert, key: keyPaths[i] ?? "" }));

  const dev = bool("dev");
  let generate = list("tls-generate");
  if (dev && certificates.length === 0 && generate.length === 0) {
    generate = ["localhost", "127.0.0.1", "::1"];
  }
  if (certificates.length === 0 && generate.length === 0) {
    throw new ConfigError(
      "--tls-cert: no certificate; give --tls-cert and --tls-key, --tls-generate HOST, or --dev",
    );
  }
  for (const host of generate) {
    checkHostName(host, pick("tls-generate")?.source ?? "--tls-generate");
  }

  const levelSource = str("log-level");
  let level: LogLevel = DEFAULT_LOG_LEVEL;
  if (levelSource) {
    const text = String(levelSource.value).toLowerCase().replace(/^warn$/, "warning");
    const found = LOG_LEVELS.find((l) => l === text);
    if (!found) {
      throw new ConfigError(
        `${levelSource.source}: "${levelSource.value}" is not a log level (${
          LOG_LEVELS.join(", ")
        })`,
      );
    }
    level = found;
  }
  level = shiftLevel(level, count("verbose") - count("quiet"));

  const formatSource = str("log-format");
  const format = formatSource ? String(formatSource.value) : DEFAULT_LOG_FORMAT;
  if (format !== "text" && format !== "json") {
    throw new ConfigError(
      `${formatSource?.source}: "${format}" is not a log format (text or json)`,
    );
  }

  /** A numeric option's value within its bounds, or `fallback` when it is not set. */
  const quantity = (name: OptionName, fallback: number): number => {
    const source = pick(name);
    const bounds = spec(name).bounds;
    if (!source || !bounds) return fallback;
    const parsed = parseQuantity(String(source.value), bounds);
    if ("problem" in parsed) throw new ConfigError(`${source.source}: ${parsed.problem}`);
    return parsed.value;
  };
  const cache: CacheLimits = {
    maxBytes: quantity("cache-max-bytes", DEFAULT_CACHE_LIMITS.maxBytes),
    maxAgeMs: quantity("cache-max-age", DEFAULT_CACHE_LIMITS.maxAgeMs),
  };
  const limits = {
    maxSubscriptions: quantity("max-subscriptions", DEFAULT_SESSION_LIMITS.maxSubscriptions),
    maxAnnouncements: quantity("max-announcements", DEFAULT_SESSION_LIMITS.maxAnnouncements),
    maxGroupStreams: quantity("max-group-streams", DEFAULT_SESSION_LIMITS.maxGroupStreams),
    maxLagBytes: quantity("max-lag-bytes", DEFAULT_SESSION_LIMITS.maxLagBytes),
    maxStreams: quantity("max-streams", DEFAULT_TRANSPORT_LIMITS.maxIncomingBidiStreams),
    maxSessions: quantity("max-sessions", DEFAULT_MAX_SESSIONS),
  };

  const clusterRoot = str("cluster-root");
  const clusterNode = str("cluster-node");
  const clusterToken = str("cluster-token");
  // An empty token would admit as a cluster relay anyone presenting an empty `?cluster=`.
  if (clusterToken && String(clusterToken.value).trim() === "") {
    throw new ConfigError(
      `${clusterToken.source}: the cluster token is empty; give a secret, or leave ` +
        "--cluster-token out for an open cluster",
    );
  }
  const clusterJwt = str("cluster-jwt");
  if (clusterJwt && String(clusterJwt.value).trim() === "") {
    throw new ConfigError(`${clusterJwt.source}: the token is empty`);
  }
  if (clusterRoot) parseHostPort(String(clusterRoot.value), clusterRoot.source, false);
  if (clusterNode) parseHostPort(String(clusterNode.value), clusterNode.source, false);

  return {
    bind,
    tls: {
      certificates,
      generate,
      roots: list("tls-root"),
      disableVerify: bool("tls-disable-verify"),
    },
    cluster: {
      root: clusterRoot ? String(clusterRoot.value) : undefined,
      node: clusterNode ? String(clusterNode.value) : undefined,
      token: clusterToken ? String(clusterToken.value) : undefined,
      jwt: clusterJwt ? String(clusterJwt.value) : undefined,
    },
    auth: authConfig(pick, list),
    ops: opsConfig(pick, quantity),
    log: { level, format },
    cache,
    limits,
    dev,
    configFile,
  };
}

/** The operations settings, checked. */
function opsConfig(
  pick: (name: OptionName) => Sourced | undefined,
  quantity: (name: OptionName, fallback: number) => number,
): Config["ops"] {
  const internal = pick("internal-listen");
  const redirect = pick("goaway-redirect");
  if (redirect) {
    try {
      new URL(String(redirect.value));
    } catch {
      throw new ConfigError(`${redirect.source}: "${redirect.value}" is not a URL`);
    }
  }
  return {
    internalListen: internal
      ? parseHostPort(String(internal.value), internal.source, true)
      : undefined,
    drainTimeoutMs: quantity("drain-timeout", DEFAULT_DRAIN_TIMEOUT_MS),
    goawayRedirect: redirect ? String(redirect.value) : "",
  };
}

/** The access-control settings, checked: one decider, well-formed patterns and URL. */
function authConfig(
  pick: (name: OptionName) => Sourced | undefined,
  list: (name: OptionName) => string[],
): Config["auth"] {
  const urlSource = pick("auth-url");
  let url: URL | undefined;
  if (urlSource) {
    const checked = checkAuthUrl(String(urlSource.value));
    if (typeof checked === "string") throw new ConfigError(`${urlSource.source}: ${checked}`);
    url = checked;
  }
  const keyDir = pick("auth-key-dir");
  const publicNames = ["auth-public", "auth-public-publish", "auth-public-subscribe"] as const;
  for (const name of publicNames) {
    try {
      publicPatterns(list(name), pick(name)?.source ?? `--${name}`);
    } catch (e) {
      throw new ConfigError(e instanceof Error ? e.message : String(e));
    }
  }
  const local = [...publicNames, "auth-key", "auth-key-dir"] as const;
  const other = local.find((name) => pick(name) !== undefined);
  if (urlSource && other) {
    throw new ConfigError(
      `${urlSource.source}: cannot be combined with ${
        pick(other)?.source
      }: the auth server decides`,
    );
  }
  return {
    keys: list("auth-key"),
    keyDir: keyDir ? String(keyDir.value) : undefined,
    url,
    publicBoth: list("auth-public"),
    publicPublish: list("auth-public-publish"),
    publicSubscribe: list("auth-public-subscribe"),
  };
}

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && String(Number(p)) === p);
}

function isIPv6(text: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** A host name (an all-digit dotted name must be a valid IPv4 address). */
function isHostName(text: string): boolean {
  return /^[\d.]+$/.test(text) ? isIPv4(text) : HOST_NAME.test(text);
}

function checkHostName(host: string, source: string): void {
  if (!isIPv6(host) && !isHostName(host)) {
    throw new ConfigError(`${source}: "${host}" is not a host name or IP address`);
  }
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` or (when the port is optional) `HOST`.
 * A bare IPv6 address without brackets is refused: its last group would read as a port.
 */
export function parseHostPort(text: string, source: string, portRequired: boolean): HostPort {
  const example = portRequired
    ? " (expected HOST:PORT, e.g. [::]:4443)"
    : " (expected HOST[:PORT])";
  const bad = () => new ConfigError(`${source}: "${text}" is not an address${example}`);
  let hostname: string;
  let portText: string | undefined;
  const bracketed = text.match(/^\[([^\]]*)\](?::(.*))?$/);
  if (bracketed) {
    hostname = bracketed[1] ?? "";
    portText = bracketed[2];
    if (!isIPv6(hostname)) throw bad();
  } else {
    const colon = text.lastIndexOf(":");
    if (colon >= 0 && text.indexOf(":") !== colon) throw bad(); // unbracketed IPv6
    hostname = colon >= 0 ? text.slice(0, colon) : text;
    portText = colon >= 0 ? text.slice(colon + 1) : undefined;
    if (!isHostName(hostname)) throw bad();
  }
  if (portText === undefined) {
    if (portRequired) throw bad();
    return { hostname, port: 443 };
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad();
  return { hostname, port: Number(portText) };
}

/**
 * `host` or `host:0` -> `host:<port>`: the address a node advertises, on the port it bound when
 * none (or 0) was given.
 */
export function withPort(text: string, port: number): string {
  const parsed = parseHostPort(text, "address", false);
  const given = /\]:\d+$/.test(text) || (!text.startsWith("[") && text.includes(":"));
  const host = parsed.hostname.includes(":") ? `[${parsed.hostname}]` : parsed.hostname;
  return given && parsed.port !== 0 ? `${host}:${parsed.port}` : `${host}:${port}`;
}

/** A short text for an unknown thrown value. */
export function errorText(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory";
  return e instanceof Error ? e.message : String(e);
}
