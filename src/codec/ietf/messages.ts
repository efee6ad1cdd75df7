/**
 * moq-transport control messages as the session sees them: one shape per message for every
 * draft 14 to 20. The codec (`control.ts`) maps each to and from its draft's bytes: inline fields
 * on 14, parameters on 15+, request ids implied by the request's stream on 17+, ... A field a
 * draft does not carry decodes to its default and is not written.
 *
 * Request ids and track aliases are bigints (62 or 64 bits on the wire); groups and objects are
 * numbers (a decode error above 2^53-1), as in the moq-lite codec.
 *
 * @module
 */

/** A position in a track. */
export interface Location {
  group: number;
  object: number;
}

/** 0 = the publisher's choice, 1 = ascending, 2 = descending. */
export type GroupOrder = 0 | 1 | 2;

/**
 * Where a subscription starts (and ends). 14-19 send a tag; 20 sends 0 to 4 varints:
 * `unfiltered` = none, `relative` = `[g]`, `next-object` = `[0, 0]`, `absolute-start` = `[g, o]`,
 * `absolute-range` = `[g, o, Δg]` or `[g, o, Δg, end object]`.
 */
export type Filter =
  | { type: "next-group" } // 14-19 only
  | { type: "next-object" } // 14-19: "largest object" (tag 2); 20: [0, 0]
  | { type: "absolute-start"; start: Location }
  | { type: "absolute-range"; start: Location; endGroup: number; endObject?: number }
  | { type: "relative"; groups: number } // 20 only: this many groups back from the latest
  | { type: "unfiltered" }; // 20 only (no filter parameter)

/** A track's properties: on 17+ the trailing Track Properties of SUBSCRIBE_OK, PUBLISH, FETCH_OK. */
export interface TrackProperties {
  /** Units per second of the objects' timestamp property. */
  timescale?: number;
  priority?: number;
  groupOrder?: GroupOrder;
}

/** Which request a draft-14 reply answers (its message type depends on it; 15+ share one). */
export type RequestKind =
  | "subscribe"
  | "publish"
  | "publish_namespace"
  | "subscribe_namespace"
  | "fetch"
  | "track_status";

/**
 * Setup parameters (CLIENT_SETUP / SERVER_SETUP / SETUP). Unknown ones are kept, so a relay can
 * log them; known ones repeated are a violation.
 */
export interface SetupParameters {
  /** PATH (0x1): raw QUIC's stand-in for a URL path (and query). */
  path?: string;
  /** MAX_REQUEST_ID (0x2), drafts 14-16. */
  maxRequestId?: bigint;
  /** AUTHORIZATION_TOKEN (0x3), raw bytes (alias type, then the token). */
  authorizationToken?: Uint8Array;
  /** MAX_AUTH_TOKEN_CACHE_SIZE (0x4). */
  maxAuthTokenCacheSize?: number;
  /** AUTHORITY (0x5). */
  authority?: string;
  /** IMPLEMENTATION (0x7): `moq-lite-rs` from upstream's Rust; what `@moq/net` sends, if any. */
  implementation?: string;
  /** Any other option, by id: a varint (even id) or bytes (odd id). */
  unknown: { id: number; value: bigint | Uint8Array }[];
}

export interface ClientSetup {
  type: "client_setup";
  /** Draft 14: the offered version codes (15/16: empty, the ALPN fixed the draft). */
  versions: number[];
  parameters: SetupParameters;
}

export interface ServerSetup {
  type: "server_setup";
  /** Draft 14: the chosen version code (15/16: 0). */
  version: number;
  parameters: SetupParameters;
}

/** Draft 17+: each side's SETUP on its uni stream. */
export interface Setup {
  type: "setup";
  parameters: SetupParameters;
}

export interface Subscribe {
  type: "subscribe";
  requestId: bigint;
  namespace: string[];
  track: string;
  /** Default 128. */
  priority: number;
  /** Default 2 (descending). */
  groupOrder: GroupOrder;
  /** Default true. */
  forward: boolean;
  filter: Filter;
  /** DELIVERY_TIMEOUT (0x02), ms. */
  deliveryTimeout?: number;
  /** AUTHORIZATION_TOKEN parameters (0x03), raw. */
  tokens: Uint8Array[];
  /** Draft 20: FILL (0x23), the raw parameter value (a nested parameter block). Not written on
   * earlier drafts (as upstream, `R:subscribe.rs:161-164`). */
  fill?: Uint8Array;
  /** Draft 20: INCLUDE_PROPERTIES (0x35); absent = true. Written only when false. */
  includeProperties?: boolean;
  /** Draft 19+: the request carried Range Filters (0x25-0x28), which a relay refuses. Decode only. */
  rangeFilters?: boolean;
}

export interface SubscribeOk {
  type: "subscribe_ok";
  /** 14-16; on 17+ the stream names the request (decodes to 0n). */
  requestId: bigint;
  trackAlias: bigint;
  /** ms; 0 = never. */
  expires: number;
  /** 14, 15: the group order the publisher chose. */
  groupOrder?: GroupOrder;
  /** The largest location the publisher has, if it has content (see {@link LocationStyle}). */
  largest?: Location;
  properties: TrackProperties;
}

/** SUBSCRIBE_UPDATE (14, 15) / REQUEST_UPDATE (16+): the fields a relay acts on. */
export interface RequestUpdate {
  type: "request_update";
  requestId: bigint;
  /** 14-16: the subscription (or request) it updates; 17+: 0n (the stream names it). */
  existingRequestId: bigint;
  priority?: number;
  forward?: boolean;
  filter?: Filter;
  deliveryTimeout?: number;
  /** Draft 14 only: SUBSCRIBE_UPDATE's inline Start Location (default {0, 0}). */
  start?: Location;
  /** Draft 14 only: SUBSCRIBE_UPDATE's inline End Group (default 0). */
  endGroup?: number;
  /** 17+ (MoQ Cluster, an update of PUBLISH_NAMESPACE): HOP_PATH (0x40B57), raw. */
  hopPath?: Uint8Array;
  /** 17+ (MoQ Cluster): ROUTE_COST (0x40B58). */
  routeCost?: bigint;
  /** Draft 19+: Range Filters (0x25-0x29) were present. Decode only. */
  rangeFilters?: boolean;
}

/** UNSUBSCRIBE (14-16; on 17+ the subscriber ends its request stream instead). */
export interface Unsubscribe {
  type: "unsubscribe";
  requestId: bigint;
}

/** Status codes of PUBLISH_DONE. */
export const PublishDoneCode = {
  InternalError: 0x0,
  Unauthorized: 0x1,
  TrackEnded: 0x2,
  /** 14-19 only. */
  SubscriptionEnded: 0x3,
  GoingAway: 0x4,
  Expired: 0x5,
  TooFarBehind: 0x6,
  UpdateFailed: 0x8,
} as const;

/** PUBLISH_DONE (SUBSCRIBE_DONE in older names): the publisher ends a subscription. */
export interface PublishDone {
  type: "publish_done";
  /** 14-16; 17+: 0n. */
  requestId: bigint;
  code: number;
  /** How many data streams the subscription used. */
  streamCount: number;
  reason: string;
}

/** REQUEST_ERROR (15+), or draft 14's per-request *_ERROR message (`of` picks which). */
export interface RequestError {
  type: "request_error";
  /** Draft 14: which request it answers (encode: required there; decode: from the type). */
  of?: RequestKind;
  /** 14-16; 17+: 0n. */
  requestId: bigint;
  code: number;
  /** 16+: ms before retrying; 0 = do not retry. */
  retryInterval: number;
  reason: string;
}

/** REQUEST_OK (15+), or draft 14's PUBLISH_NAMESPACE_OK / SUBSCRIBE_NAMESPACE_OK (`of`). */
export interface RequestOk {
  type: "request_ok";
  /** Draft 14: which request it answers (encode: required there; decode: from the type). */
  of?: RequestKind;
  /** 14-16; 17+: 0n. */
  requestId: bigint;
  expires?: number;
}

export interface PublishNamespace {
  type: "publish_namespace";
  requestId: bigint;
  namespace: string[];
  tokens: Uint8Array[];
  /** 17+ (MoQ Cluster, when negotiated): HOP_PATH (0x40B57), raw. */
  hopPath?: Uint8Array;
  /** 17+ (MoQ Cluster): ROUTE_COST (0x40B58). */
  routeCost?: bigint;
}

/** PUBLISH_NAMESPACE_DONE (14-16; 17+: FIN of the request stream). 14/15 name the namespace. */
export interface PublishNamespaceDone {
  type: "publish_namespace_done";
  /** 16: the request; 14/15: 0n. */
  requestId: bigint;
  /** 14/15: the namespace; 16: empty. */
  namespace: string[];
}

/** PUBLISH_NAMESPACE_CANCEL (14-16): the receiver no longer takes the namespace. */
export interface PublishNamespaceCancel {
  type: "publish_namespace_cancel";
  requestId: bigint;
  namespace: string[];
  code: number;
  reason: string;
}

export interface SubscribeNamespace {
  type: "subscribe_namespace";
  requestId: bigint;
  prefix: string[];
  /** 16-17: Subscribe Options (1 = namespaces, 2 = tracks, 3 = both); default 1. */
  options: number;
  tokens: Uint8Array[];
  /** MoQ Hidden (parameter 0x40B5E): also advertise hidden namespaces; absent = false. */
  hidden?: boolean;
}

/**
 * UNSUBSCRIBE_NAMESPACE (0x14, drafts 14 and 15): both upstreams write and read only a Request ID
 * (`R:subscribe_namespace.rs:216-234`, `J:subscribe_namespace.js`); Rust accepts it on 14/15 only
 * (`R:adapter.rs:1047`; 16 ends the SUBSCRIBE_NAMESPACE stream instead). `prefix` is never on the
 * wire: it decodes to [] and is not written.
 */
export interface UnsubscribeNamespace {
  type: "unsubscribe_namespace";
  requestId: bigint;
  prefix: string[];
}

/** 16+ (0x08): on a SUBSCRIBE_NAMESPACE stream, a namespace now published under the prefix. */
export interface Namespace {
  type: "namespace";
  suffix: string[];
  /** 17+ (MoQ Cluster, when negotiated, the extended form with a parameter block): HOP_PATH. */
  hopPath?: Uint8Array;
  /** 17+ (MoQ Cluster): ROUTE_COST. */
  routeCost?: bigint;
}

/** Draft 17 only (0x0F): on a SUBSCRIBE_NAMESPACE stream, a track under the prefix is blocked. */
export interface PublishBlocked {
  type: "publish_blocked";
  suffix: string[];
  track: string;
}

/** 16+ (0x0E): on a SUBSCRIBE_NAMESPACE stream (16: its own; 17+: the request's), one gone. */
export interface NamespaceDone {
  type: "namespace_done";
  suffix: string[];
}

/** PUBLISH: the publisher offers one track without being asked. */
export interface Publish {
  type: "publish";
  requestId: bigint;
  namespace: string[];
  track: string;
  trackAlias: bigint;
  groupOrder?: GroupOrder;
  largest?: Location;
  forward: boolean;
  properties: TrackProperties;
}

export interface PublishOk {
  type: "publish_ok";
  /** 14-16; 17+: 0n. */
  requestId: bigint;
  forward: boolean;
  priority: number;
  groupOrder: GroupOrder;
  filter: Filter;
}

/** FETCH: standalone (a range of one track) or joining (the groups before a subscription's). */
export type FetchRange =
  | { type: "standalone"; namespace: string[]; track: string; start: Location; end: Location }
  /** 14-19: `offset` groups before the joined subscription's largest. */
  | { type: "relative-joining"; joining: bigint; offset: number }
  /** 14-19: from group `group` up to the joined subscription's start. */
  | { type: "absolute-joining"; joining: bigint; group: number }
  /** 20 only: a track and its LOCATION_FILTER (no Fetch Type; `unfiltered` = the whole track). */
  | { type: "filtered"; namespace: string[]; track: string; filter: Filter };

export interface Fetch {
  type: "fetch";
  requestId: bigint;
  priority: number;
  groupOrder: GroupOrder;
  range: FetchRange;
  tokens: Uint8Array[];
  /** Draft 19+: Range Filters (0x25-0x28) were present. Decode only. */
  rangeFilters?: boolean;
  /** Draft 18+: FILL_TIMEOUT (0x0A), ms. Decode only (upstream refuses such a fetch). */
  fillTimeout?: number;
}

export interface FetchOk {
  type: "fetch_ok";
  /** 14-16; 17+: 0n. */
  requestId: bigint;
  groupOrder?: GroupOrder;
  endOfTrack: boolean;
  end: Location;
  properties: TrackProperties;
}

/** FETCH_CANCEL (14-16; 17+: reset of the request stream). */
export interface FetchCancel {
  type: "fetch_cancel";
  requestId: bigint;
}

/** TRACK_STATUS: laid out as SUBSCRIBE; a relay may refuse it. */
export interface TrackStatus {
  type: "track_status";
  requestId: bigint;
  namespace: string[];
  track: string;
}

export interface Goaway {
  type: "goaway";
  /** Where to reconnect; "" = the same place. At most 8192 bytes. */
  uri: string;
  /** 17+: ms before the sender closes. */
  timeout?: number;
}

/** MAX_REQUEST_ID (14-16): the peer may use request ids below this. */
export interface MaxRequestId {
  type: "max_request_id";
  requestId: bigint;
}

/** REQUESTS_BLOCKED (14-16): the peer wants ids at or above the current maximum. */
export interface RequestsBlocked {
  type: "requests_blocked";
  maximum: bigint;
}

export type ControlMessage =
  | ClientSetup
  | ServerSetup
  | Setup
  | Subscribe
  | SubscribeOk
  | RequestUpdate
  | Unsubscribe
  | PublishDone
  | RequestError
  | RequestOk
  | PublishNamespace
  | PublishNamespaceDone
  | PublishNamespaceCancel
  | SubscribeNamespace
  | UnsubscribeNamespace
  | Namespace
  | NamespaceDone
  | PublishBlocked
  | Publish
  | PublishOk
  | Fetch
  | FetchOk
  | FetchCancel
  | TrackStatus
  | Goaway
  | MaxRequestId
  | RequestsBlocked;

/**
 * How LARGEST_OBJECT (parameter 0x09) is written on drafts 17-20, where upstream's two codebases
 * disagree (`WIRE.md` 5.2): `bare` = two varints (Rust `moq-net`), `length-prefixed` = a length
 * then the two varints (`@moq/net`, which also only reads it on 17-19 that way). 14-16: one form.
 */
export type LocationStyle = "bare" | "length-prefixed";

/** What the codec needs to know about the peer beyond the draft. */
export interface CodecOptions {
  /** Default `bare`. Also governs INCLUDE_PROPERTIES (0x35) on 20, where JS likewise writes a
   * length then the byte (`J:parameters.js:194-196`) and Rust the bare byte
   * (`R:subscribe.rs:101`). `locationStyleFor(implementation)` in `parameters.ts` picks it from the
   * peer's SETUP IMPLEMENTATION. */
  location?: LocationStyle;
}
