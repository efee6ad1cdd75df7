/**
 * `--auth-url` against a small auth server in the test speaking upstream's protocol (`moq-auth`
 * 0.2.2, as `moq auth serve` answers it): one JSON POST per session event (connect, revalidate,
 * end), a grant in a 2xx reply, 401/403 refusals, any other failure an outage the client hears as
 * 502 with no access, and revalidations on the grant's cadence.
 */
import { deepEqual, equal, match, ok } from "assert";
import { connectOwnClient } from "./support/moq_client.ts";
import { connectMoq, publish, subscribe, waitForAnnounce } from "./support/moqnet_client.ts";
import { rawUpgrade } from "./support/raw_websocket.ts";
import { startRelay } from "./support/relay.ts";
import { inSeconds } from "./support/tokens.ts";
import { until, withTimeout } from "./support/wait.ts";

type Event = Record<string, unknown>;

/** An auth server whose answer to each request is `answer(request)`: [status, body]. */
function authServer(answer: (request: Event) => [number, unknown]) {
  const events: Event[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json() as Event;
    events.push(body);
    const [status, reply] = answer(body);
    return new Response(reply === undefined ? null : JSON.stringify(reply), {
      status,
      headers: { "content-type": "application/json" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/auth`,
    events,
    /** Events for the session whose connect carried `jwt=<token>`. */
    of(token: string): Event[] {
      const ids = new Set(events.filter((e) => e.query === `jwt=${token}`).map((e) => e.id));
      return events.filter((e) => ids.has(e.id));
    },
    close: () => server.shutdown(),
  };
}

const everything = () => ({ publish: ["**"], subscribe: ["**"], expires: inSeconds(60) });

async function status(port: number, path: string): Promise<number> {
  const ws = await rawUpgrade(port, ["qmux-01.moq-lite-05"], { path });
  ws.close();
  return ws.status;
}

Deno.test("--auth-url: a grant admits, 401 and 403 refuse, an outage is 502 and never an open door", async () => {
  let revalidations = 0;
  const auth = authServer((req) => {
    const token = String(req.query ?? "").replace(/^jwt=/, "");
    if (req.event === "end") return [204, undefined];
    if (req.event === "revalidate") revalidations++;
    switch (token) {
      case "alice":
        return [200, { ...everything(), revalidate: 1 }];
      case "mallory":
        return [403, { error: "banned" }];
      case "nobody":
        return [401, undefined];
      case "down":
        return [500, "oops"];
      case "nonsense":
        return [200, { publish: ["**"], revalidate: 5 }]; // revalidate without expires
      case "nothing":
        return [200, {}]; // an empty grant is a refusal
      case "junk":
        return [200, "<html>"];
      default:
        return [401, undefined];
    }
  });
  await using relay = await startRelay(["--auth-url", auth.url]);
  try {
    const port = relay.addr.port;
    // The server's 403 reaches the client as 401, as from upstream's relay.
    equal(await status(port, "/room?jwt=mallory"), 401);
    equal(await status(port, "/room?jwt=nobody"), 401);
    equal(await status(port, "/room"), 401);
    equal(await status(port, "/room?jwt=nothing"), 401);
    equal(await status(port, "/room?jwt=down"), 502);
    equal(await status(port, "/room?jwt=nonsense"), 502);
    equal(await status(port, "/room?jwt=junk"), 502);

    // Admitted: the connect carried every fact, and the grant (relative to /room) works.
    const publisher = await connectMoq(`http://127.0.0.1:${port}/room?jwt=alice`, "moq-lite-05");
    const viewer = await connectMoq(`http://127.0.0.1:${port}/room?jwt=alice`, "moq-lite-05");
    try {
      const connect = auth.of("alice").find((e) => e.event === "connect")!;
      match(String(connect.id), /^[0-9a-f]{32}$/);
      equal(connect.transport, "websocket");
      equal(connect.path, "/room");
      equal(connect.query, "jwt=alice");
      match(String(connect.remote), /^127\.0\.0\.1:\d+$/);
      match(String(connect.local), /^127\.0\.0\.1:\d+$/);
      match(String(connect.alpn), /moq-lite-05/);
      equal(typeof connect.node, "string");
      const cam = publish(publisher, "cam", ["video"]);
      await waitForAnnounce(viewer, "", "cam");
      equal(relay.context.origin.route("room/cam") !== undefined, true);
      const watching = subscribe(viewer, "cam", "video");
      await cam.waitForSubscriptions(1, { track: "video" });
      await new Promise((r) => setTimeout(r, 100));
      await cam.track("video").writeGroup([new TextEncoder().encode("hello")]);
      equal((await watching.next(5000))?.frames.length, 1);
      // The same grant on every revalidation: the sessions stay.
      await until("revalidations", () => revalidations >= 4, 6000);
      ok(relay.sessions.size >= 2, "both sessions stayed through their revalidations");
      watching.close();
    } finally {
      await publisher.close();
      await viewer.close();
    }
    // Each session's end is reported, with why, how long and what it moved.
    await until("end", () => auth.of("alice").filter((e) => e.event === "end").length === 2, 5000);
    const end = auth.of("alice").find((e) => e.event === "end")!;
    equal(typeof end.reason, "string");
    ok(typeof end.duration === "number" && end.duration > 0);
    for (const ended of auth.of("alice").filter((e) => e.event === "end")) {
      const moved = ended.bytes as { sent: number; received: number };
      deepEqual(Object.keys(moved).sort(), ["received", "sent"]);
      ok(moved.sent > 0 && moved.received > 0, `bytes moved both ways: ${JSON.stringify(moved)}`);
    }

    // The auth server gone entirely: an outage, not an open door.
    await auth.close();
    equal(await status(port, "/room?jwt=alice"), 502);
  } finally {
    await auth.close().catch(() => {});
  }
});

Deno.test("--auth-url: a revalidation that narrows the grant ends the session, and the end says why", async () => {
  let narrowed = false;
  const auth = authServer((req) => {
    if (req.event === "end") return [204, undefined];
    if (req.event === "revalidate") {
      narrowed = true;
      return [200, { subscribe: ["**"], expires: inSeconds(60), revalidate: 1 }];
    }
    return [200, { ...everything(), revalidate: 1 }];
  });
  await using relay = await startRelay(["--auth-url", auth.url]);
  try {
    // Raw QUIC: the path and token come from the lite-05 SETUP.
    const client = await connectOwnClient(relay.addr.port, "moq-lite-05", {
      transport: "quic",
      path: "/studio?jwt=bob",
      fingerprint: relay.certificates.primary.fingerprint,
    });
    const closed = await withTimeout(client.session.transport.closed, 5000, "the narrowed session");
    ok(narrowed, "closed after the narrowing revalidation, not before");
    equal(closed.code, 0x2);
    match(closed.reason, /grant narrowed/);
    await client.close();
    const connect = auth.events.find((e) => e.event === "connect")!;
    equal(connect.transport, "quic");
    equal(connect.path, "/studio");
    equal(connect.query, "jwt=bob");
    await until("the end event", () => auth.events.some((e) => e.event === "end"), 5000);
    equal(auth.events.find((e) => e.event === "end")!.reason, "grant narrowed");
  } finally {
    await auth.close();
  }
});

Deno.test("--auth-url: a revalidation refused ends the session; an outage leaves the grant standing", async () => {
  let mode: "ok" | "down" | "refuse" = "ok";
  const auth = authServer((req) => {
    if (req.event === "end") return [204, undefined];
    if (req.event === "revalidate" && mode === "down") return [503, undefined];
    if (req.event === "revalidate" && mode === "refuse") return [401, undefined];
    return [200, { ...everything(), revalidate: 1 }];
  });
  await using relay = await startRelay(["--auth-url", auth.url]);
  try {
    const client = await connectOwnClient(relay.addr.port, "moq-lite-05", {
      path: "/live?jwt=carol",
      fingerprint: relay.certificates.primary.fingerprint,
    });
    mode = "down";
    const failing = () => auth.events.filter((e) => e.event === "revalidate").length;
    const before = failing();
    await until("two failed revalidations", () => failing() >= before + 2, 8000);
    equal(relay.sessions.size, 1, "the grant stands through an outage");
    mode = "refuse";
    const closed = await withTimeout(client.session.transport.closed, 10_000, "the refusal");
    equal(closed.code, 0x2);
    match(closed.reason, /refused/);
    await client.close();
  } finally {
    await auth.close();
  }
});
