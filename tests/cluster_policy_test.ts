/**
 * The cluster's rules as views of the origin: what an ordinary client and another relay of the
 * cluster may subscribe to, list and announce. (The cluster tests check the same end to end.)
 */
import { deepEqual, equal, ok } from "assert";
import { Broadcast } from "../src/cache/broadcast.ts";
import { CacheBudget } from "../src/cache/budget.ts";
import { LocalSource } from "../src/cache/local.ts";
import { Origin } from "../src/cache/origin.ts";
import { type OriginView, RootedView } from "../src/cache/view.ts";
import { ClusterPolicy, type ClusterRole } from "../src/cluster/policy.ts";
import { logger } from "../src/log.ts";

const log = logger("test");
const budget = new CacheBudget();
const broadcast = (path: string) => new Broadcast(path, new LocalSource(), budget);

/** Paths a view lists under `prefix`, now. */
function listed(view: OriginView, prefix = ""): string[] | undefined {
  const watch = view.watch(prefix, () => {});
  if (!watch) return undefined;
  watch.stop();
  return watch.snapshot.map((s) => s.path).sort();
}

/** A relay's origin and policy; `open` leaves internal/ without a token. */
function cluster(role: ClusterRole, open = false) {
  const origin = new Origin();
  const policy = new ClusterPolicy(open ? undefined : "s3cret", role);
  const client = () => policy.client(new RootedView(origin, ""), log);
  const link = () => policy.link(new RootedView(origin, ""));
  return { origin, policy, client, link };
}

Deno.test("with a token, an ordinary client may not subscribe to, list or announce internal/", () => {
  const { client, link } = cluster("root");
  const member = link();
  ok(member.announce("internal/origins/a:1", broadcast("internal/origins/a:1"), []));
  const alice = client();
  ok(alice.announce("room/alice", broadcast("room/alice"), []));
  equal(alice.route("internal/origins/a:1"), undefined);
  equal(listed(alice, "internal"), undefined, "an internal prefix is refused");
  equal(
    alice.announce("internal/origins/fake:9", broadcast("internal/origins/fake:9"), []),
    undefined,
  );
  const bob = client();
  deepEqual(listed(bob), ["room/alice"], "internal paths stay out of ordinary listings");
  ok(bob.route("room/alice"));
});

Deno.test("without a token internal/ is open, but still out of listings that do not ask for it", () => {
  const { client, link } = cluster("root", true);
  ok(link().announce("internal/origins/a:1", broadcast("internal/origins/a:1"), []));
  const alice = client();
  ok(alice.route("internal/origins/a:1"));
  deepEqual(listed(alice), []);
  deepEqual(listed(alice, "internal/origins"), ["internal/origins/a:1"]);
});

Deno.test("a link is shown local broadcasts only; the root also relays membership records", () => {
  for (const role of ["root", "node"] as const) {
    const { client, link } = cluster(role);
    ok(client().announce("room/local", broadcast("room/local"), []));
    ok(link().announce("room/learned", broadcast("room/learned"), []));
    ok(link().announce("internal/origins/b:2", broadcast("internal/origins/b:2"), []));
    const other = link();
    const expected = role === "root" ? ["internal/origins/b:2", "room/local"] : ["room/local"];
    deepEqual(listed(other), expected, role);
    // What a link learned is still routable for subscriptions (the cluster serves it).
    ok(other.route("room/learned"), role);
    // Clients see everything but internal records.
    deepEqual(listed(client()), ["room/learned", "room/local"], role);
  }
});

Deno.test("a read-only member shows links nothing, and a session never sees its own broadcasts", () => {
  const { client, link } = cluster("member");
  const alice = client();
  ok(alice.announce("room/alice", broadcast("room/alice"), []));
  deepEqual(listed(link()), []);
  deepEqual(listed(alice), [], "a session's own broadcast is not shown back to it");
  deepEqual(listed(client()), ["room/alice"]);
});

Deno.test("a link's announcement is known as learned before anyone hears of it", () => {
  const { origin, link } = cluster("node");
  const heard: string[] = [];
  const watcher = link();
  const watch = watcher.watch("", (path, active) => heard.push(`${path}:${active ? "+" : "-"}`));
  const learned = broadcast("room/far");
  link().announce("room/far", learned, []);
  watch?.stop();
  deepEqual(heard, ["room/far:-"], "another link heard of a learned broadcast");
  ok(origin.route("room/far"));
});

Deno.test("an empty presented token is never a link, even for a policy built with an empty token", () => {
  const guarded = new ClusterPolicy("s3cret", "root");
  equal(guarded.isLink("s3cret"), true);
  equal(guarded.isLink(""), false);
  equal(guarded.isLink(null), false);
  equal(guarded.isLink("wrong"), false);
  // Config refuses an empty token; should one reach the policy, it fails closed.
  const empty = new ClusterPolicy("", "root");
  equal(empty.isLink(""), false);
  equal(empty.isLink(null), false);
  const origin = new Origin();
  const link = new ClusterPolicy("s3cret", "root").link(new RootedView(origin, ""));
  ok(link.announce("internal/origins/a:1", broadcast("internal/origins/a:1"), []));
  const client = empty.client(new RootedView(origin, ""), log);
  equal(client.route("internal/origins/a:1"), undefined, "internal/ stays guarded");
  equal(listed(client, "internal"), undefined);
});
