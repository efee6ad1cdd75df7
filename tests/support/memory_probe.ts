/**
 * Heap growth per delivered group, measured in one process run with `--v8-flags=--expose-gc`:
 * an in-process relay, a publisher and subscribers of our own (raw QUIC, lite-06), groups of one
 * small frame each (an audio track's shape), every cache bounded to a few KiB so nothing kept on
 * purpose grows. The heap after a full collection is taken after a warm-up and again at the end;
 * prints one JSON line: `{ groups, subscribers, delivered, heapBefore, heapAfter, growth,
 * perGroupPerSubscriber }`: the heap's growth, and that growth per group written per subscriber.
 *
 *   deno run -A --v8-flags=--expose-gc tests/support/memory_probe.ts [--groups 20000] [--subscribers 3]
 */
import { parseArgs } from "cli-args";
import { connectOwnClient } from "./moq_client.ts";
import { startRelay } from "./relay.ts";

const { values } = parseArgs({
  options: {
    groups: { type: "string", default: "20000" },
    warmup: { type: "string", default: "2000" },
    subscribers: { type: "string", default: "3" },
  },
});
const GROUPS = Number(values.groups);
const WARMUP = Number(values.warmup);
const SUBSCRIBERS = Number(values.subscribers);
/** Groups written before waiting for every subscriber to have the last of them. */
const BATCH = 20;
const cache = { maxBytes: 16 * 1024, maxAgeMs: 60_000 };

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 20));
  }
  return Deno.memoryUsage().heapUsed;
}

const relay = await startRelay(["--cache-max-bytes", "16KiB"]);
const fingerprint = relay.certificates.primary.fingerprint;
const options = { fingerprint, transport: "quic" as const, cache };
const publisher = await connectOwnClient(relay.addr.port, "moq-lite-06", options);
const source = publisher.publish("probe/audio");
const viewers = await Promise.all(
  Array.from(
    { length: SUBSCRIBERS },
    () => connectOwnClient(relay.addr.port, "moq-lite-06", options),
  ),
);
const latest = viewers.map(() => -1);
let delivered = 0;
const readers = viewers.map(async (viewer, i) => {
  await viewer.announced("probe/audio");
  for await (const group of viewer.subscribe("probe/audio", "audio")) {
    latest[i] = group.sequence;
    delivered++;
  }
});
while (!source.watched("audio")) await new Promise((r) => setTimeout(r, 5));

const payload = new Uint8Array(100);
let sequence = 0;
/** Writes `count` groups, a batch at a time, each batch received by every subscriber. */
async function write(count: number): Promise<void> {
  const end = sequence + count;
  while (sequence < end) {
    for (let i = 0; i < BATCH; i++) source.writeGroup("audio", sequence++, [payload]);
    const last = sequence - 1;
    const deadline = Date.now() + 5000;
    while (latest.some((s) => s < last) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

await write(WARMUP);
const before = await heapAfterGc();
const deliveredBefore = delivered;
await write(GROUPS);
const after = await heapAfterGc();
const measured = delivered - deliveredBefore;
console.log(JSON.stringify({
  groups: GROUPS,
  subscribers: SUBSCRIBERS,
  delivered: measured,
  heapBefore: before,
  heapAfter: after,
  growth: after - before,
  perGroupPerSubscriber: (after - before) / (GROUPS * SUBSCRIBERS),
}));
for (const v of viewers) await v.close();
await publisher.close();
await Promise.allSettled(readers);
await relay.close();
