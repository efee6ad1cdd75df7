/**
 * Access control across a cluster of real relay processes: links authenticate with a token that
 * names the cluster's `internal/` prefix (`--cluster-jwt`, as `?jwt=` on the link URL) where no
 * `--cluster-token` is set; an ordinary user's token never grants `internal/`, however much else
 * it grants; and `?cluster=` alone proves nothing once access control is on. The tokens are
 * upstream `moq-token`'s own (tests/fixtures/moq_token).
 */
import { equal, ok } from "assert";
import { connectOwnClient, type OwnClient } from "./support/moq_client.ts";
import { rawUpgrade } from "./support/raw_websocket.ts";
import { type RelayProcess, startRelayProcess } from "./support/relay_process.ts";
import { testKey } from "./support/tokens.ts";
import { until } from "./support/wait.ts";

const FIXTURES = new URL("./fixtures/moq_token/", import.meta.url).pathname;
const KEY = `${FIXTURES}keys/k-es256.jwk`;
const fixture = (name: string) => Deno.readTextFile(`${FIXTURES}${name}`).then((t) => t.trim());
const text = (s: string) => new TextEncoder().encode(s);

async function clientOf(relay: RelayProcess, path: string): Promise<OwnClient> {
  return await connectOwnClient(relay.port, "moq-lite-06", {
    path,
    fingerprint: await relay.fingerprint(),
  });
}

Deno.test("cluster links authenticate with a token naming internal/; a user's token never grants it", async () => {
  const clusterJwt = await fixture("k-es256.cluster.jwt");
  // A user with everything but the cluster's prefix, on a key every relay trusts.
  const everything = await testKey("ES256", "user");
  const dir = await Deno.makeTempDir();
  const userKey = await everything.write(dir);
  const userJwt = await everything.sign({ publish: ["**"], subscribe: ["**"] });
  await using root = await startRelayProcess(["--auth-key", KEY, "--auth-key", userKey]);
  await using node = await startRelayProcess([
    "--auth-key",
    KEY,
    "--cluster-root",
    root.address,
    "--cluster-node",
    "127.0.0.1",
    "--cluster-jwt",
    clusterJwt,
  ]);
  await using rogue = await startRelayProcess([
    "--auth-key",
    KEY,
    "--auth-key",
    userKey,
    "--cluster-root",
    root.address,
    "--cluster-node",
    "127.0.0.1",
    "--cluster-jwt",
    userJwt,
  ]);
  const stats = `?jwt=${clusterJwt}`;
  const demo = await fixture("k-es256.demo.jwt"); // root demo, publish alice, subscribe all
  const publisher = await clientOf(node, `/demo?jwt=${demo}`);
  const viewer = await clientOf(root, `/demo?jwt=${demo}`);
  try {
    // The node joined: the root lists it, and a broadcast published on the node reaches a
    // viewer on the root.
    await until(
      "the node to join",
      async () => (await root.stats(stats)).sessions.some((s) => s.cluster),
      15_000,
    );
    const source = publisher.publish("demo/alice");
    await viewer.announced("demo/alice", 10_000);
    const groups = viewer.subscribe("demo/alice", "video");
    const first = groups.next();
    const writer = setInterval(() => source.writeGroup("video", 0, [text("hello")]), 100);
    try {
      equal(new TextDecoder().decode((await first).value?.frames[0]), "hello");
    } finally {
      clearInterval(writer);
      await groups.return(undefined);
    }
    // The rogue's link was admitted as an ordinary client: its membership record was refused,
    // so the root never lists it as a member and nobody dials it.
    await until(
      "the root to refuse the rogue's record",
      () => root.log().includes("refused an announcement of internal/origins/"),
      15_000,
    );
    const rootStats = await root.stats(stats);
    equal(rootStats.sessions.filter((s) => s.cluster).length, 1, "only the node is a link");
    const nodeStats = await node.stats(`?jwt=${clusterJwt}`);
    ok(!nodeStats.members.includes(rogue.address), `node members ${nodeStats.members}`);
  } finally {
    await publisher.close();
    await viewer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with access control on, ?cluster= alone is no credential, and /stats is for members", async () => {
  await using relay = await startRelayProcess(["--auth-key", KEY]);
  const ws = await rawUpgrade(relay.port, ["qmux-01.moq-lite-05"], { path: "/?cluster=" });
  ws.close();
  equal(ws.status, 401);
  const status = async (query: string) => {
    const response = await fetch(`http://${relay.address}/stats${query}`);
    await response.body?.cancel();
    return response.status;
  };
  equal(await status(""), 401);
  equal(await status(`?jwt=${await fixture("k-es256.demo.jwt")}`), 403);
  equal(await status(`?jwt=${await fixture("k-es256.cluster.jwt")}`), 200);
  // /announced lists what the token may subscribe to under the prefix, relative to it (as
  // upstream: one per line, no newline after the last; every refusal 401).
  const viewer = await clientOf(relay, `/demo?jwt=${await fixture("k-es256.demo.jwt")}`);
  try {
    viewer.publish("demo/alice");
    const list = async (path: string) => {
      const response = await fetch(`http://${relay.address}${path}`);
      return [response.status, await response.text()];
    };
    await until(
      "the announcement",
      async () =>
        (await list(`/announced/demo?jwt=${await fixture("k-es256.demo.jwt")}`))[1] === "alice",
    );
    const [refused] = await list("/announced/demo");
    equal(refused, 401);
    const [elsewhere] = await list(`/announced/other?jwt=${await fixture("k-es256.demo.jwt")}`);
    equal(elsewhere, 401);
  } finally {
    await viewer.close();
  }
});

Deno.test("each refusal is logged at info with its reason, never with the token", async () => {
  await using relay = await startRelayProcess(["--auth-key", KEY]);
  const expired = await fixture("k-es256.expired.jwt");
  const key = await testKey("ES256", "k-es256"); // the right kid, the wrong key
  const forged = await key.sign({ root: "demo", subscribe: ["**"] });
  for (const token of [expired, forged]) {
    const ws = await rawUpgrade(relay.port, ["qmux-01.moq-lite-05"], {
      path: `/demo?jwt=${token}`,
    });
    ws.close();
    equal(ws.status, 401);
  }
  await until(
    "both refusals in the log",
    () =>
      /refused a WebSocket session .*401 the token has expired/.test(relay.log()) &&
      /refused a WebSocket session .*401 bad signature/.test(relay.log()),
  );
  for (const token of [expired, forged]) {
    for (const part of token.split(".")) {
      ok(!relay.log().includes(part), "the log holds no part of a token");
    }
  }
});
