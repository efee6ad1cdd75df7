/**
 * What the two roles of one moq-transport session share: the draft, the transport, the session's
 * view, its limits and counters, how to open a request, and what the peer's implementation
 * needs of the codec (see `CodecOptions`).
 *
 * @module
 */
import type { CacheBudget } from "../../cache/budget.ts";
import type { OriginView } from "../../cache/view.ts";
import type { CodecOptions, ControlMessage, Draft } from "../../codec/ietf/mod.ts";
import type { Logger } from "../../log.ts";
import type { Traffic } from "../../ops/traffic.ts";
import type { Session } from "../../transport/session.ts";
import type { SessionLimits } from "../context.ts";
import type { RequestStream } from "./requests.ts";

export interface IetfPeer {
  readonly draft: Draft;
  readonly transport: Session;
  readonly view: OriginView;
  readonly budget: CacheBudget;
  readonly limits: SessionLimits;
  readonly log: Logger;
  readonly traffic: Traffic;
  readonly signal: AbortSignal;
  /** How to write and read what the peer's implementation disagrees on. */
  codec(): CodecOptions;
  /** Whether SUBSCRIBE_OK should carry LARGEST_OBJECT to this peer (see `publisher.ts`). */
  readonly readsLargest: boolean;
  /**
   * Opens a request of ours with its first message (17+: its own stream; 14-16: a request id
   * on the control stream). `request` gets the id to use.
   */
  request(first: (requestId: bigint) => ControlMessage): Promise<RequestStream>;
  fail(code: number, reason: string): void;
}
