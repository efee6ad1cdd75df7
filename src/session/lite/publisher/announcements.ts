/**
 * Serving a peer's ANNOUNCE_REQUEST: the broadcasts under its prefix that its view shows, as
 * they are when the request comes, then every change, until the peer ends the stream.
 *
 * @module
 */
import type { Announcement } from "../../../cache/origin.ts";
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
} from "../../../codec/lite/mod.ts";
import { concatBytes } from "../../../bytes/concat.ts";
import type { BiStream } from "../../../transport/session.ts";
import { unlessAborted } from "../../abort.ts";
import { CONTROL_PRIORITY, endedBeforeRequest, type Peer } from "../peer.ts";
import type { MessageReader } from "../../reader.ts";
import { SerialWriter } from "../../writer.ts";

const ZERO_COST = { warm: 0n, cold: 0n };

/** The hop chain to send a peer for an announcement, as each version carries it. */
function hopsFor(peer: Peer, announcement: Announcement): bigint[] {
  const { version } = peer;
  if (!hasHops(version)) return [];
  // 05+: the receiver appends our hop (from ANNOUNCE_OK); before, the sender appends itself.
  const chain = hasAnnounceOk(version) ? announcement.hops : [...announcement.hops, peer.hop];
  return chain.slice(-MAX_HOPS);
}

/**
 * Announce messages are written in batches of about this many bytes, each write awaited: the
 * peer's flow control paces a snapshot of any size, and nothing waits in a queue meanwhile.
 */
export const ANNOUNCE_BATCH_BYTES = 16 * 1024;

/** Serves one ANNOUNCE_REQUEST until either side ends the stream. */
export async function serveAnnounceRequest(
  peer: Peer,
  stream: BiStream,
  reader: MessageReader,
): Promise<void> {
  const request = await reader.read((b, o) => decodeAnnounceRequest(b, peer.version, o));
  if (!request) return endedBeforeRequest(stream);
  const writer = new SerialWriter(stream.send);
  stream.send.priority = CONTROL_PRIORITY;
  // Loop prevention: never show a peer what already passed through it.
  const exclude = request.excludeHop !== 0n ? request.excludeHop : peer.peerHop;
  const feed = new AnnounceFeed(peer, request.prefix, exclude, writer);
  const watch = peer.view.watch(request.prefix, (path, active) => feed.change(path, active));
  if (!watch) {
    stream.recv.stop(StreamCode.Cancel);
    return writer.reset(StreamCode.NotFound);
  }
  const writing = feed.run(watch.snapshot);
  try {
    // The stream lives until the peer finishes its side (or the session ends).
    await unlessAborted(reader.drain(), peer.signal);
  } finally {
    watch.stop();
    feed.stop();
    await writing;
    await writer.close();
  }
}

/**
 * What one announce stream shows its peer: the snapshot first, then every change. Changes wait
 * here as the latest state per path (a path that comes and goes twice while the peer is slow
 * costs one entry), so what is held is bounded by the broadcasts there are, not by the updates.
 */
class AnnounceFeed {
  readonly #peer: Peer;
  readonly #prefix: string;
  readonly #exclude: bigint | undefined;
  readonly #writer: SerialWriter;
  /** suffix -> lite-06 announce id (0n before) of what this stream shows active. */
  readonly #shown = new Map<string, bigint>();
  #nextId = 0n;
  /** suffix -> the announcement to show, or undefined to show it ended; oldest change first. */
  readonly #changes = new Map<string, Announcement | undefined>();
  #wake: (() => void) | undefined;
  #stopped = false;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;

  constructor(peer: Peer, prefix: string, exclude: bigint | undefined, writer: SerialWriter) {
    this.#peer = peer;
    this.#prefix = prefix;
    this.#exclude = exclude;
    this.#writer = writer;
  }

  #visible(a: Announcement | undefined): a is Announcement {
    return a !== undefined && (this.#exclude === undefined || !a.hops.includes(this.#exclude));
  }

  change(path: string, active: Announcement | undefined): void {
    const suffix = stripPrefix(path, this.#prefix);
    if (suffix === undefined) return;
    this.#changes.delete(suffix);
    this.#changes.set(suffix, this.#visible(active) ? active : undefined);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  stop(): void {
    this.#stopped = true;
    // What the stream showed ends with it.
    this.#peer.traffic.served.announcesEnded += this.#shown.size;
    this.#shown.clear();
    this.#wake?.();
  }

  /** Writes the snapshot, then changes as they come, until stopped or the stream fails. */
  async run(snapshot: readonly { path: string; announcement: Announcement }[]): Promise<void> {
    const version = this.#peer.version;
    const initial = snapshot.filter((s) => this.#visible(s.announcement)).map((s) => ({
      suffix: stripPrefix(s.path, this.#prefix) ?? "",
      announcement: s.announcement,
    }));
    let rest = initial;
    if (hasAnnounceInit(version)) {
      // One ANNOUNCE_INIT of what fits a batch; the rest follow as ordinary announcements.
      const suffixes: string[] = [];
      let bytes = 0;
      for (const { suffix } of initial) {
        if (bytes + suffix.length > ANNOUNCE_BATCH_BYTES) break;
        suffixes.push(suffix);
        bytes += suffix.length + 2;
        this.#shown.set(suffix, 0n);
      }
      this.#peer.traffic.served.announcesStarted += suffixes.length;
      rest = initial.slice(suffixes.length);
      this.#queue(encodeAnnounceInit({ suffixes }));
    } else if (hasAnnounceOk(version)) {
      this.#queue(encodeAnnounceOk({ hop: this.#peer.hop, active: initial.length }));
    }
    for (const { suffix, announcement } of rest) {
      this.#activate(suffix, announcement);
      if (!await this.#flushIfFull()) return;
    }
    while (!this.#stopped && !this.#writer.failed) {
      if (this.#changes.size === 0) {
        if (!await this.#flush()) return;
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      for (const [suffix, active] of this.#changes) {
        this.#changes.delete(suffix);
        if (active) this.#activate(suffix, active);
        else this.#deactivate(suffix);
        if (!await this.#flushIfFull()) return;
      }
    }
  }

  #queue(bytes: Uint8Array): void {
    this.#batch.push(bytes);
    this.#batchBytes += bytes.length;
  }

  #send(message: Announce): void {
    this.#queue(encodeAnnounce(message, this.#peer.version));
  }

  async #flushIfFull(): Promise<boolean> {
    return this.#batchBytes < ANNOUNCE_BATCH_BYTES || await this.#flush();
  }

  /** Writes the batch and waits until the stream took it; false once it cannot go on. */
  async #flush(): Promise<boolean> {
    if (this.#batch.length > 0) {
      const bytes = concatBytes(this.#batch);
      this.#batch = [];
      this.#batchBytes = 0;
      await this.#writer.write(bytes);
    }
    return !this.#writer.failed;
  }

  #activate(suffix: string, a: Announcement): void {
    const version = this.#peer.version;
    const hops = hopsFor(this.#peer, a);
    const known = this.#shown.get(suffix);
    if (known === undefined) {
      this.#shown.set(suffix, this.#nextId++);
      this.#peer.traffic.served.announcesStarted++;
      return this.#send({ kind: "active", suffix, hops, cost: ZERO_COST });
    }
    // A new route for a path already shown.
    if (hasAnnounceId(version)) {
      return this.#send({ kind: "restart", id: known, hops, cost: ZERO_COST });
    }
    if (hasReannounce(version)) return this.#send({ kind: "active", suffix, hops });
    this.#send({ kind: "ended", suffix, hops: [] }); // a second active needs an end first
    this.#send({ kind: "active", suffix, hops });
  }

  #deactivate(suffix: string): void {
    const id = this.#shown.get(suffix);
    if (id === undefined) return;
    this.#shown.delete(suffix);
    this.#peer.traffic.served.announcesEnded++;
    this.#send(
      hasAnnounceId(this.#peer.version) ? { kind: "end", id } : { kind: "ended", suffix, hops: [] },
    );
  }
}
