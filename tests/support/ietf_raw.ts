/**
 * A hand-driven moq-transport client for tests: our own codec over our own transport (raw QUIC
 * or WebTransport), with no session logic of its own, so a test can send exactly the messages it
 * means (well-formed or not) and read exactly what the relay answers.
 *
 * - 14-16: CLIENT_SETUP on the first bidirectional stream, which stays the control stream:
 *   {@link RawIetf.send} and {@link RawIetf.next} use it for every request.
 * - 17+: SETUP on a unidirectional stream of ours; {@link RawIetf.request} opens one
 *   bidirectional stream per request.
 *
 * Unidirectional streams from the relay (SUBGROUP and FETCH streams) are read whole and queued
 * by kind ({@link RawIetf.dataStream}).
 */
import {
  type ControlMessage,
  decodeFetchHeader,
  decodeFetchObject,
  decodeMessage,
  decodeObjectDatagram,
  decodeObjectHeader,
  decodeSetupAfterType,
  decodeSubgroupHeader,
  decodeUniStreamType,
  type Draft,
  draftCode,
  encodeMessage,
  type FetchObjectPosition,
  hasRequestStreams,
  hasSetupStream,
  type ObjectDatagram,
  type SetupParameters,
  type SubgroupHeader,
} from "../../src/codec/ietf/mod.ts";
import { MessageReader } from "../../src/session/reader.ts";
import { Endpoint } from "../../src/transport/endpoint.ts";
import type { BiStream, RecvStream, Session } from "../../src/transport/session.ts";
import { fingerprintBytes, generateCertificate } from "../../src/tls/certificate.ts";
import { withTimeout } from "./wait.ts";

/** A whole data stream from the relay. */
export type DataStream =
  | {
    kind: "subgroup";
    header: SubgroupHeader;
    objects: { id: number; payload: Uint8Array }[];
    /** False when the stream ended inside an object (cut short). */
    whole: boolean;
  }
  | {
    kind: "fetch";
    requestId: bigint;
    objects: { group: number; object: number; payload: Uint8Array }[];
    whole: boolean;
  };

/** One request of ours on 17+ (its own stream). */
export interface RawRequest {
  readonly stream: BiStream;
  write(message: ControlMessage): Promise<void>;
  /** The next message the relay sent on it; null at its FIN. */
  next(timeoutMs?: number): Promise<ControlMessage | null>;
}

export interface RawIetf extends AsyncDisposable {
  readonly draft: Draft;
  readonly transport: Session;
  /** The relay's setup parameters. */
  readonly setup: SetupParameters;
  /** 14-16: a control message on the control stream. */
  send(message: ControlMessage): Promise<void>;
  /** 14-16: bytes as they are, on the control stream (for malformed input). */
  sendRaw(bytes: Uint8Array): Promise<void>;
  /** 14-16: the next control message from the relay. */
  next(timeoutMs?: number): Promise<ControlMessage | null>;
  /** 17+: opens a request with its first message. */
  request(message: ControlMessage): Promise<RawRequest>;
  /** The next data stream the relay opened, read to its end. */
  dataStream(timeoutMs?: number): Promise<DataStream>;
  /** 17+: the next request the relay opened (a SUBSCRIBE to us as publisher), with its first message. */
  acceptRequest(timeoutMs?: number): Promise<RawRequest & { first: ControlMessage }>;
  /** The next datagram from the relay, decoded. */
  datagram(timeoutMs?: number): Promise<ObjectDatagram>;
  /** How the session ended: its close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** 17+: the URI of the GOAWAY on the relay's SETUP stream (14-16: it comes through `next`). */
  readonly goaway: Promise<string>;
  close(): Promise<void>;
}

export interface RawIetfOptions {
  fingerprint: string;
  transport?: "quic" | "webtransport";
  /** The URL path (WebTransport) or SETUP PATH (raw QUIC), query included. */
  path?: string;
  /** Draft 14: the ALPN (`moq-00`, default) or `moql` with a CLIENT_SETUP listing only 14. */
  legacy?: boolean;
}

/** Connects and completes the setup exchange for `draft`. */
export async function connectRawIetf(
  port: number,
  draft: Draft,
  options: RawIetfOptions,
): Promise<RawIetf> {
  const cert = await generateCertificate(["127.0.0.1"]);
  const endpoint = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: [],
  });
  const kind = options.transport ?? "quic";
  const path = options.path ?? "/";
  const url = new URL(`${kind === "webtransport" ? "https" : "moqt"}://127.0.0.1:${port}${path}`);
  const alpn = draft === 14 ? (options.legacy ? "moql" : "moq-00") : `moqt-${draft}`;
  const transport = await endpoint.connect(url, {
    protocols: [alpn],
    serverCertificateHashes: [fingerprintBytes(options.fingerprint)],
    rawQuic: kind === "quic",
  });
  const closed = transport.closed.then((c) => ({ code: c.code, reason: c.reason }));
  const data: DataStream[] = [];
  const waiting: ((d: DataStream) => void)[] = [];
  const deliver = (d: DataStream) => {
    const w = waiting.shift();
    if (w) w(d);
    else data.push(d);
  };
  const setupPath = kind === "quic" ? path : undefined;
  let control: { stream: BiStream; reader: MessageReader } | undefined;
  let setup: SetupParameters;
  const peerSetup = Promise.withResolvers<SetupParameters>();
  const goaway = Promise.withResolvers<string>();
  const readUnis = (async () => {
    for (let s = await transport.acceptUni(); s; s = await transport.acceptUni()) {
      void readUni(s, draft, peerSetup.resolve, deliver, goaway.resolve).catch(() => {});
    }
  })();
  if (hasSetupStream(draft)) {
    const stream = await transport.openUni({
      initial: encodeMessage({
        type: "setup",
        parameters: { path: setupPath, implementation: "raw-test", unknown: [] },
      }, draft),
    });
    void stream;
    // A refused session may close before (or right after) the relay's SETUP: `closed` tells.
    setup = await withTimeout(
      Promise.race([peerSetup.promise, closed.then(() => ({ unknown: [] }))]),
      5000,
      "the relay's SETUP",
    );
  } else {
    const stream = await transport.openBi();
    const reader = new MessageReader(stream.recv);
    await stream.send.write(encodeMessage({
      type: "client_setup",
      versions: draft === 14 ? [draftCode(14)] : [],
      parameters: { path: setupPath, maxRequestId: 1000n, unknown: [] },
    }, draft));
    const answer = await withTimeout(
      reader.read((b, o) => decodeMessage(b, o, draft)),
      5000,
      "SERVER_SETUP",
    );
    if (answer?.type !== "server_setup") {
      throw new Error(`expected SERVER_SETUP, got ${answer?.type}`);
    }
    setup = answer.parameters;
    control = { stream, reader };
  }
  const close = async () => {
    await transport.close({ code: 0, reason: "test done" }).catch(() => {});
    await readUnis.catch(() => {});
    endpoint.close();
  };
  return {
    draft,
    transport,
    setup,
    closed,
    goaway: goaway.promise,
    send: async (m) => {
      if (!control) throw new Error("no control stream on 17+");
      await control.stream.send.write(encodeMessage(m, draft));
    },
    sendRaw: async (bytes) => {
      if (!control) throw new Error("no control stream on 17+");
      await control.stream.send.write(bytes);
    },
    next: (timeoutMs = 5000) => {
      if (!control) throw new Error("no control stream on 17+");
      const reader = control.reader;
      return withTimeout(reader.read((b, o) => decodeMessage(b, o, draft)), timeoutMs, "message");
    },
    request: async (m) => {
      if (!hasRequestStreams(draft)) throw new Error("requests share the control stream here");
      const stream = await transport.openBi({ initial: encodeMessage(m, draft) });
      const reader = new MessageReader(stream.recv);
      return {
        stream,
        write: (msg) => stream.send.write(encodeMessage(msg, draft)),
        next: (timeoutMs = 5000) =>
          withTimeout(reader.read((b, o) => decodeMessage(b, o, draft)), timeoutMs, "reply"),
      };
    },
    dataStream: (timeoutMs = 5000) => {
      const ready = data.shift();
      if (ready) return Promise.resolve(ready);
      return withTimeout(
        new Promise<DataStream>((resolve) => waiting.push(resolve)),
        timeoutMs,
        "a data stream",
      );
    },
    acceptRequest: async (timeoutMs = 5000) => {
      const stream = await withTimeout(transport.acceptBi(), timeoutMs, "a request");
      if (!stream) throw new Error("the session ended");
      const reader = new MessageReader(stream.recv);
      const read = (ms: number) =>
        withTimeout(reader.read((b, o) => decodeMessage(b, o, draft)), ms, "a message");
      const first = await read(timeoutMs);
      if (!first) throw new Error("the request ended before its first message");
      return {
        stream,
        first,
        write: (msg) => stream.send.write(encodeMessage(msg, draft)),
        next: (ms = 5000) => read(ms),
      };
    },
    datagram: async (timeoutMs = 5000) => {
      const bytes = await withTimeout(transport.readDatagram(), timeoutMs, "a datagram");
      if (!bytes) throw new Error("the session ended");
      return decodeObjectDatagram(bytes, draft);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function readUni(
  stream: RecvStream,
  draft: Draft,
  onSetup: (p: SetupParameters) => void,
  deliver: (d: DataStream) => void,
  onGoaway: (uri: string) => void,
): Promise<void> {
  const reader = new MessageReader(stream);
  const type = await reader.read((b, o) => decodeUniStreamType(b, o, draft));
  if (!type) return;
  if (type.kind === "setup") {
    const setup = await reader.read((b, o) => decodeSetupAfterType(b, o, draft));
    if (setup) onSetup(setup.parameters);
    // 17+: the relay's SETUP stream then carries its GOAWAY.
    const next = await reader.read((b, o) => decodeMessage(b, o, draft));
    if (next?.type === "goaway") onGoaway(next.uri);
    return;
  }
  if (type.kind === "subgroup") {
    const header = await reader.read((b, o) => decodeSubgroupHeader(b, o, draft, type.flags));
    if (!header) return;
    const objects: { id: number; payload: Uint8Array }[] = [];
    let previous: number | undefined;
    try {
      for (;;) {
        const h = await reader.read((b, o) =>
          decodeObjectHeader(b, o, draft, { extensions: type.flags.extensions, previous })
        );
        if (!h) break;
        previous = h.objectId;
        objects.push({ id: h.objectId, payload: await payload(reader, h.length) });
      }
      deliver({ kind: "subgroup", header, objects, whole: true });
    } catch {
      deliver({ kind: "subgroup", header, objects, whole: false });
    }
    return;
  }
  if (type.kind === "fetch") {
    const head = await reader.read((b, o) => decodeFetchHeader(b, o, draft));
    if (!head) return;
    const objects: { group: number; object: number; payload: Uint8Array }[] = [];
    let previous: FetchObjectPosition | undefined;
    try {
      for (;;) {
        const h = await reader.read((b, o) => decodeFetchObject(b, o, draft, previous));
        if (!h) break;
        previous = h;
        if (h.endOfRange !== undefined) continue;
        objects.push({
          group: h.group,
          object: h.object,
          payload: await payload(reader, h.length),
        });
      }
      deliver({ kind: "fetch", requestId: head.requestId, objects, whole: true });
    } catch {
      deliver({ kind: "fetch", requestId: head.requestId, objects, whole: false });
    }
  }
}

async function payload(reader: MessageReader, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  while (at < length) {
    const chunk = await reader.payload(length - at);
    if (!chunk) throw new Error("the stream ended inside an object");
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
