/**
 * The moq-lite wire codec, versions 01 through 06: pure functions from values to bytes and back,
 * no I/O and no awaits. Decoders take a buffer and an offset and return the value and its size,
 * `undefined` when more bytes are needed, or throw {@link ProtocolError} for bad bytes.
 *
 * @module
 */
export * from "./announce.ts";
export * from "./datagram.ts";
export * from "../error.ts";
export * from "./fetch.ts";
export * from "./goaway.ts";
export * from "./group.ts";
export * from "../message.ts";
export * from "../path.ts";
export * from "./probe.ts";
export * from "./setup.ts";
export * from "./stream.ts";
export * from "./subscribe.ts";
export * from "./track.ts";
export * from "../varint.ts";
export * from "./version.ts";
