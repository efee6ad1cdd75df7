/**
 * A broadcast produced in this process (our own client publishing, tests, the cluster's node
 * records): groups written here go straight into every cache track that subscribed to it.
 *
 * @module
 */
import type { Broadcast, BroadcastSource, TrackRequest, Upstream } from "./broadcast.ts";
import { DEFAULT_PROPERTIES, type Track, type TrackProperties } from "./track.ts";

export class LocalSource implements BroadcastSource {
  readonly label = "local";
  readonly #tracks = new Map<string, Set<Track>>();
  readonly #properties: TrackProperties;
  /** Subscriptions the relay opened to this source, per track name (dedup shows here). */
  readonly subscriptions = new Map<string, number>();

  constructor(properties: TrackProperties = DEFAULT_PROPERTIES) {
    this.#properties = properties;
  }

  subscribe(_broadcast: Broadcast, track: Track, _request: TrackRequest): Upstream {
    let set = this.#tracks.get(track.name);
    if (!set) this.#tracks.set(track.name, set = new Set());
    set.add(track);
    track.setProperties(this.#properties);
    track.confirm();
    this.subscriptions.set(track.name, (this.subscriptions.get(track.name) ?? 0) + 1);
    return {
      update() {},
      close: () => {
        set.delete(track);
      },
    };
  }

  /** Whether anyone is subscribed to `name` now. */
  watched(name: string): boolean {
    return (this.#tracks.get(name)?.size ?? 0) > 0;
  }

  /**
   * Writes a whole group; frames get `timestamps` (track timescale) or consecutive ones.
   * Returns how many cache tracks received it.
   */
  writeGroup(name: string, sequence: number, frames: Uint8Array[], timestamps?: number[]): number {
    let delivered = 0;
    for (const track of this.#tracks.get(name) ?? []) {
      const group = track.addGroup(sequence);
      if (!group) continue;
      frames.forEach((payload, i) => {
        const frame = group.startFrame(timestamps?.[i] ?? sequence * 1000 + i, payload.length);
        if (frame && payload.length > 0) group.appendChunk(frame, payload);
      });
      group.finish();
      delivered++;
    }
    return delivered;
  }

  /** Opens a group in every subscribed copy of a track, to write frame by frame. */
  openGroup(
    name: string,
    sequence: number,
  ): { writeFrame(payload: Uint8Array, timestamp?: number): void; finish(): void } {
    const groups = [...this.#tracks.get(name) ?? []].map((t) => t.addGroup(sequence)).filter((g) =>
      g !== undefined
    );
    let index = 0;
    return {
      writeFrame(payload, timestamp) {
        for (const g of groups) {
          const frame = g.startFrame(timestamp ?? sequence * 1000 + index, payload.length);
          if (frame && payload.length > 0) g.appendChunk(frame, payload);
        }
        index++;
      },
      finish() {
        for (const g of groups) g.finish();
      },
    };
  }

  /** Ends every subscribed copy of a track. */
  endTrack(name: string): void {
    for (const track of this.#tracks.get(name) ?? []) track.end();
  }
}
