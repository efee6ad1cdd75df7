/**
 * What a moq-transport session keeps must end with what it is kept for: per group (the group
 * streams, the joined objects) and per request (virtual requests on the control stream, request
 * streams, aliases, subscriptions). Measured in a relay process, after full collections through
 * the V8 inspector, before and after many groups and many short subscriptions.
 */
import { ok } from "assert";
import type { ControlMessage, Draft } from "../src/codec/ietf/mod.ts";
import { connectRawIetf, type RawIetf } from "./support/ietf_raw.ts";
import { connectOwnClient } from "./support/moq_client.ts";
import { startRelayProcess } from "./support/relay_process.ts";
import { until, withTimeout } from "./support/wait.ts";

/** Heap noise between two collections is about 1-2 MB: these bounds sit well above it. */
const MAX_BYTES_PER_GROUP = 40;
const MAX_BYTES_PER_REQUEST = 300;

const subscribeTo = (requestId: bigint, namespace: string[], track: string, draft: Draft) =>
  ({
    type: "subscribe",
    requestId,
    namespace,
    track,
    priority: 128,
    groupOrder: 2,
    forward: true,
    filter: draft >= 20 ? { type: "relative", groups: 1 } : { type: "next-object" },
    tokens: [],
  }) satisfies ControlMessage;

/** Opens a subscription on either kind of draft; resolves once SUBSCRIBE_OK came. */
async function open(client: RawIetf, requestId: bigint, namespace: string[], track: string) {
  const message = subscribeTo(requestId, namespace, track, client.draft);
  if (client.draft <= 16) {
    await client.send(message);
    for (let m = await client.next(); m; m = await client.next()) {
      if (m.type === "subscribe_ok") return undefined;
      if (m.type === "request_error") throw new Error(`refused: ${m.reason}`);
    }
    throw new Error("the control stream ended");
  }
  const request = await client.request(message);
  const ok = await request.next();
  if (ok?.type !== "subscribe_ok") throw new Error(`expected SUBSCRIBE_OK, got ${ok?.type}`);
  return request;
}

Deno.test("moq-transport viewers on drafts 16 and 18: the relay's heap does not grow with every group", async () => {
  // Every cache bounded to a few KiB, as the moq-lite probe does: what stays is what leaks.
  await using relay = await startRelayProcess(["--cache-max-bytes", "16KiB"], 0, { inspect: true });
  const fingerprint = await relay.fingerprint();
  await using publisher = await connectOwnClient(relay.port, "moq-lite-06", {
    fingerprint,
    transport: "quic",
  });
  const source = publisher.publish("mem/audio");
  const viewers = await Promise.all(
    ([16, 18] as Draft[]).map((d) => connectRawIetf(relay.port, d, { fingerprint })),
  );
  try {
    let received = 0;
    let waiter: { at: number; wake: () => void } | undefined;
    const delivered = (at: number) =>
      received >= at ? Promise.resolve() : new Promise<void>((wake) => waiter = { at, wake });
    // Held for the test: a request stream nothing refers to any more is closed when collected,
    // and on 17+ the end of its stream unsubscribes.
    const requests: unknown[] = [];
    for (const viewer of viewers) {
      // Refused until the publisher's announcement is routed; each try takes a new request id.
      let id = 0n;
      await until("the broadcast is routed", async () => {
        try {
          requests.push(await open(viewer, id, ["mem", "audio"], "a"));
          return true;
        } catch {
          id += 2n;
          return false;
        }
      });
    }
    const per = viewers.map(() => 0);
    const draining = viewers.map(async (viewer, i) => {
      for (;;) {
        await viewer.dataStream(60_000);
        per[i]++;
        received++;
        if (waiter && received >= waiter.at) waiter.wake();
      }
    });
    draining.forEach((d) => d.catch(() => {}));
    await until("the relay's subscription", () => source.watched("a"));
    const payload = new Uint8Array(40).fill(7);
    // One group at a time, each to both viewers before the next: a burst would let the relay
    // drop older groups for its viewers (newest first), which is not what is measured here.
    let next = 0;
    const write = async (count: number) => {
      for (const end = next + count; next < end; next++) {
        const want = received + viewers.length;
        source.writeGroup("a", next, [payload]);
        await withTimeout(delivered(want), 5000, `group ${next} to both viewers (${per})`);
      }
    };
    await write(1000); // warm-up: caches, pools, JIT
    const held = async () => {
      const memory = await relay.memoryAfterGc();
      return memory.heapUsed + memory.external;
    };
    const before = await held();
    const groups = 8000;
    await write(groups);
    const growth = (await held()) - before;
    const perGroup = growth / (groups * viewers.length);
    console.log(`heap growth ${growth} B over ${groups} groups to ${viewers.length} viewers`);
    void requests;
    ok(
      perGroup < MAX_BYTES_PER_GROUP,
      `the heap grew ${growth} B: ${perGroup.toFixed(1)} B per group per viewer`,
    );
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
  }
});

for (const draft of [16, 18] as Draft[]) {
  Deno.test(`draft ${draft}: thousands of short subscriptions leave nothing behind in the relay`, async () => {
    await using relay = await startRelayProcess([], 0, { inspect: true });
    const fingerprint = await relay.fingerprint();
    await using publisher = await connectOwnClient(relay.port, "moq-lite-06", {
      fingerprint,
      transport: "quic",
    });
    const source = publisher.publish("mem/cam");
    await using viewer = await connectRawIetf(relay.port, draft, { fingerprint });
    let id = 0n;
    const cycle = async () => {
      const requestId = id;
      id += 2n;
      const request = await open(viewer, requestId, ["mem", "cam"], "video");
      if (draft <= 16) await viewer.send({ type: "unsubscribe", requestId });
      else await request?.stream.send.close();
    };
    await until("the broadcast is routed", async () => {
      try {
        await cycle();
        return true;
      } catch {
        return false;
      }
    });
    void source;
    const run = async (count: number) => {
      for (let i = 0; i < count; i++) await cycle();
    };
    await run(500); // warm-up
    const held = async () => {
      const memory = await relay.memoryAfterGc();
      return memory.heapUsed + memory.external;
    };
    const before = await held();
    const requests = 4000;
    await run(requests);
    // The last ones may still be ending: give the relay the moment a FIN or UNSUBSCRIBE takes.
    await new Promise((r) => setTimeout(r, 300));
    const growth = (await held()) - before;
    const perRequest = growth / requests;
    console.log(`heap growth ${growth} B over ${requests} subscriptions`);
    ok(
      perRequest < MAX_BYTES_PER_REQUEST,
      `the heap grew ${growth} B over ${requests} subscriptions: ${perRequest.toFixed(0)} B each`,
    );
  });
}
