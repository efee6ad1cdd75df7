/**
 * A relay as its own process (`deno run main.ts`), for cluster tests: it binds port 0 (unless
 * told a port) and says which port it got in its "listening on" line; start, read its /stats,
 * kill it (SIGKILL, as a crash), restart it on the port it had.
 */
const main = new URL("../../main.ts", import.meta.url).pathname;
/** The relay's start-up line, with the port it bound. */
const LISTENING = /listening on \\?"?(?:\[[^\]]*\]|[^\s:"\\]+):(\d+)\b/; // text or JSON

export interface RelayProcess extends AsyncDisposable {
  readonly port: number;
  readonly address: string;
  /** The relay's process id (for /proc: its memory, its file descriptors). */
  readonly pid: number;
  fingerprint(): Promise<string>;
  /** Its /stats; `query` (e.g. `?jwt=...`) for a relay that shows them only to cluster members. */
  stats(query?: string): Promise<RelayStats>;
  /** Kills the process without warning (a crash). */
  kill(): Promise<void>;
  /** Sends the process a signal (SIGTERM drains, SIGHUP reloads certificates). */
  signal(signal: Deno.Signal): void;
  /** Settles when the process exits, with its status. */
  exited(): Promise<Deno.CommandStatus>;
  /** Starts it again with the same arguments on the same port. */
  restart(): Promise<void>;
  /** The last lines it logged. */
  log(): string;
  /**
   * Its memory after a full garbage collection, asked through the V8 inspector (only with
   * `inspect: true`): what the relay really holds, not what it has yet to collect.
   */
  memoryAfterGc(): Promise<Deno.MemoryUsage>;
}

export interface RelayStats {
  hop: string;
  routes: number;
  members: string[];
  sessions: {
    remote: string;
    kind: string;
    cluster: boolean;
    subscriptionsServed: number;
    upstreamSubscriptions: number;
    /** What the peer has announced to this relay: its first answer arrived, routes held. */
    announcements: { listed: boolean; active: number };
  }[];
}

export interface ProcessOptions {
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Open the V8 inspector on a loopback port of its own, for {@link RelayProcess.memoryAfterGc}. */
  inspect?: boolean;
  /** Start with this limit on open file descriptors (soft and hard, through `prlimit`). */
  nofile?: number;
  /**
   * Serve these certificate files instead of a generated certificate (then HTTP is HTTPS: the
   * `fingerprint()` and `stats()` helpers, plain HTTP, do not apply).
   */
  tls?: { cert: string; key: string };
}

/** One call over the inspector's WebSocket (Chrome DevTools Protocol). */
async function inspectorCall(url: string, calls: [string, Record<string, unknown>][]) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const answers = new Map<number, (m: { result?: unknown }) => void>();
  ws.onmessage = (e) => {
    const message = JSON.parse(e.data);
    answers.get(message.id)?.(message);
  };
  const results: unknown[] = [];
  try {
    for (const [i, [method, params]] of calls.entries()) {
      results.push(
        await new Promise<{ result?: unknown }>((resolve) => {
          answers.set(i + 1, resolve);
          ws.send(JSON.stringify({ id: i + 1, method, params }));
        }),
      );
    }
  } finally {
    ws.close();
  }
  return results;
}

export async function startRelayProcess(
  args: string[],
  port = 0,
  options: ProcessOptions = {},
): Promise<RelayProcess> {
  const host = options.host ?? "127.0.0.1";
  const fullArgs = (port: number) => [
    "run",
    ...(options.inspect ? ["--inspect=127.0.0.1:0"] : []),
    "--allow-all",
    main,
    "--bind",
    `${host}:${port}`,
    ...(options.tls
      ? ["--tls-cert", options.tls.cert, "--tls-key", options.tls.key]
      : ["--tls-generate", host]),
    "--tls-disable-verify",
    // A test's relay drains briefly when disposed (SIGTERM); a test may ask for longer.
    "--drain-timeout",
    "1s",
    ...args,
  ];
  let child: Deno.ChildProcess | undefined;
  let tail = "";
  let pump: Promise<void> = Promise.resolve();

  const launch = async () => {
    let [command, commandArgs] = options.netns
      ? ["ip", ["netns", "exec", options.netns, Deno.execPath(), ...fullArgs(port)]]
      : [Deno.execPath(), fullArgs(port)];
    if (options.nofile !== undefined) {
      // prlimit sets the limit and execs the command: the pid stays the relay's.
      commandArgs = [`--nofile=${options.nofile}:${options.nofile}`, command, ...commandArgs];
      command = "prlimit";
    }
    const proc = new Deno.Command(command, {
      args: commandArgs,
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    child = proc;
    const reader = proc.stderr.getReader();
    const decoder = new TextDecoder();
    let ready: () => void = () => {};
    const listening = new Promise<void>((r) => ready = r);
    pump = (async () => {
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          tail = (tail + decoder.decode(r.value, { stream: true })).slice(-20_000);
          if (LISTENING.test(tail)) ready();
        }
      } catch {
        // the process is gone
      }
    })();
    const deadline = setTimeout(() => ready(), 15_000);
    await listening;
    clearTimeout(deadline);
    const bound = tail.match(LISTENING);
    if (!bound) throw new Error(`relay on ${host}:${port} did not start:\n${tail}`);
    // A restart binds the port the first start got.
    port = Number(bound[1]);
  };

  const stop = async (signal: Deno.Signal) => {
    if (!child) return;
    try {
      child.kill(signal);
    } catch {
      // already exited
    }
    await child.status;
    await pump;
    child = undefined;
  };

  await launch();
  const address = `${host}:${port}`;
  return {
    port,
    address,
    get pid() {
      if (!child) throw new Error("the relay is not running");
      return child.pid;
    },
    fingerprint: async () => await (await fetch(`http://${address}/certificate.sha256`)).text(),
    stats: async (query = "") =>
      await (await fetch(`http://${address}/stats${query}`)).json() as RelayStats,
    kill: () => stop("SIGKILL"),
    signal(signal) {
      child?.kill(signal);
    },
    async exited() {
      if (!child) throw new Error("the relay is not running");
      const status = await child.status;
      await pump;
      return status;
    },
    async restart() {
      await stop("SIGKILL");
      tail = "";
      await launch();
    },
    log: () => tail,
    async memoryAfterGc() {
      const url = tail.match(/ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/)?.[0];
      if (!url) throw new Error("the relay was not started with inspect: true");
      const expression = "JSON.stringify(Deno.memoryUsage())";
      const results = await inspectorCall(url, [
        ["HeapProfiler.collectGarbage", {}],
        ["HeapProfiler.collectGarbage", {}],
        ["Runtime.evaluate", { expression, returnByValue: true }],
      ]);
      const answer = results[2] as { result: { result: { value: string } } };
      return JSON.parse(answer.result.result.value);
    },
    [Symbol.asyncDispose]: () => stop("SIGTERM"),
  };
}
