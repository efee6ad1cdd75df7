/**
 * Drives headless Chromium through the DevTools protocol, for tests that look at a real page:
 * open tabs, evaluate script in them, wait for a condition, take screenshots, and record every
 * request a tab and its workers make (`Network.requestWillBeSent`, `webSocketCreated`,
 * `webTransportCreated`).
 *
 * Chromium is started by {@linkcode launchChromium} with `--remote-debugging-port=0`; the port it
 * picked is read from the "DevTools listening on ws://..." line it prints.
 *
 * @module
 */
import { type Browser, type ChromiumLocation, launchChromium } from "./chromium.ts";

/** One request a tab (or one of its workers) made. */
export interface RecordedRequest {
  kind: "request" | "websocket" | "webtransport";
  url: string;
}

/** A tab, attached. */
export interface Tab {
  /** Navigates and waits for the load event. */
  goto(url: string, timeoutMs?: number): Promise<void>;
  /** Evaluates `expression` (awaiting a promise) and returns its value as JSON. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Evaluates `expression` every `intervalMs` until it is truthy; returns that value. */
  waitFor<T = unknown>(expression: string, what: string, timeoutMs?: number): Promise<T>;
  /** A PNG of the viewport. */
  screenshot(): Promise<Uint8Array<ArrayBuffer>>;
  /** Every request so far, in order. */
  readonly requests: readonly RecordedRequest[];
  /** The page's last console lines and exceptions, for failure messages. */
  readonly console: readonly string[];
}

export interface DevTools extends AsyncDisposable {
  readonly browser: Browser;
  /** A new tab on about:blank, recording requests before it loads anything. */
  newTab(): Promise<Tab>;
  close(): Promise<void>;
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

const LISTENING = /DevTools listening on (ws:\/\/\S+)/;
const CONSOLE_KEEP = 100;

export interface DevToolsOptions {
  chromium?: ChromiumLocation;
  extraArgs?: string[];
}

/** Starts Chromium and connects to its DevTools endpoint. */
export async function launchDevTools(options: DevToolsOptions = {}): Promise<DevTools> {
  const browser = await launchChromium("about:blank", {
    chromium: options.chromium,
    extraArgs: [
      "--remote-debugging-port=0",
      "--window-size=1280,960",
      ...(options.extraArgs ?? []),
    ],
  });
  try {
    const endpoint = await devtoolsEndpoint(browser);
    const connection = await CdpConnection.open(endpoint);
    const close = async () => {
      await connection.close();
      await browser.close();
    };
    return {
      browser,
      newTab: () => openTab(connection),
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

async function devtoolsEndpoint(browser: Browser, timeoutMs = 10_000): Promise<string> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    const found = browser.stderrTail(64 * 1024).match(LISTENING)?.[1];
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Chromium printed no DevTools endpoint: ${browser.stderrTail(1000)}`);
}

/** One WebSocket to the browser, carrying every tab's session (flat mode). */
class CdpConnection {
  readonly #socket: WebSocket;
  readonly #pending = new Map<
    number,
    { resolve: (m: Message) => void; reject: (e: Error) => void }
  >();
  readonly #listeners = new Set<(m: Message) => void>();
  readonly #closed: Promise<void>;
  #next = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    this.#closed = new Promise((resolve) => socket.addEventListener("close", () => resolve()));
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as Message;
      if (message.id !== undefined) {
        const waiter = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(message.error.message));
        else waiter?.resolve(message);
        return;
      }
      for (const listen of this.#listeners) listen(message);
    });
  }

  static async open(url: string): Promise<CdpConnection> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error(`cannot reach ${url}`)), {
        once: true,
      });
    });
    return new CdpConnection(socket);
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const reply = new Promise<Message>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#socket.send(JSON.stringify({ id, method, params, sessionId }));
    return reply.then((m) => m.result ?? {}, (e: Error) => {
      throw new Error(`${method}: ${e.message}`);
    });
  }

  listen(listener: (m: Message) => void): void {
    this.#listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.#socket.readyState !== WebSocket.CLOSED) this.#socket.close();
    await this.#closed;
    for (const { reject } of this.#pending.values()) reject(new Error("DevTools closed"));
    this.#pending.clear();
  }
}

async function openTab(connection: CdpConnection): Promise<Tab> {
  const { targetId } = await connection.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await connection.send("Target.attachToTarget", {
    targetId,
    flatten: true,
  }) as { sessionId: string };
  // The tab's session and its workers' sessions.
  const sessions = new Set<string>([sessionId]);
  const requests: RecordedRequest[] = [];
  const consoleLines: string[] = [];
  const note = (line: string) => {
    consoleLines.push(line);
    if (consoleLines.length > CONSOLE_KEEP) consoleLines.shift();
  };
  const loads: (() => void)[] = [];
  connection.listen((message) => {
    if (!message.sessionId || !sessions.has(message.sessionId)) return;
    const params = message.params ?? {};
    switch (message.method) {
      case "Network.requestWillBeSent":
        requests.push({ kind: "request", url: (params.request as { url: string }).url });
        break;
      case "Network.webSocketCreated":
        requests.push({ kind: "websocket", url: params.url as string });
        break;
      case "Network.webTransportCreated":
        requests.push({ kind: "webtransport", url: params.url as string });
        break;
      case "Page.loadEventFired":
        for (const loaded of loads.splice(0)) loaded();
        break;
      case "Runtime.consoleAPICalled":
        note(
          `${params.type}: ${
            (params.args as { value?: unknown; description?: string }[])
              .map((a) => a.value ?? a.description ?? "").join(" ")
          }`,
        );
        break;
      case "Runtime.exceptionThrown":
        note(`exception: ${JSON.stringify(params.exceptionDetails).slice(0, 500)}`);
        break;
      case "Target.attachedToTarget": {
        // A worker: record its requests too, then let it run.
        const child = params.sessionId as string;
        sessions.add(child);
        void (async () => {
          await connection.send("Network.enable", {}, child).catch(() => {});
          await connection.send("Runtime.runIfWaitingForDebugger", {}, child).catch(() => {});
        })();
        break;
      }
    }
  });
  await connection.send("Network.enable", {}, sessionId);
  await connection.send("Page.enable", {}, sessionId);
  await connection.send("Runtime.enable", {}, sessionId);
  await connection.send("Target.setAutoAttach", {
    autoAttach: true,
    waitForDebuggerOnStart: true,
    flatten: true,
  }, sessionId);

  const evaluate = async <T>(expression: string): Promise<T> => {
    const reply = await connection.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    }, sessionId) as {
      result: { value?: unknown };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (reply.exceptionDetails) {
      const d = reply.exceptionDetails;
      throw new Error(`evaluate ${expression}: ${d.exception?.description ?? d.text}`);
    }
    return reply.result.value as T;
  };

  return {
    requests,
    console: consoleLines,
    async goto(url, timeoutMs = 10_000) {
      const loaded = new Promise<void>((resolve) => loads.push(resolve));
      await connection.send("Page.navigate", { url }, sessionId);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        loaded,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${url} did not load in ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    },
    evaluate,
    async waitFor<T>(expression: string, what: string, timeoutMs = 10_000): Promise<T> {
      const end = performance.now() + timeoutMs;
      let last: unknown;
      for (;;) {
        last = await evaluate<T>(expression);
        if (last) return last as T;
        if (performance.now() > end) {
          throw new Error(
            `${what}: not within ${timeoutMs} ms (last ${JSON.stringify(last)}); page console:\n${
              consoleLines.slice(-20).join("\n")
            }`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async screenshot() {
      const { data } = await connection.send(
        "Page.captureScreenshot",
        { format: "png" },
        sessionId,
      );
      return Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
    },
  };
}
