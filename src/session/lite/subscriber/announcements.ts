/**
 * Taking the peer's announcements: we ask for everything it publishes (ANNOUNCE_REQUEST with an
 * empty prefix) and announce each broadcast through the session's view, its tracks filled on
 * demand by subscriptions to the peer.
 *
 * @module
 */
import { peerFault } from "../../../log.ts";
import { Broadcast, type BroadcastSource } from "../../../cache/broadcast.ts";
import {
  BidiType,
  decodeAnnounce,
  decodeAnnounceInit,
  decodeAnnounceOk,
  encodeAnnounceRequest,
  hasAnnounceId,
  hasAnnounceInit,
  hasAnnounceOk,
  hasExcludeHop,
  hasReannounce,
  SessionCode,
} from "../../../codec/lite/mod.ts";
import { CONTROL_PRIORITY, type Peer } from "../peer.ts";
import { MessageReader } from "../../reader.ts";

interface Route {
  broadcast: Broadcast;
  withdraw: () => void;
}

/** What the peer has announced to us so far (for stats). */
export interface Listing {
  /** The peer's first answer has arrived: what it showed at once (lite-01/02, lite-05+). */
  listed: boolean;
  /** Broadcasts of the peer's routed here. */
  active: number;
}

/** Asks the peer for every broadcast it publishes; `source(path)` fills their tracks. */
export async function takeAnnouncements(
  peer: Peer,
  source: (path: string) => BroadcastSource,
  listing: Listing,
): Promise<void> {
  const { version } = peer;
  const stream = await peer.transport.openBi({
    priority: CONTROL_PRIORITY,
    initial: Uint8Array.of(BidiType.Announce),
  });
  const excludeHop = hasExcludeHop(version) ? peer.hop : 0n;
  await stream.send.write(encodeAnnounceRequest({ prefix: "", excludeHop }, version));
  const reader = new MessageReader(stream.recv);
  const routes = new Map<string, Route>();
  /**
   * What the peer has active that we keep track of (routed, or refused by the view or as a
   * loop), at most `maxAnnouncements`: past that an announcement is ignored and not remembered,
   * so a peer cannot grow this session's state by announcing without end.
   */
  const tracked = new Set<string>();
  /** lite-06: announce ids of the tracked paths (an id below `nextId` and not here was ignored). */
  const ids = new Map<bigint, string>();
  let nextId = 0n;
  let responderHop: bigint | undefined;

  const withdraw = (path: string) => {
    tracked.delete(path);
    const route = routes.get(path);
    if (!route) return;
    routes.delete(path);
    peer.traffic.made.announcesEnded++;
    listing.active = routes.size;
    route.withdraw();
    route.broadcast.close();
  };
  /** Tracks and routes an active announcement; false when it is over the limit (ignored). */
  const track = (path: string): boolean => {
    if (tracked.has(path)) return true;
    if (tracked.size >= peer.limits.maxAnnouncements) {
      peerFault(peer.log, "ignoring announcement {path}: over the limit of {limit} per session", {
        path: peer.view.absolute(path),
        limit: peer.limits.maxAnnouncements,
      }, "warn");
      return false;
    }
    tracked.add(path);
    return true;
  };
  const announce = (path: string, hops: bigint[]) => {
    const chain = responderHop !== undefined ? [...hops, responderHop] : hops;
    if (chain.includes(peer.hop)) return; // our own broadcast coming back: a loop
    const existing = routes.get(path);
    const broadcast = existing?.broadcast ?? new Broadcast(
      peer.view.absolute(path),
      source(path),
      peer.budget,
    );
    const withdrawView = peer.view.announce(path, broadcast, chain);
    if (!withdrawView) {
      if (!existing) broadcast.close();
      return;
    }
    existing?.withdraw();
    if (!existing) peer.traffic.made.announcesStarted++;
    routes.set(path, { broadcast, withdraw: withdrawView });
    listing.active = routes.size;
    peer.log.debug("announced {path}", { path: peer.view.absolute(path) });
  };
  const violation = (reason: string) => peer.fail(SessionCode.ProtocolViolation, reason);

  /** lite-05+: the `active` announcements ANNOUNCE_OK said come at once. */
  let pending = 0;
  try {
    if (hasAnnounceInit(version)) {
      const init = await reader.expect(decodeAnnounceInit, "ANNOUNCE_INIT");
      for (const path of init.suffixes) if (track(path)) announce(path, []);
      listing.listed = true;
    } else if (hasAnnounceOk(version)) {
      const ok = await reader.expect(decodeAnnounceOk, "ANNOUNCE_OK");
      responderHop = ok.hop === 0n ? undefined : ok.hop;
      pending = ok.active;
      listing.listed = pending === 0;
    }
    const decode = (b: Uint8Array, o: number) => decodeAnnounce(b, version, o);
    for (let m = await reader.read(decode); m; m = await reader.read(decode)) {
      if (pending > 0 && --pending === 0) listing.listed = true;
      switch (m.kind) {
        case "active": {
          if (tracked.has(m.suffix) && !hasReannounce(version)) {
            return violation(`duplicate active announcement ${m.suffix}`);
          }
          if (hasAnnounceId(version) && tracked.has(m.suffix)) {
            return violation(`ANNOUNCE_START for live ${m.suffix}`);
          }
          const id = nextId++;
          if (!track(m.suffix)) break;
          if (hasAnnounceId(version)) ids.set(id, m.suffix);
          announce(m.suffix, m.hops);
          break;
        }
        case "ended":
          withdraw(m.suffix);
          break;
        case "end": {
          if (m.id >= nextId) return violation(`ANNOUNCE_END for unknown id ${m.id}`);
          const path = ids.get(m.id);
          ids.delete(m.id);
          if (path !== undefined) withdraw(path);
          break;
        }
        case "restart": {
          if (m.id >= nextId) return violation(`ANNOUNCE_RESTART for unknown id ${m.id}`);
          const path = ids.get(m.id);
          if (path !== undefined) announce(path, m.hops);
          break;
        }
        case "skipped":
          break;
      }
    }
  } finally {
    for (const path of [...routes.keys()]) withdraw(path);
    await stream.send.close().catch(() => {});
  }
}
