/**
 * Finds and drives a headless Chromium for the end-to-end tests.
 *
 * Sources, in order: `CHROME_PATH`; the headless Chromium shipped brotli-compressed inside the npm
 * package `@sparticuz/chromium` (unpacked to the OS temp dir, `/tmp/chromium`, on first use); then
 * `chromium`, `chromium-browser` or `google-chrome` on `PATH`. No browser is an error, never a skip.
 *
 * @module
 */

/** Where a Chromium came from. */
export type ChromiumSource = "CHROME_PATH" | "npm" | "PATH";

/** An executable Chromium and where it was found. */
export interface ChromiumLocation {
  path: string;
  source: ChromiumSource;
}

/** A running headless Chromium started by {@linkcode launchChromium}. */
export interface Browser extends AsyncDisposable {
  readonly pid: number;
  readonly path: string;
  readonly source: ChromiumSource;
  /** Settles when the browser process exits, by itself or through {@linkcode Browser.close}. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** The last `maxChars` characters of Chromium's stderr, D-Bus noise left out. */
  stderrTail(maxChars?: number): string;
  /** SIGTERM, SIGKILL after a short grace, waits for the exit, removes the profile dir. Idempotent. */
  close(): Promise<void>;
}

/** Options for {@linkcode launchChromium}. */
export interface LaunchOptions {
  /** More command-line flags, placed before the URL. */
  extraArgs?: string[];
  /** Use this Chromium instead of calling {@linkcode findChromium}. */
  chromium?: ChromiumLocation;
}

/** The flags every launch gets. No `--disable-quic`: WebTransport needs QUIC. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Pinned in deno.json's imports. */
const NPM_PACKAGE = "@sparticuz/chromium";
const PATH_NAMES = ["chromium", "chromium-browser", "google-chrome"];
const HOW_TO_GET_ONE =
  "set CHROME_PATH, let Deno fetch npm:@sparticuz/chromium, or apt-get install -y chromium";
/** Milliseconds between SIGTERM and SIGKILL in `close()`. */
const TERM_GRACE_MS = 2000;
/** Bytes of stderr kept per browser. */
const STDERR_KEEP = 64 * 1024;

let found: Promise<ChromiumLocation> | undefined;

/**
 * Finds a Chromium, memoised per module instance. Throws a one-line Error when there is none.
 * `CHROME_PATH`, when set, must name an executable file: it is never silently passed over.
 */
export function findChromium(): Promise<ChromiumLocation> {
  if (!found) {
    found = locate();
    // A failure is not cached: a later call may find a browser installed meanwhile.
    found.catch(() => found = undefined);
  }
  return found;
}

async function locate(): Promise<ChromiumLocation> {
  const fromEnv = Deno.env.get("CHROME_PATH");
  if (fromEnv) {
    if (!(await isExecutableFile(fromEnv))) {
      throw new Error(`CHROME_PATH=${fromEnv} is not an executable file; ${HOW_TO_GET_ONE}`);
    }
    return { path: fromEnv, source: "CHROME_PATH" };
  }
  let npmProblem: string;
  try {
    return { path: await npmChromium(), source: "npm" };
  } catch (e) {
    npmProblem = oneLine(e);
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    for (const name of PATH_NAMES) {
      const path = `${dir}/${name}`;
      if (await isExecutableFile(path)) return { path, source: "PATH" };
    }
  }
  throw new Error(`no Chromium found: ${HOW_TO_GET_ONE} (npm ${NPM_PACKAGE}: ${npmProblem})`);
}

/**
 * Unpacks the npm package's Chromium (the package writes `<tmpdir>/chromium`, plus fonts and
 * SwiftShader beside it) and checks that it runs. A file lock keeps parallel test workers from
 * starting a half-written binary. The package reuses any `<tmpdir>/chromium`, so one that does not
 * run (truncated by a killed run) or has another major version (left by an older pin) is removed
 * and unpacked again.
 */
async function npmChromium(): Promise<string> {
  const { default: chromium } = await import("@sparticuz/chromium");
  // The package's own version, from where Deno resolved it: ".../@sparticuz/chromium/153.0.0/...".
  const pinned = import.meta.resolve("@sparticuz/chromium").match(
    /@sparticuz[/+]chromium[/@](\d+)\./,
  )?.[1];
  const lockPath = `${tmpDir()}/moq-relay-chromium.lock`;
  using lock = await Deno.open(lockPath, { create: true, write: true });
  await lock.lock(true);
  try {
    let path = await chromium.executablePath();
    let problem = await versionProblem(path, pinned);
    if (problem) {
      await Deno.remove(path).catch(() => {});
      path = await chromium.executablePath();
      problem = await versionProblem(path, pinned);
    }
    if (problem) throw new Error(`${path} does not run: ${problem}`);
    return path;
  } finally {
    await lock.unlock();
  }
}

/**
 * `undefined` when `path --version` prints a Chromium version (of major `major`, if given), else
 * why not.
 */
async function versionProblem(path: string, major?: string): Promise<string | undefined> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  try {
    const out = await new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    const version = text.match(/Chrom(?:e|ium) (\d+)\./)?.[1];
    if (!out.success || !version) {
      return `exit ${out.code}: ${new TextDecoder().decode(out.stderr).trim().slice(-300)}`;
    }
    if (major && version !== major) return `it is ${text}, the package pins ${major}`;
    return undefined;
  } catch (e) {
    return oneLine(e);
  } finally {
    clearTimeout(timer);
  }
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function tmpDir(): string {
  return Deno.env.get("TMPDIR") || "/tmp";
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ").trim();
}

/**
 * Starts headless Chromium on `url` with {@linkcode CHROMIUM_FLAGS}, `extraArgs` and a new
 * temporary `--user-data-dir`. Use with `await using`, or call `close()` in a `finally`.
 */
export async function launchChromium(url: string, opts: LaunchOptions = {}): Promise<Browser> {
  const { path, source } = opts.chromium ?? await findChromium();
  const userDataDir = await Deno.makeTempDir({ prefix: "moq-chromium-" });
  const args = [
    ...CHROMIUM_FLAGS,
    `--user-data-dir=${userDataDir}`,
    ...(opts.extraArgs ?? []),
    url,
  ];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(path, { args, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
  } catch (e) {
    await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    throw new Error(`cannot start ${path} (${source}): ${oneLine(e)}`);
  }

  const stderr = new BoundedText(STDERR_KEEP);
  const pump = child.stderr.pipeTo(
    new WritableStream({ write: (chunk) => stderr.push(chunk) }),
  ).catch(() => {});
  let alive = true;
  const exited = child.status.finally(() => alive = false);
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> =>
    closing ??= (async () => {
      if (alive) {
        signal(child, "SIGTERM");
        let timer: ReturnType<typeof setTimeout> | undefined;
        const graceOver = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), TERM_GRACE_MS);
        });
        const killed = await Promise.race([exited.then(() => false), graceOver]);
        clearTimeout(timer);
        if (killed) signal(child, "SIGKILL");
      }
      await exited;
      await pump;
      await removeDir(userDataDir);
    })();

  return {
    pid: child.pid,
    path,
    source,
    exited,
    stderrTail: (maxChars = 4000) => stderr.tail(maxChars),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function signal(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // It has exited already.
  }
}

/** Chromium's helpers may still be writing the profile for a moment after a SIGKILL. */
async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      await Deno.remove(dir, { recursive: true });
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      if (attempt >= 10) throw e;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Keeps the last `limit` bytes of a byte stream, for error messages. */
class BoundedText {
  #chunks: Uint8Array[] = [];
  #size = 0;
  constructor(readonly limit: number) {}

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#chunks.length > 1 && this.#size - (this.#chunks[0]?.length ?? 0) >= this.limit) {
      this.#size -= this.#chunks.shift()?.length ?? 0;
    }
  }

  tail(maxChars: number): string {
    const all = new Uint8Array(this.#size);
    let at = 0;
    for (const c of this.#chunks) {
      all.set(c, at);
      at += c.length;
    }
    const text = new TextDecoder().decode(all.subarray(Math.max(0, all.length - this.limit)));
    const kept = text.split("\n").filter((line) => !/dbus|D-Bus/.test(line)).join("\n").trim();
    return kept.slice(-maxChars);
  }
}
