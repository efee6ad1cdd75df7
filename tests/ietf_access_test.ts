/**
 * Access control for moq-transport sessions: the same grants as for moq-lite, refused as the
 * IETF protocol says. A URL transport is decided before the upgrade (401 / 403, as for lite); on
 * raw QUIC the token rides SETUP's PATH query and a refusal closes with UNAUTHORIZED (0x2); a
 * SUBSCRIBE outside the grant is DOES_NOT_EXIST, a PUBLISH_NAMESPACE outside it UNAUTHORIZED.
 */
import { equal, ok } from "assert";
import { SessionCode } from "../src/codec/error.ts";
import { connectRawIetf } from "./support/ietf_raw.ts";
import { connectOwnClient } from "./support/moq_client.ts";
import { startRelay } from "./support/relay.ts";
import { inSeconds, testKey } from "./support/tokens.ts";
import { until, withTimeout } from "./support/wait.ts";
import { webTransportStatus } from "./support/webtransport_status.ts";

async function relayWithKey() {
  const dir = await Deno.makeTempDir({ prefix: "moq-ietf-access-" });
  const key = await testKey("ES256");
  const relay = await startRelay(["--auth-key", await key.write(dir)]);
  return {
    relay,
    key,
    port: relay.addr.port,
    fingerprint: relay.certificates.primary.fingerprint,
    async [Symbol.asyncDispose]() {
      await relay.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("raw QUIC moqt-18: no token in SETUP's PATH closes the session with UNAUTHORIZED; a bad one too", async () => {
  await using env = await relayWithKey();
  const stranger = await testKey("ES256", env.key.kid);
  for (
    const path of ["/room", `/room?jwt=${await stranger.sign({ root: "room", subscribe: ["**"] })}`]
  ) {
    const client = await connectRawIetf(env.port, 18, { fingerprint: env.fingerprint, path });
    try {
      const closed = await withTimeout(client.closed, 5000, "the session's close");
      equal(closed.code, SessionCode.Unauthorized, path.slice(0, 20));
    } finally {
      await client.close();
    }
  }
});

Deno.test("raw QUIC moqt-16: a SUBSCRIBE or FETCH outside the grant is DOES_NOT_EXIST, a SUBSCRIBE inside it is served", async () => {
  await using env = await relayWithKey();
  const publisherToken = await env.key.sign({ root: "", publish: ["**"] });
  const publisher = await connectOwnClient(env.port, "moq-lite-05", {
    fingerprint: env.fingerprint,
    transport: "quic",
    path: `/?jwt=${publisherToken}`,
  });
  try {
    publisher.publish("room/cam");
    const secret = publisher.publish("secret/cam");
    const token = await env.key.sign({ root: "", subscribe: ["room/**"], exp: inSeconds(60) });
    await using client = await connectRawIetf(env.port, 16, {
      fingerprint: env.fingerprint,
      path: `/?jwt=${token}`,
    });
    const ask = async (requestId: bigint, namespace: string[]) => {
      await client.send({
        type: "subscribe",
        requestId,
        namespace,
        track: "video",
        priority: 128,
        groupOrder: 2,
        forward: true,
        filter: { type: "next-object" },
        tokens: [],
      });
      return await client.next();
    };
    // The allowed broadcast may take a moment to be announced at the relay.
    let allowed = await ask(0n, ["room", "cam"]);
    for (let id = 2n; allowed?.type === "request_error" && id < 40n; id += 2n) {
      await new Promise((r) => setTimeout(r, 50));
      allowed = await ask(id, ["room", "cam"]);
    }
    equal(allowed?.type, "subscribe_ok");
    const refused = await ask(100n, ["secret", "cam"]);
    equal(refused?.type, "request_error");
    equal(refused?.type === "request_error" && refused.code, 0x10);
    // A FETCH outside the grant goes through the same view: not there, though the relay holds
    // the track (a viewer with the rights to it made it cache groups, and can fetch them).
    const everything = await env.key.sign({ root: "", subscribe: ["**"] });
    await using insider = await connectRawIetf(env.port, 16, {
      fingerprint: env.fingerprint,
      path: `/?jwt=${everything}`,
    });
    await insider.send({
      type: "subscribe",
      requestId: 0n,
      namespace: ["secret", "cam"],
      track: "video",
      priority: 128,
      groupOrder: 2,
      forward: true,
      filter: { type: "next-object" },
      tokens: [],
    });
    equal((await insider.next())?.type, "subscribe_ok");
    await until("the publisher serves the track", () => secret.watched("video"));
    secret.writeGroup("video", 0, [new TextEncoder().encode("classified")]);
    await insider.dataStream();
    const fetchOf = (requestId: bigint) => ({
      type: "fetch" as const,
      requestId,
      priority: 128,
      groupOrder: 1 as const,
      range: {
        type: "standalone" as const,
        namespace: ["secret", "cam"],
        track: "video",
        start: { group: 0, object: 0 },
        end: { group: 10, object: 0 },
      },
      tokens: [],
    });
    await insider.send(fetchOf(2n));
    equal((await insider.next())?.type, "fetch_ok", "the insider may fetch the cached group");
    await client.send(fetchOf(102n));
    const fetched = await client.next();
    equal(fetched?.type, "request_error");
    equal(fetched?.type === "request_error" && fetched.code, 0x10);
  } finally {
    await publisher.close();
  }
});

Deno.test("raw QUIC moqt-17: a PUBLISH_NAMESPACE outside the grant is refused UNAUTHORIZED and never announced", async () => {
  await using env = await relayWithKey();
  const token = await env.key.sign({ root: "", publish: ["mine/**"], subscribe: ["**"] });
  await using client = await connectRawIetf(env.port, 17, {
    fingerprint: env.fingerprint,
    path: `/?jwt=${token}`,
  });
  const outside = await client.request({
    type: "publish_namespace",
    requestId: 0n,
    namespace: ["theirs", "cam"],
    tokens: [],
  });
  const refused = await outside.next();
  equal(refused?.type, "request_error");
  equal(refused?.type === "request_error" && refused.code, 0x1);
  const inside = await client.request({
    type: "publish_namespace",
    requestId: 2n,
    namespace: ["mine", "cam"],
    tokens: [],
  });
  equal((await inside.next())?.type, "request_ok");
  // The positive signal first: the allowed one is routed; the refused one never was.
  await until("mine/cam is routed", () => env.relay.context.origin.route("mine/cam") !== undefined);
  ok(env.relay.context.origin.route("theirs/cam") === undefined, "theirs/cam was never announced");
});

Deno.test("WebTransport moqt-20 without a token is refused 401 before the session starts", async () => {
  await using env = await relayWithKey();
  const status = await webTransportStatus(
    `https://127.0.0.1:${env.port}/room`,
    env.fingerprint,
    "moqt-20",
  );
  equal(status, 401);
});
