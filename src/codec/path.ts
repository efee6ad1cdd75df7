/**
 * Broadcast paths: `/`-separated segments, normalised (no leading or trailing `/`, no empty
 * segments), matched by whole segments (`demo` is a prefix of `demo/bbb`, not of `demox`).
 *
 * @module
 */
import { boundsError } from "./error.ts";

/** Most segments a path may have (upstream's limit, shared with IETF namespace tuples). */
export const MAX_PATH_SEGMENTS = 32;

/** A normalised path; a plain string so it can key maps. */
export type Path = string;

/** Trims `/` at both ends and collapses runs of `/`. */
export function normalizePath(text: string): Path {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) === 0x2f) start++;
  while (end > start && text.charCodeAt(end - 1) === 0x2f) end--;
  const trimmed = text.slice(start, end);
  return trimmed.includes("//")
    ? trimmed.split("/").filter((s) => s.length > 0).join("/")
    : trimmed;
}

/** Number of segments; the empty path has none. */
export function segmentCount(path: Path): number {
  if (path.length === 0) return 0;
  let count = 1;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) count++;
  return count;
}

/** Normalises a path read from the wire and enforces {@link MAX_PATH_SEGMENTS}. */
export function checkedPath(text: string, what = "path"): Path {
  const path = normalizePath(text);
  if (segmentCount(path) > MAX_PATH_SEGMENTS) {
    throw boundsError(`${what}: more than ${MAX_PATH_SEGMENTS} segments`);
  }
  return path;
}

/** Whether `prefix` is `path` itself, a leading run of its segments, or empty. */
export function hasPrefix(path: Path, prefix: Path): boolean {
  if (prefix.length === 0) return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f;
}

/** `path` without `prefix` and its separator, or `undefined` if `prefix` does not match. */
export function stripPrefix(path: Path, prefix: Path): Path | undefined {
  if (!hasPrefix(path, prefix)) return undefined;
  if (prefix.length === 0) return path;
  return path.slice(prefix.length + 1);
}

/** Joins normalised paths, skipping empty ones. */
export function joinPath(...parts: Path[]): Path {
  return parts.filter((p) => p.length > 0).join("/");
}
