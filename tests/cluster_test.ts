/**
 * Clusters of real relay processes on loopback: a root and nodes linked over MoQ, publishers and
 * subscribers on different relays, crashes and restarts.
 */
import { deepEqual, equal, ok } from "assert";
import { connectOwnClient, type OwnClient } from "./support/moq_client.ts";
import { type RelayProcess, startRelayProcess } from "./support/relay_process.ts";
import { sleep, until } from "./support/wait.ts";

const text = (s: string) => new TextEncoder().encode(s);
const strings = (frames: Uint8Array[]) => frames.map((f) => new TextDecoder().decode(f));

async function clientOf(relay: RelayProcess, protocol = "moq-lite-06"): Promise<OwnClient> {
  return await connectOwnClient(relay.port, protocol, { fingerprint: await relay.fingerprint() });
}

/** A node of `root`'s cluster, advertising the port it binds. */
function node(root: RelayProcess, extra: string[] = []): Promise<RelayProcess> {
  return startRelayProcess([
    "--cluster-root",
    root.address,
    "--cluster-node",
    "127.0.0.1",
    ...extra,
  ]);
}

/** Writes groups until the subscriber has received `want` of them; returns their frames. */
async function flow(
  source: { writeGroup(name: string, seq: number, frames: Uint8Array[]): number },
  groups: AsyncGenerator<{ sequence: number; frames: Uint8Array[] }>,
  tag: string,
): Promise<string[]> {
  const first = groups.next();
  let seq = 0;
  const writer = setInterval(
    () => source.writeGroup("video", seq++, [text(`${tag}-${seq}-a`), text(`${tag}-${seq}-b`)]),
    50,
  );
  try {
    const got = await first;
    return strings(got.value?.frames ?? []);
  } finally {
    clearInterval(writer);
  }
}

Deno.test("root + two nodes: every relay reaches a broadcast on node A; one subscription per link", async () => {
  await using root = await startRelayProcess([]);
  await using a = await node(root);
  await using b = await node(root);
  const publisher = await clientOf(a, "moq-lite-05");
  const source = publisher.publish("room/cam");
  const onRoot = await clientOf(root, "moq-lite-04");
  const onB = await Promise.all(
    Array.from({ length: 20 }, (_, i) => clientOf(b, i % 2 ? "moq-lite-06" : "moq-lite-03")),
  );
  try {
    for (const c of [onRoot, ...onB]) await c.announced("room/cam", 10_000);
    const streams = [onRoot, ...onB].map((c) => c.subscribe("room/cam", "video"));
    const firsts = streams.map((s) => s.next());
    await until("the relays to subscribe", () => source.watched("video"));
    // Every viewer's SUBSCRIBE has reached its relay, and both relays subscribe to A.
    const servedBy = async (relay: RelayProcess, cluster: boolean) =>
      (await relay.stats()).sessions.filter((s) => s.cluster === cluster)
        .reduce((n, s) => n + s.subscriptionsServed, 0);
    await until(
      "every subscription to arrive",
      async () =>
        await servedBy(b, false) === 20 && await servedBy(root, false) === 1 &&
        await servedBy(a, true) === 2,
    );
    for (let g = 0; g < 3; g++) source.writeGroup("video", g, [text(`f${g}`), text(`g${g}`)]);
    for (const [i, s] of streams.entries()) {
      const got = [await firsts[i], await s.next(), await s.next()].map((r) =>
        strings(r.value?.frames ?? [])
      );
      deepEqual(got, [["f0", "g0"], ["f1", "g1"], ["f2", "g2"]]);
      await s.return(undefined);
    }
    // A serves each relay that has subscribers exactly one subscription: 20 viewers on B, one link.
    const stats = await a.stats();
    const served = stats.sessions.filter((s) => s.cluster).map((s) => s.subscriptionsServed);
    deepEqual(served.filter((n) => n > 0), [1, 1], JSON.stringify(stats.sessions));
    equal(source.subscriptions.get("video"), 1);
  } finally {
    for (const c of [onRoot, ...onB, publisher]) await c.close();
  }
});

Deno.test("a read-only member reaches cluster broadcasts; its own stay local", async () => {
  await using root = await startRelayProcess([]);
  await using a = await node(root);
  await using member = await startRelayProcess(["--cluster-root", root.address]);
  const publisher = await clientOf(a);
  const source = publisher.publish("news/live");
  const local = await clientOf(member);
  const localSource = local.publish("member/only");
  const viewer = await clientOf(member);
  const onRoot = await clientOf(root);
  try {
    await viewer.announced("news/live", 10_000);
    const frames = await flow(source, viewer.subscribe("news/live", "video"), "n");
    ok(/^n-\d+-a,n-\d+-b$/.test(frames.join()), frames.join());
    await viewer.announced("member/only");
    // The member has its broadcast. Restart the root, so the member's listing reaches it anew,
    // and wait until the root holds that listing: whatever the member shows, the root has.
    await root.restart();
    await until("the root to hold the member's listing", async () => {
      const link = (await root.stats()).sessions.find((s) =>
        s.cluster && s.remote === member.address
      );
      return link?.announcements.listed === true;
    }, 15_000);
    const again = await clientOf(root);
    try {
      await again.announced("news/live", 10_000);
      const link = (await root.stats()).sessions.find((s) => s.remote === member.address);
      equal(link?.announcements.active, 0, "the member showed the root a broadcast");
      equal(
        again.context.origin.route("member/only"),
        undefined,
        "a read-only member's broadcast reached the root",
      );
      equal(localSource.subscriptions.size, 0);
    } finally {
      await again.close();
    }
  } finally {
    for (const c of [onRoot, viewer, local, publisher]) await c.close();
  }
});

Deno.test("kill node A: B's subscribers see the end within 5 s; the publisher moves to B; A's replacement and the root reach it", async () => {
  await using root = await startRelayProcess([]);
  await using a = await node(root);
  await using b = await node(root);
  const publisher = await clientOf(a);
  const source = publisher.publish("show/x");
  const viewer = await clientOf(b);
  const onRoot = await clientOf(root);
  try {
    await viewer.announced("show/x", 10_000);
    const groups = viewer.subscribe("show/x", "video");
    ok((await flow(source, groups, "a")).length === 2);
    await a.kill();
    const ended = await until("B to drop the broadcast", async () => {
      const next = await Promise.race([groups.next(), sleep(100).then(() => "pending" as const)]);
      return next !== "pending" && next.done === true && !viewer.context.origin.route("show/x");
    }, 5000);
    ok(ended <= 5000);
    await until(
      "the root to drop the broadcast",
      () => !onRoot.context.origin.route("show/x"),
      5000,
    );
    console.log(`failure detected in ${ended} ms`);
    // The publisher reconnects to B.
    await publisher.close().catch(() => {});
    const again = await clientOf(b);
    const moved = again.publish("show/x");
    await a.restart();
    const onNewA = await clientOf(a);
    try {
      await onNewA.announced("show/x", 10_000);
      await onRoot.announced("show/x", 10_000);
      ok((await flow(moved, onNewA.subscribe("show/x", "video"), "b")).length === 2);
      ok((await flow(moved, onRoot.subscribe("show/x", "video"), "c")).length === 2);
    } finally {
      await onNewA.close();
      await again.close();
    }
  } finally {
    for (const c of [onRoot, viewer]) await c.close();
    await publisher.close().catch(() => {});
  }
});

Deno.test("restart the root: nodes reconnect and routing recovers without restarting any node", async () => {
  await using root = await startRelayProcess([]);
  await using a = await node(root);
  await using b = await node(root);
  await root.restart();
  const publisher = await clientOf(a);
  const source = publisher.publish("after/restart");
  const viewer = await clientOf(b);
  const onRoot = await clientOf(root);
  try {
    const took = await until(
      "B and the root to learn the broadcast",
      () =>
        !!viewer.context.origin.route("after/restart") &&
        !!onRoot.context.origin.route("after/restart"),
      15_000,
    );
    console.log(`routing recovered ${took} ms after the root came back`);
    ok((await flow(source, viewer.subscribe("after/restart", "video"), "r")).length === 2);
    ok((await flow(source, onRoot.subscribe("after/restart", "video"), "s")).length === 2);
  } finally {
    for (const c of [onRoot, viewer, publisher]) await c.close();
  }
});

Deno.test("a five-relay mesh under churn ends with every broadcast everywhere and one subscription per link", async () => {
  await using root = await startRelayProcess([]);
  const nodes: RelayProcess[] = [];
  try {
    for (let i = 0; i < 4; i++) nodes.push(await node(root));
    // Churn: one node leaves and comes back, another crashes and restarts.
    await nodes[1]!.kill();
    await sleep(500);
    await nodes[1]!.restart();
    await nodes[2]!.restart();
    const relays = [root, ...nodes];
    const publishers = await Promise.all(relays.map((r) => clientOf(r)));
    const sources = publishers.map((p, i) => p.publish(`mesh/${i}`));
    const viewers = await Promise.all(relays.map((r) => clientOf(r)));
    try {
      for (const [vi, v] of viewers.entries()) {
        for (let i = 0; i < relays.length; i++) {
          await v.announced(`mesh/${i}`, 15_000).catch(async (e) => {
            const stats = await Promise.all(relays.map((r) => r.stats()));
            throw new Error(
              `viewer on relay ${vi}: ${e.message}; members ${
                JSON.stringify(stats.map((s) => s.members))
              }; routes ${JSON.stringify(stats.map((s) => s.routes))}`,
            );
          });
        }
      }
      // Every relay's viewer receives from every publisher.
      for (const [vi, v] of viewers.entries()) {
        for (const [pi, source] of sources.entries()) {
          const frames = await flow(source, v.subscribe(`mesh/${pi}`, "video"), `v${vi}p${pi}`);
          equal(frames.length, 2, `viewer on relay ${vi} from publisher ${pi}`);
        }
      }
      // No relay serves another more than one subscription per track.
      for (const r of relays) {
        const stats = await r.stats();
        for (const s of stats.sessions.filter((s) => s.cluster)) {
          ok(s.subscriptionsServed <= relays.length, JSON.stringify(s));
        }
      }
      for (const source of sources) equal(source.subscriptions.get("video"), 1);
    } finally {
      for (const c of [...viewers, ...publishers]) await c.close();
    }
  } finally {
    for (const n of nodes) await n[Symbol.asyncDispose]();
  }
});

Deno.test("with --cluster-token, a client cannot announce itself as a node; token holders form the cluster", async () => {
  const token = ["--cluster-token", "s3cret"];
  await using root = await startRelayProcess(token);
  await using a = await node(root, token);
  await using b = await node(root, token);
  // A plain client on the root announces a fake member.
  const rogue = await connectOwnClient(root.port, "moq-lite-06", {
    fingerprint: await root.fingerprint(),
  });
  rogue.publish("internal/origins/127.0.0.1:9");
  const publisher = await clientOf(a);
  const source = publisher.publish("secure/feed");
  const viewer = await clientOf(b);
  try {
    await viewer.announced("secure/feed", 10_000);
    ok((await flow(source, viewer.subscribe("secure/feed", "video"), "t")).length === 2);
    // The root refused the fake member's record as it arrived: nothing can have spread from it.
    await until(
      "the root to refuse the record",
      () => root.log().includes("only cluster members may announce internal paths"),
    );
    for (const r of [root, a, b]) {
      const stats = await r.stats();
      ok(!stats.members.includes("127.0.0.1:9"), `${r.address} dialed the fake member`);
    }
  } finally {
    for (const c of [viewer, publisher, rogue]) await c.close();
  }
});

Deno.test("open cluster: a node never dials a host named by a client's member record, only the root's", async () => {
  await using root = await startRelayProcess([]);
  await using a = await node(root);
  await using b = await node(root);
  // The nodes know each other through the root.
  await until("node A to link to node B", async () => {
    const members = [...(await a.stats()).members, ...(await b.stats()).members];
    return members.includes(a.address) || members.includes(b.address);
  }, 15_000);
  // An outsider on node A claims a member at a host of its choosing; its name sorts after node
  // A's (kernel ports start with 3 to 6), so node A would be the one to dial it.
  const forged = "127.0.0.1:9";
  const outsider = await clientOf(a);
  try {
    outsider.publish(`internal/origins/${forged}`);
    outsider.publish("outsider/marker");
    // Node A has moved on: the outsider's next broadcast reached the root through it.
    const onRoot = await clientOf(root);
    try {
      await onRoot.announced("outsider/marker", 10_000);
    } finally {
      await onRoot.close();
    }
    const members = (await a.stats()).members;
    ok(!members.includes(forged), `node A linked to the forged member: ${members.join(", ")}`);
    ok(a.log().includes("not announced by the root"), "node A said why it ignored the record");
  } finally {
    await outsider.close();
  }
});

Deno.test("a client's 1,024 broadcasts at a node hide nobody else's across the cluster link", async () => {
  await using root = await startRelayProcess([]);
  await using a = await node(root);
  const spammer = await clientOf(a);
  const publisher = await clientOf(a);
  const onRoot = await connectOwnClient(root.port, "moq-lite-06", {
    fingerprint: await root.fingerprint(),
    sessionLimits: { maxAnnouncements: 4096 },
  });
  try {
    for (let i = 0; i < 1024; i++) spammer.publish(`spam/${i}/${"x".repeat(1000)}`);
    await until("the spam to reach the root", async () => {
      const link = (await root.stats()).sessions.find((s) => s.cluster);
      return (link?.announcements.active ?? 0) >= 1024;
    }, 15_000);
    // Past one client's limit on the link, another client's broadcast still gets through.
    publisher.publish("real/cam");
    await onRoot.announced("real/cam", 10_000);
  } finally {
    await onRoot.close();
    await publisher.close();
    await spammer.close();
  }
});
