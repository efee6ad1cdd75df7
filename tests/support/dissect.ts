/**
 * A test-side dissector: splits a recorded stream into moq-lite messages with our codec, and
 * re-encodes every message, so a test can check that our bytes equal the recorded ones.
 */
import * as codec from "../../src/codec/lite/mod.ts";
import { Version } from "../../src/codec/lite/mod.ts";

/** One message found in a stream direction, with its bytes as recorded and as re-encoded. */
export interface Dissected {
  name: string;
  value: unknown;
  recorded: Uint8Array;
  reencoded: Uint8Array;
}

type Step = (
  buf: Uint8Array,
  at: number,
) => { name: string; value: unknown; size: number; reencoded: Uint8Array };

function sized<T>(
  name: string,
  decode: (buf: Uint8Array, at: number) => codec.Decoded<T> | undefined,
  encode: (v: T) => Uint8Array,
): Step {
  return (buf, at) => {
    const d = decode(buf, at);
    if (!d) throw new Error(`${name}: truncated at ${at}`);
    return { name, value: d.value, size: d.size, reencoded: encode(d.value) };
  };
}

function frame(version: Version): Step {
  return (buf, at) => {
    const h = codec.decodeFrameHeader(buf, version, at);
    if (!h) throw new Error(`frame header truncated at ${at}`);
    const end = at + h.size + h.value.size;
    if (end > buf.length) throw new Error(`frame payload truncated at ${at}`);
    const payload = buf.subarray(at + h.size, end);
    return {
      name: "FRAME",
      value: { ...h.value, payload: new TextDecoder().decode(payload) },
      size: end - at,
      reencoded: codec.encodeFrame(payload, version, h.value.timestampDelta),
    };
  };
}

/** Applies `first` once (if given) and then `rest` until the bytes run out. */
function run(buf: Uint8Array, start: number, steps: Step[], rest: Step | undefined): Dissected[] {
  const out: Dissected[] = [];
  let at = start;
  const queue = [...steps];
  while (at < buf.length) {
    const step = queue.shift() ?? rest;
    if (!step) throw new Error(`unexpected trailing bytes at ${at}`);
    const m = step(buf, at);
    out.push({
      name: m.name,
      value: m.value,
      recorded: buf.subarray(at, at + m.size),
      reencoded: m.reencoded,
    });
    at += m.size;
  }
  return out;
}

function typeByte(buf: Uint8Array, expected: string, kind: string): Dissected {
  const t = buf.subarray(0, 1);
  return { name: `${kind} type ${expected}`, value: t[0], recorded: t, reencoded: t };
}

export interface RecordedStream {
  kind: "bidi" | "uni";
  /** Bytes written by the side that opened the stream. */
  opened: Uint8Array;
  /** Bytes written by the other side. */
  answered: Uint8Array;
}

/** Dissects both directions of a stream; throws if any byte is not understood. */
export function dissect(
  stream: RecordedStream,
  version: Version,
): { opened: Dissected[]; answered: Dissected[] } {
  const v = version;
  if (stream.kind === "uni") {
    const kind = codec.decodeUniType(stream.opened, v);
    if (!kind) throw new Error("empty uni stream");
    const head = [typeByte(stream.opened, kind.value, "uni")];
    if (kind.value === "setup") {
      return {
        opened: [
          ...head,
          ...run(
            stream.opened,
            kind.size,
            [sized("SETUP", codec.decodeSetup, codec.encodeSetup)],
            undefined,
          ),
        ],
        answered: [],
      };
    }
    const group = sized(
      "GROUP",
      (b, a) => codec.decodeGroupHeader(b, v, a),
      (m) => codec.encodeGroupHeader(m, v),
    );
    return { opened: [...head, ...run(stream.opened, kind.size, [group], frame(v))], answered: [] };
  }
  const kind = codec.decodeBidiType(stream.opened, v);
  if (!kind) throw new Error("empty bidi stream");
  const head = [typeByte(stream.opened, kind.value, "bidi")];
  const at = kind.size;
  switch (kind.value) {
    case "setup":
      return {
        opened: [
          ...head,
          ...run(stream.opened, at, [
            sized("CLIENT_SETUP", codec.decodeClientSetup, codec.encodeClientSetup),
          ], sized("SESSION_INFO", codec.decodeSessionInfo, codec.encodeSessionInfo)),
        ]
          // decodeClientSetup starts after the type, encodeClientSetup writes it: compare bodies.
          .map((m) => m.name === "CLIENT_SETUP" ? { ...m, reencoded: m.reencoded.subarray(1) } : m),
        answered: run(stream.answered, 0, [
          sized("SERVER_SETUP", codec.decodeServerSetup, codec.encodeServerSetup),
        ], sized("SESSION_INFO", codec.decodeSessionInfo, codec.encodeSessionInfo)),
      };
    case "announce": {
      const announce = sized(
        "ANNOUNCE",
        (b, a) => codec.decodeAnnounce(b, v, a),
        (m) => codec.encodeAnnounce(m, v),
      );
      const first = v <= Version.Lite02
        ? [sized("ANNOUNCE_INIT", codec.decodeAnnounceInit, codec.encodeAnnounceInit)]
        : v >= Version.Lite05
        ? [sized("ANNOUNCE_OK", codec.decodeAnnounceOk, codec.encodeAnnounceOk)]
        : [];
      return {
        opened: [
          ...head,
          ...run(stream.opened, at, [
            sized(
              "ANNOUNCE_REQUEST",
              (b, a) => codec.decodeAnnounceRequest(b, v, a),
              (m) => codec.encodeAnnounceRequest(m, v),
            ),
          ], undefined),
        ],
        answered: run(stream.answered, 0, first, announce),
      };
    }
    case "subscribe":
      return {
        opened: [
          ...head,
          ...run(
            stream.opened,
            at,
            [sized(
              "SUBSCRIBE",
              (b, a) => codec.decodeSubscribe(b, v, a),
              (m) => codec.encodeSubscribe(m, v),
            )],
            sized(
              "SUBSCRIBE_UPDATE",
              (b, a) => codec.decodeSubscribeUpdate(b, v, a),
              (m) => codec.encodeSubscribeUpdate(m, v),
            ),
          ),
        ],
        answered: run(
          stream.answered,
          0,
          [],
          sized(
            "SUBSCRIBE_RESPONSE",
            (b, a) => codec.decodeSubscribeResponse(b, v, a),
            (m) => codec.encodeSubscribeResponse(m, v),
          ),
        ),
      };
    case "track":
      return {
        opened: [
          ...head,
          ...run(
            stream.opened,
            at,
            [sized("TRACK", codec.decodeTrack, codec.encodeTrack)],
            undefined,
          ),
        ],
        answered: run(stream.answered, 0, [
          sized(
            "TRACK_INFO",
            (b, a) => codec.decodeTrackInfo(b, v, a),
            (m) => codec.encodeTrackInfo(m, v),
          ),
        ], undefined),
      };
    case "fetch":
      return {
        opened: [
          ...head,
          ...run(stream.opened, at, [
            sized("FETCH", (b, a) => codec.decodeFetch(b, v, a), (m) => codec.encodeFetch(m, v)),
          ], undefined),
        ],
        answered: run(stream.answered, 0, [], frame(v)),
      };
    case "probe": {
      const probe = sized(
        "PROBE",
        (b, a) => codec.decodeProbe(b, v, a),
        (m) => codec.encodeProbe(m, v),
      );
      return {
        opened: [...head, ...run(stream.opened, at, [], probe)],
        answered: run(stream.answered, 0, [], probe),
      };
    }
    case "goaway":
      return {
        opened: [
          ...head,
          ...run(
            stream.opened,
            at,
            [sized("GOAWAY", codec.decodeGoaway, codec.encodeGoaway)],
            undefined,
          ),
        ],
        answered: [],
      };
  }
}
