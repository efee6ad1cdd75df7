/**
 * Memory that must not grow with every group: a relay runs for days, with broadcasts of one
 * group per audio frame. Measured in a child process with `--v8-flags=--expose-gc` (the heap
 * after full collections, before and after 20,000 groups to 3 subscribers, every cache bounded
 * to a few KiB): anything kept per group for a subscription's lifetime shows as growth per group.
 * (The soak benchmark measures the same over minutes, from outside the relay process.)
 */
import { ok } from "assert";
import { connectOwnClient } from "./support/moq_client.ts";
import { startRelayProcess } from "./support/relay_process.ts";
import { until } from "./support/wait.ts";

/**
 * Growth allowed per group per subscriber: heap noise between two collections is about 1-2 MB,
 * so 30 B over 60,000 group deliveries; a reaction kept per group costs about 100-300 B.
 */
const MAX_BYTES_PER_GROUP = 30;

Deno.test("the heap does not grow with every group delivered", async () => {
  const probe = new URL("./support/memory_probe.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", probe],
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(stdout);
  ok(code === 0, `the probe failed: ${new TextDecoder().decode(stderr)}`);
  const result = JSON.parse(text.trim().split("\n").at(-1) ?? "{}") as {
    delivered: number;
    growth: number;
    perGroupPerSubscriber: number;
  };
  ok(result.delivered > 0, `nothing was delivered: ${text}`);
  ok(
    result.perGroupPerSubscriber < MAX_BYTES_PER_GROUP,
    `the heap grew ${result.growth} B: ${result.perGroupPerSubscriber.toFixed(1)} B per group ` +
      `per subscriber (limit ${MAX_BYTES_PER_GROUP})`,
  );
});

Deno.test("a relay holds its cache, not everything that passed through it (large groups)", async () => {
  const MiB = 1024 * 1024;
  await using relay = await startRelayProcess(["--cache-max-bytes", "16MiB"], 0, { inspect: true });
  const fingerprint = await relay.fingerprint();
  const options = { fingerprint, transport: "quic" as const };
  await using publisher = await connectOwnClient(relay.port, "moq-lite-06", options);
  await using viewer = await connectOwnClient(relay.port, "moq-lite-06", {
    ...options,
    cache: { maxBytes: MiB, maxAgeMs: 1000 },
  });
  const source = publisher.publish("big/groups");
  await viewer.announced("big/groups");
  let received = 0;
  const reading = (async () => {
    for await (const _ of viewer.subscribe("big/groups", "video")) received++;
  })();
  await until("the relay's subscription", () => source.watched("video"));
  const held = async () => {
    const memory = await relay.memoryAfterGc();
    return memory.heapUsed + memory.external;
  };
  const before = await held();
  // 160 groups of 512 KiB (two 256 KiB frames): 80 MiB through a 16 MiB cache.
  const frame = new Uint8Array(256 * 1024).fill(9);
  for (let sequence = 0; sequence < 160; sequence++) {
    source.writeGroup("video", sequence, [frame, frame]);
    await until(`group ${sequence} to arrive`, () => received > sequence);
  }
  const grown = await held() - before;
  ok(grown < 16 * MiB + 8 * MiB, `the relay holds ${(grown / MiB).toFixed(1)} MiB more`);
  await viewer.close();
  await reading;
});
