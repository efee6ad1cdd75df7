/**
 * Reading `GET /fetch/<broadcast...>/<track>?group=<n>|latest` as upstream does: the last path
 * segment is the track, everything before it the broadcast (at least one segment, else 400);
 * `group` is a u64, `latest`, or absent (latest); anything else is 400.
 *
 * @module
 */
import { normalizePath } from "../codec/path.ts";

/** A group's sequence number, or the newest group of the track. */
export type WantedGroup = number | "latest";

export interface FetchRequest {
  /** The broadcast's path, relay-wide (what a session would dial). */
  readonly broadcast: string;
  readonly track: string;
  readonly group: WantedGroup;
}

const U64_MAX = 2n ** 64n - 1n;

/**
 * The request named by what follows `/fetch/` (still percent-encoded) and the query, or why it
 * is malformed.
 */
export function parseFetchRequest(
  encoded: string,
  params: URLSearchParams,
): FetchRequest | { malformed: string } {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return { malformed: "the path is not valid percent-encoding" };
  }
  const segments = decoded.split("/");
  const track = segments.pop() ?? "";
  if (segments.length === 0) {
    return { malformed: "the path names no track: /fetch/<broadcast>/<track>" };
  }
  const group = parseGroup(params);
  if (group === undefined) return { malformed: "group must be a group sequence number or latest" };
  return { broadcast: normalizePath(segments.join("/")), track, group };
}

/** `group` as upstream reads it (serde into u64 or "latest"; a repeated field is an error). */
function parseGroup(params: URLSearchParams): WantedGroup | undefined {
  const values = params.getAll("group");
  if (values.length === 0) return "latest";
  const value = values[0];
  if (values.length > 1 || value === undefined) return undefined;
  if (value === "latest") return "latest";
  // Rust's u64 parser takes an optional leading `+`.
  if (!/^\+?[0-9]+$/.test(value)) return undefined;
  const sequence = BigInt(value);
  if (sequence > U64_MAX) return undefined;
  // Sequences past 2^53 cannot be cached here (they are JavaScript numbers): such a group is
  // simply never found.
  return sequence > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(sequence);
}
