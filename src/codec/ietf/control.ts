/**
 * moq-transport control messages, drafts 14 to 20: {@link encodeMessage} and
 * {@link decodeMessage} map the shapes of `messages.ts` to and from `Type (i)`, `Length (16)`,
 * body (`WIRE.md` 1.3, 2.3, 3). Field layouts follow `moq-net` 0.3.18 (`R:`, `src/ietf/*.rs`);
 * `@moq/net` 0.3.4 (`J:`, `ietf/*.js`) agrees except where noted.
 *
 * Decoding is incremental (undefined = need more bytes) and throws only ProtocolError for bad
 * bytes; encoding a message (or a shape) a draft does not have throws a RangeError.
 *
 * @module
 */
import { decodeError } from "../error.ts";
import type { Decoded } from "../message.ts";
import {
  type Draft,
  hasClusterParameters,
  hasFetchTypes,
  hasFieldListFilter,
  hasGoawayRequestId,
  hasGoawayTimeout,
  hasInlineFields,
  hasNamespaceMessages,
  hasPublishBlocked,
  hasPublishOkParameters,
  hasPublishSubscriptionParameters,
  hasRangeFilters,
  hasRendezvousTimeout,
  hasRenumberedSubscribeNamespace,
  hasReplyGroupOrderParameter,
  hasRequestIdFlowControl,
  hasRequestStreams,
  hasRequiredRequestIdDelta,
  hasRetryInterval,
  hasSetupStream,
  hasSharedReplies,
  hasSubgroupTimeout,
  hasSubscribeOptions,
  hasUnsubscribeNamespace,
  namespaceRepliesByRequestId,
  repliesCarryRequestId,
} from "./draft.ts";
import type {
  CodecOptions,
  ControlMessage,
  Fetch,
  FetchOk,
  FetchRange,
  Filter,
  GroupOrder,
  Location,
  Publish,
  PublishOk,
  RequestError,
  RequestKind,
  RequestOk,
  RequestUpdate,
  Subscribe,
  SubscribeNamespace,
  SubscribeOk,
} from "./messages.ts";
import { readNamespace, writeNamespace } from "./namespace.ts";
import {
  decodeFilterValue,
  encodeFilterValue,
  filterPresent,
  Param,
  paramBigint,
  paramBool,
  paramBytes,
  type ParamEntry,
  paramGroupOrder,
  paramLocation,
  type ParamMap,
  paramNumber,
  type ParamSpec,
  readFilterTag,
  readMessageParameters,
  readTrackProperties,
  writeFilterTag,
  writeMessageParameters,
  writeSetupParameters,
  writeTrackProperties,
} from "./parameters.ts";
import {
  CLIENT_SETUP_TYPE,
  readClientSetupBody,
  readServerSetupBody,
  readSetupBody,
  SERVER_SETUP_TYPE,
  SETUP_TYPE,
  writeClientSetupBody,
  writeServerSetupBody,
} from "./setup.ts";
import {
  encodeControl,
  frameControl,
  IetfReader,
  type IetfWriter,
  readDraftVarint,
} from "./wire.ts";

/** Longest GOAWAY New Session URI, in bytes, on every draft (`R:goaway.rs:42-46`). */
export const MAX_GOAWAY_URI_SIZE = 8192;

/** Control message types (`WIRE.md` 2.3; `const ID` in each `R:ietf/*.rs`). Some numbers mean
 * different messages on different drafts: see {@link controlTypeName}. */
export const ControlType = {
  RequestUpdate: 0x02,
  Subscribe: 0x03,
  SubscribeOk: 0x04,
  /** SUBSCRIBE_ERROR on 14, REQUEST_ERROR on 15+. */
  RequestError: 0x05,
  PublishNamespace: 0x06,
  /** PUBLISH_NAMESPACE_OK on 14, REQUEST_OK on 15+. */
  RequestOk: 0x07,
  /** PUBLISH_NAMESPACE_ERROR on 14, NAMESPACE on 16+. */
  Namespace: 0x08,
  PublishNamespaceDone: 0x09,
  Unsubscribe: 0x0a,
  PublishDone: 0x0b,
  PublishNamespaceCancel: 0x0c,
  TrackStatus: 0x0d,
  /** TRACK_STATUS_OK on 14, NAMESPACE_DONE on 16+. */
  NamespaceDone: 0x0e,
  /** TRACK_STATUS_ERROR on 14, PUBLISH_BLOCKED on 17. */
  PublishBlocked: 0x0f,
  Goaway: 0x10,
  /** SUBSCRIBE_NAMESPACE on 14-17 (`R:subscribe_namespace.rs:107`). */
  SubscribeNamespaceLegacy: 0x11,
  /** Draft 14 only. */
  SubscribeNamespaceOk: 0x12,
  /** Draft 14 only. */
  SubscribeNamespaceError: 0x13,
  UnsubscribeNamespace: 0x14,
  MaxRequestId: 0x15,
  Fetch: 0x16,
  FetchCancel: 0x17,
  FetchOk: 0x18,
  /** Draft 14 only. */
  FetchError: 0x19,
  RequestsBlocked: 0x1a,
  Publish: 0x1d,
  PublishOk: 0x1e,
  /** Draft 14 only. */
  PublishError: 0x1f,
  /** SUBSCRIBE_NAMESPACE on 18+ (`R:subscribe_namespace.rs:59`). */
  SubscribeNamespace: 0x50,
  /** SUBSCRIBE_TRACKS on 18+ (`R:subscribe_namespace.rs:19`): not decoded; upstream refuses it
   * (`R:adapter.rs:916-924`). Peek it with {@link peekControlType} to answer NOT_SUPPORTED. */
  SubscribeTracks: 0x51,
  ClientSetup: CLIENT_SETUP_TYPE,
  ServerSetup: SERVER_SETUP_TYPE,
  Setup: SETUP_TYPE,
} as const;

const T = ControlType;

/** Draft 14's error message for each request (`R:error.rs:128-137`, `WIRE.md` 6.3). */
const ERROR_14: Record<RequestKind, number> = {
  subscribe: T.RequestError,
  publish_namespace: 0x08,
  track_status: 0x0f,
  subscribe_namespace: T.SubscribeNamespaceError,
  fetch: T.FetchError,
  publish: T.PublishError,
};

// ---- Shared fields ------------------------------------------------------------------------------

function absent(name: string, draft: Draft): never {
  throw new RangeError(`${name} does not exist on draft ${draft}`);
}

/** A request's head: Request ID, then on 17 the Required Request ID Delta (written 0, read and
 * ignored; `R:subscribe.rs:52-55`, `:145-147`). */
function writeRequestId(w: IetfWriter, id: bigint): void {
  w.varint(id);
  if (hasRequiredRequestIdDelta(w.draft)) w.varint(0);
}

function readRequestId(r: IetfReader): bigint {
  const id = r.varintBig("request id");
  if (hasRequiredRequestIdDelta(r.draft)) r.varintBig("required request id delta");
  return id;
}

/** A reply's Request ID: 14-16 only; 17+ decode it to 0n (the stream names the request). */
function writeReplyId(w: IetfWriter, id: bigint): void {
  if (repliesCarryRequestId(w.draft)) w.varint(id);
}

function readReplyId(r: IetfReader): bigint {
  return repliesCarryRequestId(r.draft) ? r.varintBig("request id") : 0n;
}

function readLocation(r: IetfReader, what = "location"): Location {
  return { group: r.varint(`${what} group`), object: r.varint(`${what} object`) };
}

function writeLocation(w: IetfWriter, l: Location): void {
  w.varint(l.group).varint(l.object);
}

/** An inline Group Order byte (draft 14, FETCH): 0-2, else a ProtocolError (`R:group.rs:138`). */
function readGroupOrder(r: IetfReader): GroupOrder {
  const v = r.u8("group order");
  if (v > 2) throw decodeError(`group order ${v}`);
  return v as GroupOrder;
}

function number(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw decodeError(`${what}: ${v} exceeds 2^53-1`);
  return Number(v);
}

const spec = (key: number, kind: ParamSpec["kind"], repeat = false): ParamSpec => ({
  key,
  kind,
  repeat,
});

const TOKENS = spec(Param.AuthorizationToken, "bytes", true);
const RANGE_FILTERS = [
  Param.SubgroupFilter,
  Param.ObjectIdFilter,
  Param.PriorityFilter,
  Param.ObjectPropertyFilter,
];

function tokenEntries(tokens: readonly Uint8Array[]): ParamEntry[] {
  return tokens.map((value) => ({ key: Param.AuthorizationToken, kind: "bytes", value }));
}

function filterParam(map: ParamMap, draft: Draft): Filter | undefined {
  const raw = paramBytes(map, Param.LocationFilter)[0];
  return raw === undefined ? undefined : decodeFilterValue(raw, draft);
}

function filterEntry(filter: Filter | undefined, draft: Draft): ParamEntry[] {
  return filterPresent(filter)
    ? [{ key: Param.LocationFilter, kind: "bytes", value: encodeFilterValue(filter, draft) }]
    : [];
}

function anyRangeFilters(map: ParamMap, keys: readonly number[]): boolean {
  return keys.some((k) => paramBytes(map, k).length > 0);
}

function clusterSpecs(draft: Draft): ParamSpec[] {
  return hasClusterParameters(draft)
    ? [spec(Param.HopPath, "bytes"), spec(Param.RouteCost, "varint")]
    : [];
}

function clusterEntries(
  m: { hopPath?: Uint8Array; routeCost?: bigint },
  draft: Draft,
): ParamEntry[] {
  if (m.hopPath === undefined && m.routeCost === undefined) return [];
  if (!hasClusterParameters(draft)) absent("MoQ Cluster parameters", draft);
  const out: ParamEntry[] = [];
  if (m.hopPath !== undefined) out.push({ key: Param.HopPath, kind: "bytes", value: m.hopPath });
  if (m.routeCost !== undefined) {
    out.push({ key: Param.RouteCost, kind: "varint", value: m.routeCost });
  }
  return out;
}

function clusterFields(map: ParamMap): { hopPath?: Uint8Array; routeCost?: bigint } {
  const out: { hopPath?: Uint8Array; routeCost?: bigint } = {};
  const hop = paramBytes(map, Param.HopPath)[0];
  if (hop !== undefined) out.hopPath = hop;
  const cost = paramBigint(map, Param.RouteCost);
  if (cost !== undefined) out.routeCost = cost;
  return out;
}

// ---- SUBSCRIBE, TRACK_STATUS --------------------------------------------------------------------

/** Parameters SUBSCRIBE accepts (`R:subscribe.rs:86-102`); 14 skips its block, keeping tokens. */
function subscribeSpecs(draft: Draft): ParamSpec[] {
  if (hasInlineFields(draft)) return [spec(Param.DeliveryTimeout, "varint"), TOKENS];
  const s = [
    spec(Param.DeliveryTimeout, "varint"),
    TOKENS,
    spec(Param.Forward, "bool"),
    spec(Param.SubscriberPriority, "u8"),
    spec(Param.LocationFilter, "bytes"),
    spec(Param.GroupOrder, "u8"),
    spec(Param.NewGroupRequest, "varint"),
  ];
  if (hasRendezvousTimeout(draft)) s.push(spec(Param.RendezvousTimeout, "varint"));
  if (hasSubgroupTimeout(draft)) s.push(spec(Param.SubgroupTimeout, "varint"));
  if (hasFieldListFilter(draft)) {
    s.push(spec(Param.Fill, "bytes"), spec(Param.IncludeProperties, "flag"));
  }
  if (hasRangeFilters(draft)) { for (const k of RANGE_FILTERS) s.push(spec(k, "bytes", true)); }
  return s;
}

function readSubscribe(r: IetfReader, options?: CodecOptions): Subscribe {
  const draft = r.draft;
  const requestId = readRequestId(r);
  const namespace = readNamespace(r);
  const track = r.string("track name");
  if (hasInlineFields(draft)) {
    const priority = r.u8("subscriber priority");
    const groupOrder = readGroupOrder(r);
    const forward = r.bool("forward");
    const filter = readFilterTag(r);
    const map = readMessageParameters(r, subscribeSpecs(draft), options);
    const m: Subscribe = {
      type: "subscribe",
      requestId,
      namespace,
      track,
      priority,
      groupOrder,
      forward,
      filter,
      tokens: paramBytes(map, Param.AuthorizationToken),
    };
    const timeout = paramNumber(map, Param.DeliveryTimeout);
    if (timeout !== undefined) m.deliveryTimeout = timeout;
    return m;
  }
  const map = readMessageParameters(r, subscribeSpecs(draft), options);
  const m: Subscribe = {
    type: "subscribe",
    requestId,
    namespace,
    track,
    // Defaults when absent (`R:subscribe.rs:120-136`).
    priority: paramNumber(map, Param.SubscriberPriority) ?? 128,
    groupOrder: paramGroupOrder(map, Param.GroupOrder) ?? 2,
    forward: paramBool(map, Param.Forward) ?? true,
    filter: filterParam(map, draft) ?? { type: "unfiltered" },
    tokens: paramBytes(map, Param.AuthorizationToken),
  };
  const timeout = paramNumber(map, Param.DeliveryTimeout);
  if (timeout !== undefined) m.deliveryTimeout = timeout;
  const fill = paramBytes(map, Param.Fill)[0];
  if (fill !== undefined) m.fill = fill;
  const include = paramBool(map, Param.IncludeProperties);
  if (include !== undefined) m.includeProperties = include;
  if (anyRangeFilters(map, RANGE_FILTERS)) m.rangeFilters = true;
  return m;
}

function writeSubscribe(w: IetfWriter, m: Subscribe, options?: CodecOptions): void {
  const draft = w.draft;
  writeRequestId(w, m.requestId);
  writeNamespace(w, m.namespace);
  w.string(m.track);
  const timeout: ParamEntry[] = m.deliveryTimeout === undefined
    ? []
    : [{ key: Param.DeliveryTimeout, kind: "varint", value: m.deliveryTimeout }];
  if (hasInlineFields(draft)) {
    w.u8(m.priority).u8(m.groupOrder).bool(m.forward);
    writeFilterTag(w, m.filter);
    writeMessageParameters(w, [...timeout, ...tokenEntries(m.tokens)], options);
    return;
  }
  // As upstream (`R:subscribe.rs:160-178`): forward, priority, filter, order; FILL and
  // INCLUDE_PROPERTIES (only its opt-out) on 20 alone, dropped before.
  const entries: ParamEntry[] = [
    ...timeout,
    ...tokenEntries(m.tokens),
    { key: Param.Forward, kind: "bool", value: m.forward },
    { key: Param.SubscriberPriority, kind: "u8", value: m.priority },
    ...filterEntry(m.filter, draft),
    { key: Param.GroupOrder, kind: "u8", value: m.groupOrder },
  ];
  if (hasFieldListFilter(draft)) {
    if (m.fill !== undefined) entries.push({ key: Param.Fill, kind: "bytes", value: m.fill });
    if (m.includeProperties === false) {
      entries.push({ key: Param.IncludeProperties, kind: "flag", value: false });
    }
  }
  writeMessageParameters(w, entries, options);
}

/** TRACK_STATUS: laid out as SUBSCRIBE on every draft, so read as one (`R:track.rs:54-63`);
 * written as upstream does (`R:track.rs:31-52`). */
function writeTrackStatus(
  w: IetfWriter,
  m: { requestId: bigint; namespace: string[]; track: string },
  options?: CodecOptions,
): void {
  writeRequestId(w, m.requestId);
  writeNamespace(w, m.namespace);
  w.string(m.track);
  if (hasInlineFields(w.draft)) {
    // Priority 0, descending, forward 0, LargestObject, no parameters (also `J:track.js`).
    w.u8(0).u8(2).bool(false);
    writeFilterTag(w, { type: "next-object" });
  }
  writeMessageParameters(w, [], options);
}

// ---- SUBSCRIBE_OK -------------------------------------------------------------------------------

function readSubscribeOk(r: IetfReader, options?: CodecOptions): SubscribeOk {
  const draft = r.draft;
  const requestId = readReplyId(r);
  const trackAlias = r.varintBig("track alias");
  if (hasInlineFields(draft)) {
    const expires = r.varint("expires");
    const groupOrder = readGroupOrder(r);
    const m: SubscribeOk = {
      type: "subscribe_ok",
      requestId,
      trackAlias,
      expires,
      groupOrder,
      properties: {},
    };
    if (r.bool("content exists")) m.largest = readLocation(r, "largest");
    readMessageParameters(r, [], options);
    return m;
  }
  const map = readMessageParameters(r, [
    spec(Param.Expires, "varint"),
    spec(Param.LargestObject, "location"),
    // Only legal through 15, still accepted later (`R:subscribe.rs:275-284`).
    spec(Param.GroupOrder, "u8"),
  ], options);
  const m: SubscribeOk = {
    type: "subscribe_ok",
    requestId,
    trackAlias,
    expires: paramNumber(map, Param.Expires) ?? 0,
    properties: readTrackProperties(r),
  };
  const order = paramGroupOrder(map, Param.GroupOrder);
  if (order !== undefined) m.groupOrder = order;
  const largest = paramLocation(map, Param.LargestObject);
  if (largest !== undefined) m.largest = largest;
  return m;
}

function writeSubscribeOk(w: IetfWriter, m: SubscribeOk, options?: CodecOptions): void {
  const draft = w.draft;
  writeReplyId(w, m.requestId);
  w.varint(m.trackAlias);
  if (hasInlineFields(draft)) {
    w.varint(m.expires).u8(m.groupOrder ?? m.properties.groupOrder ?? 2);
    w.bool(m.largest !== undefined);
    if (m.largest) writeLocation(w, m.largest);
    writeMessageParameters(w, [], options);
    return;
  }
  const entries: ParamEntry[] = [];
  if (m.expires > 0) entries.push({ key: Param.Expires, kind: "varint", value: m.expires });
  if (m.largest) entries.push({ key: Param.LargestObject, kind: "location", value: m.largest });
  // GROUP_ORDER is a SUBSCRIBE_OK parameter only on 15; a later peer closes the session on it
  // (`R:subscribe.rs:227-235`), so 16+ drop it (17+ carry the Track Property instead).
  if (hasReplyGroupOrderParameter(draft) && m.groupOrder !== undefined) {
    entries.push({ key: Param.GroupOrder, kind: "u8", value: m.groupOrder });
  }
  writeMessageParameters(w, entries, options);
  writeTrackProperties(w, m.properties);
}

// ---- REQUEST_UPDATE (SUBSCRIBE_UPDATE) ----------------------------------------------------------

function updateSpecs(draft: Draft): ParamSpec[] {
  if (hasInlineFields(draft)) return [spec(Param.DeliveryTimeout, "varint"), TOKENS];
  const s = [
    spec(Param.DeliveryTimeout, "varint"),
    TOKENS,
    spec(Param.Forward, "bool"),
    spec(Param.SubscriberPriority, "u8"),
    spec(Param.LocationFilter, "bytes"),
    spec(Param.NewGroupRequest, "varint"),
    ...clusterSpecs(draft),
  ];
  if (hasSubgroupTimeout(draft)) s.push(spec(Param.SubgroupTimeout, "varint"));
  // FILL and the Range Filters only on the request stream (`R:subscribe.rs:470-484`).
  if (hasRequestStreams(draft) && hasFieldListFilter(draft)) s.push(spec(Param.Fill, "bytes"));
  if (hasRangeFilters(draft)) {
    for (const k of [...RANGE_FILTERS, Param.TrackPropertyFilter]) s.push(spec(k, "bytes", true));
  }
  return s;
}

function readRequestUpdate(r: IetfReader, options?: CodecOptions): RequestUpdate {
  const draft = r.draft;
  const requestId = readRequestId(r);
  const existingRequestId = hasRequestStreams(draft) ? 0n : r.varintBig("existing request id");
  const m: RequestUpdate = { type: "request_update", requestId, existingRequestId };
  if (hasInlineFields(draft)) {
    m.start = readLocation(r, "start");
    m.endGroup = r.varint("end group");
    m.priority = r.u8("subscriber priority");
    m.forward = r.bool("forward");
  }
  const map = readMessageParameters(r, updateSpecs(draft), options);
  if (!hasInlineFields(draft)) {
    const priority = paramNumber(map, Param.SubscriberPriority);
    if (priority !== undefined) m.priority = priority;
    const forward = paramBool(map, Param.Forward);
    if (forward !== undefined) m.forward = forward;
    const filter = filterParam(map, draft);
    if (filter !== undefined) m.filter = filter;
    Object.assign(m, clusterFields(map));
    if (anyRangeFilters(map, [...RANGE_FILTERS, Param.TrackPropertyFilter])) m.rangeFilters = true;
  }
  const timeout = paramNumber(map, Param.DeliveryTimeout);
  if (timeout !== undefined) m.deliveryTimeout = timeout;
  return m;
}

function writeRequestUpdate(w: IetfWriter, m: RequestUpdate, options?: CodecOptions): void {
  const draft = w.draft;
  writeRequestId(w, m.requestId);
  if (!hasRequestStreams(draft)) w.varint(m.existingRequestId);
  const entries: ParamEntry[] = m.deliveryTimeout === undefined
    ? []
    : [{ key: Param.DeliveryTimeout, kind: "varint", value: m.deliveryTimeout }];
  if (hasInlineFields(draft)) {
    writeLocation(w, m.start ?? { group: 0, object: 0 });
    w.varint(m.endGroup ?? 0).u8(m.priority ?? 128).bool(m.forward ?? true);
    writeMessageParameters(w, entries, options);
    return;
  }
  if (m.forward !== undefined) entries.push({ key: Param.Forward, kind: "bool", value: m.forward });
  if (m.priority !== undefined) {
    entries.push({ key: Param.SubscriberPriority, kind: "u8", value: m.priority });
  }
  entries.push(...filterEntry(m.filter, draft), ...clusterEntries(m, draft));
  writeMessageParameters(w, entries, options);
}

// ---- REQUEST_OK / REQUEST_ERROR (and draft 14's per-request replies) ----------------------------

function readRequestError(r: IetfReader, of?: RequestKind): RequestError {
  const requestId = readReplyId(r);
  const code = r.varint("error code");
  const retryInterval = hasRetryInterval(r.draft) ? r.varint("retry interval") : 0;
  const m: RequestError = {
    type: "request_error",
    requestId,
    code,
    retryInterval,
    reason: r.string("reason"),
  };
  if (of) m.of = of;
  return m;
}

function writeRequestError(w: IetfWriter, m: RequestError): void {
  writeReplyId(w, m.requestId);
  w.varint(m.code);
  if (hasRetryInterval(w.draft)) w.varint(m.retryInterval);
  w.string(m.reason);
}

function readRequestOk(r: IetfReader, options?: CodecOptions, of?: RequestKind): RequestOk {
  const requestId = readReplyId(r);
  const m: RequestOk = { type: "request_ok", requestId };
  if (of) {
    m.of = of;
    return m;
  }
  // REQUEST_OK reads EXPIRES only (`R:request.rs:105-116`).
  const map = readMessageParameters(r, [spec(Param.Expires, "varint")], options);
  const expires = paramNumber(map, Param.Expires);
  if (expires !== undefined) m.expires = expires;
  return m;
}

function writeRequestOk(w: IetfWriter, m: RequestOk, options?: CodecOptions): void {
  writeReplyId(w, m.requestId);
  if (!hasSharedReplies(w.draft)) return; // PUBLISH_NAMESPACE_OK / SUBSCRIBE_NAMESPACE_OK
  const entries: ParamEntry[] = m.expires === undefined
    ? []
    : [{ key: Param.Expires, kind: "varint", value: m.expires }];
  writeMessageParameters(w, entries, options);
}

// ---- PUBLISH, PUBLISH_OK ------------------------------------------------------------------------

function publishSpecs(draft: Draft): ParamSpec[] {
  const s = [
    TOKENS,
    spec(Param.Expires, "varint"),
    spec(Param.LargestObject, "location"),
    spec(Param.Forward, "bool"),
    spec(Param.GroupOrder, "u8"),
  ];
  // `R:publish.rs:338-348`: DELIVERY_TIMEOUT on 15 and 20+; 20 moved the subscription's in.
  if (hasReplyGroupOrderParameter(draft) || hasPublishSubscriptionParameters(draft)) {
    s.push(spec(Param.DeliveryTimeout, "varint"));
  }
  if (hasPublishSubscriptionParameters(draft)) {
    s.push(
      spec(Param.SubgroupTimeout, "varint"),
      spec(Param.SubscriberPriority, "u8"),
      spec(Param.LocationFilter, "bytes"),
    );
  }
  return s;
}

function readPublish(r: IetfReader, options?: CodecOptions): Publish {
  const draft = r.draft;
  const requestId = readRequestId(r);
  const namespace = readNamespace(r);
  const track = r.string("track name");
  const trackAlias = r.varintBig("track alias");
  if (hasInlineFields(draft)) {
    const groupOrder = readGroupOrder(r);
    const largest = r.bool("content exists") ? readLocation(r, "largest") : undefined;
    const forward = r.bool("forward");
    readMessageParameters(r, [TOKENS], options);
    const m: Publish = {
      type: "publish",
      requestId,
      namespace,
      track,
      trackAlias,
      groupOrder,
      forward,
      properties: {},
    };
    if (largest) m.largest = largest;
    return m;
  }
  const map = readMessageParameters(r, publishSpecs(draft), options);
  const m: Publish = {
    type: "publish",
    requestId,
    namespace,
    track,
    trackAlias,
    forward: paramBool(map, Param.Forward) ?? true,
    properties: readTrackProperties(r),
  };
  const order = paramGroupOrder(map, Param.GroupOrder);
  if (order !== undefined) m.groupOrder = order;
  const largest = paramLocation(map, Param.LargestObject);
  if (largest !== undefined) m.largest = largest;
  return m;
}

function writePublish(w: IetfWriter, m: Publish, options?: CodecOptions): void {
  const draft = w.draft;
  writeRequestId(w, m.requestId);
  writeNamespace(w, m.namespace);
  w.string(m.track);
  w.varint(m.trackAlias);
  if (hasInlineFields(draft)) {
    w.u8(m.groupOrder ?? m.properties.groupOrder ?? 2).bool(m.largest !== undefined);
    if (m.largest) writeLocation(w, m.largest);
    w.bool(m.forward);
    writeMessageParameters(w, [], options);
    return;
  }
  const entries: ParamEntry[] = [{ key: Param.Forward, kind: "bool", value: m.forward }];
  if (m.largest) entries.push({ key: Param.LargestObject, kind: "location", value: m.largest });
  if (hasReplyGroupOrderParameter(draft) && m.groupOrder !== undefined) {
    entries.push({ key: Param.GroupOrder, kind: "u8", value: m.groupOrder });
  }
  writeMessageParameters(w, entries, options);
  writeTrackProperties(w, m.properties);
}

function readPublishOk(r: IetfReader, options?: CodecOptions): PublishOk {
  const draft = r.draft;
  const requestId = readReplyId(r);
  if (hasInlineFields(draft)) {
    const forward = r.bool("forward");
    const priority = r.u8("subscriber priority");
    const groupOrder = readGroupOrder(r);
    const filter = readFilterTag(r);
    readMessageParameters(r, [], options);
    return { type: "publish_ok", requestId, forward, priority, groupOrder, filter };
  }
  const map = readMessageParameters(r, [
    spec(Param.Expires, "varint"),
    spec(Param.Forward, "bool"),
    spec(Param.SubscriberPriority, "u8"),
    spec(Param.LocationFilter, "bytes"),
    spec(Param.GroupOrder, "u8"),
  ], options);
  return {
    type: "publish_ok",
    requestId,
    forward: paramBool(map, Param.Forward) ?? true,
    priority: paramNumber(map, Param.SubscriberPriority) ?? 128,
    groupOrder: paramGroupOrder(map, Param.GroupOrder) ?? 2,
    filter: filterParam(map, draft) ?? { type: "unfiltered" },
  };
}

function writePublishOk(w: IetfWriter, m: PublishOk, options?: CodecOptions): void {
  const draft = w.draft;
  writeReplyId(w, m.requestId);
  if (hasInlineFields(draft)) {
    w.bool(m.forward).u8(m.priority).u8(m.groupOrder);
    writeFilterTag(w, m.filter);
    writeMessageParameters(w, [], options);
    return;
  }
  // 20 moved these to PUBLISH / REQUEST_UPDATE: PUBLISH_OK carries none (`R:publish.rs:402-404`).
  writeMessageParameters(
    w,
    hasPublishOkParameters(draft)
      ? [
        { key: Param.Forward, kind: "bool", value: m.forward },
        { key: Param.SubscriberPriority, kind: "u8", value: m.priority },
        ...filterEntry(m.filter, draft),
        { key: Param.GroupOrder, kind: "u8", value: m.groupOrder },
      ]
      : [],
    options,
  );
}

// ---- FETCH, FETCH_OK ----------------------------------------------------------------------------

function fetchSpecs(draft: Draft): ParamSpec[] {
  if (hasInlineFields(draft)) return [TOKENS];
  const s = [TOKENS, spec(Param.SubscriberPriority, "u8"), spec(Param.GroupOrder, "u8")];
  if (hasSubgroupTimeout(draft)) s.push(spec(Param.FillTimeout, "varint"));
  if (hasRangeFilters(draft)) { for (const k of RANGE_FILTERS) s.push(spec(k, "bytes", true)); }
  if (!hasFetchTypes(draft)) {
    s.push(spec(Param.LocationFilter, "bytes"), spec(Param.IncludeProperties, "flag"));
  }
  return s;
}

function readFetchType(r: IetfReader): FetchRange {
  // A varint on decode, a byte on encode: the same for 1-3 (`R:fetch.rs:47-120`).
  const kind = r.varint("fetch type");
  switch (kind) {
    case 1: {
      const namespace = readNamespace(r);
      const track = r.string("track name");
      return {
        type: "standalone",
        namespace,
        track,
        start: readLocation(r, "start"),
        end: readLocation(r, "end"),
      };
    }
    case 2:
      return {
        type: "relative-joining",
        joining: r.varintBig("joining request id"),
        offset: r.varint("group offset"),
      };
    case 3:
      return {
        type: "absolute-joining",
        joining: r.varintBig("joining request id"),
        group: r.varint("group"),
      };
    default:
      throw decodeError(`unknown fetch type ${kind}`);
  }
}

function writeFetchType(w: IetfWriter, range: FetchRange): void {
  switch (range.type) {
    case "standalone":
      w.u8(1);
      writeNamespace(w, range.namespace);
      w.string(range.track);
      writeLocation(w, range.start);
      writeLocation(w, range.end);
      return;
    case "relative-joining":
      w.u8(2).varint(range.joining).varint(range.offset);
      return;
    case "absolute-joining":
      w.u8(3).varint(range.joining).varint(range.group);
      return;
    case "filtered":
      absent("FETCH without a Fetch Type", w.draft);
  }
}

function readFetch(r: IetfReader, options?: CodecOptions): Fetch {
  const draft = r.draft;
  const requestId = readRequestId(r);
  let priority: number | undefined;
  let groupOrder: GroupOrder | undefined;
  let range: FetchRange;
  let map: ParamMap;
  if (hasInlineFields(draft)) {
    priority = r.u8("subscriber priority");
    groupOrder = readGroupOrder(r);
    range = readFetchType(r);
    map = readMessageParameters(r, fetchSpecs(draft), options);
  } else if (hasFetchTypes(draft)) {
    range = readFetchType(r);
    map = readMessageParameters(r, fetchSpecs(draft), options);
  } else {
    const namespace = readNamespace(r);
    const track = r.string("track name");
    map = readMessageParameters(r, fetchSpecs(draft), options);
    // An absent LOCATION_FILTER fetches the whole track (`R:fetch.rs:257-262`).
    range = {
      type: "filtered",
      namespace,
      track,
      filter: filterParam(map, draft) ?? { type: "unfiltered" },
    };
  }
  const m: Fetch = {
    type: "fetch",
    requestId,
    priority: priority ?? paramNumber(map, Param.SubscriberPriority) ?? 128,
    // No preference = the publisher picks (`R:fetch.rs:276-277`).
    groupOrder: groupOrder ?? paramGroupOrder(map, Param.GroupOrder) ?? 0,
    range,
    tokens: paramBytes(map, Param.AuthorizationToken),
  };
  if (anyRangeFilters(map, RANGE_FILTERS)) m.rangeFilters = true;
  const fillTimeout = paramNumber(map, Param.FillTimeout);
  if (fillTimeout !== undefined) m.fillTimeout = fillTimeout;
  return m;
}

function writeFetch(w: IetfWriter, m: Fetch, options?: CodecOptions): void {
  const draft = w.draft;
  writeRequestId(w, m.requestId);
  const tokens = tokenEntries(m.tokens);
  if (hasInlineFields(draft)) {
    w.u8(m.priority).u8(m.groupOrder);
    writeFetchType(w, m.range);
    writeMessageParameters(w, tokens, options);
    return;
  }
  // GROUP_ORDER allows only 1 and 2, so "no preference" is the absent parameter (`R:fetch.rs:142`).
  const entries: ParamEntry[] = [
    ...tokens,
    { key: Param.SubscriberPriority, kind: "u8", value: m.priority },
  ];
  if (m.groupOrder !== 0) entries.push({ key: Param.GroupOrder, kind: "u8", value: m.groupOrder });
  if (hasFetchTypes(draft)) {
    writeFetchType(w, m.range);
  } else {
    if (m.range.type !== "filtered") absent(`a ${m.range.type} FETCH`, draft);
    writeNamespace(w, m.range.namespace);
    w.string(m.range.track);
    entries.push(...filterEntry(m.range.filter, draft));
  }
  writeMessageParameters(w, entries, options);
}

function readFetchOk(r: IetfReader, options?: CodecOptions): FetchOk {
  const draft = r.draft;
  const requestId = readReplyId(r);
  if (hasInlineFields(draft)) {
    const groupOrder = readGroupOrder(r);
    const endOfTrack = r.bool("end of track");
    const end = readLocation(r, "end");
    readMessageParameters(r, [], options);
    return { type: "fetch_ok", requestId, groupOrder, endOfTrack, end, properties: {} };
  }
  const endOfTrack = r.bool("end of track");
  const end = readLocation(r, "end");
  // GROUP_ORDER is not legal here after 14, still accepted (`R:fetch.rs:345-349`).
  const map = readMessageParameters(r, [spec(Param.GroupOrder, "u8")], options);
  const m: FetchOk = {
    type: "fetch_ok",
    requestId,
    endOfTrack,
    end,
    properties: readTrackProperties(r),
  };
  const order = paramGroupOrder(map, Param.GroupOrder);
  if (order !== undefined) m.groupOrder = order;
  return m;
}

function writeFetchOk(w: IetfWriter, m: FetchOk, options?: CodecOptions): void {
  writeReplyId(w, m.requestId);
  if (hasInlineFields(w.draft)) w.u8(m.groupOrder ?? 2);
  w.bool(m.endOfTrack);
  writeLocation(w, m.end);
  writeMessageParameters(w, [], options);
  writeTrackProperties(w, m.properties);
}

// ---- Namespaces ---------------------------------------------------------------------------------

function readSubscribeNamespace(r: IetfReader, options?: CodecOptions): SubscribeNamespace {
  const draft = r.draft;
  const requestId = readRequestId(r);
  const prefix = readNamespace(r, "namespace prefix");
  const opts = hasSubscribeOptions(draft) ? r.varint("subscribe options") : 1;
  const specs = [TOKENS, spec(Param.Hidden, "varint")];
  // FORWARD on the legacy message from 15 on (`R:subscribe_namespace.rs:148-152`).
  if (!hasInlineFields(draft) && !hasRenumberedSubscribeNamespace(draft)) {
    specs.push(spec(Param.Forward, "bool"));
  }
  const map = readMessageParameters(r, specs, options);
  const m: SubscribeNamespace = {
    type: "subscribe_namespace",
    requestId,
    prefix,
    options: opts,
    tokens: paramBytes(map, Param.AuthorizationToken),
  };
  const hidden = paramBigint(map, Param.Hidden);
  if (hidden !== undefined) {
    if (hidden > 1n) throw decodeError(`HIDDEN ${hidden}`);
    m.hidden = hidden === 1n;
  }
  return m;
}

function writeSubscribeNamespace(
  w: IetfWriter,
  m: SubscribeNamespace,
  options?: CodecOptions,
): void {
  writeRequestId(w, m.requestId);
  writeNamespace(w, m.prefix);
  if (hasSubscribeOptions(w.draft)) w.varint(m.options);
  const entries = tokenEntries(m.tokens);
  // HIDDEN is written only to opt in (`R:subscribe_namespace.rs:44-47`).
  if (m.hidden) entries.push({ key: Param.Hidden, kind: "varint", value: 1 });
  writeMessageParameters(w, entries, options);
}

// ---- Type numbers -------------------------------------------------------------------------------

/** The type number `msg` has on `draft`; a RangeError when the draft has no such message. */
export function controlType(msg: ControlMessage, draft: Draft): number {
  const legacy = !hasRequestStreams(draft);
  switch (msg.type) {
    case "client_setup":
      return hasSetupStream(draft) ? absent("CLIENT_SETUP", draft) : T.ClientSetup;
    case "server_setup":
      return hasSetupStream(draft) ? absent("SERVER_SETUP", draft) : T.ServerSetup;
    case "setup":
      return hasSetupStream(draft) ? T.Setup : absent("SETUP", draft);
    case "subscribe":
      return T.Subscribe;
    case "subscribe_ok":
      return T.SubscribeOk;
    case "request_update":
      return T.RequestUpdate;
    case "unsubscribe":
      return legacy ? T.Unsubscribe : absent("UNSUBSCRIBE", draft);
    case "publish_done":
      return T.PublishDone;
    case "request_error":
      if (hasSharedReplies(draft)) return T.RequestError;
      if (!msg.of) throw new RangeError("a draft-14 error needs `of` (the request it answers)");
      return ERROR_14[msg.of];
    case "request_ok":
      if (hasSharedReplies(draft)) return T.RequestOk;
      if (msg.of === "publish_namespace") return T.RequestOk;
      if (msg.of === "subscribe_namespace") return T.SubscribeNamespaceOk;
      // Draft 14's TRACK_STATUS_OK (0x0E) layout was not checked; SUBSCRIBE_OK / PUBLISH_OK /
      // FETCH_OK answer the others.
      throw new RangeError(`draft 14 has no OK message for ${msg.of ?? "(unnamed)"} here`);
    case "publish_namespace":
      return T.PublishNamespace;
    case "publish_namespace_done":
      return legacy ? T.PublishNamespaceDone : absent("PUBLISH_NAMESPACE_DONE", draft);
    case "publish_namespace_cancel":
      return legacy ? T.PublishNamespaceCancel : absent("PUBLISH_NAMESPACE_CANCEL", draft);
    case "subscribe_namespace":
      return hasRenumberedSubscribeNamespace(draft)
        ? T.SubscribeNamespace
        : T.SubscribeNamespaceLegacy;
    case "unsubscribe_namespace":
      return hasUnsubscribeNamespace(draft)
        ? T.UnsubscribeNamespace
        : absent("UNSUBSCRIBE_NAMESPACE", draft);
    case "namespace":
      return hasNamespaceMessages(draft) ? T.Namespace : absent("NAMESPACE", draft);
    case "namespace_done":
      return hasNamespaceMessages(draft) ? T.NamespaceDone : absent("NAMESPACE_DONE", draft);
    case "publish_blocked":
      return hasPublishBlocked(draft) ? T.PublishBlocked : absent("PUBLISH_BLOCKED", draft);
    case "publish":
      return T.Publish;
    case "publish_ok":
      return T.PublishOk;
    case "fetch":
      return T.Fetch;
    case "fetch_ok":
      return T.FetchOk;
    case "fetch_cancel":
      return legacy ? T.FetchCancel : absent("FETCH_CANCEL", draft);
    case "track_status":
      return T.TrackStatus;
    case "goaway":
      return T.Goaway;
    case "max_request_id":
      return hasRequestIdFlowControl(draft) ? T.MaxRequestId : absent("MAX_REQUEST_ID", draft);
    case "requests_blocked":
      return hasRequestIdFlowControl(draft) ? T.RequestsBlocked : absent("REQUESTS_BLOCKED", draft);
  }
}

type BodyReader = (r: IetfReader, options?: CodecOptions) => ControlMessage;

/** The reader for type `type` on `draft`, or undefined when the draft has no such message. */
function readerFor(type: number, draft: Draft): BodyReader | undefined {
  const legacy = !hasRequestStreams(draft);
  const d14 = !hasSharedReplies(draft);
  switch (type) {
    case T.ClientSetup:
      return hasSetupStream(draft) ? undefined : readClientSetupBody;
    case T.ServerSetup:
      return hasSetupStream(draft) ? undefined : readServerSetupBody;
    case T.Setup:
      return hasSetupStream(draft) ? readSetupBody : undefined;
    case T.RequestUpdate:
      return readRequestUpdate;
    case T.Subscribe:
      return readSubscribe;
    case T.SubscribeOk:
      return readSubscribeOk;
    case T.RequestError:
      return d14 ? (r) => readRequestError(r, "subscribe") : (r) => readRequestError(r);
    case T.PublishNamespace:
      return (r, o) => {
        const requestId = readRequestId(r);
        const namespace = readNamespace(r);
        const map = readMessageParameters(r, [TOKENS, ...clusterSpecs(r.draft)], o);
        return {
          type: "publish_namespace",
          requestId,
          namespace,
          tokens: paramBytes(map, Param.AuthorizationToken),
          ...clusterFields(map),
        };
      };
    case T.RequestOk:
      return d14 ? (r, o) => readRequestOk(r, o, "publish_namespace") : readRequestOk;
    case T.Namespace:
      if (d14) return (r) => readRequestError(r, "publish_namespace");
      if (!hasNamespaceMessages(draft)) return undefined;
      return (r, o) => {
        const suffix = readNamespace(r, "namespace suffix");
        // The MoQ Cluster form appends a parameter block (`R:subscribe_namespace.rs:251-266`).
        if (r.remaining === 0 || !hasClusterParameters(r.draft)) {
          return { type: "namespace", suffix };
        }
        const map = readMessageParameters(r, clusterSpecs(r.draft), o);
        return { type: "namespace", suffix, ...clusterFields(map) };
      };
    case T.PublishNamespaceDone:
      if (!legacy) return undefined;
      return (r) =>
        namespaceRepliesByRequestId(r.draft)
          ? { type: "publish_namespace_done", requestId: r.varintBig("request id"), namespace: [] }
          : { type: "publish_namespace_done", requestId: 0n, namespace: readNamespace(r) };
    case T.Unsubscribe:
      return legacy
        ? (r) => ({ type: "unsubscribe", requestId: r.varintBig("request id") })
        : undefined;
    case T.PublishDone:
      return (r) => ({
        type: "publish_done",
        requestId: readReplyId(r),
        code: r.varint("status code"),
        streamCount: r.varint("stream count"),
        reason: r.string("reason"),
      });
    case T.PublishNamespaceCancel:
      if (!legacy) return undefined;
      return (r) => {
        const byId = namespaceRepliesByRequestId(r.draft);
        const requestId = byId ? r.varintBig("request id") : 0n;
        const namespace = byId ? [] : readNamespace(r);
        return {
          type: "publish_namespace_cancel",
          requestId,
          namespace,
          code: r.varint("error code"),
          reason: r.string("reason"),
        };
      };
    case T.TrackStatus:
      return (r, o) => {
        const s = readSubscribe(r, o);
        return {
          type: "track_status",
          requestId: s.requestId,
          namespace: s.namespace,
          track: s.track,
        };
      };
    case T.NamespaceDone:
      // Draft 14's TRACK_STATUS_OK: layout not checked, so not decoded.
      if (!hasNamespaceMessages(draft)) return undefined;
      return (r) => ({ type: "namespace_done", suffix: readNamespace(r, "namespace suffix") });
    case T.PublishBlocked:
      if (d14) return (r) => readRequestError(r, "track_status");
      if (!hasPublishBlocked(draft)) return undefined;
      return (r) => ({
        type: "publish_blocked",
        suffix: readNamespace(r, "namespace suffix"),
        track: r.string("track name"),
      });
    case T.Goaway:
      return (r) => {
        const uri = r.string("new session uri", MAX_GOAWAY_URI_SIZE);
        if (!hasGoawayTimeout(r.draft)) return { type: "goaway", uri };
        const timeout = number(r.varintBig("timeout"), "timeout");
        // Draft 18's trailing Request ID: tolerated when absent (`R:goaway.rs:49-59`).
        if (hasGoawayRequestId(r.draft) && r.remaining > 0) r.varintBig("request id");
        return { type: "goaway", uri, timeout };
      };
    case T.SubscribeNamespaceLegacy:
      return hasRenumberedSubscribeNamespace(draft) ? undefined : readSubscribeNamespace;
    case T.SubscribeNamespace:
      return hasRenumberedSubscribeNamespace(draft) ? readSubscribeNamespace : undefined;
    case T.SubscribeNamespaceOk:
      return d14 ? (r, o) => readRequestOk(r, o, "subscribe_namespace") : undefined;
    case T.SubscribeNamespaceError:
      return d14 ? (r) => readRequestError(r, "subscribe_namespace") : undefined;
    case T.UnsubscribeNamespace:
      return hasUnsubscribeNamespace(draft)
        ? (r) => ({
          type: "unsubscribe_namespace",
          requestId: r.varintBig("request id"),
          prefix: [],
        })
        : undefined;
    case T.MaxRequestId:
      return hasRequestIdFlowControl(draft)
        ? (r) => ({ type: "max_request_id", requestId: r.varintBig("request id") })
        : undefined;
    case T.RequestsBlocked:
      return hasRequestIdFlowControl(draft)
        ? (r) => ({ type: "requests_blocked", maximum: r.varintBig("maximum request id") })
        : undefined;
    case T.Fetch:
      return readFetch;
    case T.FetchCancel:
      return legacy
        ? (r) => ({ type: "fetch_cancel", requestId: r.varintBig("request id") })
        : undefined;
    case T.FetchOk:
      return readFetchOk;
    case T.FetchError:
      return d14 ? (r) => readRequestError(r, "fetch") : undefined;
    case T.Publish:
      return readPublish;
    case T.PublishOk:
      return readPublishOk;
    case T.PublishError:
      return d14 ? (r) => readRequestError(r, "publish") : undefined;
    default:
      return undefined;
  }
}

function writeBody(w: IetfWriter, msg: ControlMessage, options?: CodecOptions): void {
  const draft = w.draft;
  switch (msg.type) {
    case "client_setup":
      return writeClientSetupBody(w, msg);
    case "server_setup":
      return writeServerSetupBody(w, msg);
    case "setup":
      return writeSetupParameters(w, msg.parameters);
    case "subscribe":
      return writeSubscribe(w, msg, options);
    case "subscribe_ok":
      return writeSubscribeOk(w, msg, options);
    case "request_update":
      return writeRequestUpdate(w, msg, options);
    case "unsubscribe":
    case "fetch_cancel":
      w.varint(msg.requestId);
      return;
    case "publish_done":
      writeReplyId(w, msg.requestId);
      w.varint(msg.code).varint(msg.streamCount).string(msg.reason);
      return;
    case "request_error":
      return writeRequestError(w, msg);
    case "request_ok":
      return writeRequestOk(w, msg, options);
    case "publish_namespace":
      writeRequestId(w, msg.requestId);
      writeNamespace(w, msg.namespace);
      writeMessageParameters(
        w,
        [...tokenEntries(msg.tokens), ...clusterEntries(msg, draft)],
        options,
      );
      return;
    case "publish_namespace_done":
      if (namespaceRepliesByRequestId(draft)) w.varint(msg.requestId);
      else writeNamespace(w, msg.namespace);
      return;
    case "publish_namespace_cancel":
      if (namespaceRepliesByRequestId(draft)) w.varint(msg.requestId);
      else writeNamespace(w, msg.namespace);
      w.varint(msg.code).string(msg.reason);
      return;
    case "subscribe_namespace":
      return writeSubscribeNamespace(w, msg, options);
    case "unsubscribe_namespace":
      w.varint(msg.requestId);
      return;
    case "namespace": {
      writeNamespace(w, msg.suffix);
      const cluster = clusterEntries(msg, draft);
      if (cluster.length > 0) writeMessageParameters(w, cluster, options);
      return;
    }
    case "namespace_done":
      writeNamespace(w, msg.suffix);
      return;
    case "publish_blocked":
      writeNamespace(w, msg.suffix);
      w.string(msg.track);
      return;
    case "publish":
      return writePublish(w, msg, options);
    case "publish_ok":
      return writePublishOk(w, msg, options);
    case "fetch":
      return writeFetch(w, msg, options);
    case "fetch_ok":
      return writeFetchOk(w, msg, options);
    case "track_status":
      return writeTrackStatus(w, msg, options);
    case "goaway": {
      const size = new TextEncoder().encode(msg.uri).length;
      if (size > MAX_GOAWAY_URI_SIZE) throw new RangeError(`GOAWAY URI of ${size} bytes`);
      w.string(msg.uri);
      if (hasGoawayTimeout(draft)) w.varint(msg.timeout ?? 0);
      // Draft 18's trailing Request ID is NOT written: Rust writes 0 (`R:goaway.rs:28-36`) but
      // reads it only if present (`:49-59`), while JS never writes it and its decoder fails on
      // the extra byte (`J:goaway.js` #decode + `J:message.js` decode). Omitting it is the form
      // both read.
      return;
    }
    case "max_request_id":
      w.varint(msg.requestId);
      return;
    case "requests_blocked":
      w.varint(msg.maximum);
      return;
  }
}

// ---- Entry points -------------------------------------------------------------------------------

/** `msg` as `Type (i)`, `Length (16)`, body on `draft`. RangeError when the draft lacks it. */
export function encodeMessage(
  msg: ControlMessage,
  draft: Draft,
  options?: CodecOptions,
): Uint8Array {
  const type = controlType(msg, draft);
  return encodeControl(draft, type, (w) => writeBody(w, msg, options));
}

/**
 * The control message at `offset`: `{value, size}`, or undefined when `buf` ends before it does.
 * Unknown types (for the draft), bad fields, trailing bytes and limits are ProtocolErrors.
 */
export function decodeMessage(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
  options?: CodecOptions,
): Decoded<ControlMessage> | undefined {
  const frame = frameControl(buf, offset, draft);
  if (!frame) return undefined;
  const read = readerFor(frame.type, draft);
  if (!read) {
    throw decodeError(
      `unknown control message type 0x${frame.type.toString(16)} on draft ${draft}`,
    );
  }
  const r = new IetfReader(buf, draft, frame.start, frame.end);
  const value = read(r, options);
  r.finish(controlTypeName(frame.type, draft) ?? "control message");
  return { value, size: frame.end - offset };
}

/** The type of the message at `offset` without decoding it (e.g. the first message of a 17+
 * request stream, to refuse SUBSCRIBE_TRACKS); undefined = need more bytes. */
export function peekControlType(buf: Uint8Array, offset: number, draft: Draft): number | undefined {
  return readDraftVarint(buf, offset, draft)?.[0];
}

/** The `ControlMessage["type"]` (or `subscribe_tracks`) type `type` decodes to on `draft`. */
export function controlTypeName(type: number, draft: Draft): string | undefined {
  if (type === T.SubscribeTracks && hasRenumberedSubscribeNamespace(draft)) {
    return "subscribe_tracks";
  }
  const read = readerFor(type, draft);
  if (!read) return undefined;
  const names: Record<number, string> = {
    [T.ClientSetup]: "client_setup",
    [T.ServerSetup]: "server_setup",
    [T.Setup]: "setup",
    [T.RequestUpdate]: "request_update",
    [T.Subscribe]: "subscribe",
    [T.SubscribeOk]: "subscribe_ok",
    [T.RequestError]: "request_error",
    [T.PublishNamespace]: "publish_namespace",
    [T.RequestOk]: "request_ok",
    [T.Namespace]: hasSharedReplies(draft) ? "namespace" : "request_error",
    [T.PublishNamespaceDone]: "publish_namespace_done",
    [T.Unsubscribe]: "unsubscribe",
    [T.PublishDone]: "publish_done",
    [T.PublishNamespaceCancel]: "publish_namespace_cancel",
    [T.TrackStatus]: "track_status",
    [T.NamespaceDone]: "namespace_done",
    [T.PublishBlocked]: hasSharedReplies(draft) ? "publish_blocked" : "request_error",
    [T.Goaway]: "goaway",
    [T.SubscribeNamespaceLegacy]: "subscribe_namespace",
    [T.SubscribeNamespace]: "subscribe_namespace",
    [T.SubscribeNamespaceOk]: "request_ok",
    [T.SubscribeNamespaceError]: "request_error",
    [T.UnsubscribeNamespace]: "unsubscribe_namespace",
    [T.MaxRequestId]: "max_request_id",
    [T.Fetch]: "fetch",
    [T.FetchCancel]: "fetch_cancel",
    [T.FetchOk]: "fetch_ok",
    [T.FetchError]: "request_error",
    [T.RequestsBlocked]: "requests_blocked",
    [T.Publish]: "publish",
    [T.PublishOk]: "publish_ok",
    [T.PublishError]: "request_error",
  };
  return names[type];
}
