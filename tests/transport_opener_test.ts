/**
 * The per-session line for stream opens (`opener.ts`) and the WebSocket send pacer (`pacer.ts`),
 * against carriers simulated by promises the test settles.
 */
import { deepEqual, equal, ok, rejects } from "assert";
import { CONCURRENT_OPENS, StreamOpener } from "../src/transport/opener.ts";
import { PacedSendStream, SEND_HIGH_WATER, SendPacer } from "../src/transport/pacer.ts";
import { Cancellation } from "../src/session/abort.ts";
import { type SendStream, StreamError } from "../src/transport/session.ts";

/** A carrier whose opens wait until the test grants credit, one stream per grant. */
function carrier() {
  const pending: ((stream: number) => void)[] = [];
  const discarded: number[] = [];
  let next = 0;
  const opener = new StreamOpener<number>(
    () => new Promise<number>((resolve) => pending.push(resolve)),
    (stream) => discarded.push(stream),
  );
  return {
    opener,
    discarded,
    /** Carrier opens waiting for credit. */
    get asked() {
      return pending.length;
    },
    grant() {
      pending.shift()?.(next++);
    },
  };
}

const settled = () => new Promise((r) => setTimeout(r, 0));

Deno.test("opens are served in the order asked, with only a few waiting at the carrier", async () => {
  const c = carrier();
  const got: string[] = [];
  const opens = ["a", "b", "c", "d", "e", "f"].map((name) =>
    c.opener.open(0).then((s) => got.push(`${name}${s}`))
  );
  equal(c.asked, CONCURRENT_OPENS);
  for (let i = 0; i < 6; i++) {
    c.grant();
    await settled();
  }
  await Promise.all(opens);
  deepEqual(got, ["a0", "b1", "c2", "d3", "e4", "f5"]);
});

Deno.test("a caller that gives up leaves the line at once; its stream goes to the next", async () => {
  const c = carrier();
  const first = new Cancellation();
  const givenUp = c.opener.open(0, first);
  const second = c.opener.open(0);
  equal(c.opener.waiting, 2);
  first.cancel();
  await rejects(givenUp, StreamError);
  equal(c.opener.waiting, 1);
  c.grant();
  equal(await second, 0);
  // Nobody waits for the other carrier open any more: its stream is ended empty.
  c.grant();
  await settled();
  deepEqual(c.discarded, [1]);
});

Deno.test("a failed carrier open fails everyone waiting and every later open", async () => {
  const failing = new StreamOpener<number>(
    () => Promise.reject(new StreamError("session-closed", null)),
    () => {},
  );
  await rejects(failing.open(0), StreamError);
  await rejects(failing.open(0), StreamError);
});

/** A send stream whose writes finish when the test says. */
function slowStream() {
  const writes: { bytes: number; finish: () => void }[] = [];
  const stream: SendStream = {
    priority: 0,
    closed: new Promise(() => {}),
    write: (chunk) => new Promise<void>((finish) => writes.push({ bytes: chunk.length, finish })),
    close: () => Promise.resolve(),
    reset: () => {},
  };
  return { stream, writes };
}

Deno.test("past the high-water mark writes wait and opens wait; both go on once writes finish", async () => {
  const pacer = new SendPacer();
  const first = slowStream();
  const second = slowStream();
  void new PacedSendStream(first.stream, pacer).write(new Uint8Array(SEND_HIGH_WATER));
  await settled();
  equal(first.writes.length, 1);
  ok(pacer.congested);
  // Another stream's write, and a new stream.
  void new PacedSendStream(second.stream, pacer).write(new Uint8Array(10));
  let opened = false;
  void pacer.room().then(() => opened = true);
  await settled();
  equal(second.writes.length, 0, "the other stream's write waits for room");
  equal(opened, false, "no stream opens meanwhile");
  first.writes[0]!.finish();
  await settled();
  await settled();
  equal(second.writes.length, 1);
  ok(opened);
});

Deno.test("a withdrawn wait keeps nothing: a reset stream's write never goes, a cancelled open fails", async () => {
  const pacer = new SendPacer();
  const { stream, writes } = slowStream();
  const paced = new PacedSendStream(stream, pacer);
  void paced.write(new Uint8Array(SEND_HIGH_WATER));
  await settled();
  const other = new PacedSendStream(slowStream().stream, pacer);
  void other.write(new Uint8Array(10));
  other.reset(0);
  const cancel = new Cancellation();
  const open = pacer.room(cancel);
  cancel.cancel();
  await rejects(open, StreamError);
  writes[0]!.finish();
  await settled();
  equal(pacer.inFlight, 0, "the reset stream's write was never handed on");
});
