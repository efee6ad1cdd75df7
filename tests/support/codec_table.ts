/**
 * Every decoder and encoder of the codec, with sample messages per version, for the round-trip
 * and fuzz tests.
 */
import * as codec from "../../src/codec/lite/mod.ts";
import { Version as V } from "../../src/codec/lite/mod.ts";

type Decode = (buf: Uint8Array, version: codec.Version) => codec.Decoded<unknown> | undefined;

export interface Family {
  name: string;
  /** Versions that have this message. */
  versions: readonly codec.Version[];
  decode: Decode;
  encode: (value: never, version: codec.Version) => Uint8Array;
  /** Sample values (for a version); each must survive encode then decode unchanged. */
  samples: (version: codec.Version) => unknown[];
}

const ALL = codec.VERSIONS;
const from = (oldest: codec.Version) => ALL.filter((v) => v >= oldest);
const upTo = (newest: codec.Version) => ALL.filter((v) => v <= newest);
const text = (s: string) => new TextEncoder().encode(s);
const big = (2n ** 62n) - 1n;

function window(version: codec.Version, priority: number) {
  const modern = version >= V.Lite03;
  const v06 = version >= V.Lite06;
  return [
    {
      priority,
      ordered: false,
      maxLatency: 0,
      startGroup: undefined,
      endGroup: undefined,
      startFrame: 0,
      endFrame: undefined,
    },
    modern
      ? {
        priority,
        ordered: !v06,
        maxLatency: 1500,
        startGroup: 10,
        endGroup: 20,
        startFrame: v06 ? 3 : 0,
        endFrame: v06 ? 7 : undefined,
      }
      : undefined,
    modern && v06
      ? {
        priority,
        ordered: false,
        maxLatency: 0,
        startGroup: 0,
        endGroup: undefined,
        startFrame: 4,
        endFrame: undefined,
      }
      : undefined,
    modern
      ? {
        priority,
        ordered: false,
        maxLatency: 2 ** 40,
        startGroup: 1,
        endGroup: 2 ** 50,
        startFrame: 0,
        endFrame: undefined,
      }
      : undefined,
  ].filter((x) => x !== undefined);
}

const hops = (version: codec.Version, list: bigint[]) =>
  version <= V.Lite02 ? [] : version === V.Lite03 ? list.map(() => 0n) : list;

export const FAMILIES: Family[] = [
  {
    name: "CLIENT_SETUP",
    versions: upTo(V.Lite02),
    decode: (b) => codec.decodeClientSetup(b, 1),
    encode: (v: codec.ClientSetup) => codec.encodeClientSetup(v),
    samples: () => [
      { versions: [V.Lite02, V.Lite01, codec.IETF_DRAFT_14], parameters: text("\x01\x02\x00\x01") },
      { versions: [], parameters: new Uint8Array() },
    ],
  },
  {
    name: "SERVER_SETUP",
    versions: upTo(V.Lite02),
    decode: (b) => codec.decodeServerSetup(b),
    encode: (v: codec.ServerSetup) => codec.encodeServerSetup(v),
    samples: (version) => [{ version, parameters: new Uint8Array([0]) }],
  },
  {
    name: "SESSION_INFO",
    versions: upTo(V.Lite02),
    decode: (b) => codec.decodeSessionInfo(b),
    encode: (v: codec.SessionInfo) => codec.encodeSessionInfo(v),
    samples: () => [{ bitrate: 0 }, { bitrate: 2 ** 52 }],
  },
  {
    name: "SETUP",
    versions: from(V.Lite05),
    decode: (b) => codec.decodeSetup(b),
    encode: (v: codec.Setup) => codec.encodeSetup(v),
    samples: () => [
      { parameters: [] },
      codec.setupParameters({
        probe: "report",
        path: "/room?jwt=x",
        role: "subscriber",
        cost: 3n,
        hop: big,
      }),
      { parameters: [{ id: 0x40b5an, value: text("opaque") }] },
    ],
  },
  {
    name: "ANNOUNCE_REQUEST",
    versions: ALL,
    decode: (b, v) => codec.decodeAnnounceRequest(b, v),
    encode: (m: codec.AnnounceRequest, v) => codec.encodeAnnounceRequest(m, v),
    samples: (v) => [
      { prefix: "", excludeHop: 0n },
      { prefix: "room/42", excludeHop: v === V.Lite04 || v === V.Lite05 ? big : 0n },
    ],
  },
  {
    name: "ANNOUNCE_INIT",
    versions: upTo(V.Lite02),
    decode: (b) => codec.decodeAnnounceInit(b),
    encode: (m: codec.AnnounceInit) => codec.encodeAnnounceInit(m),
    samples: () => [{ suffixes: [] }, { suffixes: ["a", "b/c", ""] }],
  },
  {
    name: "ANNOUNCE_OK",
    versions: from(V.Lite05),
    decode: (b) => codec.decodeAnnounceOk(b),
    encode: (m: codec.AnnounceOk) => codec.encodeAnnounceOk(m),
    samples: () => [{ hop: 1n, active: 0 }, { hop: big, active: 1000 }],
  },
  {
    name: "ANNOUNCE",
    versions: ALL,
    decode: (b, v) => codec.decodeAnnounce(b, v),
    encode: (m: codec.Announce, v) => codec.encodeAnnounce(m, v),
    samples: (v) =>
      v >= V.Lite06
        ? [
          { kind: "active", suffix: "alice", hops: [1n, big], cost: { warm: 12n, cold: 30n } },
          { kind: "active", suffix: "", hops: [], cost: { warm: 0n, cold: 0n } },
          { kind: "end", id: 0n },
          { kind: "restart", id: 7n, hops: [5n], cost: { warm: 1n, cold: big } },
        ]
        : [
          { kind: "active", suffix: "alice", hops: hops(v, [1n, 99n]) },
          { kind: "ended", suffix: "alice/cam", hops: [] },
        ],
  },
  {
    name: "SUBSCRIBE",
    versions: ALL,
    decode: (b, v) => codec.decodeSubscribe(b, v),
    encode: (m: codec.Subscribe, v) => codec.encodeSubscribe(m, v),
    samples: (v) =>
      window(v, 200).map((w) => ({ id: 3n, broadcast: "room/alice", track: "video", ...w })),
  },
  {
    name: "SUBSCRIBE_UPDATE",
    versions: from(V.Lite03),
    decode: (b, v) => codec.decodeSubscribeUpdate(b, v),
    encode: (m: codec.SubscribeUpdate, v) => codec.encodeSubscribeUpdate(m, v),
    samples: (v) => window(v, 7),
  },
  {
    name: "SUBSCRIBE_RESPONSE",
    versions: ALL,
    decode: (b, v) => codec.decodeSubscribeResponse(b, v),
    encode: (m: codec.SubscribeResponse, v) => codec.encodeSubscribeResponse(m, v),
    samples: (v) => {
      const ok = {
        kind: "ok",
        priority: v === V.Lite01 ? 9 : 0,
        ordered: false,
        maxLatency: 0,
        startGroup: undefined,
        endGroup: undefined,
      };
      const drop = { kind: "drop", start: 3, end: 4, errorCode: 13 };
      if (v <= V.Lite02) return [ok];
      if (v <= V.Lite04) {
        return [ok, {
          ...ok,
          priority: 2,
          ordered: true,
          maxLatency: 500,
          startGroup: 5,
          endGroup: 9,
        }, drop];
      }
      return [{ kind: "start", group: 0 }, { kind: "end", group: 2 ** 40 }, drop];
    },
  },
  {
    name: "GROUP",
    versions: ALL,
    decode: (b, v) => codec.decodeGroupHeader(b, v),
    encode: (m: codec.GroupHeader, v) => codec.encodeGroupHeader(m, v),
    samples: (v) => [
      { subscribeId: 0n, sequence: 0, frameStart: 0 },
      { subscribeId: big, sequence: 2 ** 53 - 1, frameStart: v >= V.Lite06 ? 12 : 0 },
    ],
  },
  {
    name: "FRAME",
    versions: ALL,
    decode: (b, v) => codec.decodeFrameHeader(b, v),
    encode: (m: codec.FrameHeader, v) => codec.encodeFrameHeader(m, v),
    samples: (v) => {
      const stamped = v >= V.Lite05;
      return [
        { timestampDelta: 0, size: 0 },
        { timestampDelta: stamped ? -33 : 0, size: 1200 },
        { timestampDelta: stamped ? 2 ** 40 : 0, size: codec.MAX_FRAME_SIZE },
      ];
    },
  },
  {
    name: "TRACK",
    versions: from(V.Lite05),
    decode: (b) => codec.decodeTrack(b),
    encode: (m: codec.Track) => codec.encodeTrack(m),
    samples: () => [{ broadcast: "room/alice", track: "catalog.json" }],
  },
  {
    name: "TRACK_INFO",
    versions: from(V.Lite05),
    decode: (b, v) => codec.decodeTrackInfo(b, v),
    encode: (m: codec.TrackInfo, v) => codec.encodeTrackInfo(m, v),
    samples: (
      v,
    ) => [{ priority: 255, ordered: v === V.Lite05, maxLatency: 5000, timescale: 90000 }],
  },
  {
    name: "FETCH",
    versions: from(V.Lite03),
    decode: (b, v) => codec.decodeFetch(b, v),
    encode: (m: codec.Fetch, v) => codec.encodeFetch(m, v),
    samples: (v) => [
      { broadcast: "a", track: "b", priority: 1, group: 9, startFrame: 0, endFrame: undefined },
      ...(v >= V.Lite06
        ? [{ broadcast: "a", track: "b", priority: 1, group: 9, startFrame: 2, endFrame: 5 }]
        : []),
    ],
  },
  {
    name: "PROBE",
    versions: from(V.Lite03),
    decode: (b, v) => codec.decodeProbe(b, v),
    encode: (m: codec.Probe, v) => codec.encodeProbe(m, v),
    samples: (v) => [{ bitrate: 0, rtt: 0 }, { bitrate: 5_000_000, rtt: v >= V.Lite04 ? 25 : 0 }],
  },
  {
    name: "GOAWAY",
    versions: from(V.Lite04),
    decode: (b) => codec.decodeGoaway(b),
    encode: (m: codec.Goaway) => codec.encodeGoaway(m),
    samples: () => [{ uri: "" }, { uri: "https://relay2.example/room?x=1" }],
  },
  {
    name: "BIDI_TYPE",
    versions: ALL,
    decode: (b, v) => codec.decodeBidiType(b, v),
    encode: () => new Uint8Array(),
    samples: () => [],
  },
  {
    name: "UNI_TYPE",
    versions: ALL,
    decode: (b, v) => codec.decodeUniType(b, v),
    encode: () => new Uint8Array(),
    samples: () => [],
  },
  {
    name: "DATAGRAM",
    versions: from(V.Lite05),
    decode: (b) => ({ value: codec.decodeDatagram(b), size: b.length }),
    encode: (m: codec.Datagram) => codec.encodeDatagram(m),
    samples: () => [{ subscribeId: 1n, sequence: 2, timestamp: 3, payload: text("hi") }],
  },
];
