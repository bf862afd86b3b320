// Who is this request? Reads the access token (Bearer header first, then the cookie), finds
// its account in one Durable Object round trip (two after login by payment), and builds the
// user the handler sees. New visitors get a token at once and cost no round trip at all.

import { stub, type Databases } from "./databases";
import { encodeReference, mintToken, parseToken, type Token } from "./identity";
import type { Budget } from "./budgets";
import type { Idempotency } from "./idempotency";
import type { ChargeRequest, ChargeResult, IdempotencyState, StripeflareEnv, StripeUser } from "./types";

export const COOKIE_NAME = "access_token";
/** ~400 days, the longest lifetime browsers keep a cookie. */
const COOKIE_MAX_AGE = 400 * 24 * 60 * 60;

export interface Session<U extends StripeUser> {
  /** The token the visitor holds after this response. */
  token: Token;
  /** How the visitor presented a token; "none" for new visitors. */
  source: "bearer" | "cookie" | "none";
  /** Hash of the token the request presented, when it was valid (for rotation). */
  presentedHash: string | null;
  /** The presented token opened another database that points here (login by payment). */
  via: { account: string; tokenHash: string } | null;
  /** Account whose database holds this user (= user.access_token). */
  account: string;
  /** Whether the account row exists yet. */
  hasRow: boolean;
  user: U;
  registered: boolean;
  clientReferenceId: string;
  paymentLink: string;
  /** Send Set-Cookie with `token` on the response. */
  setCookie: boolean;
  /** Result of a price declared before the handler ran. */
  charge?: ChargeResult;
  /** Set when the request came with a budget token (./budgets.ts): what it may still spend. */
  budget?: Budget;
  /** The request's Idempotency-Key, and what it meant when the session was read. */
  idempotency?: Idempotency;
  idempotencyState?: IdempotencyState;
  dbs: Databases;
}

export type TokenRead =
  | { kind: "none" }
  | { kind: "malformed"; source: "bearer" | "cookie" }
  | { kind: "token"; source: "bearer" | "cookie"; token: Token };

export async function readToken(request: Request): Promise<TokenRead> {
  const authorization = request.headers.get("Authorization");
  if (authorization && /^bearer(\s|$)/i.test(authorization)) {
    const token = await parseToken(authorization.slice(7).trim());
    return token ? { kind: "token", source: "bearer", token } : { kind: "malformed", source: "bearer" };
  }
  const value = cookieValue(request.headers.get("Cookie"), COOKIE_NAME);
  if (value === undefined) return { kind: "none" };
  const token = await parseToken(value);
  return token ? { kind: "token", source: "cookie", token } : { kind: "malformed", source: "cookie" };
}

/**
 * Where a browser says this request comes from: its `Sec-Fetch-Site` ("same-origin",
 * "same-site", "cross-site", "none"), or, from browsers without Fetch Metadata, "cross-site" for
 * an `Origin` other than the request's own; null when nothing says (not a browser).
 */
export function fetchSite(request: Request, url: URL): string | null {
  const site = request.headers.get("Sec-Fetch-Site");
  if (site !== null) return site;
  const origin = request.headers.get("Origin");
  return origin === null ? null : origin === url.origin ? "same-origin" : "cross-site";
}

export function isCrossSite(request: Request, url: URL): boolean {
  return fetchSite(request, url) === "cross-site";
}

/** Methods a link, a prefetch or an image may send without the user meaning to change anything. */
export function isSafeMethod(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS";
}

/**
 * The session of a request, or null when a Bearer token names an account it no longer opens
 * (rotated away, signed out): an agent must learn that, not pay into a new empty identity.
 * `mayMint` false (a cross-site request with an unsafe method): no token is minted for or set
 * on the browser, so another site cannot replace a visitor's only token with a new one.
 */
export async function loadSession<U extends StripeUser>(
  env: StripeflareEnv,
  read: TokenRead,
  dbs: Databases,
  charge?: ChargeRequest,
  mayMint = true,
  idempotency?: Idempotency,
): Promise<Session<U> | null> {
  if (read.kind !== "token") {
    if (read.kind === "malformed") console.warn(`[stripeflare] malformed access_token cookie; issuing a new token`);
    return visitorSession(env, await mintToken(), "none", null, dbs, mayMint, charge);
  }
  const { token, source } = read;
  const account = dbs.account(token.account);
  const result = await stub(env, account).session(account, {
    account: token.account,
    tokenHash: token.hash,
    clientReferenceId: await encodeReference(env.DB_SECRET, { account: token.account }),
    charge,
    idempotency,
  });

  switch (result.kind) {
    case "visitor":
      return visitorSession(env, token, source, token.hash, dbs, source === "cookie" && mayMint, charge);
    case "unknown-token":
      // Rotated away, signed out or never valid: this token identifies no account. A browser
      // starts over as a new visitor; a Bearer client is told (401).
      if (source === "bearer") {
        console.warn(`[stripeflare] Bearer token does not open account ${token.account}; 401`);
        return null;
      }
      console.warn(`[stripeflare] cookie token does not open account ${token.account}; treating as a new visitor`);
      return visitorSession(env, await mintToken(), "none", null, dbs, mayMint, charge);
    case "user":
      return userSession(env, {
        token,
        source,
        presentedHash: token.hash,
        via: null,
        row: result.user,
        registered: result.registered,
        charge: result.charge,
        setCookie: source === "cookie" && mayMint,
        dbs,
        idempotency,
        idempotencyState: result.idempotency,
        budget: result.budget,
      });
    case "alias": {
      // This token's account was merged into `result.account` (login by payment). A browser
      // gets a token of that account once (one round trip from then on); a Bearer client keeps
      // its token, which keeps pointing there.
      const target = dbs.account(result.account);
      const upgraded = source === "cookie" && result.upgrade && mayMint ? await mintToken(result.account) : null;
      const hop = await stub(env, target).session(target, {
        account: result.account,
        tokenHash: null,
        clientReferenceId: await encodeReference(env.DB_SECRET, { account: result.account }),
        charge,
        addTokenHash: upgraded?.hash,
        idempotency,
      });
      if (hop.kind !== "user") {
        console.error(`[stripeflare] account ${token.account} points at ${result.account}, which has no user row`);
        return visitorSession(env, token, source, token.hash, dbs, false, charge);
      }
      return userSession(env, {
        token: upgraded ?? token,
        source,
        presentedHash: token.hash,
        via: { account: token.account, tokenHash: token.hash },
        row: hop.user,
        registered: hop.registered,
        charge: hop.charge,
        setCookie: upgraded !== null,
        dbs,
        idempotency,
        idempotencyState: hop.idempotency,
      });
    }
  }
}

async function visitorSession<U extends StripeUser>(
  env: StripeflareEnv,
  token: Token,
  source: Session<U>["source"],
  presentedHash: string | null,
  dbs: Databases,
  setCookie: boolean,
  charge?: ChargeRequest,
): Promise<Session<U>> {
  // Before the first payment the id carries the token's hash, so the payment that creates the
  // account can register this token with it.
  const clientReferenceId = await encodeReference(env.DB_SECRET, { account: token.account, tokenHash: token.hash });
  const user = {
    access_token: token.account,
    balance: 0,
    name: null,
    email: null,
    verified_email: null,
    verified_user_access_token: null,
    card_fingerprint: null,
    client_reference_id: clientReferenceId,
  } as unknown as U;
  return {
    token,
    source,
    presentedHash,
    via: null,
    account: token.account,
    hasRow: false,
    user,
    registered: false,
    clientReferenceId,
    paymentLink: paymentLink(env, clientReferenceId),
    setCookie,
    charge: charge ? { charged: false, message: "User is not signed up yet and cannot be charged" } : undefined,
    dbs,
  };
}

function userSession<U extends StripeUser>(
  env: StripeflareEnv,
  s: {
    token: Token;
    source: Session<U>["source"];
    presentedHash: string;
    via: Session<U>["via"];
    row: Record<string, unknown>;
    registered: boolean;
    charge?: ChargeResult;
    setCookie: boolean;
    dbs: Databases;
    idempotency?: Idempotency;
    idempotencyState?: IdempotencyState;
    budget?: Budget;
  },
): Session<U> {
  const user = { ...s.row, balance: Number(s.row.balance ?? 0) } as unknown as U;
  const clientReferenceId = String(user.client_reference_id ?? "");
  return {
    token: s.token,
    source: s.source,
    presentedHash: s.presentedHash,
    via: s.via,
    account: user.access_token,
    hasRow: true,
    user,
    registered: s.registered,
    clientReferenceId,
    paymentLink: paymentLink(env, clientReferenceId),
    setCookie: s.setCookie,
    charge: s.charge,
    idempotency: s.idempotency,
    idempotencyState: s.idempotencyState,
    budget: s.budget,
    dbs: s.dbs,
  };
}

export function paymentLink(env: StripeflareEnv, clientReferenceId: string): string {
  const link = env.STRIPE_PAYMENT_LINK;
  if (!link) return "";
  return `${link}${link.includes("?") ? "&" : "?"}client_reference_id=${encodeURIComponent(clientReferenceId)}`;
}

/**
 * The Payment Link that tops up the wallet an access token names (its own token or a budget
 * token), for answers made outside a request's session (an MCP tool's "payment required").
 * null for a malformed token; "" without STRIPE_PAYMENT_LINK.
 */
export async function paymentLinkFor(env: StripeflareEnv, accessToken: string): Promise<string | null> {
  const token = await parseToken(accessToken);
  if (!token) return null;
  return paymentLink(env, await encodeReference(env.DB_SECRET, { account: token.account }));
}

export function sessionCookie(token: string): string {
  return `${COOKIE_NAME}=${token}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=${COOKIE_MAX_AGE}`;
}

function cookieValue(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}
