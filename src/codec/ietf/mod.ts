/**
 * The moq-transport (IETF drafts 14 to 20) codec family: drafts and their differences, the
 * draft's varint and framing, message shapes, namespaces, parameters, SETUP, control messages
 * and error codes. The data-plane files are exported by their own modules.
 *
 * @module
 */
export * from "./draft.ts";
export * from "./wire.ts";
export * from "./leading_ones.ts";
export * from "./messages.ts";
export * from "./namespace.ts";
export * from "./parameters.ts";
export * from "./setup.ts";
export * from "./control.ts";
export * from "./errors.ts";
export * from "./data.ts";
