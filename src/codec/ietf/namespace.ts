/**
 * Track Namespace tuples (`count (i)` then `count` strings) and how upstream maps them to
 * moq-lite broadcast paths (`moq-net` 0.3.18 `ietf/namespace.rs:5-50`, `@moq/net` 0.3.4
 * `ietf/namespace.js:3-27`, which agree): the fields joined with `/`, each field escaping `/` and
 * `\` with a backslash.
 *
 * Pure: bytes in, values out.
 *
 * @module
 */
import { boundsError } from "../error.ts";
import type { Decoded } from "../message.ts";
import type { Draft } from "./draft.ts";
import { IetfReader, IetfWriter } from "./wire.ts";

/** Most fields a namespace tuple may have, on encode and decode (`Path::MAX_PARTS`,
 * `R:namespace.rs:52-88`). */
export const MAX_NAMESPACE_FIELDS = 32;

/** Longest string field (namespace field, track name, reason): a control message body is at
 * most 65535 bytes, so nothing longer can arrive. */
export const MAX_STRING_SIZE = 0xffff;

/** Reads a tuple; more than {@link MAX_NAMESPACE_FIELDS} fields is refused before any is read. */
export function readNamespace(r: IetfReader, what = "namespace"): string[] {
  const count = r.varint(`${what} field count`);
  if (count > MAX_NAMESPACE_FIELDS) {
    throw boundsError(`${what}: ${count} fields exceeds the limit of ${MAX_NAMESPACE_FIELDS}`);
  }
  const fields: string[] = [];
  for (let i = 0; i < count; i++) fields.push(r.string(`${what} field`, MAX_STRING_SIZE));
  return fields;
}

/** Writes a tuple; more than {@link MAX_NAMESPACE_FIELDS} fields is a RangeError. */
export function writeNamespace(w: IetfWriter, tuple: readonly string[]): void {
  if (tuple.length > MAX_NAMESPACE_FIELDS) {
    throw new RangeError(`namespace of ${tuple.length} fields (at most ${MAX_NAMESPACE_FIELDS})`);
  }
  w.varint(tuple.length);
  for (const field of tuple) w.string(field);
}

/** The bytes of a tuple on `draft`. */
export function encodeNamespace(tuple: readonly string[], draft: Draft): Uint8Array {
  const w = new IetfWriter(draft);
  writeNamespace(w, tuple);
  return w.finish();
}

/**
 * A tuple at `offset`, or undefined when `buf` ends first (a bare tuple has no length, so this is
 * for tests and tools; messages read tuples from their framed bodies).
 */
export function decodeNamespace(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
): Decoded<string[]> | undefined {
  const r = new IetfReader(buf, draft, offset);
  try {
    return { value: readNamespace(r), size: r.offset - offset };
  } catch (e) {
    // A tuple cut short is "need more" here; everything else stands.
    if (e instanceof Error && e.message.startsWith("message too short")) return undefined;
    throw e;
  }
}

/** The broadcast path of a tuple: fields joined with `/`, `/` and `\` escaped with `\`. */
export function namespaceToPath(tuple: readonly string[]): string {
  return tuple.map((field) => field.replaceAll("\\", "\\\\").replaceAll("/", "\\/")).join("/");
}

/**
 * The tuple of a broadcast path: split on unescaped `/`; `\/` and `\\` unescape, any other `\x`
 * stays literally, a trailing `\` too (`R:namespace.rs:5-30`). The empty path is the empty tuple.
 */
export function pathToNamespace(path: string): string[] {
  if (path === "") return [];
  const fields: string[] = [];
  let field = "";
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === "/") {
      fields.push(field);
      field = "";
    } else if (ch === "\\") {
      const next = path[i + 1];
      if (next === "/" || next === "\\") {
        field += next;
        i++;
      } else {
        field += "\\";
      }
    } else {
      field += ch;
    }
  }
  fields.push(field);
  return fields;
}
