// The one message codec for NATS: every request and reply between the HTTP side and the actors is JSON in this envelope.
import { AppError, isErrorCode, type ErrorCode } from "./errors";

export type Reply<T> = { ok: true; data: T } | { ok: false; code: ErrorCode };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decode<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
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
