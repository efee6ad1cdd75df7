/**
 * Send orders of group streams: subscriber priority first, then newest first, for as long as a
 * session lives (a one-group-per-frame track passes 2^20 groups in under six hours).
 */
import { deepEqual, equal, ok } from "assert";
import { CONTROL_PRIORITY } from "../src/session/lite/peer.ts";
import { RANKS, SendOrder } from "../src/session/delivery/send_order.ts";

Deno.test("a newer group outranks an older one in flight, before and after 2^20 groups", () => {
  const order = new SendOrder();
  let older = order.take(7);
  for (let group = 1; group <= 2 ** 20 + 10; group++) {
    const newer = order.take(7);
    ok(newer.order > older.order, `group ${group}: ${newer.order} <= ${older.order}`);
    older.release();
    older = newer;
  }
});

Deno.test("when the ranks run out, streams in flight are renumbered in their order and told", () => {
  const order = new SendOrder(4);
  const a = order.take(1);
  const b = order.take(1);
  const x = order.take(1);
  const changed: number[] = [];
  b.onChange = (value) => changed.push(value);
  a.release();
  order.take(1).release();
  // Ranks 0..3 are used and b, x still in flight: the next take renumbers them first.
  const c = order.take(1);
  deepEqual([b.order, x.order, c.order], [4, 5, 6]);
  ok(b.order < x.order && x.order < c.order, "the order among them is kept");
  deepEqual(changed, [4]);
  equal(order.size, 3);
});

Deno.test("priority ranks above recency, and every group stream stays below control streams", () => {
  const order = new SendOrder();
  const low = order.take(0);
  const high = order.take(255);
  const lowNewer = order.take(0);
  ok(high.order > lowNewer.order && lowNewer.order > low.order);
  for (let i = 0; i < RANKS + 5; i++) order.take(255).release();
  ok(order.take(255).order < CONTROL_PRIORITY);
  ok(high.order < CONTROL_PRIORITY);
});
