/**
 * The benchmark's child processes: each speaks JSON lines on stdout (`{"ready": ...}`,
 * `{"result": ...}`), reads commands on stdin, and keeps the tail of its stderr for errors.
 * Every child still running is in `live`, so the harness can stop them all, even on errors.
 *
 * @module
 */
import { LineReader } from "./common.ts";

/** The repository root: children run there. */
export const ROOT = new URL("..", import.meta.url).pathname;

export type Message = Record<string, unknown>;

/** A child process speaking JSON lines on stdout; its stderr tail is kept for errors. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  readonly label: string;
  #messages: Message[] = [];
  #waiters: (() => void)[] = [];
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #ended = false;
  stderr = "";
  status: Deno.CommandStatus | undefined;
  exited: Promise<Deno.CommandStatus>;

  constructor(label: string, command: string, args: string[], env: Record<string, string> = {}) {
    this.label = label;
    const child = new Deno.Command(command, {
      args,
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.pid = child.pid;
    this.#stdin = this.child.stdin.getWriter();
    this.exited = this.child.status;
    void this.exited.then((status) => this.status = status).finally(() => live.delete(this));
    live.add(this);
    void (async () => {
      const lines = new LineReader(child.stdout);
      for (let line = await lines.next(); line !== null; line = await lines.next()) {
        if (!line.startsWith("{")) continue;
        try {
          this.#messages.push(JSON.parse(line) as Message);
        } catch {
          continue;
        }
        for (const wake of this.#waiters.splice(0)) wake();
      }
      this.#ended = true;
      for (const wake of this.#waiters.splice(0)) wake();
    })();
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        this.stderr = (this.stderr + decoder.decode(chunk, { stream: true })).slice(-4000);
      }
    })().catch(() => {});
  }

  /** The first message carrying `key` (consumed), within `timeoutMs`. */
  async expect<T>(key: string, timeoutMs: number): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const at = this.#messages.findIndex((m) => key in m);
      if (at >= 0) return this.#messages.splice(at, 1)[0]![key] as T;
      if (this.#ended) throw new Error(`${this.label} exited before "${key}":\n${this.stderr}`);
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(`${this.label}: no "${key}" in ${timeoutMs} ms\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async send(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!live.has(this)) return;
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, graceMs);
    await this.exited.catch(() => {});
    clearTimeout(timer);
  }
}

/** Every child still running: all of them are stopped in `finally`, even on errors. */
export const live = new Set<Proc>();

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** A bench script run by this Deno. */
export const deno = (script: string, args: string[]): Proc =>
  new Proc(script, Deno.execPath(), ["run", "-A", script, ...args]);
