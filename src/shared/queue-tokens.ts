// Queue tokens as everything outside the queue actor handles them: their format, the queue a token belongs to, and the
// fingerprint that names a token without revealing it (tokens are secrets; events, feeds and read models carry this).

/** A queue token as clients hand it back: 128 random bits in base64url, after `<concertId>.` for a concert's queue. */
export const QUEUE_TOKEN_FORMAT = /^(?:[1-9][0-9]{0,15}\.)?[A-Za-z0-9_-]{16,128}$/;

/** The global queue of v1; every other queue is a concert's own, numbered by the concert's id. */
export const GLOBAL_QUEUE = 0;

/** The queue a token belongs to: a concert's tokens start with the concert's id and a dot, the global queue's do not. */
export function queueOfToken(token: string): number {
  const match = /^([1-9][0-9]{0,15})\./.exec(token);
  return match ? Number(match[1]) : GLOBAL_QUEUE;
}

/**
 * A fingerprint as two 48-bit numbers: the first 12 bytes of the token's SHA-256. Read models index tokens by these
 * numbers rather than by strings, which cost a waiting user several times the memory (a string, its hash-map entry).
 */
export interface FingerprintKey {
  hi: number;
  lo: number;
}

const digest = new Uint8Array(32);
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64URL.length; i++) SEXTET[BASE64URL.charCodeAt(i)] = i;

const uint48 = (bytes: Uint8Array, at: number) =>
  bytes[at]! * 2 ** 40 + bytes[at + 1]! * 2 ** 32 + ((bytes[at + 2]! << 24) >>> 0) + (bytes[at + 3]! << 16) + (bytes[at + 4]! << 8) + bytes[at + 5]!;

/** The token's fingerprint key, computed without building its string: what every status poll does. */
export function tokenKey(token: string): FingerprintKey {
  Bun.SHA256.hash(token, digest);
  return { hi: uint48(digest, 0), lo: uint48(digest, 6) };
}

/**
 * The fingerprint as text: 16 base64url characters of the same 12 bytes, as events and feeds carry it. Bun's SHA-256
 * costs a seventh of node:crypto's createHash (0.4 against 2.5 µs).
 */
export function tokenFingerprint(token: string): string {
  return fingerprintOf(tokenKey(token));
}

/** 24 bits as 4 base64url characters, most significant first. */
const quad = (bits: number) => BASE64URL[bits >>> 18]! + BASE64URL[(bits >>> 12) & 63]! + BASE64URL[(bits >>> 6) & 63]! + BASE64URL[bits & 63]!;

/** 48 bits as 8 base64url characters, most significant first. */
const sextets = (value: number) => quad(Math.floor(value / 2 ** 24)) + quad(value % 2 ** 24);

export function fingerprintOf(key: FingerprintKey): string {
  return sextets(key.hi) + sextets(key.lo);
}

/** The key of a fingerprint string; undefined for one that is not 16 base64url characters. */
export function fingerprintKey(fp: string): FingerprintKey | undefined {
  if (fp.length !== 16) return undefined;
  const half = (from: number) => {
    let value = 0;
    for (let i = from; i < from + 8; i++) {
      const sextet = SEXTET[fp.charCodeAt(i) & 127]!;
      if (sextet < 0 || fp.charCodeAt(i) > 127) return -1;
      value = value * 64 + sextet;
    }
    return value;
  };
  const hi = half(0);
  const lo = half(8);
  return hi < 0 || lo < 0 ? undefined : { hi, lo };
}
