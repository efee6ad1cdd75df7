/**
 * The view of one moq-lite session that its stream handlers share.
 *
 * @module
 */
import type { Version } from "../codec/version.ts";
import type { Logger } from "../log.ts";
import type { Session } from "../transport/session.ts";
import type { RelayContext } from "./context.ts";

export interface Peer {
  readonly version: Version;
  readonly transport: Session;
  readonly ctx: RelayContext;
  /** The session's root: every path on the wire is relative to it. */
  readonly root: string;
  /** The peer's hop id from its lite-05+ SETUP, if it gave one. */
  readonly peerHop: bigint | undefined;
  /** Identity of this session, to keep its own announcements from being echoed back. */
  readonly self: object;
  readonly log: Logger;
  /** Another relay of the cluster (authorized for internal paths; sees only local broadcasts). */
  readonly cluster: boolean;
  /** Ends the session with a protocol violation (or another session code). */
  fail(code: number, reason: string): void;
  /** Resolves when the session is over. */
  readonly done: Promise<void>;
}

/** A control-stream send priority above every group stream. */
export const CONTROL_PRIORITY = 0x7fff_ffff;
