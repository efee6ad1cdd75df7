/**
 * Sample moq-transport control messages per draft, each of which must survive encode then decode
 * unchanged, for the IETF round-trip and fuzz tests.
 */
import * as ietf from "../../src/codec/ietf/mod.ts";
import type { ControlMessage, Draft } from "../../src/codec/ietf/mod.ts";

const text = (s: string) => new TextEncoder().encode(s);
const big = 2n ** 62n - 1n;

/** Every message `draft` has, in one or more shapes, with the fields that draft carries. */
export function controlSamples(draft: Draft): ControlMessage[] {
  const d14 = !ietf.hasSharedReplies(draft);
  const legacy = !ietf.hasRequestStreams(draft);
  const replyId = ietf.repliesCarryRequestId(draft) ? 9n : 0n;
  const out: ControlMessage[] = [];
  const params: ietf.SetupParameters = {
    path: "/room?x=1",
    authorizationToken: Uint8Array.of(1, 2, 3),
    maxAuthTokenCacheSize: 4096,
    authority: "relay.example",
    implementation: "moq-lite-rs",
    unknown: [{ id: 0x41, value: text("x") }, { id: 0x40b5a, value: 1n }],
  };
  if (ietf.hasRequestIdFlowControl(draft)) params.maxRequestId = big;
  if (ietf.hasSetupStream(draft)) {
    out.push({ type: "setup", parameters: params });
    out.push({ type: "setup", parameters: { unknown: [] } });
  } else {
    out.push({
      type: "client_setup",
      versions: ietf.hasSetupVersions(draft) ? [0xff0dad02, ietf.draftCode(14)] : [],
      parameters: params,
    });
    out.push({
      type: "server_setup",
      version: ietf.hasSetupVersions(draft) ? ietf.draftCode(14) : 0,
      parameters: { maxRequestId: 100n, unknown: [] },
    });
  }
  const filter: ietf.Filter = ietf.hasFieldListFilter(draft)
    ? { type: "relative", groups: 1 }
    : { type: "next-object" };
  out.push({
    type: "subscribe",
    requestId: 2n,
    namespace: ["live", "room/1"],
    track: "video",
    priority: 200,
    groupOrder: 1,
    forward: true,
    filter,
    tokens: ietf.hasInlineFields(draft) ? [] : [Uint8Array.of(0, 0xaa)],
  });
  out.push({
    type: "subscribe",
    requestId: big,
    namespace: [],
    track: "",
    priority: 0,
    groupOrder: 2,
    forward: false,
    filter: {
      type: "absolute-range",
      start: { group: 300, object: 64 },
      endGroup: 2 ** 40,
      ...(ietf.hasFieldListFilter(draft) ? { endObject: 7 } : {}),
    },
    deliveryTimeout: 1500,
    tokens: [],
    ...(ietf.hasFieldListFilter(draft) ? { fill: Uint8Array.of(0), includeProperties: false } : {}),
  });
  out.push({
    type: "subscribe_ok",
    requestId: replyId,
    trackAlias: 4n,
    expires: ietf.hasInlineFields(draft) ? 0 : 30000,
    ...(ietf.hasInlineFields(draft) || ietf.hasReplyGroupOrderParameter(draft)
      ? { groupOrder: 2 as const }
      : {}),
    largest: { group: 427, object: 3 },
    properties: ietf.writesTrackProperties(draft)
      ? { timescale: 1000, priority: 3, groupOrder: 2 }
      : {},
  });
  const update: ietf.RequestUpdate = {
    type: "request_update",
    requestId: 6n,
    existingRequestId: legacy ? 2n : 0n,
    priority: 9,
    forward: false,
  };
  if (ietf.hasInlineFields(draft)) {
    update.start = { group: 0, object: 0 };
    update.endGroup = 0;
  } else {
    update.filter = { type: "next-object" };
    update.deliveryTimeout = 77;
  }
  out.push(update);
  if (legacy) {
    out.push({ type: "unsubscribe", requestId: 2n });
    out.push({ type: "fetch_cancel", requestId: 8n });
    out.push({
      type: "publish_namespace_done",
      requestId: ietf.namespaceRepliesByRequestId(draft) ? 4n : 0n,
      namespace: ietf.namespaceRepliesByRequestId(draft) ? [] : ["live"],
    });
    out.push({
      type: "publish_namespace_cancel",
      requestId: ietf.namespaceRepliesByRequestId(draft) ? 4n : 0n,
      namespace: ietf.namespaceRepliesByRequestId(draft) ? [] : ["live"],
      code: 0x10,
      reason: "gone",
    });
  }
  out.push({ type: "publish_done", requestId: replyId, code: 2, streamCount: 12, reason: "ended" });
  if (d14) {
    for (
      const of of [
        "subscribe",
        "publish_namespace",
        "track_status",
        "subscribe_namespace",
        "fetch",
        "publish",
      ] as const
    ) {
      out.push({
        type: "request_error",
        of,
        requestId: 3n,
        code: 4,
        retryInterval: 0,
        reason: "no",
      });
    }
    out.push({ type: "request_ok", of: "publish_namespace", requestId: 3n });
    out.push({ type: "request_ok", of: "subscribe_namespace", requestId: 5n });
  } else {
    out.push({
      type: "request_error",
      requestId: replyId,
      code: 0x10,
      retryInterval: ietf.hasRetryInterval(draft) ? 1000 : 0,
      reason: "does not exist",
    });
    out.push({ type: "request_ok", requestId: replyId });
    out.push({ type: "request_ok", requestId: replyId, expires: 5 });
  }
  out.push({ type: "publish_namespace", requestId: 10n, namespace: ["live"], tokens: [] });
  if (ietf.hasClusterParameters(draft)) {
    out.push({
      type: "publish_namespace",
      requestId: 12n,
      namespace: ["a", "b"],
      tokens: [text("t1"), text("t2")],
      hopPath: Uint8Array.of(1, 2),
      routeCost: 3n,
    });
  }
  out.push({
    type: "subscribe_namespace",
    requestId: 14n,
    prefix: ["live"],
    options: ietf.hasSubscribeOptions(draft) ? 3 : 1,
    tokens: [],
  });
  out.push({
    type: "subscribe_namespace",
    requestId: 16n,
    prefix: [],
    options: 1,
    tokens: [Uint8Array.of(7)],
    hidden: true,
  });
  if (ietf.hasUnsubscribeNamespace(draft)) {
    out.push({ type: "unsubscribe_namespace", requestId: 14n, prefix: [] });
  }
  if (ietf.hasNamespaceMessages(draft)) {
    out.push({ type: "namespace", suffix: ["room", "1"] });
    out.push({ type: "namespace_done", suffix: ["room", "1"] });
    if (ietf.hasClusterParameters(draft)) {
      out.push({ type: "namespace", suffix: ["x"], hopPath: Uint8Array.of(5), routeCost: 1n });
    }
  }
  if (ietf.hasPublishBlocked(draft)) {
    out.push({ type: "publish_blocked", suffix: ["room"], track: "audio" });
  }
  out.push({
    type: "publish",
    requestId: 18n,
    namespace: ["live"],
    track: "video",
    trackAlias: 7n,
    ...(ietf.hasInlineFields(draft) || ietf.hasReplyGroupOrderParameter(draft)
      ? { groupOrder: 1 as const }
      : {}),
    largest: { group: 1 << 20, object: 0 },
    forward: true,
    properties: ietf.writesTrackProperties(draft) ? { groupOrder: 1 } : {},
  });
  out.push({
    type: "publish",
    requestId: 20n,
    namespace: [],
    track: "t",
    trackAlias: big,
    ...(ietf.hasInlineFields(draft) ? { groupOrder: 2 as const } : {}),
    forward: false,
    properties: {},
  });
  out.push(
    ietf.hasPublishOkParameters(draft)
      ? {
        type: "publish_ok",
        requestId: replyId,
        forward: false,
        priority: 1,
        groupOrder: 1,
        filter: { type: "absolute-start", start: { group: 5, object: 1 } },
      }
      : {
        type: "publish_ok",
        requestId: replyId,
        forward: true,
        priority: 128,
        groupOrder: 2,
        filter: { type: "unfiltered" },
      },
  );
  if (ietf.hasFetchTypes(draft)) {
    out.push({
      type: "fetch",
      requestId: 22n,
      priority: 3,
      groupOrder: 1,
      range: {
        type: "standalone",
        namespace: ["live"],
        track: "video",
        start: { group: 1, object: 0 },
        end: { group: 9, object: 4 },
      },
      tokens: ietf.hasInlineFields(draft) ? [] : [Uint8Array.of(1)],
    });
    out.push({
      type: "fetch",
      requestId: 24n,
      priority: 128,
      groupOrder: ietf.hasInlineFields(draft) ? 2 : 0,
      range: { type: "relative-joining", joining: 2n, offset: 3 },
      tokens: [],
    });
    out.push({
      type: "fetch",
      requestId: 26n,
      priority: 128,
      groupOrder: 2,
      range: { type: "absolute-joining", joining: big, group: 70 },
      tokens: [],
    });
  } else {
    out.push({
      type: "fetch",
      requestId: 1n,
      priority: 64,
      groupOrder: 1,
      range: {
        type: "filtered",
        namespace: ["live"],
        track: "video",
        filter: { type: "absolute-range", start: { group: 128, object: 0 }, endGroup: 130 },
      },
      tokens: [Uint8Array.of(0, 0xaa)],
    });
    out.push({
      type: "fetch",
      requestId: 3n,
      priority: 128,
      groupOrder: 0,
      range: { type: "filtered", namespace: [], track: "x", filter: { type: "unfiltered" } },
      tokens: [],
    });
  }
  out.push({
    type: "fetch_ok",
    requestId: replyId,
    ...(ietf.hasInlineFields(draft) ? { groupOrder: 2 as const } : {}),
    endOfTrack: true,
    end: { group: 5, object: 3 },
    properties: ietf.writesTrackProperties(draft) ? { timescale: 90000 } : {},
  });
  out.push({ type: "track_status", requestId: 28n, namespace: ["live"], track: "video" });
  out.push({ type: "goaway", uri: "", ...(ietf.hasGoawayTimeout(draft) ? { timeout: 0 } : {}) });
  out.push({
    type: "goaway",
    uri: "https://relay.example/next",
    ...(ietf.hasGoawayTimeout(draft) ? { timeout: 5000 } : {}),
  });
  if (ietf.hasRequestIdFlowControl(draft)) {
    out.push({ type: "max_request_id", requestId: 2n ** 32n - 1n });
    out.push({ type: "requests_blocked", maximum: 100n });
  }
  return out;
}
