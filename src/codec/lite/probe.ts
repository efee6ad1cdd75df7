/**
 * The probe stream (bidirectional, type `0x04`, lite-03+): the subscriber may send target
 * bitrates; the publisher reports its estimate. 0 means unknown.
 *
 * @module
 */
import { type Decoded, decodeSized, encodeSized } from "../message.ts";
import { hasProbeRtt, type Version } from "./version.ts";

export interface Probe {
  /** Bits per second; 0 = unknown. */
  bitrate: number;
  /** 04+: smoothed round-trip time in ms; 0 = unknown (and always 0 on 03). */
  rtt: number;
}

export function decodeProbe(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<Probe> | undefined {
  return decodeSized(buf, offset, "PROBE", (r) => ({
    bitrate: r.varint("bitrate"),
    rtt: hasProbeRtt(version) ? r.varint("rtt") : 0,
  }));
}

export function encodeProbe(msg: Probe, version: Version): Uint8Array<ArrayBuffer> {
  return encodeSized((w) => {
    w.varint(msg.bitrate);
    if (hasProbeRtt(version)) w.varint(msg.rtt);
  });
}
