/**
 * Upstream's HTTP API on the relay's HTTP port, with real peers: `@moq/net` 0.3.4 publishes over
 * WebSocket, and plain `fetch` reads `/announced` and `/fetch/<broadcast>/<track>?group=` (each
 * group's payloads back to back, streamed while the group is written, failed when it is cut
 * short), CORS as upstream's layer answers it, unknown routes, the cap on fetches in flight, and
 * access control (`--auth-key`, tokens signed with `jose`).
 */
import { deepEqual, equal, ok, rejects } from "assert";
import type { Relay, RelayOptions } from "../src/relay.ts";
import {
  connectMoq,
  type MoqClient,
  publish,
  type Publisher,
  subscribe,
  waitForAnnounce,
} from "./support/moqnet_client.ts";
import { startHealthyPair } from "./support/healthy_pair.ts";
import { startRelay } from "./support/relay.ts";
import { inSeconds, testKey } from "./support/tokens.ts";
import { sleep, until } from "./support/wait.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Deterministic binary, every byte value present. */
function binary(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
}

/** Three groups: text, empty and binary frames, and one large (600 KiB) frame. */
const GROUPS: Uint8Array[][] = [
  [bytes("g0-a"), new Uint8Array(0), binary(1000, 0)],
  [new Uint8Array(0), binary(600 * 1024, 1), bytes("g1-c")],
  [binary(3, 2), new Uint8Array(0), new Uint8Array(0), bytes("g2-d")],
];

function concat(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

function base(relay: Relay): string {
  return `http://127.0.0.1:${relay.addr.port}`;
}

async function get(relay: Relay, path: string, init?: RequestInit) {
  const response = await fetch(`${base(relay)}${path}`, init);
  const body = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body };
}

async function getText(relay: Relay, path: string) {
  const { status, body, headers } = await get(relay, path);
  return { status, headers, text: new TextDecoder().decode(body) };
}

/** Byte-for-byte comparison that reports where two bodies differ, not 600 KiB of numbers. */
function sameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  equal(got.length, want.length, `${what}: length`);
  const at = got.findIndex((b, i) => b !== want[i]);
  equal(at, -1, `${what}: first differing byte`);
}

async function publisherAt(
  relay: Relay,
  path: string,
  tracks: string[],
  query = "",
): Promise<{ client: MoqClient; publisher: Publisher }> {
  const client = await connectMoq(`${base(relay)}/${query}`, "moq-lite-05");
  return { client, publisher: publish(client, path, tracks) };
}

/** Writes `groups` once the relay subscribes (and the subscription settled, as other tests do). */
async function writeOnceSubscribed(
  publisher: Publisher,
  track: string,
  groups: Uint8Array[][],
): Promise<void> {
  await publisher.waitForSubscriptions(1, { track });
  await sleep(100);
  for (const frames of groups) await publisher.track(track).writeGroup(frames);
}

/** Reads a streamed body chunk by chunk, to see what arrives before the group is finished. */
class BodyReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffered: Uint8Array = new Uint8Array(0);

  constructor(response: Response) {
    this.#reader = response.body!.getReader();
  }

  /** Exactly `n` more bytes (throws if the body ends first). */
  async take(n: number): Promise<Uint8Array> {
    while (this.#buffered.length < n) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`the body ended after ${this.#buffered.length} of ${n} bytes`);
      this.#buffered = concat([this.#buffered, value]);
    }
    const out = this.#buffered.slice(0, n);
    this.#buffered = this.#buffered.slice(n);
    return out;
  }

  /** Everything up to the end (rejects if the body fails). */
  async rest(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [this.#buffered];
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) return concat(parts);
      parts.push(value);
    }
  }
}

async function withRelay(
  args: string[],
  options: RelayOptions,
  body: (relay: Relay) => Promise<void>,
): Promise<void> {
  const relay = await startRelay(args, options);
  try {
    await body(relay);
  } finally {
    await relay.close();
  }
}

Deno.test("/fetch serves a live broadcast's groups byte for byte; /announced lists it", async () => {
  await withRelay([], {}, async (relay) => {
    const { client, publisher } = await publisherAt(relay, "shows/cam", ["video"]);
    const viewer = await connectMoq(`${base(relay)}/`, "moq-lite-05");
    try {
      await waitForAnnounce(viewer, "", "shows/cam");
      // Upstream's listing: paths relative to the prefix, one per line, no newline after the last.
      const listing = await getText(relay, "/announced");
      deepEqual([listing.status, listing.text], [200, "shows/cam"]);
      equal(listing.headers.get("content-type"), "text/plain; charset=utf-8");
      equal((await getText(relay, "/announced/shows")).text, "cam");
      equal((await getText(relay, "/announced/shows/")).text, "cam");
      equal((await getText(relay, "/announced/elsewhere")).text, "");
      // A subscriber holds the track, so every group stays cached.
      const sub = subscribe(viewer, "shows/cam", "video");
      await writeOnceSubscribed(publisher, "video", GROUPS);
      equal((await sub.collect(3)).length, 3);
      for (const [sequence, frames] of GROUPS.entries()) {
        const got = await get(relay, `/fetch/shows/cam/video?group=${sequence}`);
        equal(got.status, 200, `group ${sequence}`);
        sameBytes(got.body, concat(frames), `group ${sequence}`);
        equal(got.headers.get("access-control-allow-origin"), "*");
        equal(got.headers.get("content-type"), null, "no content type, as upstream");
      }
      for (const query of ["?group=latest", "", "?group=%2B2"]) {
        const latest = await get(relay, `/fetch/shows/cam/video${query}`);
        equal(latest.status, 200, query);
        sameBytes(latest.body, concat(GROUPS[2]!), `latest (${query || "no group"})`);
      }
      // Unknown group (past the live edge) and unknown track of a known broadcast: 404.
      equal((await get(relay, "/fetch/shows/cam/video?group=3")).status, 404);
      equal((await get(relay, "/fetch/shows/cam/video?group=18446744073709551615")).status, 404);
      equal((await get(relay, "/fetch/shows/cam/audio?group=latest")).status, 404);
      sub.close();
    } finally {
      await viewer.close();
      await client.close();
    }
  });
});

Deno.test("/fetch?group=latest subscribes upstream, streams the group as it is written, then lets go", async () => {
  await withRelay([], {}, async (relay) => {
    const { client, publisher } = await publisherAt(relay, "live", ["video"]);
    try {
      await until(
        "the announcement",
        async () => (await getText(relay, "/announced")).text === "live",
      );
      // Nobody holds the track: the fetch subscribes upstream and waits for its first group.
      const responding = fetch(`${base(relay)}/fetch/live/video?group=latest`);
      await publisher.waitForSubscriptions(1, { track: "video" });
      await sleep(100);
      const group = publisher.track("video").startGroup();
      const first = binary(70_000, 9);
      group.writeFrame(first);
      const response = await responding;
      equal(response.status, 200);
      const reader = new BodyReader(response);
      // The first frame arrives while the group is still open.
      sameBytes(await reader.take(first.length), first, "the first frame, before the group ends");
      group.writeFrame(new Uint8Array(0));
      group.writeFrame(bytes("last"));
      group.close();
      sameBytes(await reader.rest(), bytes("last"), "the rest, to the group's end");
      // Everything is let go: the upstream subscription ends after the cache's linger.
      await publisher.waitForSubscriptions(0, { track: "video", active: true, timeoutMs: 6000 });
      equal(relay.stats().httpFetches, 0);
    } finally {
      await client.close();
    }
  });
});

Deno.test("/fetch of a numbered group the relay does not hold subscribes for it: the live one is served", async () => {
  await withRelay([], {}, async (relay) => {
    const { client, publisher } = await publisherAt(relay, "catalog", ["meta"]);
    try {
      await until(
        "the announcement",
        async () => (await getText(relay, "/announced")).text === "catalog",
      );
      // Written before anyone subscribed: only the publisher has them.
      await publisher.track("meta").writeGroup([bytes("v0")]);
      await publisher.track("meta").writeGroup([bytes("v1"), binary(5000, 3)]);
      equal(publisher.subscriptions("meta"), 0);
      const live = await get(relay, "/fetch/catalog/meta?group=1");
      equal(live.status, 200);
      sameBytes(live.body, concat([bytes("v1"), binary(5000, 3)]), "the publisher's live group");
      equal(publisher.subscriptions("meta"), 1, "one upstream subscription");
      // Older than what the subscription brought, and this relay cannot FETCH upstream: 404.
      equal((await get(relay, "/fetch/catalog/meta?group=0")).status, 404);
      equal(publisher.subscriptions("meta"), 1, "the held track is reused");
    } finally {
      await client.close();
    }
  });
});

Deno.test("/fetch fails the response (no clean end) when the group is cut short", async () => {
  await withRelay([], {}, async (relay) => {
    const { client, publisher } = await publisherAt(relay, "flaky", ["video"]);
    try {
      await until(
        "the announcement",
        async () => (await getText(relay, "/announced")).text === "flaky",
      );
      const responding = fetch(`${base(relay)}/fetch/flaky/video`);
      await publisher.waitForSubscriptions(1, { track: "video" });
      await sleep(100);
      const group = publisher.track("video").startGroup();
      group.writeFrame(bytes("partial"));
      const response = await responding;
      equal(response.status, 200);
      const reader = new BodyReader(response);
      equal(new TextDecoder().decode(await reader.take(7)), "partial");
      group.abort(new Error("publisher gave up"));
      await rejects(reader.rest(), "a group cut short is never a whole body");
      await until("the fetch released", () => relay.stats().httpFetches === 0);
    } finally {
      await client.close();
    }
  });
});

Deno.test("/fetch waits for a route to the broadcast: served once announced, 504 when none comes", async () => {
  await withRelay([], { fetchLimits: { timeoutMs: 1500 } }, async (relay) => {
    const started = Date.now();
    const nobody = await get(relay, "/fetch/nobody/video");
    equal(nobody.status, 504);
    ok(Date.now() - started >= 1400, "it waited for the deadline");
    // A fetch made before the publisher connects is answered once the broadcast is announced.
    const pending = get(relay, "/fetch/late/video?group=latest");
    await sleep(200);
    const { client, publisher } = await publisherAt(relay, "late", ["video"]);
    try {
      await writeOnceSubscribed(publisher, "video", [[bytes("late-0")]]);
      const got = await pending;
      equal(got.status, 200);
      equal(new TextDecoder().decode(got.body), "late-0");
    } finally {
      await client.close();
    }
  });
});

Deno.test("bad and unknown requests: 400 for a bad group or no track, 404 elsewhere", async () => {
  await withRelay([], {}, async (relay) => {
    for (
      const path of [
        "/fetch/onlytrack",
        "/fetch/b/t?group=abc",
        "/fetch/b/t?group=-1",
        "/fetch/b/t?group=",
        "/fetch/b/t?group=1.5",
        "/fetch/b/t?group=18446744073709551616",
        "/fetch/b/t?group=1&group=2",
        "/fetch/b%ZZ/t",
      ]
    ) {
      const got = await get(relay, path);
      equal(got.status, 400, path);
      equal(got.headers.get("access-control-allow-origin"), "*", path);
    }
    for (const path of ["/nope", "/fetch", "/fetch/", "/announced/", "/announcedx"]) {
      const got = await getText(relay, path);
      equal(got.status, 404, path);
      ok(got.text.includes("moq-relay"), `${path}: the landing page`);
      equal(got.headers.get("content-type"), "text/html; charset=utf-8");
      equal(got.headers.get("access-control-allow-origin"), "*", path);
    }
    equal((await get(relay, "/nope", { method: "POST" })).status, 404);
    equal((await get(relay, "/health", { method: "POST" })).status, 405);
  });
});

Deno.test("CORS as upstream: every GET is readable cross-origin; a GET preflight gets 200", async () => {
  await withRelay([], {}, async (relay) => {
    for (const path of ["/health", "/certificate.sha256", "/announced", "/stats"]) {
      const got = await get(relay, path);
      equal(got.status, 200, path);
      equal(got.headers.get("access-control-allow-origin"), "*", path);
    }
    const preflight = await get(relay, "/fetch/a/b", {
      method: "OPTIONS",
      headers: {
        "origin": "https://player.example",
        "access-control-request-method": "GET",
        "access-control-request-headers": "x-custom, authorization",
      },
    });
    equal(preflight.status, 200);
    equal(preflight.headers.get("access-control-allow-origin"), "*");
    equal(preflight.headers.get("access-control-allow-methods"), "GET");
    equal(preflight.headers.get("access-control-allow-headers"), "x-custom, authorization");
    const bare = await get(relay, "/announced", {
      method: "OPTIONS",
      headers: { "access-control-request-method": "GET" },
    });
    equal(bare.status, 200);
    equal(bare.headers.get("access-control-allow-headers"), null, "nothing echoed when none asked");
    // Not a preflight for a GET: no CORS answer.
    const post = await get(relay, "/health", {
      method: "OPTIONS",
      headers: { "access-control-request-method": "POST" },
    });
    equal(post.status, 405);
    equal(post.headers.get("access-control-allow-origin"), null);
  });
});

Deno.test("fetches in flight are capped (503), end at their deadline or when their clients go, beside a healthy pair", async () => {
  await withRelay([], { fetchLimits: { maxInFlight: 3, timeoutMs: 2000 } }, async (relay) => {
    await using pair = await startHealthyPair(
      relay.addr.port,
      relay.certificates.primary.fingerprint,
    );
    // Fetches of a broadcast nobody publishes hold their slots while they wait for a route.
    const aborts = [new AbortController(), new AbortController()];
    const waiting = aborts.map((a) =>
      fetch(`${base(relay)}/fetch/nobody/video`, { signal: a.signal }).catch(() => undefined)
    );
    const outlasting = get(relay, "/fetch/nobody/video");
    await until("three fetches in flight", () => relay.stats().httpFetches === 3);
    const over = await get(relay, "/fetch/healthy/pair/video");
    equal(over.status, 503);
    await pair.delivered(5);
    // Clients that go release theirs at once; the one that stays is answered at its deadline.
    for (const a of aborts) a.abort();
    await Promise.all(waiting);
    await until("the abandoned fetches released", () => relay.stats().httpFetches === 1);
    equal((await outlasting).status, 504);
    equal(relay.stats().httpFetches, 0);
    // A slot is free again: the healthy pair's group is served.
    const served = await get(relay, "/fetch/healthy/pair/video");
    equal(served.status, 200);
    ok(new TextDecoder().decode(served.body).startsWith("healthy "));
    await pair.delivered(3);
  });
});

Deno.test("with --auth-key: no token 401, a token for another path 401, a good token 200", async () => {
  const dir = await Deno.makeTempDir({ prefix: "moq-http-api-" });
  const key = await testKey("ES256", "http-k1");
  const keyFile = await key.write(dir);
  try {
    await withRelay(["--auth-key", keyFile], {}, async (relay) => {
      const publishing = await key.sign({ root: "secure", publish: ["cam"] });
      const { client, publisher } = await publisherAt(
        relay,
        "cam",
        ["video"],
        `secure?jwt=${publishing}`,
      );
      const good = await key.sign({ root: "secure", subscribe: ["cam"] });
      const other = await key.sign({ root: "other", subscribe: [""] });
      const sibling = await key.sign({ root: "secure", subscribe: ["mic"] });
      const viewer = await connectMoq(`${base(relay)}/secure?jwt=${good}`, "moq-lite-05");
      try {
        await until(
          "the announcement",
          async () => (await getText(relay, `/announced/secure?jwt=${good}`)).text === "cam",
        );
        equal((await getText(relay, "/announced/secure")).status, 401);
        equal((await getText(relay, `/announced/secure?jwt=${other}`)).status, 401);
        const sub = subscribe(viewer, "cam", "video");
        await writeOnceSubscribed(publisher, "video", GROUPS.slice(0, 2));
        equal((await sub.collect(2)).length, 2);
        const path = "/fetch/secure/cam/video?group=1";
        equal((await get(relay, path)).status, 401, "no token");
        equal((await get(relay, `${path}&jwt=${other}`)).status, 401, "a token for another path");
        equal(
          (await get(relay, `${path}&jwt=${publishing}`)).status,
          401,
          "may only publish there",
        );
        equal((await get(relay, `${path}&jwt=${sibling}`)).status, 401, "may subscribe elsewhere");
        const got = await get(relay, `${path}&jwt=${good}`);
        equal(got.status, 200);
        sameBytes(got.body, concat(GROUPS[1]!), "the group, with a good token");
        // A grant that ends while the fetch waits ends the fetch: 401, not the 30 s 504.
        const brief = await key.sign({ root: "secure", subscribe: ["**"], exp: inSeconds(2) });
        const started = Date.now();
        equal((await get(relay, `/fetch/secure/nobody/video?jwt=${brief}`)).status, 401);
        ok(Date.now() - started < 5000, "answered when the grant ended");
        equal(relay.stats().httpFetches, 0);
        sub.close();
      } finally {
        await viewer.close();
        await client.close();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with --auth-url and the auth server down: /fetch and /announced answer 502", async () => {
  // A port nobody listens on: every admission fails to reach the server.
  const unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (unused.addr as Deno.NetAddr).port;
  unused.close();
  await withRelay(["--auth-url", `http://127.0.0.1:${port}/auth`], {}, async (relay) => {
    equal((await get(relay, "/fetch/room/cam/video?jwt=x")).status, 502);
    equal((await get(relay, "/announced/room?jwt=x")).status, 502);
    equal(relay.stats().httpFetches, 0);
  });
});
