/**
 * The relay's own page at `/`, from the module `deno task page` generates (so nothing is built
 * at run time, and a compiled binary carries the page). The HTML is never cached (it names the
 * current script); the script's name carries its content hash, so it is cached for good.
 *
 * @module
 */
import { PAGE_HTML, PAGE_SCRIPT, PAGE_SCRIPT_PATH } from "./page/assets.generated.ts";

const html = new TextEncoder().encode(PAGE_HTML);
const script = new TextEncoder().encode(PAGE_SCRIPT);

/** The page's answer for `pathname`, or undefined when it is none of the page's. */
export function pageResponse(pathname: string): Response | undefined {
  switch (pathname) {
    case "/":
    case "/index.html":
      return new Response(html, {
        headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" },
      });
    case PAGE_SCRIPT_PATH:
      return new Response(script, {
        headers: {
          "content-type": "text/javascript; charset=utf-8",
          "cache-control": "public, max-age=31536000, immutable",
        },
      });
    default:
      return undefined;
  }
}
