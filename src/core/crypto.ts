import { createCipheriv, createDecipheriv, createHash, hash, randomBytes, timingSafeEqual } from "node:crypto";
import { env } from "./env.js";

/** SHA-256 of a string's UTF-8 bytes, in hex (Node's one-shot `hash`: no Hash object per call). */
export function sha256Hex(value: string): string {
  return hash("sha256", value, "hex");
}

/** URL-safe random token of `bytes` random bytes. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Parses a 32-byte key given as 64 hex characters or as base64; `name` is the variable named in the error. */
export function parseKey(key: string, name = "ENCRYPTION_KEY"): Buffer {
  const buf = /^[0-9a-f]{64}$/i.test(key) ? Buffer.from(key, "hex") : Buffer.from(key, "base64");
  if (buf.length !== 32) throw new Error(`${name} must be 32 bytes (64 hex characters or base64)`);
  return buf;
}

// --- secrets at rest ---------------------------------------------------------------------------------------------
//
// Every secret we store (OAuth tokens, webhook signing secrets) is sealed with AES-256-GCM into one text value:
//
//   v2.<key id>.<iv>.<tag>.<ciphertext>        (iv, tag, ciphertext in base64url)
//
// - The associated data is `<purpose>:<row id>` (e.g. `connections.access_token:<connection id>`): it is not stored,
//   it is what the reader must supply, so a ciphertext copied into another row or another column no longer opens.
// - The key id is the first 8 hex characters of SHA-256 of the 32 key bytes. It says which key sealed the value so
//   that `open` picks the right one; `ENCRYPTION_KEY` seals, `ENCRYPTION_KEY_PREVIOUS` (optional) only opens.
// - `v1.<iv>.<tag>.<ciphertext>` is the earlier format (no key id, no associated data). It still opens, with either
//   key, so databases written before v2 lose nothing; `npm run reencrypt` (scripts/reencrypt.ts) upgrades them.
//
// Rotation: set ENCRYPTION_KEY_PREVIOUS to the old key and ENCRYPTION_KEY to a new one, deploy, run the re-encrypt
// script, then remove ENCRYPTION_KEY_PREVIOUS.

/** What a sealed value is for: the table and column it lives in. Part of the associated data. */
export const sealPurposes = [
  "connections.access_token",
  "connections.refresh_token",
  "webhook_endpoints.secret",
  "white_label_apps.client_secret",
] as const;
export type SealPurpose = (typeof sealPurposes)[number];

/** Binds a sealed value to its column and row. */
export interface SealContext {
  purpose: SealPurpose;
  /** The id of the row that holds the value (a uuid). */
  rowId: string;
}

export interface SealingKey {
  /** First 8 hex characters of SHA-256 of the key bytes. */
  id: string;
  key: Buffer;
}

/** The key that seals, and the one that may still open values sealed before a rotation. */
export interface Keyring {
  current: SealingKey;
  previous?: SealingKey;
}

/** Why a value cannot be opened. Never carries key material or plaintext. */
export class CiphertextError extends Error {
  override name = "CiphertextError";
  constructor(
    readonly reason: "malformed" | "unknown_key" | "not_authentic",
    message: string,
  ) {
    super(message);
  }
}

export function keyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

function sealingKey(value: string, name: string): SealingKey {
  const key = parseKey(value, name);
  return { id: keyId(key), key };
}

/** A keyring from key strings (hex or base64, as in the environment). */
export function keyringFrom(current: string, previous?: string): Keyring {
  const ring: Keyring = { current: sealingKey(current, "ENCRYPTION_KEY") };
  if (previous) {
    const old = sealingKey(previous, "ENCRYPTION_KEY_PREVIOUS");
    if (old.id !== ring.current.id) ring.previous = old;
  }
  return ring;
}

let cachedRing: { current: string; previous: string | undefined; ring: Keyring } | undefined;

/** The keyring from `ENCRYPTION_KEY` and `ENCRYPTION_KEY_PREVIOUS`. */
export function envKeyring(): Keyring {
  const { ENCRYPTION_KEY: current, ENCRYPTION_KEY_PREVIOUS: previous } = env();
  if (cachedRing?.current !== current || cachedRing.previous !== previous) {
    cachedRing = { current, previous, ring: keyringFrom(current, previous) };
  }
  return cachedRing.ring;
}

function associatedData(context: SealContext): Buffer {
  if (!(sealPurposes as readonly string[]).includes(context.purpose)) throw new Error(`unknown seal purpose ${context.purpose}`);
  if (!context.rowId) throw new Error("a sealed value needs the id of its row");
  // Ids are uuids; Postgres prints them in lower case, so an id typed in upper case still names the same row.
  return Buffer.from(`${context.purpose}:${context.rowId.toLowerCase()}`, "utf8");
}

const b64 = (buf: Buffer) => buf.toString("base64url");

/** Seals `plaintext` for one column of one row with the current key: `v2.<key id>.<iv>.<tag>.<ciphertext>`. */
export function seal(plaintext: string, context: SealContext, keyring: Keyring = envKeyring()): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyring.current.key, iv);
  cipher.setAAD(associatedData(context));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return ["v2", keyring.current.id, b64(iv), b64(cipher.getAuthTag()), b64(body)].join(".");
}

const base64url = /^[A-Za-z0-9_-]*$/;

function gcmOpen(key: Buffer, iv: string, tag: string, body: string, aad: Buffer | undefined): string | undefined {
  // Node's decoder skips characters outside the alphabet; refuse them instead, so one value has one spelling.
  if (![iv, tag, body].every((part) => base64url.test(part))) return undefined;
  const ivBuf = Buffer.from(iv, "base64url");
  const tagBuf = Buffer.from(tag, "base64url");
  if (ivBuf.length !== 12 || tagBuf.length !== 16) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, ivBuf, { authTagLength: 16 });
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(tagBuf);
    return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}

/**
 * Opens a sealed value for the column and row it was read from. Fails closed with a CiphertextError when the value
 * is malformed, was sealed by a key the keyring does not hold, was altered, or belongs to another row or column.
 * A `v1` value (written before associated data existed) opens with either key and is not bound to its row.
 */
export function open(sealed: string, context: SealContext, keyring: Keyring = envKeyring()): string {
  const parts = sealed.split(".");
  const keys = [keyring.current, ...(keyring.previous ? [keyring.previous] : [])];
  if (parts[0] === "v2" && parts.length === 5) {
    const [, id, iv, tag, body] = parts as [string, string, string, string, string];
    const candidates = keys.filter((k) => k.id === id); // two keys sharing a 32-bit id is unlikely, not impossible
    if (!candidates.length) throw new CiphertextError("unknown_key", `sealed by key ${id}, which is neither ENCRYPTION_KEY nor ENCRYPTION_KEY_PREVIOUS`);
    const aad = associatedData(context);
    for (const key of candidates) {
      const plaintext = gcmOpen(key.key, iv, tag, body, aad);
      if (plaintext !== undefined) return plaintext;
    }
    throw new CiphertextError("not_authentic", `not authentic for ${context.purpose} of this row`);
  }
  if (parts[0] === "v1" && parts.length === 4) {
    const [, iv, tag, body] = parts as [string, string, string, string];
    associatedData(context); // the same argument checks as v2, so a caller's mistake shows up before the upgrade
    for (const key of keys) {
      const plaintext = gcmOpen(key.key, iv, tag, body, undefined);
      if (plaintext !== undefined) return plaintext;
    }
    throw new CiphertextError("not_authentic", "a v1 value that neither key opens");
  }
  throw new CiphertextError("malformed", "unrecognised sealed value");
}

/** Whether a value is already in the current format under the current key (the re-encrypt script skips it). */
export function isCurrent(sealed: string, keyring: Keyring = envKeyring()): boolean {
  const parts = sealed.split(".");
  return parts.length === 5 && parts[0] === "v2" && parts[1] === keyring.current.id;
}
