/**
 * What a relay needs of any session it serves, whichever protocol family it speaks (moq-lite's
 * `MoqSession`, moq-transport's `IetfSession`): to run it, count it, show it and drain it.
 *
 * @module
 */
import type { OriginView } from "../cache/view.ts";
import type { Logger } from "../log.ts";
import type { Traffic } from "../ops/traffic.ts";
import type { Session } from "../transport/session.ts";

let lastSessionId = 0;

/** Session ids are unique across both families (logs and /stats name sessions by them). */
export function nextSessionId(): number {
  return ++lastSessionId;
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatRemote(remote: Deno.NetAddr): string {
  return remote.hostname.includes(":")
    ? `[${remote.hostname}]:${remote.port}`
    : `${remote.hostname}:${remote.port}`;
}

export interface RelaySession {
  readonly id: number;
  readonly transport: Session;
  readonly log: Logger;
  /** When the session began (ms since the epoch). */
  readonly started: number;
  /** The session's root path, once set up. */
  readonly root: string;
  /** `moq-lite-05`, `moqt-20`, ...: the negotiated version, for logs, metrics and /stats. */
  readonly versionName: string;
  /** The version number on the wire (hex in /stats). */
  readonly versionCode: number;
  readonly traffic: Traffic;
  /** The session's view (throws before its setup). */
  readonly view: OriginView;
  /** Undefined until set up. */
  readonly publisher: { readonly subscriptions: number; readonly groupStreams: number } | undefined;
  readonly subscriber:
    | {
      readonly size: number;
      readonly announcements: { listed: boolean; active: number };
    }
    | undefined;
  /** Negotiates, then serves until the session ends. */
  run(): Promise<void>;
  retireTraffic(into: Traffic): void;
  /** Tells the peer to reconnect elsewhere ("" = the same place); false when it could not. */
  sendGoaway(uri: string): Promise<boolean>;
  fail(code: number, reason: string): void;
}
