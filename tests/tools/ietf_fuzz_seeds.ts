/**
 * Writes `tests/fixtures/fuzz-corpus/ietf/seeds-dNN.hex`: the encoding of every sample message
 * of `tests/support/ietf_control_table.ts` per draft, replayed by `tests/codec_ietf_fuzz_test.ts`.
 *
 *     deno run -A tests/tools/ietf_fuzz_seeds.ts
 */
import * as ietf from "../../src/codec/ietf/mod.ts";
import { controlSamples } from "../support/ietf_control_table.ts";
import { toHex } from "../support/hex.ts";

const dir = new URL("../fixtures/fuzz-corpus/ietf/", import.meta.url);
Deno.mkdirSync(dir, { recursive: true });
for (const draft of ietf.DRAFTS) {
  const lines = [
    `# draft ${draft}: every sample control message (tests/support/ietf_control_table.ts)`,
  ];
  for (const m of controlSamples(draft)) {
    lines.push(`# ${m.type}`, toHex(ietf.encodeMessage(m, draft)));
    if (m.type === "subscribe_ok" || m.type === "publish") {
      lines.push(`# ${m.type}, LARGEST_OBJECT length-prefixed`);
      lines.push(toHex(ietf.encodeMessage(m, draft, { location: "length-prefixed" })));
    }
  }
  Deno.writeTextFileSync(new URL(`seeds-d${draft}.hex`, dir), lines.join("\n") + "\n");
}
