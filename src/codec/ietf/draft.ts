/**
 * moq-transport drafts 14 to 20 and how each is negotiated, as upstream (`moq-net` 0.3.18
 * `version.rs`, `server.rs`) and `@moq/net` 0.3.4 (`ietf/version.js`) do it:
 *
 * - the ALPN / WebTransport subprotocol / QMux name `moqt-NN` fixes the draft (15 to 20);
 * - draft 14 is `moq-00`, or `moql` / no protocol with 0xff00000e in CLIENT_SETUP's version list.
 *
 * What each draft changes is one named predicate below, never an inline comparison (see
 * `../lite/version.ts` for the moq-lite family's).
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

// ---- Control messages ---------------------------------------------------------------------------

/** Draft 14 only: SUBSCRIBE, SUBSCRIBE_OK, PUBLISH, PUBLISH_OK, FETCH, FETCH_OK and
 * SUBSCRIBE_UPDATE carry their fields inline and an ignored parameter block (15+: parameters). */
export function hasInlineFields(draft: Draft): boolean {
  return draft === 14;
}

/** Drafts 14, 15: an unknown message parameter is skipped by the even/odd rule (16+: a session
 * error, `R:parameters.rs:613-624`). */
export function ignoresUnknownParameters(draft: Draft): boolean {
  return draft <= 15;
}

/** Draft 15: one REQUEST_OK / REQUEST_ERROR for every request (14: one *_OK / *_ERROR each). */
export function hasSharedReplies(draft: Draft): boolean {
  return draft >= 15;
}

/** Draft 16: REQUEST_ERROR carries a Retry Interval. */
export function hasRetryInterval(draft: Draft): boolean {
  return draft >= 16;
}

/** Draft 16: a Track Properties block (16: "Track Extensions") may end SUBSCRIBE_OK, PUBLISH and
 * FETCH_OK; upstream reads it from 16 on but writes it from 17 on (`R:properties.rs:66`, `:108`). */
export function readsTrackProperties(draft: Draft): boolean {
  return draft >= 16;
}

/** Draft 17: we write Track Properties (see {@link readsTrackProperties}). */
export function writesTrackProperties(draft: Draft): boolean {
  return draft >= 17;
}

/** Draft 15 only: SUBSCRIBE_OK and PUBLISH carry the publisher's GROUP_ORDER as a parameter
 * (16: nowhere; 17+: a Track Property). */
export function hasReplyGroupOrderParameter(draft: Draft): boolean {
  return draft === 15;
}

/** Draft 20: LOCATION_FILTER is a list of 0 to 4 varints (14-19: a Filter Type tag), and
 * SUBSCRIBE gains FILL (0x23) and INCLUDE_PROPERTIES (0x35). */
export function hasFieldListFilter(draft: Draft): boolean {
  return draft >= 20;
}

/** Draft 19: the Range Filters (0x25-0x29) exist. */
export function hasRangeFilters(draft: Draft): boolean {
  return draft >= 19;
}

/** Draft 18: SUBGROUP_TIMEOUT (0x06) in SUBSCRIBE and FILL_TIMEOUT (0x0A) in FETCH exist. */
export function hasSubgroupTimeout(draft: Draft): boolean {
  return draft >= 18;
}

/** RENDEZVOUS_TIMEOUT (0x04) in SUBSCRIBE: not on 15/16 (`R:subscribe.rs:89`); on 14 every
 * parameter is skipped anyway. */
export function hasRendezvousTimeout(draft: Draft): boolean {
  return draft >= 17;
}

/** Draft 17: the MoQ Cluster parameters (HOP_PATH, ROUTE_COST) may ride PUBLISH_NAMESPACE,
 * NAMESPACE and REQUEST_UPDATE (`R:cluster.rs:54`). */
export function hasClusterParameters(draft: Draft): boolean {
  return draft >= 17;
}

/** Drafts 16, 17: SUBSCRIBE_NAMESPACE carries Subscribe Options. */
export function hasSubscribeOptions(draft: Draft): boolean {
  return draft === 16 || draft === 17;
}

/** Draft 18: SUBSCRIBE_NAMESPACE is type 0x50 (14-17: 0x11). */
export function hasRenumberedSubscribeNamespace(draft: Draft): boolean {
  return draft >= 18;
}

/** Draft 16 only: PUBLISH_NAMESPACE_DONE / _CANCEL name the request (14, 15: the namespace). */
export function namespaceRepliesByRequestId(draft: Draft): boolean {
  return draft === 16;
}

/** Draft 16: NAMESPACE (0x08) and NAMESPACE_DONE (0x0E) answer SUBSCRIBE_NAMESPACE on its own
 * stream. */
export function hasNamespaceMessages(draft: Draft): boolean {
  return draft >= 16;
}

/** Drafts 14, 15: UNSUBSCRIBE_NAMESPACE (0x14) on the control stream (16: the stream ends). */
export function hasUnsubscribeNamespace(draft: Draft): boolean {
  return draft <= 15;
}

/** Draft 17 only: PUBLISH_BLOCKED (0x0F) on a SUBSCRIBE_NAMESPACE stream. */
export function hasPublishBlocked(draft: Draft): boolean {
  return draft === 17;
}

/** Until draft 19: FETCH has a Fetch Type (standalone, relative / absolute joining); 20: a
 * track and a LOCATION_FILTER. */
export function hasFetchTypes(draft: Draft): boolean {
  return draft <= 19;
}

/** Until draft 19: PUBLISH_OK carries the subscription's parameters (20: they moved to PUBLISH and
 * REQUEST_UPDATE, `R:publish.rs:402-404`). */
export function hasPublishOkParameters(draft: Draft): boolean {
  return draft <= 19;
}

/** Draft 20: PUBLISH may carry subscription parameters (0x02, 0x06, 0x20, 0x21). */
export function hasPublishSubscriptionParameters(draft: Draft): boolean {
  return draft >= 20;
}

/** Draft 17: GOAWAY carries a Timeout. */
export function hasGoawayTimeout(draft: Draft): boolean {
  return draft >= 17;
}

/** Draft 18 only: GOAWAY ends with a Request ID (`R:goaway.rs:28-36`). */
export function hasGoawayRequestId(draft: Draft): boolean {
  return draft === 18;
}

// ---- Error registries ---------------------------------------------------------------------------

/** Draft 16: MALFORMED_TRACK (0x12) and UNKNOWN_OBJECT_STATUS are stream reset codes. */
export function hasMalformedTrackResetCode(draft: Draft): boolean {
  return draft >= 16;
}

/** Draft 17: TOO_FAR_BEHIND (0x5) is a stream reset code. */
export function hasTooFarBehindResetCode(draft: Draft): boolean {
  return draft >= 17;
}

/** Draft 18: GOING_AWAY takes reset code 0x4 and UNKNOWN_OBJECT_STATUS moves to 0x6. */
export function hasGoingAwayResetCode(draft: Draft): boolean {
  return draft >= 18;
}

/** Draft 17: GOING_AWAY (0x6) is a request error code. */
export function hasGoingAwayRequestError(draft: Draft): boolean {
  return draft >= 17;
}

/** Until draft 19: PUBLISH_DONE SUBSCRIPTION_ENDED (0x3) exists (removed in 20). */
export function hasSubscriptionEnded(draft: Draft): boolean {
  return draft <= 19;
}

// ---- Data plane (subgroup, fetch and datagram objects) ------------------------------------------
// Kept in its own block at the end of the file: the data-plane codec (stream.ts, subgroup.ts,
// object.ts, extensions.ts, fetch_stream.ts, datagram.ts) asks only these.

/** Draft 18: SUBGROUP_HEADER types carry the FIRST_OBJECT bit 0x40 (0x50-0x5D, 0x70-0x7D). */
export function hasFirstObjectBit(draft: Draft): boolean {
  return draft >= 18;
}

/** Draft 15: a SUBGROUP_HEADER may omit the publisher priority (types 0x30-0x3D). Upstream
 * reads that range on every draft; we write it only where the draft defines it. */
export function hasOmittableSubgroupPriority(draft: Draft): boolean {
  return draft >= 15;
}

/** Draft 16: object extension (property) types are delta-encoded (14, 15: absolute). */
export function hasDeltaPropertyTypes(draft: Draft): boolean {
  return draft >= 16;
}

/** Draft 18: PADDING uni streams (0x132B3E28) and datagrams (0x132B3E29). */
export function hasPadding(draft: Draft): boolean {
  return draft >= 18;
}

/** Until draft 15: Object Status 0x1 "Object Does Not Exist" is defined (16 dropped it). */
export function hasDoesNotExistStatus(draft: Draft): boolean {
  return draft <= 15;
}

/** Draft 17: only Normal objects may carry properties (anything else is a protocol violation). */
export function hasPropertiesOnlyOnNormal(draft: Draft): boolean {
  return draft >= 17;
}

/** Draft 15: fetch objects start with Serialization Flags (14: every field, always). */
export function hasFetchSerializationFlags(draft: Draft): boolean {
  return draft >= 15;
}

/** Draft 16: the Serialization Flags are a varint with End of Range values (0x8C, 0x10C) and a
 * datagram bit 0x40 (15: one byte, 0x40 and 0x80 are protocol violations). */
export function hasFetchEndOfRange(draft: Draft): boolean {
  return draft >= 16;
}

/** Until draft 15: a fetch object of length 0 carries an Object Status (16+: none). */
export function hasFetchObjectStatus(draft: Draft): boolean {
  return draft <= 15;
}

/** Draft 18: fetch objects carry Group ID Delta and Object ID Delta (14-17: absolute ids). */
export function hasFetchIdDeltas(draft: Draft): boolean {
  return draft >= 18;
}

/** Draft 20: End of Timed-Out Range (0x20C) in a fetch stream (moq-transport PR #1822). */
export function hasFetchTimedOutRange(draft: Draft): boolean {
  return draft >= 20;
}

/** Draft 15: OBJECT_DATAGRAM types may omit the priority (0x08) and carry a status without an
 * Object ID (0x24, 0x25); draft 14 defines only 0x00-0x07, 0x20 and 0x21. */
export function hasDatagramDefaultPriority(draft: Draft): boolean {
  return draft >= 15;
}
