/**
 * Byte primitives shared by the transport and the codec (a leaf: it imports nothing): QUIC
 * varints, concatenation, and a byte FIFO for parsing messages across stream chunks.
 *
 * @module
 */
export * from "./byte_buffer.ts";
export * from "./concat.ts";
export * from "./varint.ts";
