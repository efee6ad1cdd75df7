/**
 * The cache on its own: groups and frames as they arrive, late joiners at the latest group,
 * bounded bytes and age, shared upstream subscriptions, and routes that fall back.
 */
import { deepEqual, equal, ok } from "assert";
import { Broadcast, TRACK_LINGER_MS } from "../src/cache/broadcast.ts";
import { CacheBudget } from "../src/cache/budget.ts";
import { LocalSource } from "../src/cache/local.ts";
import { Origin } from "../src/cache/origin.ts";
import { Track } from "../src/cache/track.ts";

const bytes = (n: number) => new Uint8Array(n);

Deno.test("a new subscriber starts at the latest group, from its first frame", () => {
  const track = new Track("room/alice", "video", new CacheBudget());
  for (let seq = 0; seq < 3; seq++) {
    const g = track.addGroup(seq)!;
    g.appendChunk(g.startFrame(seq, 1)!, bytes(1));
    if (seq < 2) g.finish();
  }
  // Group 2 is half-written (one frame so far): a late joiner gets it, frame 0 onwards.
  const { group } = track.at(track.startIndex());
  equal(group?.sequence, 2);
  equal(group?.frames.length, 1);
  equal(group?.complete, false);
});

Deno.test("duplicate sequences are refused; groups arrive in any order", () => {
  const track = new Track("b", "t", new CacheBudget());
  ok(track.addGroup(5));
  equal(track.addGroup(5), undefined);
  ok(track.addGroup(3));
  equal(track.latest?.sequence, 5);
  equal(track.at(track.startIndex()).group?.sequence, 5);
});

Deno.test("the cache evicts oldest groups first when over its byte limit, never a latest group", () => {
  const budget = new CacheBudget({ maxBytes: 10_000, maxAgeMs: 60_000 });
  const a = new Track("b", "a", budget);
  const b = new Track("b", "b", budget);
  for (let seq = 0; seq < 10; seq++) {
    for (const track of [a, b]) {
      const g = track.addGroup(seq)!;
      g.appendChunk(g.startFrame(0, 1000)!, bytes(1000));
      g.finish();
    }
  }
  ok(budget.bytes <= 10_000, `cache holds ${budget.bytes} bytes`);
  equal(a.latest?.sequence, 9);
  ok(a.group(9) && b.group(9), "latest groups are kept");
  equal(a.group(0), undefined);
});

Deno.test("the cache drops non-latest groups older than its age limit", () => {
  const budget = new CacheBudget({ maxBytes: 1 << 30, maxAgeMs: 1000 });
  const track = new Track("b", "t", budget);
  for (let seq = 0; seq < 3; seq++) track.addGroup(seq)!.finish();
  budget.enforce(Date.now() + 5000);
  equal(track.group(0), undefined);
  equal(track.group(1), undefined);
  ok(track.group(2), "the latest group stays for late joiners");
});

Deno.test("a group over 32 MiB or 8192 frames is cut off, not grown without bound", () => {
  const track = new Track("b", "t", new CacheBudget());
  const g = track.addGroup(0)!;
  let frames = 0;
  while (g.startFrame(0, 0)) frames++;
  equal(frames, 8192);
  equal(g.aborted, true);
  const h = track.addGroup(1)!;
  equal(h.startFrame(0, 33 * 1024 * 1024), undefined);
  equal(h.aborted, true);
});

Deno.test("subscribers of one track share one upstream subscription, closed after the last leaves", async () => {
  const source = new LocalSource();
  const broadcast = new Broadcast("room/alice", source, new CacheBudget());
  const leases = Array.from(
    { length: 50 },
    () => broadcast.subscribe("video", { priority: 1, maxLatency: 0 }),
  );
  equal(source.subscriptions.get("video"), 1);
  ok(leases.every((l) => l.track === leases[0]?.track));
  equal(source.writeGroup("video", 0, [bytes(3)]), 1);
  for (const lease of leases) lease.release();
  ok(source.watched("video"), "lingers briefly after the last subscriber");
  await new Promise((r) => setTimeout(r, TRACK_LINGER_MS + 100));
  equal(source.watched("video"), false);
  equal(broadcast.trackCount, 0);
});

Deno.test("the most recent announcement wins; the route falls back when it leaves", () => {
  const origin = new Origin();
  const budget = new CacheBudget();
  const first = new Broadcast("room/alice", new LocalSource(), budget);
  const second = new Broadcast("room/alice", new LocalSource(), budget);
  const seen: (string | undefined)[] = [];
  const watch = origin.watch(
    "room",
    (path, active) =>
      seen.push(active ? `${path}:${active.broadcast === first ? 1 : 2}` : `${path}:ended`),
  );
  const withdrawFirst = origin.announce({
    path: "room/alice",
    broadcast: first,
    hops: [],
    from: {},
  });
  const withdrawSecond = origin.announce({
    path: "room/alice",
    broadcast: second,
    hops: [],
    from: {},
  });
  equal(origin.route("room/alice")?.broadcast, second);
  withdrawSecond();
  equal(origin.route("room/alice")?.broadcast, first);
  withdrawFirst();
  equal(origin.route("room/alice"), undefined);
  deepEqual(seen, ["room/alice:1", "room/alice:2", "room/alice:1", "room/alice:ended"]);
  // Segment-wise prefixes: "room" does not see "roomy/x".
  origin.announce({ path: "roomy/x", broadcast: first, hops: [], from: {} });
  equal(seen.length, 4);
  watch.stop();
});

Deno.test("evicting a group from the middle of a track moves no reader: none gets a group twice or skips one", () => {
  const budget = new CacheBudget({ maxBytes: 2500, maxAgeMs: 60_000 });
  const track = new Track("b", "t", budget);
  const add = (seq: number) => {
    const g = track.addGroup(seq)!;
    g.appendChunk(g.startFrame(0, 1000)!, bytes(1000));
    g.finish();
  };
  add(5);
  // A reader takes group 5 and moves on past it.
  const start = track.at(track.startIndex());
  equal(start.group?.sequence, 5);
  const cursor = start.index + 1;
  // Groups 3 and 4 arrive late; 4 puts the cache over its bytes, so the oldest non-latest
  // group goes: 3, which sits between 5 and 4.
  add(3);
  add(4);
  equal(track.group(3), undefined, "group 3 was evicted");
  ok(track.group(4) && track.group(5), "groups 4 and 5 are still cached");
  const next = track.at(cursor);
  equal(next.group?.sequence, 4, "the reader after 5 moves on to 4, not back to 5");
  equal(track.at(next.index + 1).group, undefined);
});

Deno.test("when only latest groups are over the limit, the oldest latest go, never the newest", () => {
  const budget = new CacheBudget({ maxBytes: 10_000, maxAgeMs: 60_000 });
  const tracks = [0, 1, 2, 3, 4].map((i) => new Track("b", `t${i}`, budget));
  for (const track of tracks) {
    const g = track.addGroup(0)!;
    g.appendChunk(g.startFrame(0, 4000)!, bytes(4000));
    g.finish();
  }
  ok(budget.bytes <= 10_000, `cache holds ${budget.bytes} bytes`);
  equal(budget.groups, 2);
  equal(tracks[0]!.latest, undefined, "the oldest latest group went");
  equal(tracks[0]!.group(0), undefined);
  ok(tracks[4]!.group(0), "the newest stays");
  // A track whose latest went starts new subscribers at its next group.
  equal(tracks[0]!.startIndex(), tracks[0]!.at(tracks[0]!.startIndex()).index);
});

Deno.test("one group larger than the whole cache is kept while it is the newest", () => {
  const budget = new CacheBudget({ maxBytes: 1000, maxAgeMs: 60_000 });
  const track = new Track("b", "t", budget);
  const g = track.addGroup(0)!;
  g.appendChunk(g.startFrame(0, 5000)!, bytes(5000));
  g.finish();
  equal(g.aborted, false);
  ok(track.group(0), "kept");
});
