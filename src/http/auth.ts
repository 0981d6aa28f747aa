// Bearer tokens: HS256 JWTs whose `sub` is the user id. Only HS256 is accepted, `exp` is required, and `sub` must be
// the decimal form of a positive safe integer, so a token can never name a user ambiguously. An operator's token
// also carries `"role": "admin"`.
import { jwtVerify, SignJWT } from "jose";
import { AppError } from "../shared/errors";

const SUBJECT = /^[1-9][0-9]{0,15}$/;

/** How many verified tokens are remembered; a rush reuses each user's token for every request. */
const REMEMBERED = 100_000;

function keyOf(secret: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(secret);
}

/** Who is calling: the token's user, and whether the token is an operator's. */
export interface Caller {
  userId: number;
  admin: boolean;
}

/** Checks an `Authorization` header; `remembered` answers at once for a header that verified before and is still valid. */
export type BearerVerifier = ((header: string | undefined) => Promise<Caller>) & {
  remembered(header: string | null | undefined): Caller | undefined;
};

/**
 * Returns a verifier for `Authorization` headers. A token that verified once is remembered until its `exp`, so a
 * client's repeated requests skip the HMAC; a different string (any changed byte) is verified afresh.
 */
export function bearerVerifier(secret: string): BearerVerifier {
  // Imported once: given raw bytes, jose imports the key again for every token, a third of each check's CPU.
  const key = crypto.subtle.importKey("raw", keyOf(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const verified = new Map<string, Caller & { expiresAt: number }>();
  // A header seen before is found without the pattern match: a waiting room's polls repeat the same header.
  const remembered = (header: string | null | undefined) => {
    const known = header == null ? undefined : verified.get(header);
    return known && known.expiresAt > Date.now() ? known : undefined;
  };
  const verify = async (header: string | undefined): Promise<Caller> => {
    const known = remembered(header);
    if (known) return known;
    const match = header?.match(/^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/);
    if (!match) throw new AppError("unauthorized");
    const token = match[1]!;
    try {
      const { payload } = await jwtVerify(token, await key, { algorithms: ["HS256"], requiredClaims: ["exp", "sub"] });
      const sub: unknown = payload.sub;
      const userId = typeof sub === "string" && SUBJECT.test(sub) ? Number(sub) : NaN;
      if (!Number.isSafeInteger(userId)) throw new Error("sub is not a user id");
      const caller = { userId, admin: payload.role === "admin", expiresAt: payload.exp! * 1000 };
      if (verified.size >= REMEMBERED) verified.delete(verified.keys().next().value!);
      verified.set(header!, caller);
      return caller;
    } catch {
      throw new AppError("unauthorized");
    }
  };
  return Object.assign(verify, { remembered });
}

export async function signUserToken(userId: number, secret: string, ttlSeconds = 86_400, options: { admin?: boolean } = {}): Promise<string> {
  if (!Number.isSafeInteger(userId) || userId < 1) throw new Error("a user id is a positive integer");
  return new SignJWT(options.admin ? { role: "admin" } : {})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(userId))
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(keyOf(secret));
}
