/**
 * The view of one moq-lite session that its two roles share: the negotiated version, the
 * transport, the session's view of the origin, and the relay-wide settings.
 *
 * @module
 */
import type { CacheBudget } from "../../cache/budget.ts";
import type { OriginView } from "../../cache/view.ts";
import type { Version } from "../../codec/lite/version.ts";
import type { Logger } from "../../log.ts";
import type { Traffic } from "../../ops/traffic.ts";
import type { BiStream, Session } from "../../transport/session.ts";
import type { SessionLimits } from "../context.ts";

export interface Peer {
  readonly version: Version;
  readonly transport: Session;
  /** What this session may see, subscribe to and announce; paths relative to its root. */
  readonly view: OriginView;
  readonly budget: CacheBudget;
  /** This relay's hop id. */
  readonly hop: bigint;
  readonly limits: SessionLimits;
  /** The peer's hop id from its lite-05+ SETUP, if it gave one. */
  readonly peerHop: bigint | undefined;
  readonly log: Logger;
  /** What the session moved (counters read by metrics and the access log). */
  readonly traffic: Traffic;
  /** Aborted once the session is over. */
  readonly signal: AbortSignal;
  /** Ends the session with a protocol violation (or another session code). */
  fail(code: number, reason: string): void;
}

export { CONTROL_PRIORITY } from "../delivery/send_order.ts";

/**
 * A request stream the peer finished before its request (e.g. it gave up on a SUBSCRIBE right
 * after opening the stream): nothing to serve, and no violation (`@moq/net` reads it so too).
 */
export function endedBeforeRequest(stream: BiStream): void {
  void stream.send.close().catch(() => {});
}
