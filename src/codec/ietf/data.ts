/**
 * The moq-transport data plane, drafts 14 to 20: unidirectional stream types, SUBGROUP_HEADER
 * and its objects, object extensions (properties), FETCH streams, OBJECT_DATAGRAM.
 *
 * @module
 */
export * from "./stream.ts";
export * from "./subgroup.ts";
export * from "./object.ts";
export * from "./extensions.ts";
export * from "./fetch_stream.ts";
export * from "./datagram.ts";
