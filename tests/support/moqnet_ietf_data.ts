/**
 * `@moq/net` 0.3.4's own moq-transport data-plane classes (`ietf/object.js`: `Group`, `Frame`,
 * `FetchFrame`; `ietf/fetch.js`: `FetchHeader`), driven over in-memory streams so a test can
 * take the bytes they write and feed them bytes to read.
 *
 * The package exports no `ietf/` subpath, so the modules are imported from Deno's npm cache,
 * which the static import below fills.
 */
import "@moq/net";
import { type Draft, draftCode } from "../../src/codec/ietf/draft.ts";

const VERSION = "0.3.4";

function denoDir(): string {
  const explicit = Deno.env.get("DENO_DIR");
  if (explicit) return explicit;
  const cache = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`;
  return `${cache}/deno`;
}

const root = `file://${denoDir()}/npm/registry.npmjs.org/@moq/net/${VERSION}/`;

/** The flags `Group` takes and reports. */
export interface JsGroupFlags {
  hasExtensions: boolean;
  hasSubgroup: boolean;
  hasSubgroupObject: boolean;
  hasEnd: boolean;
  hasPriority: boolean;
  firstObject: boolean;
}

export interface JsGroup {
  flags: JsGroupFlags;
  trackAlias: bigint;
  groupId: number;
  subGroupId: number;
  publisherPriority: number;
  encode(w: JsWriter, version: number): Promise<void>;
}

export interface JsTimestamp {
  value: number;
  scale: number;
}

export interface JsFrame {
  payload?: Uint8Array;
  timestamp?: JsTimestamp;
  encode(
    w: JsWriter,
    flags: JsGroupFlags,
    timescale: number | undefined,
    version: number,
    idDelta?: number,
  ): Promise<void>;
}

export interface JsFetchFrame {
  encode(
    w: JsWriter,
    position: { group: number; object: number; first: boolean },
    timescale: number | undefined,
    version: number,
  ): Promise<void>;
}

export interface JsWriter {
  u53(v: number): Promise<void>;
  close(): void;
  closed: Promise<void>;
}

export type JsReader = { done(): Promise<boolean> };

export interface MoqNetIetf {
  Group: {
    new (o: Omit<JsGroup, "encode">): JsGroup;
    decode(r: JsReader, version: number): Promise<JsGroup>;
  };
  Frame: {
    new (o: { payload?: Uint8Array; timestamp?: JsTimestamp }): JsFrame;
    decode(
      r: JsReader,
      flags: JsGroupFlags,
      timescale: number | undefined,
      version: number,
    ): Promise<JsFrame>;
  };
  FetchFrame: new (o: { payload: Uint8Array; timestamp?: JsTimestamp }) => JsFetchFrame;
  FetchHeader: {
    type: number;
    new (o: { requestId: bigint }): { encode(w: JsWriter, version: number): Promise<void> };
  };
  Writer: new (stream: WritableStream<Uint8Array>, version: number) => JsWriter;
  Reader: new (stream: undefined, buffer: Uint8Array, version: number) => JsReader;
  Timestamp: new (value: number, scale: number) => JsTimestamp;
}

let loaded: Promise<MoqNetIetf> | undefined;

/** The package's classes (imported once). */
export function moqNetIetf(): Promise<MoqNetIetf> {
  loaded ??= (async () => {
    const [object, fetch, stream, time] = await Promise.all([
      import(`${root}ietf/object.js`),
      import(`${root}ietf/fetch.js`),
      import(`${root}stream.js`),
      import(`${root}time.js`),
    ]);
    return {
      Group: object.Group,
      Frame: object.Frame,
      FetchFrame: object.FetchFrame,
      FetchHeader: fetch.FetchHeader,
      Writer: stream.Writer,
      Reader: stream.Reader,
      Timestamp: time.Timestamp,
    };
  })();
  return loaded;
}

/** `@moq/net`'s version number for a draft. */
export function jsVersion(draft: Draft): number {
  return draftCode(draft);
}

/** The bytes `write` puts on a `@moq/net` Writer of `draft`. */
export async function jsWrite(
  draft: Draft,
  write: (w: JsWriter, m: MoqNetIetf) => Promise<void>,
): Promise<Uint8Array<ArrayBuffer>> {
  const m = await moqNetIetf();
  const chunks: Uint8Array[] = [];
  const w = new m.Writer(
    new WritableStream<Uint8Array>({
      // The writer reuses a scratch buffer for varints: copy every chunk.
      write: (chunk) => void chunks.push(new Uint8Array(chunk)),
    }),
    jsVersion(draft),
  );
  await write(w, m);
  w.close();
  await w.closed;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A `@moq/net` Reader of `draft` over `bytes` (then end of stream). */
export async function jsReader(draft: Draft, bytes: Uint8Array): Promise<JsReader> {
  const m = await moqNetIetf();
  return new m.Reader(undefined, bytes, jsVersion(draft));
}
