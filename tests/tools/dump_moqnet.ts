/**
 * Writes human-readable transcripts of @moq/net 0.3.4 talking to itself, one JSON file per
 * protocol, to tests/fixtures/moqnet/ (`none.json` for no negotiated subprotocol).
 *
 *   npx -y deno@2.9.6 run --allow-all tests/tools/dump_moqnet.ts [outDir]
 *
 * Besides the five protocols @moq/net offers, it writes `moql+lite-01.json` (the server forced
 * to select moq-lite-01 via `accept(..., { version })`). @moq/net's `moq-lite-06-wip` predates
 * the final moq-lite-06 wire and is not captured.
 * Byte strings are lowercase hex pairs separated by spaces. Output is deterministic.
 */
import {
  CAPTURE_PROTOCOLS,
  captureMoqNet,
  fixtureName,
  toFixture,
} from "../support/moqnet_capture.ts";

const LITE_01 = 0xff0dad01;

const runs: { protocol: string; acceptVersion?: number }[] = [
  ...CAPTURE_PROTOCOLS.map((protocol) => ({ protocol })),
  { protocol: "moql", acceptVersion: LITE_01 },
];

const outDir = Deno.args[0] ?? new URL("../fixtures/moqnet/", import.meta.url).pathname;
await Deno.mkdir(outDir, { recursive: true });

for (const { protocol, acceptVersion } of runs) {
  const transcript = await captureMoqNet(protocol, { acceptVersion });
  const name = fixtureName(protocol, acceptVersion);
  const path = `${outDir.replace(/\/$/, "")}/${name}`;
  const json = JSON.stringify(toFixture(transcript, acceptVersion), null, 2) + "\n";
  await Deno.writeTextFile(path, json);
  console.log(
    `${name}: ${transcript.version}, ${transcript.streams.length} streams, ` +
      `${transcript.datagrams.length} datagrams`,
  );
}
