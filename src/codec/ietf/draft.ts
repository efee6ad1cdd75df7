/**
 * moq-transport drafts 14 to 20 and how each is negotiated, as upstream (`moq-net` 0.3.18
 * `version.rs`, `server.rs`) and `@moq/net` 0.3.4 (`ietf/version.js`) do it:
 *
 * - the ALPN / WebTransport subprotocol / QMux name `moqt-NN` fixes the draft (15 to 20);
 * - draft 14 is `moq-00`, or `moql` / no protocol with 0xff00000e in CLIENT_SETUP's version list.
 *
 * What each draft changes is one named predicate below, never an inline comparison (see
 * `../version.ts` for the moq-lite family's).
 *
 * @module
 */

export type Draft = 14 | 15 | 16 | 17 | 18 | 19 | 20;

/** Every draft this codec speaks, newest first. */
export const DRAFTS: readonly Draft[] = [20, 19, 18, 17, 16, 15, 14];

/** The version number a draft has on the wire (CLIENT_SETUP's list, logs). */
export function draftCode(draft: Draft): number {
  return 0xff000000 + draft;
}

/** The draft a version number names, if we speak it. */
export function draftForCode(code: number | bigint): Draft | undefined {
  const n = Number(code);
  return DRAFTS.find((d) => draftCode(d) === n);
}

/** The ALPN (and subprotocol) that names one draft directly. */
export function alpnForDraft(draft: Draft): string {
  return draft === 14 ? "moq-00" : `moqt-${draft}`;
}

/** Identifiers a relay offers for IETF drafts, newest first. */
export const IETF_ALPNS: readonly string[] = DRAFTS.map(alpnForDraft);

/** The draft an identifier names, or undefined (`moql` is the moq-lite family's to resolve). */
export function draftForAlpn(alpn: string): Draft | undefined {
  return DRAFTS.find((d) => alpnForDraft(d) === alpn);
}

/** `moqt-20`-style name of a draft, for logs and metrics. */
export function draftName(draft: Draft): string {
  return `moqt-${draft}`;
}

// ---- Encoding -----------------------------------------------------------------------------------

/** Draft 17: every varint is a leading-ones varint (14 to 16: QUIC varints). */
export function usesLeadingOnes(draft: Draft): boolean {
  return draft >= 17;
}

/** Draft 16: parameter keys are delta-encoded in ascending order (14, 15: absolute). */
export function hasDeltaKeys(draft: Draft): boolean {
  return draft >= 16;
}

/** Until draft 16: setup options start with a count (17+: read to the end of SETUP). */
export function hasSetupOptionCount(draft: Draft): boolean {
  return draft <= 16;
}

/** Draft 17: parameter values have a shape fixed per parameter, not the even/odd rule. */
export function hasTypedParameters(draft: Draft): boolean {
  return draft >= 17;
}

// ---- Sessions and streams -----------------------------------------------------------------------

/** Draft 14 only: CLIENT_SETUP lists versions and SERVER_SETUP names the chosen one. */
export function hasSetupVersions(draft: Draft): boolean {
  return draft === 14;
}

/** Draft 17: each side sends SETUP on its own unidirectional stream (14-16: CLIENT/SERVER_SETUP
 * on the bidirectional control stream). */
export function hasSetupStream(draft: Draft): boolean {
  return draft >= 17;
}

/** Draft 17: every request has its own bidirectional stream; there is no control stream. */
export function hasRequestStreams(draft: Draft): boolean {
  return draft >= 17;
}

/** Draft 16 only: SUBSCRIBE_NAMESPACE opens its own bidirectional stream beside the control one. */
export function hasNamespaceStream(draft: Draft): boolean {
  return draft === 16;
}

/** Until draft 16: MAX_REQUEST_ID and REQUESTS_BLOCKED bound the peer's request ids. */
export function hasRequestIdFlowControl(draft: Draft): boolean {
  return draft <= 16;
}

/** Until draft 16: replies name their request (17+: the request's stream does). */
export function repliesCarryRequestId(draft: Draft): boolean {
  return draft <= 16;
}

/** Draft 17 only: requests carry a Required Request ID Delta after their Request ID. */
export function hasRequiredRequestIdDelta(draft: Draft): boolean {
  return draft === 17;
}

/** Draft 19: the requester's FIN only ends its updates; a reset cancels (14-18: FIN cancels). */
export function finEndsOnlyUpdates(draft: Draft): boolean {
  return draft >= 19;
}
