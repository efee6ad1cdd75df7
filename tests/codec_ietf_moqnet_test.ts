/**
 * Interop with the client our tests use, `@moq/net` 0.3.4: its IETF message classes encode each
 * message per draft; our decoder must read those bytes to the expected shape and our encoder must
 * produce the same bytes (or, where only the order of parameters differs, bytes the JS decoder
 * reads back). Its ietf module is not in the package's exports, so it is loaded by file URL next
 * to the resolved package entry point.
 */
import "@moq/net";
import { deepEqual, equal, ok } from "assert";
import * as ietf from "../src/codec/ietf/mod.ts";
import type { ControlMessage, Draft } from "../src/codec/ietf/mod.ts";
import { concat, toHex } from "./support/hex.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
const base = import.meta.resolve("@moq/net");
const J: Any = await import(new URL("./ietf/index.js", base).href);
const S: Any = await import(new URL("./stream.js", base).href);
const F: Any = await import(new URL("./ietf/filter.js", base).href);

const code = (d: Draft) => ietf.draftCode(d);
const utf8 = (s: string) => new TextEncoder().encode(s);

/** What a JS message writes after its type: `Length (16)`, body. */
async function jsBytes(msg: Any, draft: Draft): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const w = new S.Writer(
    new WritableStream({
      write(c: Uint8Array) {
        chunks.push(c.slice());
      },
    }),
    code(draft),
  );
  await msg.encode(w, code(draft));
  w.close();
  await w.closed;
  return concat(...chunks);
}

/** The JS class's decode of our bytes (after the type). */
function jsDecode(cls: Any, bytes: Uint8Array, draft: Draft): Promise<Any> {
  return cls.decode(new S.Reader(undefined, bytes, code(draft)), code(draft));
}

interface Case {
  name: string;
  drafts: readonly Draft[];
  js: (d: Draft) => Any;
  ours: (d: Draft) => ControlMessage;
  options?: (d: Draft) => ietf.CodecOptions | undefined;
  /** Drafts where JS writes parameters in insertion order (14/15), so only values compare. */
  unordered?: readonly Draft[];
}

const ALL = ietf.DRAFTS;
const from = (d: Draft) => ALL.filter((x) => x >= d);
const upTo = (d: Draft) => ALL.filter((x) => x <= d);
const js20 = { location: "length-prefixed" as const };

function setupOptions(vars: [bigint, bigint][], bytes: [bigint, string][]): Any {
  const p = new J.SetupOptions();
  for (const [id, v] of vars) p.setVarint(id, v);
  for (const [id, v] of bytes) p.setBytes(id, utf8(v));
  return p;
}

const cases: Case[] = [
  {
    name: "CLIENT_SETUP",
    drafts: upTo(16),
    // What `J:connection/connect.js:141-150` sends, less SOLICIT (whose id sorts after 7).
    js: () =>
      new J.ClientSetup({
        versions: [0xff0dad02, 0xff0dad01, code(14)],
        parameters: setupOptions([[2n, 42069n]], [[7n, "moq-lite-js"]]),
      }),
    ours: (d) => ({
      type: "client_setup",
      versions: d === 14 ? [0xff0dad02, 0xff0dad01, code(14)] : [],
      parameters: { maxRequestId: 42069n, implementation: "moq-lite-js", unknown: [] },
    }),
  },
  {
    name: "CLIENT_SETUP with SOLICIT",
    drafts: upTo(16),
    js: () =>
      new J.ClientSetup({
        versions: [code(14)],
        parameters: setupOptions([[2n, 42069n], [0x40b5an, 1n]], [[7n, "moq-lite-js"]]),
      }),
    ours: (d) => ({
      type: "client_setup",
      versions: d === 14 ? [code(14)] : [],
      parameters: {
        maxRequestId: 42069n,
        implementation: "moq-lite-js",
        unknown: [{ id: 0x40b5a, value: 1n }],
      },
    }),
    unordered: [14, 15],
  },
  {
    name: "SERVER_SETUP",
    drafts: upTo(16),
    js: (d) =>
      new J.ServerSetup({
        version: d === 14 ? code(14) : code(d),
        parameters: setupOptions([[2n, 42069n]], [[7n, "moq-lite-js"]]),
      }),
    ours: (d) => ({
      type: "server_setup",
      version: d === 14 ? code(14) : 0,
      parameters: { maxRequestId: 42069n, implementation: "moq-lite-js", unknown: [] },
    }),
  },
  {
    name: "SETUP",
    drafts: from(17),
    // `J:connection/handshake.js:18-27`: IMPLEMENTATION, SOLICIT, RELAY_HOPS.
    js: () => {
      const p = setupOptions([[0x40b5an, 1n]], [[7n, "moq-lite-js"]]);
      p.setBytes(0x40b55n, Uint8Array.of(0x85, 0x01));
      return new J.Setup({ parameters: p });
    },
    ours: () => ({
      type: "setup",
      parameters: {
        implementation: "moq-lite-js",
        unknown: [{ id: 0x40b55, value: Uint8Array.of(0x85, 0x01) }, { id: 0x40b5a, value: 1n }],
      },
    }),
  },
  {
    name: "SUBSCRIBE",
    drafts: ALL,
    js: (d) =>
      new J.Subscribe({
        requestId: 2n,
        trackNamespace: "live/room",
        trackName: "video",
        subscriberPriority: 7,
        filter: d === 20 ? { kind: "relative", groups: 1n } : { kind: "nextObject" },
      }),
    ours: (d) => ({
      type: "subscribe",
      requestId: 2n,
      namespace: ["live", "room"],
      track: "video",
      priority: 7,
      groupOrder: 2,
      forward: true,
      filter: d === 20 ? { type: "relative", groups: 1 } : { type: "next-object" },
      tokens: [],
    }),
    unordered: [15],
  },
  {
    name: "SUBSCRIBE with a fill, opting out of properties (20)",
    drafts: [20],
    js: () =>
      new J.Subscribe({
        requestId: 4n,
        trackNamespace: "a",
        trackName: "b",
        subscriberPriority: 0,
        filter: { kind: "nextObject" },
        fill: { filter: { kind: "relative", groups: 1n } },
        propertiesWanted: false,
      }),
    ours: () => ({
      type: "subscribe",
      requestId: 4n,
      namespace: ["a"],
      track: "b",
      priority: 0,
      groupOrder: 2,
      forward: true,
      filter: { type: "next-object" },
      tokens: [],
      fill: FILL,
      includeProperties: false,
    }),
    options: () => js20,
  },
  {
    name: "SUBSCRIBE_OK",
    drafts: ALL,
    js: (d) =>
      new J.SubscribeOk({
        requestId: 5n,
        trackAlias: 300n,
        properties: { groupOrder: 2, timescale: 1000 },
        ...(d === 20 ? { largest: { groupId: 427n, objectId: 3n } } : {}),
      }),
    ours: (d) => ({
      type: "subscribe_ok",
      requestId: d <= 16 ? 5n : 0n,
      trackAlias: 300n,
      expires: 0,
      ...(d <= 15 ? { groupOrder: 2 as const } : {}),
      ...(d === 20 ? { largest: { group: 427, object: 3 } } : {}),
      properties: d >= 17 ? { timescale: 1000, groupOrder: 2 } : {},
    }),
    options: (d) => d >= 17 ? js20 : undefined,
  },
  {
    name: "SUBSCRIBE_UPDATE / REQUEST_UPDATE",
    drafts: ALL,
    js: () => new J.SubscribeUpdate({ requestId: 6n }),
    ours: (d) => ({
      type: "request_update",
      requestId: 6n,
      existingRequestId: 0n,
      ...(d === 14
        ? { start: { group: 0, object: 0 }, endGroup: 0, priority: 128, forward: true }
        : {}),
    }),
  },
  {
    name: "UNSUBSCRIBE",
    drafts: upTo(16),
    js: () => new J.Unsubscribe({ requestId: 8n }),
    ours: () => ({ type: "unsubscribe", requestId: 8n }),
  },
  {
    name: "PUBLISH_DONE",
    drafts: ALL,
    js: () => new J.PublishDone({ requestId: 9n, statusCode: 2, reasonPhrase: "ended" }),
    ours: (d) => ({
      type: "publish_done",
      requestId: d <= 16 ? 9n : 0n,
      code: 2,
      streamCount: 0,
      reason: "ended",
    }),
  },
  {
    name: "REQUEST_OK",
    drafts: from(15),
    js: () => new J.RequestOk({ requestId: 10n }),
    ours: (d) => ({ type: "request_ok", requestId: d <= 16 ? 10n : 0n }),
  },
  {
    name: "REQUEST_ERROR",
    drafts: from(15),
    js: () =>
      new J.RequestError({
        requestId: 11n,
        errorCode: 0x10,
        reasonPhrase: "not found",
        retryInterval: 250n,
      }),
    ours: (d) => ({
      type: "request_error",
      requestId: d <= 16 ? 11n : 0n,
      code: 0x10,
      retryInterval: d >= 16 ? 250 : 0,
      reason: "not found",
    }),
  },
  ...([
    ["SUBSCRIBE_ERROR", "SubscribeError", "subscribe"],
    ["PUBLISH_NAMESPACE_ERROR", "PublishNamespaceError", "publish_namespace"],
    ["SUBSCRIBE_NAMESPACE_ERROR", "SubscribeNamespaceError", "subscribe_namespace"],
    ["PUBLISH_ERROR", "PublishError", "publish"],
  ] as const).map(([name, cls, of]): Case => ({
    name: `${name} (14)`,
    drafts: [14],
    js: () => new J[cls]({ requestId: 12n, errorCode: 4, reasonPhrase: "no" }),
    ours: () => ({
      type: "request_error",
      of,
      requestId: 12n,
      code: 4,
      retryInterval: 0,
      reason: "no",
    }),
  })),
  {
    name: "PUBLISH_NAMESPACE_OK (14)",
    drafts: [14],
    js: () => new J.PublishNamespaceOk({ requestId: 13n }),
    ours: () => ({ type: "request_ok", of: "publish_namespace", requestId: 13n }),
  },
  {
    name: "SUBSCRIBE_NAMESPACE_OK (14)",
    drafts: [14],
    js: () => new J.SubscribeNamespaceOk({ requestId: 13n }),
    ours: () => ({ type: "request_ok", of: "subscribe_namespace", requestId: 13n }),
  },
  {
    name: "PUBLISH_NAMESPACE",
    drafts: ALL,
    js: () => new J.PublishNamespace({ requestId: 14n, trackNamespace: "live/a\\/b" }),
    ours: () => ({
      type: "publish_namespace",
      requestId: 14n,
      namespace: ["live", "a/b"],
      tokens: [],
    }),
  },
  {
    name: "PUBLISH_NAMESPACE_DONE",
    drafts: upTo(16),
    js: (d) =>
      new J.PublishNamespaceDone(d === 16 ? { requestId: 14n } : { trackNamespace: "live" }),
    ours: (d) => ({
      type: "publish_namespace_done",
      requestId: d === 16 ? 14n : 0n,
      namespace: d === 16 ? [] : ["live"],
    }),
  },
  {
    name: "PUBLISH_NAMESPACE_CANCEL",
    drafts: upTo(16),
    js: (d) =>
      new J.PublishNamespaceCancel({
        ...(d === 16 ? { requestId: 14n } : { trackNamespace: "live" }),
        errorCode: 3,
        reasonPhrase: "bye",
      }),
    ours: (d) => ({
      type: "publish_namespace_cancel",
      requestId: d === 16 ? 14n : 0n,
      namespace: d === 16 ? [] : ["live"],
      code: 3,
      reason: "bye",
    }),
  },
  {
    name: "SUBSCRIBE_NAMESPACE",
    drafts: ALL,
    js: (d) =>
      d >= 18
        ? new J.SubscribeNamespace({ namespace: "live", requestId: 16n })
        : new J.SubscribeNamespaceLegacy({
          namespace: "live",
          requestId: 16n,
          subscribeOptions: 1,
        }),
    ours: () => ({
      type: "subscribe_namespace",
      requestId: 16n,
      prefix: ["live"],
      options: 1,
      tokens: [],
    }),
  },
  {
    name: "UNSUBSCRIBE_NAMESPACE",
    drafts: [14, 15],
    js: () => new J.UnsubscribeNamespace({ requestId: 16n }),
    ours: () => ({ type: "unsubscribe_namespace", requestId: 16n, prefix: [] }),
  },
  {
    name: "NAMESPACE",
    drafts: from(16),
    js: () => new J.SubscribeNamespaceEntry({ suffix: "room/1" }),
    ours: () => ({ type: "namespace", suffix: ["room", "1"] }),
  },
  {
    name: "NAMESPACE_DONE",
    drafts: from(16),
    js: () => new J.SubscribeNamespaceEntryDone({ suffix: "room/1" }),
    ours: () => ({ type: "namespace_done", suffix: ["room", "1"] }),
  },
  {
    name: "PUBLISH_BLOCKED",
    drafts: [17],
    js: () => new J.PublishBlocked({ suffix: "room", trackName: "audio" }),
    ours: () => ({ type: "publish_blocked", suffix: ["room"], track: "audio" }),
  },
  {
    name: "PUBLISH",
    drafts: ALL,
    js: () =>
      new J.Publish({
        requestId: 18n,
        trackNamespace: "live",
        trackName: "video",
        trackAlias: 7n,
        groupOrder: 2,
        contentExists: true,
        largest: { groupId: 200n, objectId: 1n },
        forward: true,
      }),
    ours: (d) => ({
      type: "publish",
      requestId: 18n,
      namespace: ["live"],
      track: "video",
      trackAlias: 7n,
      ...(d <= 15 ? { groupOrder: 2 as const } : {}),
      largest: { group: 200, object: 1 },
      forward: true,
      properties: d >= 17 ? { groupOrder: 2 } : {},
    }),
    options: (d) => d >= 17 ? js20 : undefined,
    unordered: [15],
  },
  {
    name: "TRACK_STATUS",
    drafts: ALL,
    js: () =>
      new J.TrackStatusRequest({ requestId: 20n, trackNamespace: "live", trackName: "video" }),
    ours: () => ({ type: "track_status", requestId: 20n, namespace: ["live"], track: "video" }),
  },
  {
    name: "GOAWAY",
    drafts: ALL,
    js: () => new J.GoAway({ newSessionUri: "https://next.example/", timeout: 3000n }),
    ours: (d) => ({
      type: "goaway",
      uri: "https://next.example/",
      ...(d >= 17 ? { timeout: 3000 } : {}),
    }),
  },
  {
    name: "MAX_REQUEST_ID",
    drafts: upTo(16),
    js: () => new J.MaxRequestId({ requestId: 42069n }),
    ours: () => ({ type: "max_request_id", requestId: 42069n }),
  },
  {
    name: "REQUESTS_BLOCKED",
    drafts: upTo(16),
    js: () => new J.RequestsBlocked({ requestId: 64n }),
    ours: () => ({ type: "requests_blocked", maximum: 64n }),
  },
];

/** The FILL value JS writes for `{filter: relative 1}` on 20 (a nested one-parameter block). */
let FILL = new Uint8Array();

Deno.test("@moq/net: FILL_PARAMETERS is a nested parameter block (J:filter.js encodeFill)", () => {
  FILL = F.encodeFill({ filter: { kind: "relative", groups: 1n } }, code(20));
  // Count 1, LOCATION_FILTER (0x21), then its length-prefixed value [1].
  equal(toHex(FILL), "01210101");
});

for (const c of cases) {
  Deno.test(`@moq/net ${c.name}: our decoder reads its bytes, our encoder writes them`, async () => {
    for (const draft of c.drafts) {
      const label = `${c.name} on draft ${draft}`;
      const jsMsg = c.js(draft);
      const type = Number(jsMsg.constructor.id);
      const js = concat(ietf.encodeDraftVarint(type, draft), await jsBytes(jsMsg, draft));
      const options = c.options?.(draft);
      const expected = c.ours(draft);
      const decoded = ietf.decodeMessage(js, 0, draft, options);
      ok(decoded, label);
      equal(decoded.size, js.length, label);
      deepEqual(decoded.value, expected, label);
      const ours = ietf.encodeMessage(expected, draft, options);
      if (!c.unordered?.includes(draft)) equal(toHex(ours), toHex(js), label);
      // Whatever the order, the JS decoder reads ours without complaint.
      const back = await jsDecode(
        jsMsg.constructor,
        ours.subarray(ietf.draftVarintSize(type, draft)),
        draft,
      );
      ok(back, label);
    }
  });
}

Deno.test("@moq/net: FILL from JS is a filter our codec reads", () => {
  const r = new ietf.IetfReader(FILL, 20);
  const map = ietf.readMessageParameters(r, [{ key: 0x21, kind: "bytes" }]);
  deepEqual(ietf.decodeFilterValue(map.get(0x21)![0] as Uint8Array, 20), {
    type: "relative",
    groups: 1,
  });
});
