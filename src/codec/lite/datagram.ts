/**
 * Datagrams (lite-05+, QUIC and WebTransport only): a single-frame group sent unreliably.
 * `subscribe id (i), sequence (i), timestamp (i, absolute), payload (to the end)`; no length.
 *
 * @module
 */
import { Reader, Writer } from "../buffer.ts";

/** A datagram body must fit one QUIC packet with room to spare. */
export const MAX_DATAGRAM_SIZE = 1200;

export interface Datagram {
  subscribeId: bigint;
  sequence: number;
  timestamp: number;
  payload: Uint8Array;
}

/** Decodes a whole datagram (datagrams arrive whole, so there is no "need more"). */
export function decodeDatagram(buf: Uint8Array): Datagram {
  const r = new Reader(buf);
  return {
    subscribeId: r.varintBig("subscribe id"),
    sequence: r.varint("sequence"),
    timestamp: r.varint("timestamp"),
    payload: r.rest(),
  };
}

export function encodeDatagram(msg: Datagram): Uint8Array<ArrayBuffer> {
  return new Writer().varint(msg.subscribeId).varint(msg.sequence).varint(msg.timestamp).bytes(
    msg.payload,
  ).finish();
}
