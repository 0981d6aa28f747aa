// The pages' only way to the service: a typed client (Eden) made from the app's own route types, so a page calling a
// route with the wrong body or reading a field the route does not answer fails to compile. Every refusal becomes a
// PageError carrying the catalog's Korean message, which the pages show as it is.
import { treaty } from "@elysiajs/eden";
import type { App } from "../../../http/app";

export const api = treaty<App>(location.origin).api.v1;

const OFFLINE = "서버에 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.";
const UNKNOWN = "요청을 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.";

export class PageError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
  }
}

interface Answer<T> {
  data: T | null;
  error: { status: unknown; value: unknown } | null;
}

/** The answer's data, or a PageError with the catalog's message (or a plain Korean one when the service is unreachable). */
export async function call<T>(pending: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await pending;
  } catch {
    throw new PageError(OFFLINE, "offline", 0);
  }
  if (!answer.error) return answer.data as T;
  const status = typeof answer.error.status === "number" ? answer.error.status : 0;
  const body = answer.error.value as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof body?.error?.code === "string" ? body.error.code : "unknown";
  const message = typeof body?.error?.message === "string" ? body.error.message : status === 0 ? OFFLINE : UNKNOWN;
  throw new PageError(message, code, status);
}

export const messageOf = (error: unknown) => (error instanceof PageError ? error.message : UNKNOWN);
