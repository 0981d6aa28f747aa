import { describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { bearerVerifier, signUserToken } from "../../src/http/auth";
import { AppError } from "../../src/shared/errors";

const SECRET = "unit-test-secret";
const verifyBearer = bearerVerifier(SECRET);
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

async function refused(header: string | undefined): Promise<string> {
  try {
    await verifyBearer(header);
    return "accepted";
  } catch (error) {
    return error instanceof AppError ? error.code : String(error);
  }
}

describe("bearer tokens", () => {
  test("a minted token names its user", async () => {
    expect(await verifyBearer(`Bearer ${await signUserToken(42, SECRET)}`)).toMatchObject({ userId: 42, admin: false });
    expect((await verifyBearer(`Bearer ${await signUserToken(Number.MAX_SAFE_INTEGER, SECRET)}`)).userId).toBe(Number.MAX_SAFE_INTEGER);
  });

  test("an operator's token carries the admin role; any other role is a plain user", async () => {
    expect(await verifyBearer(`Bearer ${await signUserToken(9, SECRET, 60, { admin: true })}`)).toMatchObject({ userId: 9, admin: true });
    const other = await new SignJWT({ role: "superuser" }).setProtectedHeader({ alg: "HS256" }).setSubject("9").setExpirationTime(now() + 60).sign(key);
    expect(await verifyBearer(`Bearer ${other}`)).toMatchObject({ userId: 9, admin: false });
  });

  test("verified without a promise too, for the front door: the same callers, undefined for anything refused", async () => {
    expect(verifyBearer.atOnce(`Bearer ${await signUserToken(42, SECRET)}`)).toMatchObject({ userId: 42, admin: false });
    expect(verifyBearer.atOnce(`Bearer ${await signUserToken(42, "another-secret")}`)).toBeUndefined();
    expect(verifyBearer.atOnce(undefined)).toBeUndefined();
    // Far more callers than are remembered: each still verifies, the first as the last.
    const headers = await Promise.all(Array.from({ length: 25_000 }, (_, i) => signUserToken(i + 1, SECRET).then((t) => `Bearer ${t}`)));
    for (const [i, header] of headers.entries()) expect(verifyBearer.atOnce(header)?.userId).toBe(i + 1);
    expect(verifyBearer.atOnce(headers[0])?.userId).toBe(1);
  });

  test("a remembered token still lapses at its exp", async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("5").setExpirationTime(now() + 1).sign(key);
    expect((await verifyBearer(`Bearer ${token}`)).userId).toBe(5);
    await Bun.sleep(2_100);
    expect(await refused(`Bearer ${token}`)).toBe("unauthorized");
  });

  test("everything else is unauthorized", async () => {
    const sign = (claims: Record<string, unknown>, alg = "HS256", secret = key) =>
      new SignJWT(claims).setProtectedHeader({ alg }).sign(secret);
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      "not bearer": `Basic ${await signUserToken(1, SECRET)}`,
      garbage: "Bearer not.a.jwt",
      "wrong signature": `Bearer ${await signUserToken(1, "another-secret")}`,
      "alg none": `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "1", exp: now() + 60 })}.`,
      "alg none, signature kept": `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "1", exp: now() + 60 })}.AAAA`,
      HS512: `Bearer ${await sign({ sub: "1", exp: now() + 60 }, "HS512")}`,
      expired: `Bearer ${await sign({ sub: "1", exp: now() - 10 })}`,
      "no exp": `Bearer ${await sign({ sub: "1" })}`,
      "no sub": `Bearer ${await sign({ exp: now() + 60 })}`,
      "non-numeric sub": `Bearer ${await sign({ sub: "alice", exp: now() + 60 })}`,
      "zero sub": `Bearer ${await sign({ sub: "0", exp: now() + 60 })}`,
      "negative sub": `Bearer ${await sign({ sub: "-1", exp: now() + 60 })}`,
      "leading zero sub": `Bearer ${await sign({ sub: "01", exp: now() + 60 })}`,
      "sub past 2^53": `Bearer ${await sign({ sub: "9007199254740993", exp: now() + 60 })}`,
      "numeric sub claim": `Bearer ${await sign({ sub: 1, exp: now() + 60 })}`,
      "exp as text": `Bearer ${await sign({ sub: "1", exp: String(now() + 60) })}`,
      "not valid before a moment to come": `Bearer ${await sign({ sub: "1", exp: now() + 60, nbf: now() + 30 })}`,
      "a critical header it does not know": `Bearer ${await new SignJWT({ sub: "1", exp: now() + 60 }).setProtectedHeader({ alg: "HS256", crit: ["b64"], b64: true }).sign(key)}`,
      "header not JSON": `Bearer ${Buffer.from("nope").toString("base64url")}.${b64({ sub: "1", exp: now() + 60 })}.AAAA`,
      "payload an array": `Bearer ${b64({ alg: "HS256" })}.${Buffer.from("[1]").toString("base64url")}.AAAA`,
      "signature cut short": `Bearer ${(await signUserToken(1, SECRET)).slice(0, -4)}`,
    };
    for (const [name, header] of Object.entries(cases)) expect([name, await refused(header)]).toEqual([name, "unauthorized"]);
  });
});
