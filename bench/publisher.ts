/**
 * The benchmark's publisher: one moq-lite-06 session over raw QUIC (our own client), one
 * broadcast with a video track (a group per GOP, frame by frame) and an audio track (a group per
 * frame). Prints `{"ready":true}` once announced; on `stop` (stdin line or EOF) prints the send
 * time of every frame (`{"log":{"video":[...],"audio":[...]}}`, indexed by sequence) and exits.
 *
 *   deno run -A bench/publisher.ts --port 4443 --fingerprint HEX [--video-kbps 2500 ...]
 */
import { parseArgs } from "cli-args";
import { connectOwnClient } from "../tests/support/moq_client.ts";
import {
  BENCH_PATH,
  LineReader,
  report,
  runSchedule,
  stampedPayload,
  WORKLOAD_OPTIONS,
  workloadFrom,
} from "./common.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    fingerprint: { type: "string" },
    ...WORKLOAD_OPTIONS,
  },
});
const workload = workloadFrom(values);
const client = await connectOwnClient(Number(values.port), "moq-lite-06", {
  fingerprint: String(values.fingerprint),
  transport: "quic",
});
const source = client.publish(BENCH_PATH);
const log = { video: [] as number[], audio: [] as number[] };
let video:
  | { writeFrame(payload: Uint8Array, timestamp?: number): void; finish(): void }
  | undefined;

const schedule = runSchedule(workload, (frame) => {
  const { payload, sent } = stampedPayload(frame.size, frame.seq);
  // Media timestamps in the track's timescale (ms): the send time, rounded.
  const timestamp = Math.round(sent);
  if (frame.track === "audio") {
    source.writeGroup("audio", frame.group, [payload], [timestamp]);
  } else {
    if (frame.newGroup) {
      video?.finish();
      video = source.openGroup("video", frame.group);
    }
    video?.writeFrame(payload, timestamp);
  }
  log[frame.track].push(sent);
});
await report({ ready: true });

const stdin = new LineReader(Deno.stdin.readable);
for (let line = await stdin.next(); line !== null; line = await stdin.next()) {
  if (line.trim() === "stop") break;
}
schedule.stop();
video?.finish();
await report({ log });
await Promise.race([client.close(), new Promise((r) => setTimeout(r, 1000))]);
Deno.exit(0);
