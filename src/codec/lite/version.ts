/**
 * moq-lite versions and how each is negotiated.
 *
 * - lite-01 and lite-02: ALPN / subprotocol `moql` (or none), then a legacy SETUP exchange whose
 *   version list decides (see `setup.ts`).
 * - lite-03 and later: the ALPN / WebTransport subprotocol `moq-lite-0N` is the version.
 *
 * What each version adds is one named predicate below (`hasTrackStream`, `hasAnnounceId`, ...),
 * never an inline comparison: a predicate lists the older versions that lack its feature and
 * lets every other version, the newest and the next one, have it (features that were removed
 * instead list the versions that had them). A new version then falls forward.
 *
 * @module
 */

export const Version = {
  Lite01: 0xff0dad01,
  Lite02: 0xff0dad02,
  Lite03: 0xff0dad03,
  Lite04: 0xff0dad04,
  Lite05: 0xff0dad05,
  Lite06: 0xff0dad06,
} as const;

export type Version = typeof Version[keyof typeof Version];

/** Every version this codec speaks, newest first. */
export const VERSIONS: readonly Version[] = [
  Version.Lite06,
  Version.Lite05,
  Version.Lite04,
  Version.Lite03,
  Version.Lite02,
  Version.Lite01,
];

/** The identifier that negotiates lite-01/02 through a SETUP exchange. */
export const ALPN_LEGACY = "moql";

/** Identifiers that name one version directly (ALPN, WebTransport or WebSocket subprotocol). */
export const ALPN_BY_VERSION: Readonly<Partial<Record<Version, string>>> = {
  [Version.Lite06]: "moq-lite-06",
  [Version.Lite05]: "moq-lite-05",
  [Version.Lite04]: "moq-lite-04",
  [Version.Lite03]: "moq-lite-03",
};

/** Every identifier a relay offers, newest first (`moql` last: it leads to a SETUP exchange). */
export const ALPNS: readonly string[] = [
  "moq-lite-06",
  "moq-lite-05",
  "moq-lite-04",
  "moq-lite-03",
  ALPN_LEGACY,
];

/** The version an identifier names, `"legacy"` for `moql` or none, `undefined` if unknown. */
export function versionForAlpn(alpn: string): Version | "legacy" | undefined {
  if (alpn === "" || alpn === ALPN_LEGACY) return "legacy";
  for (const version of VERSIONS) if (ALPN_BY_VERSION[version] === alpn) return version;
  return undefined;
}

/**
 * Picks the identifier to answer with from a peer's offer: the newest version both sides speak
 * (`supported` lists ours). `undefined` when nothing matches.
 */
export function chooseAlpn(
  offered: readonly string[],
  supported: readonly string[] = ALPNS,
): string | undefined {
  return supported.find((alpn) => offered.includes(alpn));
}

/** Versions a legacy SETUP may select, in our order of preference. */
export const LEGACY_VERSIONS: readonly Version[] = [Version.Lite02, Version.Lite01];

/** `moq-lite-05`-style name of a version, for logs. */
export function versionName(version: Version): string {
  return `moq-lite-0${version - 0xff0dad00}`;
}

/** Whether `version` is one of `versions`: how a predicate names the versions it singles out. */
function isOneOf(version: Version, ...versions: Version[]): boolean {
  return versions.includes(version);
}

const { Lite01, Lite02, Lite03, Lite04, Lite05 } = Version;

// ---- Setup ------------------------------------------------------------------------------------

/** lite-01/02: CLIENT_SETUP / SERVER_SETUP on a bidirectional session stream kept open. */
export function hasLegacySetup(version: Version): boolean {
  return isOneOf(version, Lite01, Lite02);
}

/** lite-05: each side sends one SETUP on a unidirectional Setup stream (path, hop, ...). */
export function hasSetupStream(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04);
}

/** lite-03: an unknown stream type is refused and the session goes on (01/02: fatal). */
export function toleratesUnknownStreams(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02);
}

// ---- Streams ----------------------------------------------------------------------------------

/** lite-03: the PROBE stream (bitrate estimates). */
export function hasProbe(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02);
}

/** lite-04: PROBE carries the RTT beside the bitrate. */
export function hasProbeRtt(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03);
}

/** lite-04: the GOAWAY stream. */
export function hasGoaway(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03);
}

/**
 * lite-05: the TRACK stream (TRACK_INFO: a track's immutable properties) and FETCH of one group.
 * (FETCH's stream type was reserved in lite-03; upstream serves it from lite-05, as we do.)
 */
export function hasTrackStream(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04);
}

/** lite-05: groups may also travel as QUIC datagrams (single-frame groups). */
export function hasDatagrams(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04);
}

// ---- Subscriptions and groups -----------------------------------------------------------------

/**
 * lite-03: SUBSCRIBE carries a delivery window (max latency, start and end group),
 * SUBSCRIBE_UPDATE changes it, and the publisher's responses are typed (with SUBSCRIBE_DROP).
 */
export function hasSubscribeWindow(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02);
}

/** lite-01 only: SUBSCRIBE_OK carries the publisher's priority. */
export function hasOkPriority(version: Version): boolean {
  return isOneOf(version, Lite01);
}

/**
 * lite-05: the publisher answers with SUBSCRIBE_START (the first group it serves) and
 * SUBSCRIBE_END (the first it never will) instead of SUBSCRIBE_OK.
 */
export function hasSubscribeStartEnd(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04);
}

/** Until lite-05: SUBSCRIBE, SUBSCRIBE_OK and TRACK_INFO carry the retired `ordered` byte. */
export function hasGroupOrder(version: Version): boolean {
  return isOneOf(version, Lite01, Lite02, Lite03, Lite04, Lite05);
}

/**
 * lite-06: frame bounds: GROUP names its first frame, SUBSCRIBE and FETCH a start and end frame;
 * SUBSCRIBE's start group is a raw floor (0 = none) instead of sequence + 1.
 */
export function hasFrameBounds(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04, Lite05);
}

/** lite-05: each frame carries a timestamp delta against the previous frame of its group. */
export function hasFrameTimestamps(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04);
}

// ---- Announcements ----------------------------------------------------------------------------

/** lite-01/02: an announce stream answers first with ANNOUNCE_INIT, the active suffixes. */
export function hasAnnounceInit(version: Version): boolean {
  return isOneOf(version, Lite01, Lite02);
}

/** lite-03: announcements carry a hop chain (03: only its length; 04+: the hop ids). */
export function hasHops(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02);
}

/** lite-04: the hop chain lists hop ids, not just how many there are. */
export function hasHopIds(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03);
}

/**
 * lite-05: an announce stream starts with ANNOUNCE_OK (the responder's hop id), and the receiver,
 * not the sender, appends that hop to each announcement's chain.
 */
export function hasAnnounceOk(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04);
}

/** lite-04 and lite-05 only: ANNOUNCE_REQUEST carries the requester's hop id to exclude. */
export function hasExcludeHop(version: Version): boolean {
  return isOneOf(version, Lite04, Lite05);
}

/**
 * lite-05: a path already active may be announced again (a new route); 01..04 need an `ended`
 * first, and a second `active` there is a protocol violation.
 */
export function hasReannounce(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04);
}

/**
 * lite-06: announce ids: each ANNOUNCE_START assigns the stream's next id, which ANNOUNCE_END and
 * ANNOUNCE_RESTART refer to (typed announce messages).
 */
export function hasAnnounceId(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04, Lite05);
}

/** lite-06: announcements carry a route cost beside the hop chain. */
export function hasRouteCost(version: Version): boolean {
  return !isOneOf(version, Lite01, Lite02, Lite03, Lite04, Lite05);
}
