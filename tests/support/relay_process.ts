/**
 * A relay as its own process (`deno run main.ts`), on its own loopback port, for cluster tests:
 * start, read its /stats, kill it (SIGKILL, as a crash), restart it on the same port.
 */
const main = new URL("../../main.ts", import.meta.url).pathname;

/** A port free for both UDP and TCP on 127.0.0.1. */
export function freePort(): number {
  for (let i = 0; i < 50; i++) {
    const udp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const port = (udp.addr as Deno.NetAddr).port;
    udp.close();
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // taken on TCP: try another
    }
  }
  throw new Error("no free port");
}

export interface RelayProcess extends AsyncDisposable {
  readonly port: number;
  readonly address: string;
  fingerprint(): Promise<string>;
  stats(): Promise<RelayStats>;
  /** Kills the process without warning (a crash). */
  kill(): Promise<void>;
  /** Starts it again with the same arguments on the same port. */
  restart(): Promise<void>;
  /** The last lines it logged. */
  log(): string;
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
  }[];
}

export interface ProcessOptions {
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
}

export async function startRelayProcess(
  args: string[],
  port = freePort(),
  options: ProcessOptions = {},
): Promise<RelayProcess> {
  const host = options.host ?? "127.0.0.1";
  const fullArgs = [
    "run",
    "--allow-all",
    main,
    "--bind",
    `${host}:${port}`,
    "--tls-generate",
    host,
    "--tls-disable-verify",
    ...args,
  ];
  let child: Deno.ChildProcess | undefined;
  let tail = "";
  let pump: Promise<void> = Promise.resolve();

  const launch = async () => {
    const [command, commandArgs] = options.netns
      ? ["ip", ["netns", "exec", options.netns, Deno.execPath(), ...fullArgs]]
      : [Deno.execPath(), fullArgs];
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
          if (tail.includes("listening on")) ready();
        }
      } catch {
        // the process is gone
      }
    })();
    const deadline = setTimeout(() => ready(), 15_000);
    await listening;
    clearTimeout(deadline);
    if (!tail.includes("listening on")) throw new Error(`relay on ${port} did not start:\n${tail}`);
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
    fingerprint: async () => await (await fetch(`http://${address}/certificate.sha256`)).text(),
    stats: async () => await (await fetch(`http://${address}/stats`)).json() as RelayStats,
    kill: () => stop("SIGKILL"),
    async restart() {
      await stop("SIGKILL");
      tail = "";
      await launch();
    },
    log: () => tail,
    [Symbol.asyncDispose]: () => stop("SIGTERM"),
  };
}
