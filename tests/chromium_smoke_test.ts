import { equal, match } from "assert";
import { findChromium, launchChromium } from "./support/chromium.ts";
import { servePages } from "./support/page_server.ts";

const PAGE = `<!doctype html>
<script type="module">
import { report } from "/report.js";
await report({ userAgent: navigator.userAgent, webTransport: typeof WebTransport });
</script>`;

// Fails, never skips, without a browser: findChromium throws a one-line "no Chromium found" error.
Deno.test("headless Chromium loads a local page that sees WebTransport", async () => {
  const chromium = await findChromium();
  const pages = servePages({ "/": PAGE });
  try {
    const browser = await launchChromium(pages.url("/"), { chromium });
    try {
      const result = await pages.waitForResult<{ userAgent: string; webTransport: string }>(
        20_000,
        browser,
      );
      match(result.userAgent, /HeadlessChrome\/\d+/);
      equal(result.webTransport, "function");
    } finally {
      await browser.close();
    }
  } finally {
    await pages.close();
  }
});
