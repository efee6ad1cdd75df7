/**
 * A publisher in its own process: upstream's `@moq/net` over WebSocket publishes `--path` with
 * a `video` track, writing a one-frame group `--label` every 50 ms. Prints `ready` once
 * connected. For tests that need a publisher to vanish without a word (SIGKILL).
 *
 *   deno run -A tests/support/moqnet_publisher.ts --url http://127.0.0.1:PORT/ --path a/b --label x
 */
import { parseArgs } from "cli-args";
import { connectMoq, publish } from "./moqnet_client.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    path: { type: "string" },
    label: { type: "string" },
    protocol: { type: "string", default: "moq-lite-05" },
  },
});
if (!values.url || !values.path || !values.label) throw new Error("need --url, --path, --label");
const client = await connectMoq(values.url, values.protocol as "moq-lite-05");
const video = publish(client, values.path, ["video"]).track("video");
const payload = new TextEncoder().encode(values.label);
setInterval(() => {
  const group = video.startGroup();
  group.writeFrame(payload);
  group.close();
}, 50);
console.log("ready");
