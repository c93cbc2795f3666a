import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

/**
 * API keys: `pm_live_<secret>_<checksum>` (`pm_test_` for development and test keys). The secret
 * is 32 random bytes in base62 (43 characters); the checksum, CRC32 of everything before it in
 * base62 (6 characters), lets a typo be refused without a database read, and the fixed shape lets
 * secret scanners find leaked keys. Only the SHA-256 of the whole key is ever stored.
 */
export type KeyKind = "live" | "test";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SECRET_LENGTH = 43; // 62^43 > 2^256
const CHECKSUM_LENGTH = 6; // 62^6 > 2^32
const SHAPE = /^pm_(live|test)_([0-9A-Za-z]{43})_([0-9A-Za-z]{6})$/;
/** How many characters of a key are kept and shown (`pm_live_` and 8 of the secret): enough to tell keys apart. */
const PREFIX_LENGTH = 16;

function base62(value: bigint, length: number): string {
  let out = "";
  for (let v = value; v > 0n; v /= 62n) out = ALPHABET[Number(v % 62n)] + out;
  return out.padStart(length, "0");
}

function checksum(body: string): string {
  return base62(BigInt(crc32(body)), CHECKSUM_LENGTH);
}

/** A new key; shown once to whoever asked for it. */
export function generateApiKey(kind: KeyKind = "live"): string {
  const body = `pm_${kind}_${base62(BigInt(`0x${randomBytes(32).toString("hex")}`), SECRET_LENGTH)}`;
  return `${body}_${checksum(body)}`;
}

/** Whether `key` has the shape of a key and its checksum matches: no database involved. */
export function isWellFormedApiKey(key: string): boolean {
  const m = SHAPE.exec(key);
  if (!m) return false;
  return checksum(key.slice(0, -(CHECKSUM_LENGTH + 1))) === m[3];
}

/** What is stored of a key and looked up: SHA-256 of the whole key, hex. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** The start of a key, stored and shown so people can tell their keys apart. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, PREFIX_LENGTH);
}
