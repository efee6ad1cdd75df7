/**
 * What the relay's page is built from, and a hash of it: every file under `src/web/page/` but the
 * generated one, and the npm versions of the packages it bundles (as pinned in deno.json). The
 * build records the hash in the generated module; a test recomputes it to catch a stale build.
 *
 * @module
 */

export const PAGE_DIR = new URL("../src/web/page/", import.meta.url);
export const GENERATED_NAME = "assets.generated.ts";
/** The npm packages the page imports (by their deno.json names). */
export const PAGE_PACKAGES = ["@moq/watch", "@moq/publish"] as const;

/** The page's source files, by name, sorted. */
export async function pageSourceFiles(): Promise<{ name: string; text: string }[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(PAGE_DIR)) {
    if (entry.isFile && entry.name !== GENERATED_NAME) names.push(entry.name);
  }
  names.sort();
  return await Promise.all(
    names.map(async (name) => ({ name, text: await Deno.readTextFile(new URL(name, PAGE_DIR)) })),
  );
}

/** The deno.json specifiers of {@link PAGE_PACKAGES}, e.g. `npm:@moq/watch@0.4.6`. */
export async function pagePackageVersions(): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as { imports: Record<string, string> };
  return PAGE_PACKAGES.map((name) => {
    const specifier = config.imports[name];
    if (!specifier) throw new Error(`deno.json does not import ${name}`);
    return specifier;
  });
}

/** SHA-256 (hex) over the source files (names and contents) and the package versions. */
export async function pageSourceHash(): Promise<string> {
  const parts: string[] = [];
  for (const { name, text } of await pageSourceFiles()) parts.push(`file ${name}\n${text}\n`);
  for (const specifier of await pagePackageVersions()) parts.push(`package ${specifier}\n`);
  return await sha256Hex(parts.join("\0"));
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
