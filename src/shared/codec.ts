// The one message codec for NATS: every request and reply between the HTTP side and the actors is JSON in this envelope.
import { AppError, isErrorCode, type ErrorCode } from "./errors";

export type Reply<T> = { ok: true; data: T } | { ok: false; code: ErrorCode };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Past this size a message is gzipped: NATS refuses messages over its max_payload (1 MB by default), and the seat list
 * of a 100,000-seat hall is 5 MB of JSON (0.5 MB gzipped). Smaller messages, nearly all of them, stay plain JSON.
 */
const COMPRESS_ABOVE_BYTES = 256 * 1024;

/** gzip's magic number: no JSON text starts with these bytes, so a reader can tell the two forms apart. */
const isGzip = (bytes: Uint8Array) => bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/**
 * Replies whose data is a frozen list already sent, encoded once: an actor hands the same (frozen) seat list to every
 * listing until a seat changes, and a sale's opening asks for it hundreds of times in between. Frozen means it cannot
 * have changed since it was encoded.
 */
const encodedData = new WeakMap<object, string>();

function replyText(reply: { ok: true; data: object }): string {
  let data = encodedData.get(reply.data);
  if (data === undefined) encodedData.set(reply.data, (data = JSON.stringify(reply.data)));
  return `{"ok":true,"data":${data}}`;
}

const isDataReply = (value: unknown): value is { ok: true; data: object } => {
  const reply = value as { ok?: unknown; data?: unknown } | null;
  return reply?.ok === true && Array.isArray(reply.data) && Object.isFrozen(reply.data);
};

export function encode(value: unknown): Uint8Array {
  const bytes = encoder.encode(isDataReply(value) ? replyText(value) : JSON.stringify(value));
  return bytes.length > COMPRESS_ABOVE_BYTES ? Bun.gzipSync(bytes) : bytes;
}

/**
 * A successful reply's data as JSON text, without parsing it: for a route that hands a large list on as it came (the
 * seat list), so the HTTP side does not parse and re-serialise it. A refusal comes back as its catalog error.
 */
export function replyDataText(bytes: Uint8Array): string {
  const text = decoder.decode(isGzip(bytes) ? Bun.gunzipSync(bytes as Uint8Array<ArrayBuffer>) : bytes);
  const prefix = `{"ok":true,"data":`;
  if (text.startsWith(prefix) && text.endsWith("}")) return text.slice(prefix.length, -1);
  return JSON.stringify(unwrap(JSON.parse(text) as Reply<unknown>));
}

export function decode<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(isGzip(bytes) ? Bun.gunzipSync(bytes as Uint8Array<ArrayBuffer>) : bytes)) as T;
}

export function ok<T>(data: T): Reply<T> {
  return { ok: true, data };
}

export function fail(code: ErrorCode): Reply<never> {
  return { ok: false, code };
}

/** Unwraps a reply, turning a catalog failure back into the AppError it was on the actor's side. */
export function unwrap<T>(reply: Reply<T>): T {
  if (reply.ok) return reply.data;
  throw new AppError(isErrorCode(reply.code) ? reply.code : "internal_server_error");
}
