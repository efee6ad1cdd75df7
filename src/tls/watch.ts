/**
 * Notices when files change on disk, for certificates renewed while the relay runs.
 *
 * The directories holding the files are watched, not the files: certbot points the symlinks in
 * `live/` at new files in `archive/`, Kubernetes swaps a `..data` symlink, editors write a new
 * file and rename it over the old, and a watch on the file itself would go on following the old
 * one. The directories the symlinks point into are watched too (a file rewritten in place), and
 * the set is worked out again after every change. Changes come in bursts (a certificate written,
 * then its key): `changed` runs once they have been quiet for `debounceMs`.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { logger } from "../log.ts";

const log = logger("tls");

/** How long changes must be quiet before the files are read: a certificate and then its key. */
export const DEBOUNCE_MS = 500;

/** The existing directories that hold `paths`, or what they link to. */
function directories(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const path of paths) {
    dirs.add(dirname(resolve(path)));
    try {
      dirs.add(dirname(Deno.realPathSync(path)));
    } catch {
      // gone for the moment: its directory is watched, and it is looked for after the next change
    }
  }
  return [...dirs].filter((dir) => {
    try {
      return Deno.statSync(dir).isDirectory;
    } catch {
      return false;
    }
  }).sort();
}

export class FileWatch implements Disposable {
  readonly #paths: readonly string[];
  readonly #changed: () => void;
  readonly #debounceMs: number;
  #watcher: Deno.FsWatcher | undefined;
  #dirs: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(paths: readonly string[], changed: () => void, debounceMs = DEBOUNCE_MS) {
    this.#paths = paths;
    this.#changed = changed;
    this.#debounceMs = debounceMs;
    this.#watch();
  }

  /** Watches the directories the files are in now (a symlink may point elsewhere since). */
  refresh(): void {
    if (!this.#closed) this.#watch();
  }

  /** Watches the directories the files are in now, if they are not watched already. */
  #watch(): void {
    const dirs = directories(this.#paths);
    if (this.#watcher && dirs.join("\n") === this.#dirs.join("\n")) return;
    this.#unwatch();
    this.#dirs = dirs;
    if (dirs.length === 0) return;
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(dirs, { recursive: false });
    } catch (e) {
      log.warn("cannot watch {dirs} ({error}): certificates are read again on SIGHUP only", {
        dirs: dirs.join(","),
        error: (e as Error).message,
      });
      return;
    }
    this.#watcher = watcher;
    void this.#events(watcher);
  }

  async #events(watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const event of watcher) {
        // Reading the files is no change (and reading them after each change must not loop).
        if (event.kind !== "access") this.#poke();
      }
    } catch (e) {
      if (!this.#closed && watcher === this.#watcher) {
        log.warn("watching certificate files failed ({error})", { error: (e as Error).message });
      }
    }
  }

  #poke(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#watch();
      this.#changed();
    }, this.#debounceMs);
    Deno.unrefTimer(this.#timer);
  }

  #unwatch(): void {
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    this.#watcher = undefined;
  }

  [Symbol.dispose](): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#unwatch();
  }
}
