/**
 * moq-lite versions and how each is negotiated.
 *
 * - lite-01 and lite-02: ALPN / subprotocol `moql` (or none), then a legacy SETUP exchange whose
 *   version list decides (see `setup.ts`).
 * - lite-03 and later: the ALPN / WebTransport subprotocol `moq-lite-0N` is the version.
 *
 * Version codes are ordered, so "lite-04 or newer" is `version >= Version.Lite04`.
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
