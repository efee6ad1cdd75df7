/**
 * Reads whole moq-transport data streams with the codec's incremental decoders, the way the
 * session does (type, header, then object headers with their payloads), for tests.
 */
import { ok } from "assert";
import {
  decodeFetchHeader,
  decodeFetchObject,
  decodeObjectHeader,
  decodeSubgroupHeader,
  decodeUniStreamType,
  type FetchObjectHeader,
  type ObjectHeader,
  type SubgroupHeader,
} from "../../src/codec/ietf/data.ts";
import type { Draft } from "../../src/codec/ietf/draft.ts";

export interface ReadObject<H> {
  header: H;
  payload: Uint8Array;
}

function need<T>(
  d: { value: T; size: number } | undefined,
  what: string,
): { value: T; size: number } {
  ok(d, `${what}: the decoder wanted more bytes`);
  return d;
}

/** A whole subgroup stream: its header and every object until the bytes end. */
export function readSubgroupStream(
  bytes: Uint8Array,
  draft: Draft,
): { header: SubgroupHeader; objects: ReadObject<ObjectHeader>[] } {
  const t = need(decodeUniStreamType(bytes, 0, draft), "stream type");
  if (t.value.kind !== "subgroup") throw new Error(`a ${t.value.kind} stream, not a subgroup`);
  const flags = t.value.flags;
  const h = need(decodeSubgroupHeader(bytes, t.size, draft, flags), "subgroup header");
  let at = t.size + h.size;
  const objects: ReadObject<ObjectHeader>[] = [];
  let previous: number | undefined;
  while (at < bytes.length) {
    const o = need(
      decodeObjectHeader(bytes, at, draft, { extensions: flags.extensions, previous }),
      "object header",
    );
    at += o.size;
    ok(at + o.value.length <= bytes.length, "payload runs past the stream");
    objects.push({ header: o.value, payload: bytes.slice(at, at + o.value.length) });
    at += o.value.length;
    previous = o.value.objectId;
  }
  return { header: h.value, objects };
}

/** A whole fetch stream: its request id and every object until the bytes end. */
export function readFetchStream(
  bytes: Uint8Array,
  draft: Draft,
  descending = false,
): { requestId: bigint; objects: ReadObject<FetchObjectHeader>[] } {
  const t = need(decodeUniStreamType(bytes, 0, draft), "stream type");
  if (t.value.kind !== "fetch") throw new Error(`a ${t.value.kind} stream, not a fetch`);
  const h = need(decodeFetchHeader(bytes, t.size, draft), "fetch header");
  let at = t.size + h.size;
  const objects: ReadObject<FetchObjectHeader>[] = [];
  let previous: FetchObjectHeader | undefined;
  while (at < bytes.length) {
    const o = need(decodeFetchObject(bytes, at, draft, previous, descending), "fetch object");
    at += o.size;
    ok(at + o.value.length <= bytes.length, "payload runs past the stream");
    objects.push({ header: o.value, payload: bytes.slice(at, at + o.value.length) });
    at += o.value.length;
    previous = o.value;
  }
  return { requestId: h.value.requestId, objects };
}
