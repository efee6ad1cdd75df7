/**
 * The goaway stream (bidirectional, type `0x05`, lite-04+): the sender will close soon; an empty
 * URI means just go away, otherwise reconnect there. The receiver opens no new streams.
 *
 * @module
 */
import { type Decoded, decodeSized, encodeSized } from "../message.ts";

/** Longest URI accepted (the IETF wire's cap for the same field). */
export const MAX_GOAWAY_URI = 8192;

export interface Goaway {
  uri: string;
}

export function decodeGoaway(buf: Uint8Array, offset = 0): Decoded<Goaway> | undefined {
  return decodeSized(buf, offset, "GOAWAY", (r) => ({ uri: r.string("uri", MAX_GOAWAY_URI) }));
}

export function encodeGoaway(msg: Goaway): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => w.string(msg.uri));
}
