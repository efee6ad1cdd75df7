/**
 * The announce stream, both ways:
 * - serving: a peer asks for broadcasts under a prefix; we send the current set, then changes;
 * - intake: we ask a peer for everything it publishes and route it in the origin.
 *
 * @module
 */
import { Broadcast } from "../cache/broadcast.ts";
import type { Announcement } from "../cache/origin.ts";
import {
  type Announce,
  BidiType,
  decodeAnnounce,
  decodeAnnounceInit,
  decodeAnnounceOk,
  decodeAnnounceRequest,
  encodeAnnounce,
  encodeAnnounceInit,
  encodeAnnounceOk,
  encodeAnnounceRequest,
  joinPath,
  MAX_HOPS,
  SessionCode,
  StreamCode,
  stripPrefix,
  Version,
} from "../codec/mod.ts";
import type { BiStream } from "../transport/session.ts";
import { isInternal } from "./context.ts";
import { CONTROL_PRIORITY, type Peer } from "./peer.ts";
import { MessageReader } from "./reader.ts";
import type { UpstreamSubscriber } from "./upstream.ts";
import { SerialWriter } from "./writer.ts";

const ZERO_COST = { warm: 0n, cold: 0n };

/** The hop chain to send a peer for an announcement, as each version carries it. */
function hopsFor(peer: Peer, announcement: Announcement): bigint[] {
  const { version, ctx } = peer;
  if (version <= Version.Lite02) return [];
  // lite-03/04: the sender appends itself (03 carries only the count); 05+: the receiver appends
  // ANNOUNCE_OK's hop id.
  if (version <= Version.Lite04) return [...announcement.hops, ctx.hop].slice(-MAX_HOPS);
  return announcement.hops.slice(-MAX_HOPS);
}

/** Serves one ANNOUNCE_REQUEST until either side ends the stream. */
export async function serveAnnounceRequest(
  peer: Peer,
  stream: BiStream,
  reader: MessageReader,
): Promise<void> {
  const { version, ctx } = peer;
  const request = await reader.expect(
    (b, o) => decodeAnnounceRequest(b, version, o),
    "ANNOUNCE_REQUEST",
  );
  const prefix = joinPath(peer.root, request.prefix);
  if (isInternal(prefix) && !peer.cluster && ctx.cluster.token !== undefined) {
    peer.log.warn("refused an announce request for {prefix}: not a cluster member", { prefix });
    stream.recv.stop(StreamCode.Cancel);
    return stream.send.reset(StreamCode.NotFound);
  }
  const writer = new SerialWriter(stream.send);
  stream.send.priority = CONTROL_PRIORITY;
  const visible = (a: Announcement | undefined): a is Announcement => {
    if (!a || a.from === peer.self) return false; // never echo a peer's own broadcasts
    if (peer.cluster) {
      // Other relays learn our local broadcasts, never what we learned from the cluster (no
      // loops); only the root relays membership records; a read-only member shows nothing.
      if (ctx.cluster.role === "member") return false;
      if (a.remote && !(isInternal(a.path) && ctx.cluster.role === "root")) return false;
    } else if (isInternal(a.path) && !isInternal(prefix)) {
      return false; // internal paths stay out of ordinary clients' listings
    }
    const exclude = request.excludeHop !== 0n ? request.excludeHop : peer.peerHop;
    return exclude === undefined || !a.hops.includes(exclude);
  };
  /** suffix -> lite-06 announce id (or 0n on older versions) for what this stream shows active. */
  const shown = new Map<string, bigint>();
  let nextId = 0n;

  const send = (message: Announce) => writer.write(encodeAnnounce(message, version));
  const activate = (suffix: string, a: Announcement) => {
    const hops = hopsFor(peer, a);
    const known = shown.get(suffix);
    if (known !== undefined) {
      // A new route for a path already shown.
      if (version >= Version.Lite06) {
        return send({ kind: "restart", id: known, hops, cost: ZERO_COST });
      }
      if (version === Version.Lite05) return send({ kind: "active", suffix, hops });
      // 01..04 forbid a second active: end it first.
      void send({ kind: "ended", suffix, hops: [] });
      return send({ kind: "active", suffix, hops });
    }
    shown.set(suffix, nextId++);
    return send({ kind: "active", suffix, hops, cost: ZERO_COST });
  };
  const deactivate = (suffix: string) => {
    const id = shown.get(suffix);
    if (id === undefined) return;
    shown.delete(suffix);
    return send(
      version >= Version.Lite06 ? { kind: "end", id } : { kind: "ended", suffix, hops: [] },
    );
  };

  const watch = ctx.origin.watch(prefix, (path, active) => {
    const suffix = stripPrefix(path, prefix);
    if (suffix === undefined) return;
    if (visible(active)) void activate(suffix, active);
    else void deactivate(suffix);
  });
  try {
    const initial = watch.snapshot.filter(visible);
    const suffixes = initial.map((a) => stripPrefix(a.path, prefix) ?? "");
    if (version <= Version.Lite02) {
      void writer.write(encodeAnnounceInit({ suffixes }));
      for (const s of suffixes) shown.set(s, 0n);
    } else {
      if (version >= Version.Lite05) {
        void writer.write(encodeAnnounceOk({ hop: ctx.hop, active: initial.length }));
      }
      initial.forEach((a, i) => void activate(suffixes[i] ?? "", a));
    }
    // The stream lives until the peer finishes its side (or the session ends).
    await Promise.race([reader.drain(), peer.done]);
  } finally {
    watch.stop();
    await writer.close();
  }
}

/** Asks the peer for every broadcast it publishes and routes them through `source`. */
export async function runAnnounceIntake(peer: Peer, source: UpstreamSubscriber): Promise<void> {
  const { version, ctx } = peer;
  const stream = await peer.transport.openBi({
    priority: CONTROL_PRIORITY,
    initial: Uint8Array.of(BidiType.Announce),
  });
  const excludeHop = version === Version.Lite04 || version === Version.Lite05 ? ctx.hop : 0n;
  await stream.send.write(encodeAnnounceRequest({ prefix: "", excludeHop }, version));
  const reader = new MessageReader(stream.recv);
  const routes = new Map<string, { broadcast: Broadcast; withdraw: () => void }>();
  const ids = new Map<bigint, string>();
  let nextId = 0n;
  let responderHop: bigint | undefined;

  const withdraw = (suffix: string) => {
    const route = routes.get(suffix);
    if (!route) return;
    routes.delete(suffix);
    route.withdraw();
    route.broadcast.close();
  };
  const announce = (suffix: string, hops: bigint[]) => {
    const path = joinPath(peer.root, suffix);
    if (isInternal(path) && !peer.cluster && ctx.cluster.token !== undefined) {
      peer.log.warn(
        "ignoring announcement {path}: only cluster members may announce internal paths",
        { path },
      );
      return;
    }
    const chain = responderHop !== undefined ? [...hops, responderHop] : hops;
    if (chain.includes(ctx.hop)) return; // our own broadcast coming back: a loop
    const existing = routes.get(suffix);
    if (!existing && routes.size >= ctx.limits.maxAnnouncements) {
      peer.log.warn("ignoring announcement {path}: over the limit of {limit} per session", {
        path,
        limit: ctx.limits.maxAnnouncements,
      });
      return;
    }
    const broadcast = existing?.broadcast ?? new Broadcast(path, source, ctx.budget);
    existing?.withdraw();
    const withdrawOrigin = ctx.origin.announce({
      path,
      broadcast,
      hops: chain,
      from: peer.self,
      remote: peer.cluster,
    });
    routes.set(suffix, { broadcast, withdraw: withdrawOrigin });
    peer.log.debug("announced {path}", { path });
  };

  try {
    if (version <= Version.Lite02) {
      const init = await reader.expect(decodeAnnounceInit, "ANNOUNCE_INIT");
      for (const suffix of init.suffixes) announce(suffix, []);
    } else if (version >= Version.Lite05) {
      const ok = await reader.expect(decodeAnnounceOk, "ANNOUNCE_OK");
      responderHop = ok.hop === 0n ? undefined : ok.hop;
    }
    for (
      let m = await reader.read((b, o) => decodeAnnounce(b, version, o));
      m;
      m = await reader.read((b, o) => decodeAnnounce(b, version, o))
    ) {
      switch (m.kind) {
        case "active":
          if (version >= Version.Lite06) {
            if ([...ids.values()].includes(m.suffix)) {
              return peer.fail(
                SessionCode.ProtocolViolation,
                `ANNOUNCE_START for live ${m.suffix}`,
              );
            }
            ids.set(nextId++, m.suffix);
          } else if (routes.has(m.suffix) && version <= Version.Lite04) {
            return peer.fail(
              SessionCode.ProtocolViolation,
              `duplicate active announcement ${m.suffix}`,
            );
          }
          announce(m.suffix, m.hops);
          break;
        case "ended":
          withdraw(m.suffix);
          break;
        case "end": {
          const suffix = ids.get(m.id);
          if (suffix === undefined) {
            return peer.fail(SessionCode.ProtocolViolation, `ANNOUNCE_END for unknown id ${m.id}`);
          }
          ids.delete(m.id);
          withdraw(suffix);
          break;
        }
        case "restart": {
          const suffix = ids.get(m.id);
          if (suffix === undefined) {
            return peer.fail(
              SessionCode.ProtocolViolation,
              `ANNOUNCE_RESTART for unknown id ${m.id}`,
            );
          }
          announce(suffix, m.hops);
          break;
        }
        case "skipped":
          break;
      }
    }
  } finally {
    for (const suffix of [...routes.keys()]) withdraw(suffix);
    await stream.send.close().catch(() => {});
  }
}
