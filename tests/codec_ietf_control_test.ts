/**
 * The moq-transport control codec, drafts 14 to 20: byte vectors from upstream's Rust tests
 * (`moq-net` 0.3.18, file:line in each test name), round trips of every message on every draft
 * that has it, and bad input.
 */
import { deepEqual, equal, ok, throws } from "assert";
import { ProtocolError } from "../src/codec/error.ts";
import * as ietf from "../src/codec/ietf/mod.ts";
import type { ControlMessage, Draft } from "../src/codec/ietf/mod.ts";
import { controlSamples } from "./support/ietf_control_table.ts";
import { concat, hex, toHex } from "./support/hex.ts";

const DRAFTS = ietf.DRAFTS;
const from = (oldest: Draft) => DRAFTS.filter((d) => d >= oldest);
const upTo = (newest: Draft) => DRAFTS.filter((d) => d <= newest);
const text = (s: string) => new TextEncoder().encode(s);

/** A control message body framed as `Type (i)`, `Length (16)`, body. */
function framed(type: number, body: Uint8Array, draft: Draft): Uint8Array {
  return concat(
    ietf.encodeDraftVarint(type, draft),
    Uint8Array.of(body.length >> 8, body.length & 0xff),
    body,
  );
}

function decodeBody(type: number, body: Uint8Array, draft: Draft, options?: ietf.CodecOptions) {
  const buf = framed(type, body, draft);
  const d = ietf.decodeMessage(buf, 0, draft, options);
  ok(d, "decoded");
  equal(d.size, buf.length);
  return d.value;
}

const isProtocolError = (e: unknown) => e instanceof ProtocolError;

// ---- Namespaces -------------------------------------------------------------------------------

Deno.test("namespace: tuple encodings and the path mapping (R:namespace.rs:119-180)", () => {
  equal(toHex(ietf.encodeNamespace([], 17)), "00");
  equal(ietf.encodeNamespace(ietf.pathToNamespace("test"), 17)[0], 0x01);
  equal(ietf.encodeNamespace(ietf.pathToNamespace("a/b/c"), 17)[0], 0x03);
  deepEqual(ietf.pathToNamespace("conference/room/123"), ["conference", "room", "123"]);
  deepEqual(ietf.pathToNamespace(""), []);
  for (
    const [tuple, path] of [
      [["foo/bar", "baz"], "foo\\/bar/baz"],
      [["foo\\bar/baz", "qux"], "foo\\\\bar\\/baz/qux"],
      [["/foo", "bar/", "/baz/"], "\\/foo/bar\\//\\/baz\\/"],
    ] as const
  ) {
    equal(ietf.namespaceToPath(tuple as unknown as string[]), path);
    deepEqual(ietf.pathToNamespace(path), tuple);
  }
  // Another escape is kept literally, as is a trailing backslash (R:namespace.rs:16-24).
  deepEqual(ietf.pathToNamespace("a\\xb\\"), ["a\\xb\\"]);
  const bytes = ietf.encodeNamespace(["live", "room"], 18);
  equal(toHex(bytes), "02046c69766504726f6f6d");
  deepEqual(ietf.decodeNamespace(bytes, 0, 18), { value: ["live", "room"], size: bytes.length });
  equal(ietf.decodeNamespace(bytes.subarray(0, 5), 0, 18), undefined);
});

Deno.test("namespace: more than 32 fields is refused on encode and decode", () => {
  const fields = Array.from({ length: 33 }, () => "a");
  throws(() => ietf.encodeNamespace(fields, 16), RangeError);
  ok(ietf.encodeNamespace(fields.slice(1), 16).length > 0);
  // The count is refused before any field is read: a SUBSCRIBE_NAMESPACE with 33 and no fields.
  for (const draft of DRAFTS) {
    const type = ietf.hasRenumberedSubscribeNamespace(draft) ? 0x50 : 0x11;
    throws(() => decodeBody(type, hex("00 21"), draft), isProtocolError);
  }
});

// ---- Parameters -------------------------------------------------------------------------------

function params(draft: Draft, entries: ietf.ParamEntry[], options?: ietf.CodecOptions): string {
  const w = new ietf.IetfWriter(draft);
  ietf.writeMessageParameters(w, entries, options);
  return toHex(w.finish());
}

function readParams(
  draft: Draft,
  bytes: Uint8Array,
  specs: ietf.ParamSpec[],
  options?: ietf.CodecOptions,
) {
  const r = new ietf.IetfReader(bytes, draft);
  const map = ietf.readMessageParameters(r, specs, options);
  r.finish("parameters");
  return map;
}

Deno.test("parameters: u8 is a varint on 16 and a raw byte on 17+ (R:parameters.rs test_param_u8_wire_vectors)", () => {
  const e: ietf.ParamEntry = { key: 0x20, kind: "u8", value: 255 };
  equal(params(16, [e]), "012040ff");
  for (const d of [17, 18, 19] as const) equal(params(d, [e]), "0120ff");
  for (const [d, h] of [[16, "012040ff"], [17, "0120ff"], [19, "0120ff"]] as const) {
    deepEqual(readParams(d, hex(h), [{ key: 0x20, kind: "u8" }]).get(0x20), [255]);
  }
});

Deno.test("parameters: LARGEST_OBJECT {255, 128} (R:parameters.rs test_param_location_wire_vectors)", () => {
  const e: ietf.ParamEntry = { key: 0x09, kind: "location", value: { group: 255, object: 128 } };
  equal(params(16, [e]), "01090440ff4080");
  for (const d of [17, 18, 19, 20] as const) {
    equal(params(d, [e]), "010980ff8080");
    // @moq/net's form: a length, then the two varints (J:parameters.js:427-438).
    equal(params(d, [e], { location: "length-prefixed" }), "01090480ff8080");
  }
});

Deno.test("parameters: unknown keys are skipped on 14/15 and refused on 16+ (R:parameters.rs:1060-1100)", () => {
  const spec: ietf.ParamSpec[] = [{ key: 0x20, kind: "u8" }];
  for (const draft of [14, 15] as const) {
    for (const h of ["023e012007", "023d012a2007", "033e013e022007", "033d012a3d012b2007"]) {
      deepEqual(readParams(draft, hex(h), spec).get(0x20), [7]);
    }
  }
  // One FORWARD (0x10) where only 0x20 is known.
  throws(() => readParams(16, hex("011001"), spec), isProtocolError);
  throws(() => readParams(17, hex("011001"), spec), isProtocolError);
  deepEqual(readParams(15, hex("011001"), spec).size, 0);
});

Deno.test("parameters: a repeat is refused unless the key may repeat (AUTHORIZATION_TOKEN)", () => {
  const spec: ietf.ParamSpec[] = [{ key: 0x20, kind: "u8" }, {
    key: 0x03,
    kind: "bytes",
    repeat: true,
  }];
  throws(() => readParams(15, hex("02 20 64 20 40c8"), spec), isProtocolError);
  throws(() => readParams(16, hex("02 20 40c8 00 40c8"), spec), isProtocolError);
  throws(() => readParams(18, hex("02 20 64 00 c8"), spec), isProtocolError);
  deepEqual(readParams(15, hex("02 03 01aa 03 01bb"), spec).get(3), [hex("aa"), hex("bb")]);
  deepEqual(readParams(20, hex("02 03 01aa 00 01bb"), spec).get(3), [hex("aa"), hex("bb")]);
});

Deno.test("parameters: more than 64 is refused before reading them", () => {
  for (const draft of DRAFTS) {
    throws(() => readParams(draft, hex("41 00"), []), isProtocolError); // count 65 as a QUIC varint
    throws(() => readParams(draft, Uint8Array.of(65), []), isProtocolError); // 65 in one byte on 17+
  }
  const many = Array.from(
    { length: 65 },
    (_, i) => ({ key: 2 * i, kind: "varint" as const, value: 0 }),
  );
  throws(() => params(17, many), RangeError);
});

Deno.test("parameters: the filter encodings (R:filter.rs:470-560, R:version.rs:156-182)", () => {
  const value = (f: ietf.Filter, d: Draft) => toHex(ietf.encodeFilterValue(f, d));
  equal(value({ type: "next-object" }, 20), "0000");
  equal(value({ type: "relative", groups: 0 }, 20), "00");
  equal(value({ type: "relative", groups: 1 }, 20), "01");
  equal(value({ type: "relative", groups: 128 }, 20), "8080");
  equal(value({ type: "absolute-start", start: { group: 7, object: 3 } }, 20), "0703");
  equal(
    value({ type: "absolute-range", start: { group: 7, object: 3 }, endGroup: 9 }, 20),
    "070302",
  );
  equal(value({ type: "absolute-start", start: { group: 0, object: 0 } }, 20), "");
  // 14-19: a tag; inside the parameter on 15-19, with the draft's varints.
  equal(value({ type: "next-object" }, 19), "02");
  equal(value({ type: "next-group" }, 16), "01");
  equal(value({ type: "unfiltered" }, 15), "030000");
  equal(value({ type: "absolute-start", start: { group: 300, object: 0 } }, 16), "03412c00");
  equal(value({ type: "absolute-start", start: { group: 300, object: 0 } }, 17), "03812c00");
  throws(() => value({ type: "relative", groups: 2 }, 19), RangeError);
  throws(
    () =>
      value(
        { type: "absolute-range", start: { group: 1, object: 0 }, endGroup: 2, endObject: 1 },
        19,
      ),
    RangeError,
  );
  throws(
    () => value({ type: "absolute-range", start: { group: 5, object: 0 }, endGroup: 2 }, 20),
    RangeError,
  );
  deepEqual(ietf.decodeFilterValue(hex("0000"), 20), { type: "next-object" });
  deepEqual(ietf.decodeFilterValue(hex(""), 20), { type: "unfiltered" });
  deepEqual(ietf.decodeFilterValue(hex("01"), 18), { type: "next-group" });
  throws(() => ietf.decodeFilterValue(hex("0102030405"), 20), isProtocolError);
  throws(() => ietf.decodeFilterValue(hex("0200"), 19), isProtocolError); // trailing byte
  throws(() => ietf.decodeFilterValue(hex("05"), 19), isProtocolError); // unknown tag
});

// ---- Setup ------------------------------------------------------------------------------------

Deno.test("setup: CLIENT_SETUP / SERVER_SETUP (14-16) and SETUP (17+) framing", () => {
  const parameters: ietf.SetupParameters = { implementation: "moq-lite-rs", unknown: [] };
  // Draft 14: raw 0x20, u16 length, versions, count, then options.
  const c14 = ietf.encodeClientSetup(
    { type: "client_setup", versions: [ietf.draftCode(14)], parameters },
    14,
  );
  equal(toHex(c14), "20001701c0000000ff00000e01070b6d6f712d6c6974652d7273");
  const s16 = ietf.encodeServerSetup({ type: "server_setup", version: 0, parameters }, 16);
  equal(toHex(s16), "21000e01070b6d6f712d6c6974652d7273");
  // 17+: 0x2F00 as a leading-ones varint (af 00), no count.
  const s17 = ietf.encodeSetup({ type: "setup", parameters }, 17);
  equal(toHex(s17), "af00000d070b6d6f712d6c6974652d7273");
  deepEqual(ietf.decodeSetup(s17, 0, 17)?.value, { type: "setup", parameters });
  deepEqual(ietf.decodeClientSetup(c14, 0, 14)?.size, c14.length);
  // Incremental: every strict prefix is "need more".
  for (let n = 0; n < s17.length; n++) {
    equal(ietf.decodeSetup(s17.subarray(0, n), 0, 17), undefined);
  }
  for (let n = 0; n < c14.length; n++) {
    equal(ietf.decodeClientSetup(c14.subarray(0, n), 0, 14), undefined);
  }
  throws(() => ietf.decodeServerSetup(c14, 0, 14), isProtocolError); // wrong type byte
  throws(() => ietf.encodeSetup({ type: "setup", parameters }, 16), RangeError);
  throws(
    () => ietf.encodeClientSetup({ type: "client_setup", versions: [], parameters }, 17),
    RangeError,
  );
  throws(
    () => ietf.encodeSetup({ type: "setup", parameters: { maxRequestId: 1n, unknown: [] } }, 17),
    RangeError,
  );
});

Deno.test("setup: options: repeats of defined ones are refused, unknown ones may repeat (R:parameters.rs:660-712)", () => {
  const body = (d: Draft, h: string) => {
    const r = new ietf.IetfReader(hex(h), d);
    const p = ietf.readSetupParameters(r);
    r.finish("setup");
    return p;
  };
  // PATH twice: 16 (count, delta ids), 15 (count, absolute), 17 (no count).
  throws(() => body(16, "02 01 01 61 00 01 62"), isProtocolError);
  throws(() => body(15, "02 01 01 61 01 01 62"), isProtocolError);
  throws(() => body(17, "01 01 61 00 01 62"), isProtocolError);
  // MAX_REQUEST_ID is defined through 16 only; on 17 it is an unknown option and may repeat.
  throws(() => body(16, "02 02 01 00 02"), isProtocolError);
  deepEqual(body(17, "02 01 00 02").unknown, [{ id: 2, value: 1n }, { id: 2, value: 2n }]);
  // An unknown option repeated with an invalid value still fails (R:parameters.rs:700-712).
  for (const d of from(17)) throws(() => body(d, "21 01 61 00 02 62"), isProtocolError);
  // Non-UTF-8 PATH.
  throws(() => body(17, "01 01 ff"), isProtocolError);
  // 65 options.
  throws(() => body(17, "00 00".repeat(65)), isProtocolError);
  throws(() => body(16, "41 00"), isProtocolError);
});

Deno.test("setup: locationStyleFor reads the peer's IMPLEMENTATION", () => {
  equal(ietf.locationStyleFor("moq-lite-js"), "length-prefixed");
  equal(ietf.locationStyleFor("moq-lite-rs"), "bare");
  equal(ietf.locationStyleFor(undefined), "bare");
});

// ---- Rust byte vectors ------------------------------------------------------------------------

Deno.test("SUBSCRIBE_OK LARGEST_OBJECT on 15/16 (R:subscribe.rs:715-725)", () => {
  for (const draft of [15, 16] as const) {
    const m = decodeBody(0x04, hex("04 04 01 09 02 05 00"), draft) as ietf.SubscribeOk;
    equal(m.requestId, 4n);
    equal(m.trackAlias, 4n);
    deepEqual(m.largest, { group: 5, object: 0 });
  }
});

Deno.test("SUBSCRIBE_OK LARGEST_OBJECT is bare on 17-20 in Rust (R:subscribe.rs:731-758)", () => {
  for (const draft of from(17)) {
    const m = decodeBody(0x04, hex("04 01 09 05 00"), draft) as ietf.SubscribeOk;
    equal(m.requestId, 0n);
    equal(m.trackAlias, 4n);
    deepEqual(m.largest, { group: 5, object: 0 });
  }
  const m = decodeBody(0x04, hex("04 01 09 81ab 00"), 18) as ietf.SubscribeOk;
  deepEqual(m.largest, { group: 427, object: 0 });
});

Deno.test("LARGEST_OBJECT: the two styles on 17-20 misread each other (WIRE.md 5.2)", () => {
  const msg: ietf.SubscribeOk = {
    type: "subscribe_ok",
    requestId: 0n,
    trackAlias: 4n,
    expires: 0,
    largest: { group: 5, object: 2 },
    properties: {},
  };
  for (const draft of from(17)) {
    const rust = ietf.encodeMessage(msg, draft);
    const js = ietf.encodeMessage(msg, draft, { location: "length-prefixed" });
    equal(toHex(rust), "0400050401090502");
    equal(toHex(js), "040006040109020502");
    deepEqual(ietf.decodeMessage(rust, 0, draft)?.value, msg);
    deepEqual(ietf.decodeMessage(js, 0, draft, { location: "length-prefixed" })?.value, msg);
    // Each read in the other's style fails rather than yielding a wrong location.
    throws(
      () => ietf.decodeMessage(rust, 0, draft, { location: "length-prefixed" }),
      isProtocolError,
    );
    throws(() => ietf.decodeMessage(js, 0, draft), isProtocolError);
  }
  // 14-16 have one form whatever the option says.
  for (const draft of upTo(16)) {
    equal(
      toHex(ietf.encodeMessage({ ...msg, requestId: 1n }, draft)),
      toHex(ietf.encodeMessage({ ...msg, requestId: 1n }, draft, { location: "length-prefixed" })),
    );
  }
});

Deno.test("FETCH_OK on 18 carries no group order (R:fetch.rs:853-868)", () => {
  const bytes = ietf.encodeMessage({
    type: "fetch_ok",
    requestId: 0n,
    groupOrder: 2,
    endOfTrack: false,
    end: { group: 5, object: 3 },
    properties: {},
  }, 18);
  equal(toHex(bytes), "18000400050300");
});

Deno.test("FETCH on 20 reads every parameter (R:fetch.rs:871-925)", () => {
  const head = hex("01 01 04 6c697665 05 766964656f");
  const body = concat(
    head,
    hex("07 03 03 03 00 aa 07 64 16 40"),
    hex("01 04 80 80 00 02"),
    hex("01 01 04 02 00 05 0f 00"),
  );
  const m = decodeBody(0x16, body, 20) as ietf.Fetch;
  equal(m.requestId, 1n);
  equal(m.priority, 64);
  equal(m.groupOrder, 1);
  equal(m.rangeFilters, true);
  equal(m.fillTimeout, 100);
  deepEqual(m.tokens, [hex("03 00 aa")]);
  deepEqual(m.range, {
    type: "filtered",
    namespace: ["live"],
    track: "video",
    filter: { type: "absolute-range", start: { group: 128, object: 0 }, endGroup: 130 },
  });
});

Deno.test("SUBSCRIBE_NAMESPACE: 0x50 on 18 drops Subscribe Options (R:subscribe_namespace.rs:480-500)", () => {
  const m: ietf.SubscribeNamespace = {
    type: "subscribe_namespace",
    requestId: 0n,
    prefix: [],
    options: 1,
    tokens: [],
  };
  equal(toHex(ietf.encodeMessage(m, 18)), "500003000000");
  equal(toHex(ietf.encodeMessage(m, 17)), "110005000000" + "0100");
  equal(ietf.controlType(m, 16), 0x11);
});

Deno.test("SUBSCRIBE refuses parameters before their draft (R:subscribe.rs:1437-1455)", () => {
  const head = hex("01 01 04 74657374 05 766964656f");
  for (const [draft, p] of [[16, "010600"], [18, "012500"], [19, "013500"]] as const) {
    throws(() => decodeBody(0x03, concat(head, hex(p)), draft), isProtocolError);
  }
  // ... and reads them once they exist.
  ok(decodeBody(0x03, concat(head, hex("010600")), 18));
  equal((decodeBody(0x03, concat(head, hex("01250100")), 19) as ietf.Subscribe).rangeFilters, true);
  equal(
    (decodeBody(0x03, concat(head, hex("013500")), 20) as ietf.Subscribe).includeProperties,
    false,
  );
  // RENDEZVOUS_TIMEOUT (0x04): 17+ parse it, 16 refuses it (R:subscribe.rs:605-622).
  const head17 = hex("01 00 01 04 74657374 05 766964656f"); // with the delta
  ok(decodeBody(0x03, concat(head17, hex("01 04 00")), 17));
  ok(decodeBody(0x03, concat(head, hex("01 04 00")), 18));
  throws(() => decodeBody(0x03, concat(head, hex("01 04 00")), 16), isProtocolError);
});

Deno.test("SUBSCRIBE on 17 writes a zero Required Request ID Delta and reads any", () => {
  const m: ietf.Subscribe = {
    type: "subscribe",
    requestId: 1n,
    namespace: ["test"],
    track: "video",
    priority: 128,
    groupOrder: 2,
    forward: true,
    filter: { type: "next-object" },
    tokens: [],
  };
  const b17 = ietf.encodeMessage(m, 17);
  const b18 = ietf.encodeMessage(m, 18);
  equal(toHex(b17.subarray(3, 5)), "0100");
  equal(b17.length, b18.length + 1);
  const body = b17.slice(3);
  body[1] = 5;
  deepEqual(decodeBody(0x03, body, 17), m);
});

Deno.test("GOAWAY: URI limit, timeout from 17, draft 18's Request ID read but not written", () => {
  const uri = "x".repeat(ietf.MAX_GOAWAY_URI_SIZE);
  ok(ietf.encodeMessage({ type: "goaway", uri }, 16));
  throws(() => ietf.encodeMessage({ type: "goaway", uri: uri + "x" }, 16), RangeError);
  const long = concat(hex("a001"), new Uint8Array(8193));
  throws(() => decodeBody(0x10, long, 15), isProtocolError);
  equal(toHex(ietf.encodeMessage({ type: "goaway", uri: "", timeout: 0 }, 18)), "1000020000");
  deepEqual(decodeBody(0x10, hex("00 00 00"), 18), { type: "goaway", uri: "", timeout: 0 });
  deepEqual(decodeBody(0x10, hex("00 00"), 18), { type: "goaway", uri: "", timeout: 0 });
  throws(() => decodeBody(0x10, hex("00 00 00"), 19), isProtocolError); // trailing on 19
  deepEqual(decodeBody(0x10, hex("00"), 16), { type: "goaway", uri: "" });
});

Deno.test("draft 14 replies: one message type per request", () => {
  const types: [ietf.RequestKind, number][] = [
    ["subscribe", 0x05],
    ["publish_namespace", 0x08],
    ["track_status", 0x0f],
    ["subscribe_namespace", 0x13],
    ["fetch", 0x19],
    ["publish", 0x1f],
  ];
  for (const [of, type] of types) {
    const m: ietf.RequestError = {
      type: "request_error",
      of,
      requestId: 1n,
      code: 4,
      retryInterval: 0,
      reason: "",
    };
    const bytes = ietf.encodeMessage(m, 14);
    equal(bytes[0], type);
    equal(toHex(bytes.subarray(1)), "0003010400");
    deepEqual(ietf.decodeMessage(bytes, 0, 14)?.value, m);
  }
  equal(
    ietf.encodeMessage({ type: "request_ok", of: "subscribe_namespace", requestId: 3n }, 14)[0],
    0x12,
  );
  throws(
    () => ietf.encodeMessage({ type: "request_ok", of: "track_status", requestId: 3n }, 14),
    RangeError,
  );
  throws(
    () =>
      ietf.encodeMessage({
        type: "request_error",
        requestId: 3n,
        code: 0,
        retryInterval: 0,
        reason: "",
      }, 14),
    RangeError,
  );
  // 15 shares REQUEST_ERROR (no retry interval), 16 adds it, 17 drops the Request ID.
  const e = {
    type: "request_error" as const,
    requestId: 1n,
    code: 0x10,
    retryInterval: 5,
    reason: "",
  };
  equal(toHex(ietf.encodeMessage(e, 15)), "0500030110" + "00");
  equal(toHex(ietf.encodeMessage(e, 16)), "050004011005" + "00");
  equal(toHex(ietf.encodeMessage(e, 17)), "0500031005" + "00");
});

// ---- Round trips ------------------------------------------------------------------------------

Deno.test("round trip: every message on every draft that has it", () => {
  let count = 0;
  for (const draft of DRAFTS) {
    for (const msg of controlSamples(draft)) {
      const bytes = ietf.encodeMessage(msg, draft);
      const d = ietf.decodeMessage(concat(bytes, hex("ff")), 0, draft);
      ok(d, `${msg.type} on ${draft}`);
      equal(d.size, bytes.length, `${msg.type} on ${draft}`);
      deepEqual(d.value, msg, `${msg.type} on ${draft}`);
      equal(ietf.controlTypeName(ietf.peekControlType(bytes, 0, draft)!, draft), msg.type);
      // Every strict prefix is "need more".
      for (let n = 0; n < bytes.length; n++) {
        equal(ietf.decodeMessage(bytes.subarray(0, n), 0, draft), undefined);
      }
      // The JS peer's location style round-trips as well.
      const js = ietf.encodeMessage(msg, draft, { location: "length-prefixed" });
      deepEqual(ietf.decodeMessage(js, 0, draft, { location: "length-prefixed" })?.value, msg);
      count++;
    }
  }
  ok(count > 200, `${count}`);
});

Deno.test("round trip: a message a draft lacks is a RangeError to encode, unknown to decode", () => {
  const cases: [ControlMessage, Draft[]][] = [
    [{ type: "unsubscribe", requestId: 1n }, from(17)],
    [{ type: "fetch_cancel", requestId: 1n }, from(17)],
    [{ type: "max_request_id", requestId: 1n }, from(17)],
    [{ type: "requests_blocked", maximum: 1n }, from(17)],
    [{ type: "publish_namespace_done", requestId: 1n, namespace: [] }, from(17)],
    [
      { type: "publish_namespace_cancel", requestId: 1n, namespace: [], code: 0, reason: "" },
      from(17),
    ],
    [{ type: "unsubscribe_namespace", requestId: 1n, prefix: [] }, from(16)],
    [{ type: "namespace", suffix: [] }, upTo(15)],
    [{ type: "namespace_done", suffix: [] }, upTo(15)],
    [{ type: "publish_blocked", suffix: [], track: "" }, DRAFTS.filter((d) => d !== 17)],
    [{ type: "setup", parameters: { unknown: [] } }, upTo(16)],
    [{ type: "client_setup", versions: [], parameters: { unknown: [] } }, from(17)],
    [{ type: "server_setup", version: 0, parameters: { unknown: [] } }, from(17)],
  ];
  for (const [msg, drafts] of cases) {
    for (const draft of drafts) {
      throws(() => ietf.encodeMessage(msg, draft), RangeError, `${msg.type} on ${draft}`);
    }
    // Encoded on a draft that has it, its type is unknown on those that do not.
    const home = DRAFTS.find((d) => !drafts.includes(d))!;
    const type = ietf.controlType(msg, home);
    for (const draft of drafts) {
      if (ietf.controlTypeName(type, draft) !== undefined) continue; // the number means another message there
      throws(
        () => decodeBody(type, new Uint8Array(), draft),
        isProtocolError,
        `${msg.type} on ${draft}`,
      );
    }
  }
  // FETCH: a Fetch Type through 19, a filter on 20.
  const fetch: ietf.Fetch = {
    type: "fetch",
    requestId: 1n,
    priority: 1,
    groupOrder: 0,
    range: { type: "filtered", namespace: [], track: "", filter: { type: "unfiltered" } },
    tokens: [],
  };
  throws(() => ietf.encodeMessage(fetch, 19), RangeError);
  throws(
    () =>
      ietf.encodeMessage(
        { ...fetch, range: { type: "relative-joining", joining: 0n, offset: 1 } },
        20,
      ),
    RangeError,
  );
});

// ---- Bad input --------------------------------------------------------------------------------

Deno.test("bad input: unknown type, trailing bytes, non-UTF-8, 7-byte varint on 17", () => {
  for (const draft of DRAFTS) {
    throws(() => ietf.decodeMessage(hex("3f 00 00"), 0, draft), isProtocolError);
    throws(() => ietf.decodeMessage(hex("01 00 00"), 0, draft), isProtocolError);
    // PUBLISH_DONE with a byte after its reason.
    const done = ietf.encodeMessage({
      type: "publish_done",
      requestId: 0n,
      code: 0,
      streamCount: 0,
      reason: "",
    }, draft);
    const body = concat(done.subarray(3), hex("00"));
    throws(() => decodeBody(0x0b, body, draft), isProtocolError);
    // A track name that is not UTF-8.
    const pub = ietf.encodeMessage({ type: "publish_blocked", suffix: [], track: "" }, 17);
    if (draft === 17) {
      throws(() => decodeBody(0x0f, concat(pub.subarray(3, 4), hex("01ff")), 17), isProtocolError);
    }
    throws(() => decodeBody(0x0e, hex("01 02 61ff"), draft), isProtocolError);
  }
  // 0xfc starts the 7-byte form: reserved on 17, a value from 18 on (GOAWAY's timeout).
  const goaway = hex("00 fc 00 00 00 00 00 05");
  throws(() => decodeBody(0x10, goaway, 17), isProtocolError);
  deepEqual(decodeBody(0x10, goaway, 18), { type: "goaway", uri: "", timeout: 5 });
  // A bool that is neither 0 nor 1 (draft-14 SUBSCRIBE_OK Content Exists).
  throws(() => decodeBody(0x04, hex("01 01 00 02 02 00"), 14), isProtocolError);
  // A group order byte above 2 (draft-14 inline).
  throws(() => decodeBody(0x04, hex("01 01 00 03 00 00"), 14), isProtocolError);
  // A declared length beyond the buffer is "need more", never a read past the end.
  equal(ietf.decodeMessage(hex("03 ff ff 00"), 0, 18), undefined);
});

// ---- Error registries -------------------------------------------------------------------------

Deno.test("errors: request error codes per draft (R:ietf/error.rs:128-140)", () => {
  equal(ietf.requestErrorCode("does-not-exist", 14, "subscribe"), 0x4);
  equal(ietf.requestErrorCode("does-not-exist", 15, "subscribe"), 0x10);
  equal(ietf.requestErrorCode("does-not-exist", 14, "publish"), 0x0);
  equal(ietf.requestErrorCode("uninterested", 14, "publish_namespace"), 0x4);
  equal(ietf.requestErrorCode("uninterested", 16, "publish"), 0x20);
  equal(ietf.requestErrorCode("malformed-track", 14, "fetch"), 0x9);
  equal(ietf.requestErrorCode("malformed-track", 17, "subscribe"), 0x12);
  equal(ietf.requestErrorCode("going-away", 16, "subscribe"), 0x0);
  equal(ietf.requestErrorCode("going-away", 17, "subscribe"), 0x6);
  equal(ietf.requestErrorCode("invalid-range", 14, "fetch"), 0x5);
  equal(ietf.requestErrorCode("invalid-range", 18, "fetch"), 0x11);
  equal(ietf.requestErrorCode("invalid-joining-request-id", 19, "fetch"), 0x32);
  equal(ietf.requestErrorCode("invalid-joining-request-id", 20, "fetch"), 0x0);
  equal(ietf.requestErrorCode("not-supported", 20, "track_status"), 0x3);
  // The 14/15 swap: 0x10 is MALFORMED_AUTH_TOKEN on 14, DOES_NOT_EXIST on 15.
  equal(ietf.requestErrorCondition(0x10, 14, "subscribe"), undefined);
  equal(ietf.requestErrorCondition(0x10, 15, "subscribe"), "does-not-exist");
  equal(ietf.requestErrorCondition(0x4, 14, "subscribe"), "does-not-exist");
  equal(ietf.requestErrorCondition(0x4, 15, "subscribe"), undefined);
});

Deno.test("errors: stream reset codes per draft (R:ietf/error.rs:13-26)", () => {
  equal(ietf.streamResetCode("cancelled", 14), 0x1);
  equal(ietf.streamResetCode("going-away", 17), 0x0);
  equal(ietf.streamResetCode("going-away", 18), 0x4);
  equal(ietf.streamResetCode("unknown-object-status", 15), 0x0);
  equal(ietf.streamResetCode("unknown-object-status", 16), 0x4);
  equal(ietf.streamResetCode("unknown-object-status", 18), 0x6);
  equal(ietf.streamResetCode("too-far-behind", 16), 0x0);
  equal(ietf.streamResetCode("too-far-behind", 17), 0x5);
  equal(ietf.streamResetCode("malformed-track", 15), 0x0);
  equal(ietf.streamResetCode("malformed-track", 16), 0x12);
  equal(ietf.streamResetCondition(0x4, 17), "unknown-object-status");
  equal(ietf.streamResetCondition(0x4, 18), "going-away");
  equal(ietf.streamResetCondition(0x4, 15), undefined);
  equal(ietf.streamResetCondition(0x0, 20), "internal");
  equal(ietf.IetfSessionCode.ProtocolViolation, 0x3);
  equal(ietf.IetfSessionCode.Version, 0x15);
});

Deno.test("setup options: text() of a SETUP sample is what the table says", () => {
  // Guards the shared sample table: its SETUP decodes with IMPLEMENTATION and PATH as text.
  const [setup] = controlSamples(18);
  const bytes = ietf.encodeMessage(setup!, 18);
  const d = ietf.decodeSetup(bytes, 0, 18);
  equal(d?.value.parameters.implementation, "moq-lite-rs");
  equal(d?.value.parameters.path, "/room?x=1");
  ok(toHex(bytes).includes(toHex(text("moq-lite-rs"))));
});
