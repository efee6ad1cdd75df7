/**
 * Upstream's own client, `@moq/net` 0.3.4, talks to itself over an in-memory WebTransport while
 * we record every byte (tests/support/moqnet_capture.ts). Our codec must read every recorded
 * stream completely and re-encode each message to exactly the recorded bytes.
 */
import { deepEqual, equal, ok } from "assert";
import { Version } from "../src/codec/lite/mod.ts";
import { captureMoqNet } from "./support/moqnet_capture.ts";
import { dissect, type Dissected } from "./support/dissect.ts";
import { toHex } from "./support/hex.ts";

const cases: { protocol: string; version: Version; acceptVersion?: number }[] = [
  { protocol: "moq-lite-05", version: Version.Lite05 },
  { protocol: "moq-lite-04", version: Version.Lite04 },
  { protocol: "moq-lite-03", version: Version.Lite03 },
  { protocol: "moql", version: Version.Lite02 },
  { protocol: "", version: Version.Lite02 },
  { protocol: "moql", version: Version.Lite01, acceptVersion: Version.Lite01 },
];

for (const { protocol, version, acceptVersion } of cases) {
  const label = `${protocol || "(none)"} -> moq-lite-0${version - 0xff0dad00}`;
  Deno.test(`@moq/net bytes decode and re-encode identically: ${label}`, async () => {
    const transcript = await captureMoqNet(protocol, acceptVersion ? { acceptVersion } : {});
    const seen = new Set<string>();
    for (const stream of transcript.streams) {
      const opened = stream.opener === "client" ? stream.clientToServer : stream.serverToClient;
      const answered = stream.opener === "client" ? stream.serverToClient : stream.clientToServer;
      if (opened.length === 0) continue;
      const parts = dissect({ kind: stream.kind, opened, answered }, version);
      for (const m of [...parts.opened, ...parts.answered] as Dissected[]) {
        equal(toHex(m.reencoded), toHex(m.recorded), `stream ${stream.index} ${m.name}`);
        seen.add(m.name);
      }
    }
    // The scenario covers announce, subscribe and group traffic in every version.
    for (
      const name of [
        "ANNOUNCE_REQUEST",
        "ANNOUNCE",
        "SUBSCRIBE",
        "SUBSCRIBE_RESPONSE",
        "GROUP",
        "FRAME",
      ]
    ) {
      ok(seen.has(name), `${label}: no ${name} in the capture (saw ${[...seen].join(", ")})`);
    }
    if (version <= Version.Lite02) {
      ok(seen.has("CLIENT_SETUP") && seen.has("SERVER_SETUP") && seen.has("ANNOUNCE_INIT"));
    }
    if (version >= Version.Lite03) ok(seen.has("SUBSCRIBE_UPDATE") && seen.has("PROBE"));
    if (version >= Version.Lite05) {
      for (const name of ["SETUP", "ANNOUNCE_OK", "TRACK", "TRACK_INFO", "FETCH"]) {
        ok(seen.has(name), `${label}: no ${name}`);
      }
    }
  });
}

Deno.test("@moq/net frames arrive as published: payloads and lite-05 timestamps", async () => {
  const transcript = await captureMoqNet("moq-lite-05");
  const groups = transcript.streams.filter((s) => s.kind === "uni" && s.clientToServer[0] === 0);
  const frames = groups.flatMap((g) =>
    dissect({ kind: "uni", opened: g.clientToServer, answered: new Uint8Array() }, Version.Lite05)
      .opened
      .filter((m) => m.name === "FRAME").map((m) =>
        m.value as { payload: string; timestampDelta: number }
      )
  );
  deepEqual(frames.map((f) => f.payload).slice(0, 2), ["hello", "world"]);
  equal(frames[0]?.timestampDelta, 1000);
  equal(frames[1]?.timestampDelta, 33);
});
