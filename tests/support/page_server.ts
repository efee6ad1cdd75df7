/**
 * Serves test pages to a headless browser on http://127.0.0.1 (a secure context, so `WebTransport`
 * exists there) and collects what the pages report.
 *
 * A page reports by POSTing JSON to `/result`, or, simpler, through the served helper module
 * `/report.js`: `import { report } from "/report.js"; report({ ok: true });`. That module also
 * reports the page's uncaught errors and unhandled rejections, so a broken page fails the test at
 * once instead of timing it out.
 *
 * @module
 */
import type { Browser } from "./chromium.ts";

/** Path to body, as text or bytes. The content type follows the extension; none means HTML. */
export type PageFiles = Record<string, string | Uint8Array<ArrayBuffer>>;

/** A running page server. */
export interface PageServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` without a trailing slash. */
  readonly origin: string;
  /** `origin` + `path`. */
  url(path?: string): string;
  /**
   * The next JSON body POSTed to `/result`, in order of arrival. Rejects after `timeoutMs`, when
   * the page reported an error through `/report.js`, or when `browser` exits first; the message
   * then carries the tail of the browser's stderr.
   */
  waitForResult<T = unknown>(timeoutMs: number, browser?: Browser): Promise<T>;
  close(): Promise<void>;
}

/** What `/report.js` posts for an uncaught page error. */
const PAGE_ERROR = "__pageError";

const REPORT_JS = `
export async function report(value) {
  await fetch("/result", { method: "POST", body: JSON.stringify(value) });
}
function fail(what) {
  report({ ${PAGE_ERROR}: String(what && what.stack || what) }).catch(() => {});
}
addEventListener("error", (e) => fail(e.error ?? e.message));
addEventListener("unhandledrejection", (e) => fail(e.reason));
`;

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  css: "text/css",
  txt: "text/plain; charset=utf-8",
};

/** Serves `files` (plus `/report.js`) on 127.0.0.1, port 0. */
export function servePages(files: PageFiles): PageServer {
  const results: unknown[] = [];
  let wake: (() => void) | undefined;
  const all: PageFiles = { "/report.js": REPORT_JS, ...files };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const { pathname } = new URL(req.url);
      if (req.method === "POST" && pathname === "/result") {
        try {
          results.push(await req.json());
        } catch (e) {
          results.push({ [PAGE_ERROR]: `POST /result was not JSON: ${e}` });
        }
        wake?.();
        return new Response(null, { status: 204 });
      }
      const body = all[pathname];
      if (req.method !== "GET" || body === undefined) {
        return new Response("not found", { status: 404 });
      }
      return new Response(body, { headers: { "content-type": contentType(pathname) } });
    },
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;

  async function waitForResult<T>(timeoutMs: number, browser?: Browser): Promise<T> {
    const failure = (why: string) => {
      const tail = browser?.stderrTail(2000);
      return new Error(
        `${why}${browser ? ` (chromium pid ${browser.pid}, ${browser.source})` : ""}` +
          (tail ? `; chromium stderr tail:\n${tail}` : ""),
      );
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const deadline = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      });
      const exit = browser?.exited.then((s) => `exit ${s.code}${s.signal ? ` ${s.signal}` : ""}`);
      for (;;) {
        if (results.length > 0) {
          const value = results.shift();
          if (isPageError(value)) throw failure(`the page failed: ${value[PAGE_ERROR]}`);
          return value as T;
        }
        const arrived = new Promise<"result">((resolve) => wake = () => resolve("result"));
        const what = await Promise.race(exit ? [arrived, deadline, exit] : [arrived, deadline]);
        wake = undefined;
        if (what === "timeout") throw failure(`no result from the page within ${timeoutMs} ms`);
        if (what !== "result" && results.length === 0) {
          throw failure(`the browser exited (${what}) before the page reported`);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  let closing: Promise<void> | undefined;
  const close = () => closing ??= server.shutdown();
  return {
    origin,
    url: (path = "/") => origin + path,
    waitForResult,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** By extension; a path with none (such as `/`) is HTML. */
function contentType(pathname: string): string {
  const name = pathname.slice(pathname.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  if (dot < 0) return TYPES.html as string;
  return TYPES[name.slice(dot + 1)] ?? "application/octet-stream";
}

function isPageError(value: unknown): value is Record<typeof PAGE_ERROR, string> {
  return typeof value === "object" && value !== null && PAGE_ERROR in value;
}
