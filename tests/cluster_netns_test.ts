/**
 * The cluster across real hosts: three network namespaces made by this test, each running a relay
 * on its own address (10.77.0.0/24 on a bridge only this test creates), advertising that address
 * as --cluster-node. Needs root and iproute2; otherwise the test is reported as ignored, with why.
 */
import { deepEqual, ok } from "assert";
import { connectOwnClient } from "./support/moq_client.ts";
import { startRelayProcess } from "./support/relay_process.ts";

const BRIDGE = "br-moqtest";
const HOSTS = ["moqtest-root", "moqtest-a", "moqtest-b"];
const address = (i: number) => `10.77.0.${10 + i}`;

function ip(...args: string[]): { ok: boolean; err: string } {
  const out = new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).outputSync();
  return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
}

/** Why namespaces cannot be used here, or undefined if they can. */
function unavailable(): string | undefined {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  if (Deno.uid() !== 0) return "creating network namespaces needs root";
  try {
    const probe = ip("netns", "add", "moqtest-probe");
    if (!probe.ok) return `ip netns add failed: ${probe.err}`;
    ip("netns", "del", "moqtest-probe");
  } catch {
    return "iproute2 (ip) is not installed";
  }
  return undefined;
}

function teardown(): void {
  for (const ns of HOSTS) ip("netns", "del", ns);
  ip("link", "del", BRIDGE);
}

function setup(): void {
  teardown();
  const must = (...args: string[]) => {
    const r = ip(...args);
    if (!r.ok) throw new Error(`ip ${args.join(" ")}: ${r.err}`);
  };
  must("link", "add", BRIDGE, "type", "bridge");
  must("addr", "add", "10.77.0.1/24", "dev", BRIDGE);
  must("link", "set", BRIDGE, "up");
  HOSTS.forEach((ns, i) => {
    must("netns", "add", ns);
    must("link", "add", `veth-moq${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns);
    must("link", "set", `veth-moq${i}`, "master", BRIDGE);
    must("link", "set", `veth-moq${i}`, "up");
    must("-n", ns, "addr", "add", `${address(i)}/24`, "dev", "eth0");
    must("-n", ns, "link", "set", "eth0", "up");
    must("-n", ns, "link", "set", "lo", "up");
  });
}

const why = unavailable();

Deno.test({
  name: `cluster across network namespaces${why ? ` (not run: ${why})` : ""}`,
  ignore: why !== undefined,
  async fn() {
    setup();
    try {
      const port = 4443;
      await using _root = await startRelayProcess([], port, { host: address(0), netns: HOSTS[0] });
      const node = (i: number) =>
        startRelayProcess(
          ["--cluster-root", `${address(0)}:${port}`, "--cluster-node", `${address(i)}:${port}`],
          port,
          {
            host: address(i),
            netns: HOSTS[i],
          },
        );
      await using a = await node(1);
      await using b = await node(2);
      const publisher = await connectOwnClient(port, "moq-lite-06", {
        host: address(1),
        fingerprint: await a.fingerprint(),
      });
      const viewer = await connectOwnClient(port, "moq-lite-05", {
        host: address(2),
        fingerprint: await b.fingerprint(),
      });
      try {
        const source = publisher.publish("hosts/cam");
        await viewer.announced("hosts/cam", 15_000);
        const groups = viewer.subscribe("hosts/cam", "video");
        const first = groups.next();
        while (!source.watched("video")) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 200));
        source.writeGroup("video", 0, [new TextEncoder().encode("across hosts")]);
        deepEqual((await first).value?.frames.map((f: Uint8Array) => new TextDecoder().decode(f)), [
          "across hosts",
        ]);
        await groups.return(undefined);
        const stats = await a.stats();
        ok(
          stats.members.includes(`${address(2)}:${port}`) ||
            (await b.stats()).members.includes(`${address(1)}:${port}`),
        );
      } finally {
        await viewer.close();
        await publisher.close();
      }
    } finally {
      teardown();
    }
  },
});
