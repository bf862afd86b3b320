// The "Payment" HTTP authentication scheme (MPP, the Machine Payments Protocol) on the wire:
// the challenge a 402 carries in `WWW-Authenticate`, the credential an agent answers with, the
// receipt of a settled payment, and the RFC 9457 problem body of a refused one. Pure functions,
// no state; ./agent-payments.ts decides what to offer and settles.
//
//   WWW-Authenticate: Payment id="…", realm="api.example.com", method="stripe", intent="charge",
//     request="<base64url of canonical JSON>", description="…", expires="<RFC 3339>",
//     header="Payment-Authorization", opaque="<base64url of canonical JSON>"
//   Payment-Authorization: Payment <base64url of {"challenge": {…echoed, request as base64url},
//     "payload": {"spt": "spt_…"}}>
//   Payment-Receipt: <base64url of {"method","reference","status":"success","timestamp"}>
//
// The challenge id is an HMAC-SHA256 (key derived from DB_SECRET) over the challenge's fields
// in fixed slots, `realm|method|intent|request|expires|digest|header|opaque`, so a credential
// can only echo a challenge this Worker issued, unchanged: no state is kept per challenge. The
// slots are those of `mppx`, the reference implementation, so its own tools read our ids the
// same way.

import { equalStrings, fromBase64url, toBase64url, utf8 } from "./identity";

export const PAYMENT_SCHEME = "Payment";
/** Where the credential goes, so `Authorization` keeps the wallet's Bearer token. */
export const CREDENTIAL_HEADER = "Payment-Authorization";
export const RECEIPT_HEADER = "Payment-Receipt";
/** Longest credential read: a challenge echo and a token are well under 4 KiB. */
const CREDENTIAL_LIMIT = 8 * 1024;

export interface Challenge {
  id: string;
  realm: string;
  method: string;
  intent: string;
  /** Method-specific: for `stripe` `{ amount, currency, description?, methodDetails: { networkId, paymentMethodTypes } }`. */
  request: Record<string, unknown>;
  description?: string;
  digest?: string;
  expires?: string;
  header?: string;
  opaque?: string;
}

export interface Credential {
  challenge: Challenge;
  payload: Record<string, unknown>;
}

export interface Receipt {
  method: string;
  reference: string;
  status: "success";
  timestamp: string;
}

/** JSON with keys sorted at every level and no spaces (RFC 8785 for the values a challenge holds). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export const encodeJson = (value: unknown) => toBase64url(utf8(canonicalJson(value)));

/** Parses base64url JSON; null when it is neither. */
export function decodeJson(text: string): unknown {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64url(text)));
  } catch {
    return null;
  }
}

const keys = new Map<string, Promise<CryptoKey>>();
function challengeKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", utf8(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then((root) => crypto.subtle.sign("HMAC", root, utf8("stripeflare mpp challenge v1")))
      .then((derived) => crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]));
    keys.clear(); // one DB_SECRET per Worker; a changed one replaces the old key
    keys.set(secret, key);
  }
  return key;
}

function bindingInput(c: Omit<Challenge, "id">): string {
  const slots = [c.realm, c.method, c.intent, encodeJson(c.request), c.expires ?? "", c.digest ?? ""];
  if (c.header !== undefined && c.header.toLowerCase() !== "authorization") slots.push(c.header);
  slots.push(c.opaque ?? "");
  return slots.join("|");
}

/** A challenge whose id binds all its fields to this Worker's secret. */
export async function issueChallenge(secret: string, fields: Omit<Challenge, "id">): Promise<Challenge> {
  const mac = await crypto.subtle.sign("HMAC", await challengeKey(secret), utf8(bindingInput(fields)));
  return { id: toBase64url(new Uint8Array(mac)), ...fields };
}

/** Whether this Worker issued the challenge exactly as echoed. */
export async function isOurChallenge(secret: string, challenge: Challenge): Promise<boolean> {
  const { id, ...fields } = challenge;
  const expected = await issueChallenge(secret, fields);
  return equalStrings(id, expected.id);
}

/** The `WWW-Authenticate` value of a challenge. */
export function serializeChallenge(c: Challenge): string {
  const params: [string, string | undefined][] = [
    ["id", c.id],
    ["realm", c.realm],
    ["method", c.method],
    ["intent", c.intent],
    ["request", encodeJson(c.request)],
    ["description", c.description],
    ["digest", c.digest],
    ["expires", c.expires],
    ["header", c.header],
    ["opaque", c.opaque],
  ];
  const quoted = params
    .filter((p): p is [string, string] => p[1] !== undefined)
    // Header values are bytes: quotes and backslashes escaped, anything past Latin-1 as \uXXXX.
    .map(([k, v]) => `${k}="${v.replace(/[\r\n]/g, " ").replace(/[\\"]/g, "\\$&").replace(/[\u0100-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`)}"`);
  return `${PAYMENT_SCHEME} ${quoted.join(", ")}`;
}

/**
 * The credential a request carries (in Payment-Authorization, or in Authorization with the
 * Payment scheme), `null` when it carries none, or why it cannot be one.
 */
export function readCredential(request: Request): Credential | null | { error: string } {
  let value = request.headers.get(CREDENTIAL_HEADER);
  if (value === null) {
    const authorization = request.headers.get("Authorization");
    if (!authorization || !/^payment\s/i.test(authorization)) return null;
    value = authorization;
  }
  if (value.length > CREDENTIAL_LIMIT) return { error: `the credential is longer than ${CREDENTIAL_LIMIT} bytes` };
  const match = /^payment\s+([A-Za-z0-9_-]+)\s*$/i.exec(value.trim());
  if (!match) return { error: "expected `Payment <base64url JSON>`" };
  const wire = decodeJson(match[1]!) as { challenge?: Record<string, unknown>; payload?: unknown } | null;
  const echoed = wire?.challenge;
  if (!wire || typeof wire !== "object" || !echoed || typeof echoed !== "object") return { error: "the credential is not base64url JSON with a challenge" };
  if (!wire.payload || typeof wire.payload !== "object" || Array.isArray(wire.payload)) return { error: "the credential has no payload" };
  const text = (name: string, optional = false): string | undefined | null => {
    const v = echoed[name];
    if (v === undefined && optional) return undefined;
    return typeof v === "string" ? v : null;
  };
  const fields = {
    id: text("id"),
    realm: text("realm"),
    method: text("method"),
    intent: text("intent"),
    description: text("description", true),
    digest: text("digest", true),
    expires: text("expires", true),
    header: text("header", true),
    opaque: text("opaque", true),
  };
  if (Object.values(fields).some((v) => v === null)) return { error: "the echoed challenge has a field that is not a string" };
  const asked = typeof echoed.request === "string" ? decodeJson(echoed.request) : echoed.request;
  if (!asked || typeof asked !== "object" || Array.isArray(asked)) return { error: "the echoed challenge has no request" };
  const challenge = Object.fromEntries(Object.entries({ ...fields, request: asked }).filter(([, v]) => v !== undefined)) as unknown as Challenge;
  return { challenge, payload: wire.payload as Record<string, unknown> };
}

export function serializeReceipt(receipt: Receipt): string {
  return toBase64url(utf8(JSON.stringify(receipt)));
}

/** Problem types of the Payment scheme (RFC 9457 `type` URIs). */
export type ProblemKind = "payment-required" | "malformed-credential" | "invalid-challenge" | "payment-expired" | "verification-failed" | "payment-action-required";

const TITLES: Record<ProblemKind, string> = {
  "payment-required": "Payment Required",
  "malformed-credential": "Malformed Credential",
  "invalid-challenge": "Invalid Challenge",
  "payment-expired": "Payment Expired",
  "verification-failed": "Verification Failed",
  "payment-action-required": "Payment Action Required",
};

/** An RFC 9457 problem object for a 402 of the Payment scheme. */
export function problem(kind: ProblemKind, detail: string, extra: Record<string, unknown> = {}) {
  return { type: `https://paymentauth.org/problems/${kind}`, title: TITLES[kind], status: 402, detail, ...extra };
}
