// The one message codec for NATS: every request and reply between the HTTP side and the actors is JSON in this envelope.
import { AppError, isErrorCode, type ErrorCode } from "./errors";

export type Reply<T> = { ok: true; data: T } | { ok: false; code: ErrorCode };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Past this size a message is gzipped: NATS refuses messages over its max_payload (1 MB by default), and a page of a
 * large hall's seat map or of a long queue comes near it. Smaller messages, nearly all of them, stay plain JSON.
 */
const COMPRESS_ABOVE_BYTES = 256 * 1024;

/** gzip's magic number: no JSON text starts with these bytes, so a reader can tell the two forms apart. */
const isGzip = (bytes: Uint8Array) => bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

export function encode(value: unknown): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(value));
  return bytes.length > COMPRESS_ABOVE_BYTES ? Bun.gzipSync(bytes) : bytes;
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
