/**
 * A healthy publisher and subscriber beside an attack: our own client publishes `healthy/pair`
 * (one track, a group every 100 ms of three frames with known contents) and another subscribes to
 * it over raw QUIC. `delivered()` waits until groups written after the call arrive, and throws
 * if any group was skipped or any frame differs: the attack must not have cost them anything.
 */
import { connectOwnClient, type OwnClient } from "./moq_client.ts";
import { until } from "./wait.ts";

export interface HealthyPair extends AsyncDisposable {
  /** Groups the subscriber received whole and in order so far. */
  readonly received: number;
  /** Waits until `groups` more groups, written from now on, arrived whole and in order. */
  delivered(groups?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const PATH = "healthy/pair";
const TRACK = "video";

function framesOf(sequence: number): Uint8Array[] {
  return [0, 1, 2].map((i) => new TextEncoder().encode(`healthy ${sequence}.${i}`));
}

/** Starts the pair on a relay at `127.0.0.1:port` (or `host`), the relay's certificate hash. */
export async function startHealthyPair(
  port: number,
  fingerprint: string,
  host = "127.0.0.1",
): Promise<HealthyPair> {
  const options = { fingerprint, host, transport: "quic" as const };
  const publisher: OwnClient = await connectOwnClient(port, "moq-lite-06", options);
  const subscriber: OwnClient = await connectOwnClient(port, "moq-lite-06", options);
  const source = publisher.publish(PATH);
  await subscriber.announced(PATH, 10_000);

  let written = 0;
  let received = 0;
  let next = -1;
  let fault: Error | undefined;
  const timer = setInterval(() => {
    if (source.watched(TRACK)) source.writeGroup(TRACK, written, framesOf(written++));
  }, 100);
  const reading = (async () => {
    for await (const group of subscriber.subscribe(PATH, TRACK)) {
      // The first group may be any cached one; from there on, none may be skipped.
      if (next >= 0 && group.sequence !== next) {
        fault ??= new Error(`healthy pair: expected group ${next}, got ${group.sequence}`);
      }
      const want = framesOf(group.sequence).map((f) => new TextDecoder().decode(f));
      const got = group.frames.map((f) => new TextDecoder().decode(f));
      if (JSON.stringify(want) !== JSON.stringify(got)) {
        fault ??= new Error(`healthy pair: group ${group.sequence} arrived as ${got.join("|")}`);
      }
      next = group.sequence + 1;
      received++;
    }
  })().catch((e) => fault ??= e instanceof Error ? e : new Error(String(e)));
  await until("the healthy pair's first group", () => received > 0 || fault !== undefined, 10_000);
  if (fault) throw fault;

  const close = async () => {
    clearInterval(timer);
    await subscriber.close().catch(() => {});
    await publisher.close().catch(() => {});
    await reading;
  };
  return {
    get received() {
      return received;
    },
    async delivered(groups = 5, timeoutMs = 15_000) {
      const after = written;
      await until(
        `the healthy pair to receive ${groups} groups from ${after} on`,
        () => fault !== undefined || next >= after + groups,
        timeoutMs,
      );
      if (fault) throw fault;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
