/**
 * Memory that must not grow with every group: a relay runs for days, with broadcasts of one
 * group per audio frame. Measured in a child process with `--v8-flags=--expose-gc` (the heap
 * after full collections, before and after 20,000 groups to 3 subscribers, every cache bounded
 * to a few KiB): anything kept per group for a subscription's lifetime shows as growth per group.
 * (The soak benchmark measures the same over minutes, from outside the relay process.)
 */
import { ok } from "assert";

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
