/**
 * A session's scope once its setup is done, for either family: its URL (raw QUIC has none: the
 * SETUP path and query take its place), its root, and what the relay's policy lets it see. A
 * grant with a lease keeps the session only as long as it covers it, and hears how it ended.
 *
 * @module
 */
import type { Admission } from "../auth/access.ts";
import type { OriginView } from "../cache/view.ts";
import { ProtocolError, SessionCode } from "../codec/error.ts";
import { normalizePath } from "../codec/path.ts";
import type { Logger } from "../log.ts";
import type { Session } from "../transport/session.ts";
import type { SessionContext } from "./context.ts";

/** What the scope needs of the session it is for. */
export interface ScopedSession {
  readonly transport: Session;
  readonly log: Logger;
  fail(code: number, reason: string): void;
}

/** The session's URL: the transport's, or on raw QUIC its SETUP path (and query). */
export function sessionUrl(transport: Session, setupPath: string | undefined): URL {
  return transport.url ?? new URL(setupPath ?? "/", "moqt://relay/");
}

/** The URL's path as a broadcast root; a path that is not percent-encoding is a violation. */
export function rootOf(url: URL): string {
  try {
    return normalizePath(decodeURIComponent(url.pathname));
  } catch {
    throw new ProtocolError(`the path ${url.pathname} is not valid percent-encoding`);
  }
}

/**
 * Asks the relay's policy for the session's view at `url`; a refusal is an UNAUTHORIZED
 * ProtocolError. A lease on the grant ends the session when the grant ends.
 */
export async function settleScope(
  session: ScopedSession,
  ctx: SessionContext,
  url: URL,
  admission: Admission | undefined,
): Promise<{ view: OriginView; root: string }> {
  const scope = await ctx.scope({
    root: rootOf(url),
    url,
    params: url.searchParams,
    log: session.log,
    transport: session.transport,
    admission,
  });
  if ("refused" in scope) throw new ProtocolError(scope.refused, SessionCode.Unauthorized);
  const lease = scope.lease;
  if (lease) {
    void lease.ended.then((why) =>
      session.fail(SessionCode.Unauthorized, `the grant ended: ${why}`)
    );
    void session.transport.closed.then((info) =>
      lease.finish(info.reason || "closed", session.transport.bytes)
    );
  }
  return { view: scope.view, root: scope.root };
}
