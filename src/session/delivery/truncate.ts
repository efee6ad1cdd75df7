/**
 * Ending a stream of frames (a group, a FETCH answer) early so the peer cannot take it as whole.
 *
 * @module
 */
import type { SendStream, Session } from "../../transport/session.ts";

/** Where a stream of frames will be once everything queued on it is out. */
export type Position = "boundary" | "inside";

/**
 * A reset with `code` where the carrier has one; otherwise (Deno's QUIC turns a reset into a
 * FIN) a FIN, after a partial frame header (`marker`: the first byte of a two-byte varint) when
 * the stream would end at a frame boundary: a FIN inside a frame is a truncation already.
 */
export function truncate(
  stream: SendStream,
  transport: Session,
  position: Position,
  code: number,
  marker: Uint8Array,
): void {
  if (transport.caps.resetCode) return stream.reset(code);
  if (position === "boundary") void stream.write(marker).catch(() => {});
  void stream.close().catch(() => {});
}
