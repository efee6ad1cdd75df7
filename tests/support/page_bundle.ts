/**
 * `deno bundle --platform browser` for test pages: a page module that imports npm packages
 * (`@moq/net`) becomes one file a browser loads.
 *
 * @module
 */

/** Bundles a page module (source text) for the browser with this project's import map. */
export async function bundlePage(source: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "moq-relay-page-" });
  try {
    const entry = `${dir}/page.js`;
    const output = `${dir}/bundle.js`;
    await Deno.writeTextFile(entry, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        "--frozen-lockfile",
        "--output",
        output,
        entry,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `deno bundle failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
    return await Deno.readTextFile(output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
