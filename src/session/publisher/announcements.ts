/**
 * Serving a peer's ANNOUNCE_REQUEST: the broadcasts under its prefix that its view shows, as
 * they are when the request comes, then every change, until the peer ends the stream.
 *
 * @module
 */
import type { Announcement } from "../../cache/origin.ts";
import {
  type Announce,
  decodeAnnounceRequest,
  encodeAnnounce,
  encodeAnnounceInit,
  encodeAnnounceOk,
  hasAnnounceId,
  hasAnnounceInit,
  hasAnnounceOk,
  hasHops,
  hasReannounce,
  MAX_HOPS,
  StreamCode,
  stripPrefix,
} from "../../codec/mod.ts";
import type { BiStream } from "../../transport/session.ts";
import { unlessAborted } from "../abort.ts";
import { CONTROL_PRIORITY, type Peer } from "../peer.ts";
import type { MessageReader } from "../reader.ts";
import { SerialWriter } from "../writer.ts";

const ZERO_COST = { warm: 0n, cold: 0n };

/** The hop chain to send a peer for an announcement, as each version carries it. */
function hopsFor(peer: Peer, announcement: Announcement): bigint[] {
  const { version } = peer;
  if (!hasHops(version)) return [];
  // 05+: the receiver appends our hop (from ANNOUNCE_OK); before, the sender appends itself.
  const chain = hasAnnounceOk(version) ? announcement.hops : [...announcement.hops, peer.hop];
  return chain.slice(-MAX_HOPS);
}

/** Serves one ANNOUNCE_REQUEST until either side ends the stream. */
export async function serveAnnounceRequest(
  peer: Peer,
  stream: BiStream,
  reader: MessageReader,
): Promise<void> {
  const { version } = peer;
  const request = await reader.expect(
    (b, o) => decodeAnnounceRequest(b, version, o),
    "ANNOUNCE_REQUEST",
  );
  const writer = new SerialWriter(stream.send);
  stream.send.priority = CONTROL_PRIORITY;
  // Loop prevention: never show a peer what already passed through it.
  const exclude = request.excludeHop !== 0n ? request.excludeHop : peer.peerHop;
  const visible = (a: Announcement | undefined): a is Announcement =>
    a !== undefined && (exclude === undefined || !a.hops.includes(exclude));
  /** suffix -> lite-06 announce id (0n before) of what this stream shows active. */
  const shown = new Map<string, bigint>();
  let nextId = 0n;

  const send = (message: Announce) => writer.write(encodeAnnounce(message, version));
  const activate = (suffix: string, a: Announcement) => {
    const hops = hopsFor(peer, a);
    const known = shown.get(suffix);
    if (known === undefined) {
      shown.set(suffix, nextId++);
      return send({ kind: "active", suffix, hops, cost: ZERO_COST });
    }
    // A new route for a path already shown.
    if (hasAnnounceId(version)) return send({ kind: "restart", id: known, hops, cost: ZERO_COST });
    if (hasReannounce(version)) return send({ kind: "active", suffix, hops });
    void send({ kind: "ended", suffix, hops: [] }); // a second active needs an end first
    return send({ kind: "active", suffix, hops });
  };
  const deactivate = (suffix: string) => {
    const id = shown.get(suffix);
    if (id === undefined) return;
    shown.delete(suffix);
    return send(hasAnnounceId(version) ? { kind: "end", id } : { kind: "ended", suffix, hops: [] });
  };

  const watch = peer.view.watch(request.prefix, (path, active) => {
    const suffix = stripPrefix(path, request.prefix);
    if (suffix === undefined) return;
    if (visible(active)) void activate(suffix, active);
    else void deactivate(suffix);
  });
  if (!watch) {
    stream.recv.stop(StreamCode.Cancel);
    return writer.reset(StreamCode.NotFound);
  }
  try {
    const initial = watch.snapshot.filter((s) => visible(s.announcement)).map((s) => ({
      suffix: stripPrefix(s.path, request.prefix) ?? "",
      announcement: s.announcement,
    }));
    if (hasAnnounceInit(version)) {
      void writer.write(encodeAnnounceInit({ suffixes: initial.map((i) => i.suffix) }));
      for (const { suffix } of initial) shown.set(suffix, 0n);
    } else {
      if (hasAnnounceOk(version)) {
        void writer.write(encodeAnnounceOk({ hop: peer.hop, active: initial.length }));
      }
      for (const { suffix, announcement } of initial) void activate(suffix, announcement);
    }
    // The stream lives until the peer finishes its side (or the session ends).
    await unlessAborted(reader.drain(), peer.signal);
  } finally {
    watch.stop();
    await writer.close();
  }
}
