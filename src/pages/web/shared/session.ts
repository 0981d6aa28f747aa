// Who is using the page: a bearer token kept in this browser (the service has no login route; `npm run -s token`
// mints one, and `npm start` prints a link that carries one). The user id and role are read from the token's payload
// only to address the user's own routes: the service checks the signature on every call.
export interface Session {
  bearer: string;
  userId: number;
  admin: boolean;
  expiresAt: number;
}

function payloadOf(token: string): Record<string, unknown> | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return undefined;
  }
}

/** A session from a pasted token (with or without "Bearer "), or undefined when it is not a live user token. */
export function sessionFrom(text: string): Session | undefined {
  const token = text.trim().replace(/^Bearer\s+/i, "");
  const payload = payloadOf(token);
  const userId = Number(payload?.sub);
  const exp = Number(payload?.exp);
  if (!Number.isSafeInteger(userId) || userId < 1 || !(exp * 1000 > Date.now())) return undefined;
  return { bearer: `Bearer ${token}`, userId, admin: payload?.role === "admin", expiresAt: exp * 1000 };
}

export class SessionStore {
  constructor(private readonly key: string) {}

  load(): Session | undefined {
    const session = sessionFrom(localStorage.getItem(this.key) ?? "");
    if (!session) localStorage.removeItem(this.key);
    return session;
  }

  save(session: Session): void {
    localStorage.setItem(this.key, session.bearer);
  }

  clear(): void {
    localStorage.removeItem(this.key);
  }
}

/** A token handed over in the address (`#token=…`, as `npm start` prints it): taken once, then removed from view. */
export function tokenFromAddress(): string | undefined {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return undefined;
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(match[1]!);
}
