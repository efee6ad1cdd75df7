/**
 * Requests as streams, whatever the draft: from draft 17 each request has its own bidirectional
 * stream; on 14 to 16 every request rides the one control stream, its messages told apart by
 * request id (and, on 14/15, a few by namespace). {@link ControlMux} turns the control stream
 * into one virtual {@link RequestStream} per request, so the roles are written once, as
 * `@moq/net` does with its adapter.
 *
 * A virtual request has no FIN of its own: it ends when a side says so in a message (UNSUBSCRIBE,
 * PUBLISH_DONE, PUBLISH_NAMESPACE_DONE, ...) and the role then closes it.
 *
 * @module
 */
import { ProtocolError, SessionCode } from "../../codec/error.ts";
import {
  type CodecOptions,
  type ControlMessage,
  decodeMessage,
  type Draft,
  encodeMessage,
} from "../../codec/ietf/mod.ts";
import type { BiStream } from "../../transport/session.ts";
import type { MessageReader } from "../reader.ts";
import { SerialWriter } from "../writer.ts";

/** Messages a virtual request may have waiting for its role before the session is closed. */
export const MAX_QUEUED_MESSAGES = 64;

/** One request's messages in both directions. */
export interface RequestStream {
  /** Reads the peer's next message on this request; null once the peer ended it. */
  read(): Promise<ControlMessage | null>;
  write(message: ControlMessage): Promise<void>;
  /** Our side is done (17+: FIN after what is queued; 14-16: the request is forgotten). */
  finish(): Promise<void>;
  /** Gives up on the request (17+: reset, and the peer's side is stopped). */
  cancel(code: number): void;
}

/** Draft 17+: a request on its own bidirectional stream. */
export class NativeRequest implements RequestStream {
  readonly stream: BiStream;
  readonly reader: MessageReader;
  readonly #writer: SerialWriter;
  readonly #draft: Draft;
  readonly #options: () => CodecOptions;

  constructor(stream: BiStream, reader: MessageReader, draft: Draft, options: () => CodecOptions) {
    this.stream = stream;
    this.reader = reader;
    this.#writer = new SerialWriter(stream.send);
    this.#draft = draft;
    this.#options = options;
  }

  read(): Promise<ControlMessage | null> {
    return this.reader.read((b, o) => decodeMessage(b, o, this.#draft, this.#options()));
  }

  write(message: ControlMessage): Promise<void> {
    return this.#writer.write(encodeMessage(message, this.#draft, this.#options()));
  }

  finish(): Promise<void> {
    return this.#writer.close();
  }

  cancel(code: number): void {
    this.#writer.reset(code);
    this.stream.recv.stop(code);
  }
}

/** A request on the control stream (drafts 14 to 16). */
class VirtualRequest implements RequestStream {
  readonly id: bigint;
  readonly #mux: ControlMux;
  #queue: ControlMessage[] = [];
  #waiter: ((m: ControlMessage | null) => void) | undefined;
  #ended = false;
  /** 14/15: messages about a namespace find their request by it. */
  namespaceKey: string | undefined;

  constructor(id: bigint, mux: ControlMux) {
    this.id = id;
    this.#mux = mux;
  }

  get ended(): boolean {
    return this.#ended;
  }

  deliver(message: ControlMessage): void {
    if (this.#ended) return;
    if (this.#waiter) {
      const wake = this.#waiter;
      this.#waiter = undefined;
      return wake(message);
    }
    if (this.#queue.length >= MAX_QUEUED_MESSAGES) {
      throw new ProtocolError(`request ${this.id}: too many messages queued`);
    }
    this.#queue.push(message);
  }

  /** The request is over from the session's side (closed, or the control stream ended). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#queue = [];
    const wake = this.#waiter;
    this.#waiter = undefined;
    wake?.(null);
    this.#mux.forget(this);
  }

  read(): Promise<ControlMessage | null> {
    const next = this.#queue.shift();
    if (next) return Promise.resolve(next);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiter = resolve);
  }

  write(message: ControlMessage): Promise<void> {
    if (this.#ended) return Promise.resolve();
    return this.#mux.send(message);
  }

  finish(): Promise<void> {
    this.end();
    return Promise.resolve();
  }

  cancel(_code: number): void {
    this.end();
  }
}

/** What the control stream hands the session: new requests, and session-wide messages. */
export interface MuxHandlers {
  /** A new request from the peer, with its first message. */
  request(message: ControlMessage, stream: RequestStream): void;
  /** GOAWAY, MAX_REQUEST_ID, REQUESTS_BLOCKED. */
  session(message: ControlMessage): void;
}

/** The message types that open a request. */
const REQUESTS = new Set<ControlMessage["type"]>([
  "subscribe",
  "publish",
  "publish_namespace",
  "subscribe_namespace",
  "fetch",
  "track_status",
]);

/** The message types that concern the session, not one request. */
const SESSION_WIDE = new Set<ControlMessage["type"]>([
  "goaway",
  "max_request_id",
  "requests_blocked",
]);

/** Messages that name their request by namespace on 14/15 (requestId is 0 there). */
function namespaceOf(message: ControlMessage): string[] | undefined {
  switch (message.type) {
    case "publish_namespace_done":
    case "publish_namespace_cancel":
      return message.namespace.length > 0 ? message.namespace : undefined;
    case "unsubscribe_namespace":
      return message.prefix.length > 0 ? message.prefix : undefined;
    default:
      return undefined;
  }
}

/** The request a follow-up message belongs to. */
function requestIdOf(message: ControlMessage): bigint | undefined {
  switch (message.type) {
    case "request_update":
      return message.existingRequestId;
    case "client_setup":
    case "server_setup":
    case "setup":
    case "namespace":
    case "namespace_done":
    case "publish_blocked":
    case "goaway":
    case "max_request_id":
    case "requests_blocked":
      return undefined;
    default:
      return message.requestId;
  }
}

/** How many requests the peer may have open at once, and which ids are its own. */
export interface RequestCredit {
  /** Requests of the peer's open at once (MAX_REQUEST_ID keeps this many ids ahead). */
  window: number;
  /** The parity of the peer's ids: 0n for a client's (0, 2, 4, ...), 1n for a server's. */
  peerParity: bigint;
}

/** Drafts 14-16: the control stream as virtual request streams, with request id flow control. */
export class ControlMux {
  readonly #reader: MessageReader;
  readonly #writer: SerialWriter;
  readonly #draft: Draft;
  readonly #options: () => CodecOptions;
  readonly #requests = new Map<bigint, VirtualRequest>();
  readonly #byNamespace = new Map<string, VirtualRequest>();
  readonly #credit: RequestCredit;
  /** The peer's requests still open (by id). */
  readonly #theirs = new Set<bigint>();
  /** The peer may use ids below this; the last value we told it. */
  #maxRequestId: bigint;
  #advertised: bigint;
  /** The lowest id the peer may use next (ids only go up). */
  #nextPeerId: bigint;

  constructor(
    stream: BiStream,
    reader: MessageReader,
    draft: Draft,
    options: () => CodecOptions,
    credit: RequestCredit,
  ) {
    this.#reader = reader;
    this.#writer = new SerialWriter(stream.send);
    this.#draft = draft;
    this.#options = options;
    this.#credit = credit;
    this.#nextPeerId = credit.peerParity;
    this.#maxRequestId = credit.peerParity + 2n * BigInt(Math.max(1, credit.window));
    this.#advertised = this.#maxRequestId;
  }

  /** What SERVER_SETUP's MAX_REQUEST_ID says at first. */
  get maxRequestId(): bigint {
    return this.#maxRequestId;
  }

  /** Requests open on the control stream (for limits and tests). */
  get size(): number {
    return this.#requests.size;
  }

  send(message: ControlMessage): Promise<void> {
    return this.#writer.write(encodeMessage(message, this.#draft, this.#options()));
  }

  /** A request of ours: its messages come back by its id. */
  open(id: bigint, namespace?: string[]): RequestStream {
    const request = new VirtualRequest(id, this);
    this.#requests.set(id, request);
    if (namespace) this.#keyByNamespace(request, namespace);
    return request;
  }

  #keyByNamespace(request: VirtualRequest, namespace: string[]): void {
    request.namespaceKey = JSON.stringify(namespace);
    this.#byNamespace.set(request.namespaceKey, request);
  }

  forget(request: VirtualRequest): void {
    if (this.#requests.get(request.id) === request) this.#requests.delete(request.id);
    if (request.namespaceKey && this.#byNamespace.get(request.namespaceKey) === request) {
      this.#byNamespace.delete(request.namespaceKey);
    }
    if (this.#theirs.delete(request.id)) this.#credit1();
  }

  /** One of the peer's requests ended: it may open another (told in batches of half a window). */
  #credit1(): void {
    this.#maxRequestId += 2n;
    const batch = 2n * BigInt(Math.max(1, Math.floor(this.#credit.window / 2)));
    if (this.#maxRequestId - this.#advertised < batch) return;
    this.#advertised = this.#maxRequestId;
    void this.send({ type: "max_request_id", requestId: this.#maxRequestId }).catch(() => {});
  }

  /**
   * Reads the control stream until it ends (which ends the session), handing each message to
   * its request; a protocol error is thrown to the session.
   */
  async run(handlers: MuxHandlers): Promise<void> {
    const decode = (b: Uint8Array, o: number) => decodeMessage(b, o, this.#draft, this.#options());
    try {
      for (let m = await this.#reader.read(decode); m; m = await this.#reader.read(decode)) {
        this.#route(m, handlers);
      }
    } finally {
      for (const request of [...this.#requests.values()]) request.end();
    }
  }

  #route(message: ControlMessage, handlers: MuxHandlers): void {
    if (SESSION_WIDE.has(message.type)) return handlers.session(message);
    if (message.type === "client_setup" || message.type === "server_setup") {
      throw new ProtocolError("a second SETUP on the control stream");
    }
    if (REQUESTS.has(message.type)) {
      const id = requestIdOf(message) ?? 0n;
      if (id % 2n !== this.#credit.peerParity) refuseRequestId(id, "not the peer's to use");
      if (id < this.#nextPeerId) refuseRequestId(id, "ids must increase");
      // Against what the peer was told, not the credit not yet announced.
      if (id >= this.#advertised) {
        refuseRequestId(id, `at or above MAX_REQUEST_ID ${this.#advertised}`);
      }
      this.#nextPeerId = id + 2n;
      const request = new VirtualRequest(id, this);
      this.#requests.set(id, request);
      this.#theirs.add(id);
      if (message.type === "publish_namespace") this.#keyByNamespace(request, message.namespace);
      if (message.type === "subscribe_namespace") this.#keyByNamespace(request, message.prefix);
      return handlers.request(message, request);
    }
    const namespace = namespaceOf(message);
    const request = namespace
      ? this.#byNamespace.get(JSON.stringify(namespace))
      : this.#requests.get(requestIdOf(message) ?? -1n);
    // A reply to a request either side already ended: nothing waits for it.
    request?.deliver(message);
  }

  /** Ends our side of the control stream. */
  close(): Promise<void> {
    return this.#writer.close();
  }
}

/** Throws the session-closing error for a request id the peer may not use. */
export function refuseRequestId(id: bigint, why: string): never {
  throw new ProtocolError(`request id ${id}: ${why}`, SessionCode.ProtocolViolation);
}
