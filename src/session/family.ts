/**
 * The two protocol families a relay serves side by side, moq-lite and IETF moq-transport: what
 * it offers (ALPN, WebTransport and WebSocket subprotocols) and which session speaks what was
 * chosen. Both share the cache, which is the bridge between them.
 *
 * @module
 */
import { draftCode, draftForAlpn, IETF_ALPNS } from "../codec/ietf/draft.ts";
import { ProtocolError, SessionCode } from "../codec/error.ts";
import { ALPN_LEGACY, ALPNS, LEGACY_VERSIONS, versionForAlpn } from "../codec/lite/version.ts";
import type { Session } from "../transport/session.ts";
import { IetfSession } from "./ietf/session.ts";
import type { RelaySession } from "./relay_session.ts";
import { MoqSession, type SessionOptions } from "./lite/session.ts";
import { readLegacySetup } from "./lite/setup.ts";
import { type SessionContext, SETUP_TIMEOUT_MS } from "./context.ts";

/**
 * Every identifier a relay offers, most preferred first: moq-lite newest first, then
 * moq-transport newest first (a client offering both gets moq-lite, as from upstream's relay),
 * and `moql` last, since it leads to a SETUP exchange.
 */
export const RELAY_PROTOCOLS: readonly string[] = [
  ...ALPNS.filter((alpn) => alpn !== ALPN_LEGACY),
  ...IETF_ALPNS,
  ALPN_LEGACY,
];

/** The identifier to answer a peer's offer with: the first of ours it offered. */
export function chooseProtocol(offered: readonly string[]): string | undefined {
  return RELAY_PROTOCOLS.find((protocol) => offered.includes(protocol));
}

/**
 * The session for an accepted transport, by the protocol it negotiated. With `moql` or none
 * the client's CLIENT_SETUP decides: its first version we speak, lite-02, lite-01 or
 * moq-transport draft 14 (as upstream's relay chooses), so that setup is read here first.
 */
export async function openSession(
  transport: Session,
  ctx: SessionContext,
  options: SessionOptions,
): Promise<RelaySession> {
  if (draftForAlpn(transport.protocol) !== undefined) {
    return new IetfSession(transport, ctx, { admission: options.admission });
  }
  if (options.role === "server" && versionForAlpn(transport.protocol) === "legacy") {
    const preread = await withSetupTimeout(readLegacySetup(transport));
    const chosen = preread.setup.versions.find((v) =>
      (LEGACY_VERSIONS as readonly number[]).includes(v) || v === draftCode(14)
    );
    if (chosen === draftCode(14)) {
      return new IetfSession(transport, ctx, { admission: options.admission, draft: 14, preread });
    }
    return new MoqSession(transport, ctx, { ...options, preread });
  }
  return new MoqSession(transport, ctx, options);
}

/** The legacy CLIENT_SETUP must come within the setup deadline. */
function withSetupTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      timer = setTimeout(
        () => reject(new ProtocolError("SETUP timed out", SessionCode.Timeout)),
        SETUP_TIMEOUT_MS,
      )
    ),
  ]).finally(() => clearTimeout(timer));
}
