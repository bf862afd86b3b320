// Identity: access tokens, their hashes, and the client_reference_id that ties a Stripe
// payment back to an account. Pure WebCrypto; keys are derived once per isolate (HKDF is a
// single HMAC chain, not a password stretcher: DB_SECRET is already a random secret).
//
// An access token is `<account>.<secret>`:
// - account: 16 random bytes (base64url, 22 chars). Names the account's database and is what
//   the `users.access_token` column holds. On its own it grants nothing.
// - secret: 32 random bytes (base64url, 43 chars). Only its SHA-256 hash (of the whole token)
//   is ever stored, in the account's own database.
// Several tokens can open one account (a second device after login by payment; a rotated
// token), which is why the account id travels inside the token: one Durable Object round
// trip finds the database and checks the hash.

// 16 bytes in 22 base64url chars leave 4 spare bits in the last char; requiring them to be
// zero ([AQgw]) keeps exactly one spelling per account id (the one that round-trips).
const TOKEN_PATTERN = /^([A-Za-z0-9_-]{21}[AQgw])\.([A-Za-z0-9_-]{43})$/;
const ACCOUNT_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/;
const REFERENCE_PATTERN = /^[A-Za-z0-9_-]{1,200}$/;

/** A parsed, well-formed access token. */
export interface Token {
  token: string;
  account: string;
  /** base64url SHA-256 of the whole token: the only form stored at rest. */
  hash: string;
}

export function isAccountId(value: string): boolean {
  return ACCOUNT_PATTERN.test(value);
}

/** Mints a token for a brand-new account, or (with `account`) a new token for an existing one. */
export async function mintToken(account: string = randomBase64url(16)): Promise<Token> {
  const token = `${account}.${randomBase64url(32)}`;
  return { token, account, hash: await hashToken(token) };
}

/** Parses a presented token; null when it is not of our shape (a garbled cookie or Bearer). */
export async function parseToken(token: string): Promise<Token | null> {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return null;
  return { token, account: match[1]!, hash: await hashToken(token) };
}

async function hashToken(token: string): Promise<string> {
  // The secret half has 256 bits of entropy, so a plain SHA-256 cannot be brute-forced;
  // no salt or stretching is needed (and none runs per request).
  const digest = await crypto.subtle.digest("SHA-256", utf8(token));
  return toBase64url(new Uint8Array(digest));
}

// ---------------------------------------------------------------------------------------
// client_reference_id
//
// Deterministic authenticated encryption (SIV-style): iv = HMAC(k_siv, plaintext)[0..12],
// then AES-256-GCM(k_enc, iv, plaintext, aad = format byte). Deterministic, so an account's
// payment link never changes while DB_SECRET does not; authenticated, so a forged or garbled
// id fails to open and a Worker with another DB_SECRET reads nothing.
//
// Two formats, told apart by the first byte (also authenticated as AAD):
// - ACCOUNT (1): the account id. Links shown to visitors who already have an account.
// - VISITOR (2): account id + hash of the visitor's token. Links shown before the first
//   payment, so the webhook that creates the account can register the token that opens it.
// Neither contains a token: a leaked DB_SECRET exposes account ids and token hashes, not keys.
// Sizes: 1 + 12 + 16 + 16 = 45 bytes (60 chars); 1 + 12 + 48 + 16 = 77 bytes (103 chars).

const FORMAT_ACCOUNT = 1;
const FORMAT_VISITOR = 2;

export interface ReferencePayload {
  account: string;
  /** Present in visitor references only. */
  tokenHash?: string;
}

interface Keys {
  enc: CryptoKey;
  siv: CryptoKey;
}

// One derivation per DB_SECRET per isolate. Keyed by the secret so a changed secret (or a
// test using several) never reuses stale keys.
const keyCache = new Map<string, Promise<Keys>>();

function keysFor(secret: string): Promise<Keys> {
  let keys = keyCache.get(secret);
  if (!keys) {
    keys = deriveKeys(secret);
    keys.catch(() => keyCache.delete(secret));
    keyCache.set(secret, keys);
  }
  return keys;
}

async function deriveKeys(secret: string): Promise<Keys> {
  const ikm = await crypto.subtle.importKey("raw", utf8(secret), "HKDF", false, ["deriveKey"]);
  const params = (info: string) => ({
    name: "HKDF",
    hash: "SHA-256",
    salt: utf8("stripeflare client_reference_id v1"),
    info: utf8(info),
  });
  const [enc, siv] = await Promise.all([
    crypto.subtle.deriveKey(params("aes-256-gcm"), ikm, { name: "AES-GCM", length: 256 }, false, [
      "encrypt",
      "decrypt",
    ]),
    crypto.subtle.deriveKey(params("siv-hmac"), ikm, { name: "HMAC", hash: "SHA-256", length: 256 }, false, [
      "sign",
    ]),
  ]);
  return { enc, siv };
}

// Sealing is deterministic, so a sealed id can be remembered: every request of a known visitor
// sends its account's id to the account's object (to notice a changed DB_SECRET), and this
// spares it an HMAC and an AES-GCM per request. Bounded (oldest entries leave first), keyed by
// the secret too, so a changed secret never gets an id sealed with the old one.
const REFERENCE_CACHE_SIZE = 4096;
const referenceCache = new Map<string, string>();

export async function encodeReference(secret: string, payload: ReferencePayload): Promise<string> {
  const key = `${payload.account}.${payload.tokenHash ?? ""}.${secret}`;
  const cached = referenceCache.get(key);
  if (cached !== undefined) return cached;
  const format = payload.tokenHash ? FORMAT_VISITOR : FORMAT_ACCOUNT;
  const plain = concat(fromBase64url(payload.account), payload.tokenHash ? fromBase64url(payload.tokenHash) : new Uint8Array());
  const { enc, siv } = await keysFor(secret);
  const iv = new Uint8Array(await crypto.subtle.sign("HMAC", siv, concat(Uint8Array.of(format), plain))).slice(0, 12);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: Uint8Array.of(format) }, enc, plain),
  );
  const reference = toBase64url(concat(Uint8Array.of(format), iv, sealed));
  if (referenceCache.size >= REFERENCE_CACHE_SIZE) referenceCache.delete(referenceCache.keys().next().value!);
  referenceCache.set(key, reference);
  return reference;
}

/** Opens a client_reference_id; null when it is garbled, forged or sealed with another DB_SECRET. */
export async function decodeReference(secret: string, reference: string): Promise<ReferencePayload | null> {
  if (!REFERENCE_PATTERN.test(reference)) return null;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64url(reference);
  } catch {
    return null;
  }
  const format = bytes[0];
  const plainLength = format === FORMAT_ACCOUNT ? 16 : format === FORMAT_VISITOR ? 48 : -1;
  if (plainLength < 0 || bytes.length !== 1 + 12 + plainLength + 16) return null;
  const { enc, siv } = await keysFor(secret);
  const iv = bytes.slice(1, 13);
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: Uint8Array.of(format) }, enc, bytes.slice(13)),
    );
  } catch {
    return null;
  }
  // GCM already authenticated it; the synthetic IV check also rejects anything not made by
  // encodeReference (a hand-picked IV), keeping one canonical id per account.
  const expectedIv = new Uint8Array(await crypto.subtle.sign("HMAC", siv, concat(Uint8Array.of(format), plain))).slice(0, 12);
  if (!equalBytes(iv, expectedIv)) return null;
  return {
    account: toBase64url(plain.slice(0, 16)),
    ...(format === FORMAT_VISITOR ? { tokenHash: toBase64url(plain.slice(16)) } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Small byte helpers (exported for the webhook's signature check).

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function randomBase64url(bytes: number): string {
  return toBase64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

export function toBase64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Constant-time comparison (for signatures and passwords). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function equalStrings(a: string, b: string): boolean {
  return equalBytes(utf8(a), utf8(b));
}
