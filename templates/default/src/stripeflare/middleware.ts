// withStripeflare(handler): the wallet as a fetch middleware, and chargeUser for handlers
// that have no request (queues, crons).
//
// Per request: wallet routes first (/stripe-webhook, /db/*, /me/paid: the Payment Link's
// redirect), then the session (one Durable Object round trip, charging a declared price in the
// same trip), then /me, /me/transactions, /rotate-token, /me/sign-out-others or the app's
// handler, then the X-Price charge (a second round trip, only when the handler set one), and
// finally X-Balance / X-PaymentLink / Set-Cookie on the way out.
//
// Browsers: HEAD and a cookie-identified request from another site are never charged, a
// cross-site request with an unsafe method never gets a token, and a request that ends in a
// server error gives back what it charged. Any caller may cap what one request costs it
// (X-Max-Price, ./price-cap.ts) and make a retry safe (Idempotency-Key, ./idempotency.ts).

import { agentPayments, refusal, settle, type AgentPayments } from "./agent-payments";
import { createClient, databases, stub, type Databases } from "./databases";
import { parseToken } from "./identity";
import { invalidAmount } from "./ledger";
import { paymentRequired, withTopUpChallenge } from "./payment-required";
import { PAYMENT_RETURN_PATH, paymentReturn } from "./payment-return";
import { conflictMessage, IDEMPOTENCY_HEADER, readIdempotency } from "./idempotency";
import { readCredential, RECEIPT_HEADER } from "./mpp";
import { maxPrice, overCap } from "./price-cap";
import { TOKENS_PATH } from "./budgets";
import { databaseApi, json, me, rotate, SIGN_OUT_OTHERS_PATH, signOutOthers, tokensApi } from "./routes";
import { isCrossSite, isSafeMethod, loadSession, readToken, sessionCookie, type Session, type TokenRead } from "./session";
import { cleanDescription, statement, STATEMENT_PATH } from "./statement";
import type {
  ChargeResult,
  Migrations,
  PriceRule,
  StripeflareContext,
  StripeflareEnv,
  StripeflareHandler,
  StripeflareOptions,
  StripeUser,
} from "./types";
import { handleWebhook } from "./webhook";

export function withStripeflare<E = unknown, U extends StripeUser = StripeUser>(
  handler: StripeflareHandler<E, U>,
  options: StripeflareOptions<U, E> = {},
): (request: Request, env: E, ctx: ExecutionContext) => Promise<Response> {
  return async (request, env, ctx) => {
    try {
      return await serve(request, env as E & StripeflareEnv, ctx, handler, options);
    } catch (error) {
      // Logged with its stack for the operator; the visitor gets a plain answer.
      console.error(`[stripeflare] ${request.method} ${new URL(request.url).pathname} failed:`, error);
      return json(500, { error: "Internal error" });
    }
  };
}

async function serve<E, U extends StripeUser>(
  request: Request,
  env: E & StripeflareEnv,
  ctx: ExecutionContext,
  handler: StripeflareHandler<E, U>,
  options: StripeflareOptions<U, E>,
): Promise<Response> {
  const problem = configurationProblem(env);
  if (problem) {
    console.error(`[stripeflare] ${problem}`);
    return json(500, { error: `Stripeflare is not configured: ${problem}` });
  }
  const dbs = databases(options.customMigrations, options.version);
  const url = new URL(request.url);
  const { pathname } = url;

  if (pathname === "/stripe-webhook") return handleWebhook(request, env, options.customMigrations, options.version);
  if (pathname === "/db" || pathname.startsWith("/db/")) return databaseApi(request, env, dbs);

  const read = await readToken(request);
  if (read.kind === "malformed" && read.source === "bearer") return invalidBearer(request, pathname, "Malformed Bearer token: expected the access_token this Worker issued");
  if (pathname === PAYMENT_RETURN_PATH) return paymentReturn(request, env, read, dbs);

  // An agent answering a 402's challenge (./agent-payments.ts): settle and credit it, then serve
  // the request as usual with the wallet's token, and say so in Payment-Receipt.
  const agent = agentPayments(env, options.agentPayments);
  const credential = agent ? readCredential(request) : null;
  if (!agent || !credential) return servePriced(request, env, ctx, handler, options, dbs, url, read, agent);
  const payer = await loadSession<U>(env, read, dbs, undefined, mayMint(request, url));
  if (!payer) return invalidBearer(request, pathname, "This Bearer token opens no account (rotated away or signed out): use the current one");
  const price = declaredPrice(options.prices, request, pathname);
  const settled =
    "error" in credential
      ? { kind: "malformed-credential" as const, detail: `Malformed Payment credential: ${credential.error}`, status: 402 as const }
      : await settle(env, agent, url, payer, read.kind === "token" ? read.token : null, credential, dbs);
  if (!("receipt" in settled)) return finish(await refusal(env, agent, url, payer, settled, typeof price === "number" ? price : 0), payer, 0);
  const paid = await servePriced(request, env, ctx, handler, options, dbs, url, { kind: "token", source: "bearer", token: settled.token }, agent);
  const out = new Response(paid.body, paid);
  out.headers.set(RECEIPT_HEADER, settled.receipt);
  // An agent that came without a wallet reads its new wallet's token here (and in Set-Cookie).
  if (settled.issued && paid.status !== 101) {
    out.headers.set("X-Access-Token", settled.issued.token);
    out.headers.append("Set-Cookie", sessionCookie(settled.issued.token));
  }
  return out;
}

/** Everything after the token is read: price, session (and its charge), the route, X-Price. */
async function servePriced<E, U extends StripeUser>(
  request: Request,
  env: E & StripeflareEnv,
  ctx: ExecutionContext,
  handler: StripeflareHandler<E, U>,
  options: StripeflareOptions<U, E>,
  dbs: Databases,
  url: URL,
  read: TokenRead,
  agent: AgentPayments | null,
): Promise<Response> {
  const { pathname } = url;
  const requestLine = `${request.method} ${pathname}`;
  const crossSite = isCrossSite(request, url);
  // Never charged: HEAD (link checkers, prefetch) and a browser's request from another site
  // (a link or a form there must not spend a visitor's balance). Bearer callers are not
  // browsers, so their Sec-Fetch-Site means nothing.
  const notCharged =
    request.method === "HEAD" ? "HEAD requests are never charged" :
    crossSite && read.kind === "token" && read.source === "cookie" ? "a request from another site is never charged" : null;
  const price = declaredPrice(options.prices, request, pathname);
  if (typeof price === "string") return json(500, { error: price });
  const cap = maxPrice(request);
  if (typeof cap === "object") return json(400, { error: cap.error, param: "X-Max-Price" });
  const capped = price ? overCap(cap, price) : null;
  const keyed = await readIdempotency(request, read.kind === "token" ? read.token.hash : null);
  if ("error" in keyed) return json(keyed.status, { error: keyed.error, param: IDEMPOTENCY_HEADER });
  request = keyed.request; // its body was read for the key's fingerprint
  const idempotency = keyed.idempotency;
  const session = await loadSession<U>(
    env,
    read,
    dbs,
    price && !notCharged && !capped ? { amount: price, allowNegativeBalance: false, reference: requestLine, description: requestLine, idempotency } : undefined,
    mayMint(request, url),
    idempotency,
  );
  if (!session) return invalidBearer(request, pathname, "This Bearer token opens no account (rotated away or signed out): use the current one");
  if (session.idempotencyState === "conflict") return finish(json(422, { error: conflictMessage, param: IDEMPOTENCY_HEADER }), session, 0);
  const tally = { charged: session.charge?.charged && !session.charge.replayed ? price : 0, replayed: session.idempotencyState === "replay" };

  let response: Response;
  let current = session;
  if (pathname === "/me") {
    response = me(request, session);
  } else if (pathname === STATEMENT_PATH) {
    response = await statement(request, env, session);
  } else if (isTokenRoute(pathname) && crossSite) {
    // Another site must not rotate a visitor's token away (or hand its browser a new identity),
    // nor mint, list or revoke its budget tokens.
    response = json(403, { error: `Refused: ${pathname} only answers requests from this site` });
  } else if (isTokenRoute(pathname) && session.budget) {
    response = json(403, { error: `Refused: a budget token cannot use ${pathname}; the wallet's own token can` });
  } else if (isTokensPath(pathname)) {
    response = await tokensApi(request, env, session, pathname);
  } else if (pathname === "/rotate-token") {
    ({ response, session: current } = await rotate(request, env, session));
  } else if (pathname === SIGN_OUT_OTHERS_PATH) {
    ({ response, session: current } = await signOutOthers(request, env, session));
  } else if (price && notCharged) {
    response = notChargedResponse(request, notCharged, url);
  } else if (capped) {
    response = await paymentRequired(request, env, session, price, capped, options, null);
  } else if (price && !session.charge?.charged) {
    response = await paymentRequired(request, env, session, price, session.charge?.message ?? "Payment required", options, agent);
  } else {
    try {
      response = await handler(request, env, handlerContext(env, ctx, session, requestLine, notCharged, tally, cap));
    } catch (error) {
      await giveBack(env, session, tally, requestLine);
      throw error;
    }
    if (response.status >= 500) {
      // A server error is not what was paid for: whatever this request charged goes back.
      await giveBack(env, session, tally, requestLine);
      if (response.headers.has("X-Price")) console.warn(`[stripeflare] ${requestLine} answered ${response.status}; X-Price not charged`);
    } else if (notCharged && response.headers.has("X-Price")) {
      if (request.method !== "HEAD") {
        await response.body?.cancel();
        response = notChargedResponse(request, notCharged, url);
      }
    } else {
      // The app's own 402 (it refused up front) is machine-payable too.
      if (response.status === 402 && agent && !session.budget) response = await withTopUpChallenge(env, request, agent, session, response);
      const result = await chargeResponsePrice(env, request, requestLine, response, session, options, { cap, tally }, agent);
      if (result instanceof Response) response = result;
      else tally.charged += result;
    }
  }
  return finish(response, current, tally.charged, tally.replayed);
}

/** A cross-site request with an unsafe method never mints or sets a token (CSRF). */
const mayMint = (request: Request, url: URL) => !(isCrossSite(request, url) && !isSafeMethod(request.method));

const isTokensPath = (pathname: string) => pathname === TOKENS_PATH || pathname.startsWith(`${TOKENS_PATH}/`);
/** Routes that change which tokens open the wallet: the owner's, from this site only. */
const isTokenRoute = (pathname: string) => pathname === "/rotate-token" || pathname === SIGN_OUT_OTHERS_PATH || isTokensPath(pathname);

function invalidBearer(request: Request, pathname: string, message: string): Response {
  console.warn(`[stripeflare] ${request.method} ${pathname}: ${message}`);
  return json(401, { error: message }, { "WWW-Authenticate": 'Bearer error="invalid_token"' });
}

/**
 * A priced request the wallet will not charge (HEAD, or a browser's request from another site).
 * A person who followed a link from elsewhere gets a page with a link to the same address: a
 * click there comes from this site, so it is charged, knowingly.
 */
function notChargedResponse(request: Request, reason: string, url: URL): Response {
  const headers = { "Cache-Control": "private, no-store" };
  if (request.method === "HEAD") return new Response(null, { status: 204, headers });
  if (request.method === "GET" && (request.headers.get("Accept") ?? "").includes("text/html")) {
    const href = `${url.pathname}${url.search}`.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    const page = `<!doctype html><meta charset="utf-8"><title>Paid page</title><p>This page is paid from your wallet. You came here from another site, so nothing was charged.</p><p><a href="${href}">Open it here</a></p>\n`;
    return new Response(page, { status: 403, headers: { ...headers, "Content-Type": "text/html; charset=utf-8" } });
  }
  return json(403, { error: `Not charged: ${reason}. Open ${url.origin}${url.pathname} on this site itself.` });
}

/** What this request charged so far, and whether an earlier attempt (Idempotency-Key) had. */
interface Tally {
  charged: number;
  replayed: boolean;
}

/** Gives back what this request charged (a 5xx or a handler that threw): one ledger row. */
async function giveBack<U extends StripeUser>(env: StripeflareEnv, session: Session<U>, tally: Tally, requestLine: string) {
  if (tally.charged <= 0) return;
  const setup = session.dbs.account(session.account);
  // With an Idempotency-Key the key is forgotten too: the retry of a failed request is charged.
  const balance = await stub(env, setup).reverseCharge(setup, session.account, tally.charged, requestLine, session.idempotency, session.budget?.tokenHash);
  console.warn(`[stripeflare] ${requestLine} failed after charging ${tally.charged}; given back (balance ${balance})`);
  session.user.balance = balance;
  tally.charged = 0;
}

/** Missing secrets that make the wallet unusable; the Stripe ones only matter on their routes. */
function configurationProblem(env: StripeflareEnv): string | null {
  if (!env.DORM_NAMESPACE) return "the DORM_NAMESPACE Durable Object binding is missing (see wrangler.jsonc)";
  if (!env.DB_SECRET) return "DB_SECRET is not set (at least 32 random characters)";
  if (env.DB_SECRET.length < 32) return "DB_SECRET is shorter than 32 characters";
  return null;
}

/** Price declared for this request, 0 for none, or a message when the rule gave a bad price. */
function declaredPrice(rule: PriceRule | undefined, request: Request, pathname: string): number | string {
  if (!rule) return 0;
  const value = typeof rule === "function" ? rule(request) : (rule[`${request.method} ${pathname}`] ?? rule[pathname]);
  if (value === undefined || value === null || value === 0) return 0;
  const problem = invalidAmount(value);
  if (problem) {
    console.error(`[stripeflare] declared price for ${request.method} ${pathname}: ${problem}`);
    return `The price configured for this route is invalid: ${problem}`;
  }
  return value;
}

function handlerContext<U extends StripeUser>(
  env: StripeflareEnv,
  ctx: ExecutionContext,
  session: Session<U>,
  requestLine: string,
  notCharged: string | null,
  tally: Tally,
  cap: number | undefined,
): StripeflareContext<U> {
  const setup = session.dbs.account(session.account);
  return {
    waitUntil: (promise) => ctx.waitUntil(promise),
    passThroughOnException: () => ctx.passThroughOnException(),
    props: ctx.props,
    // Newer runtimes add more to ExecutionContext (exports, ...); keep them reachable.
    ...Object.fromEntries(["exports", "tracing"].filter((key) => key in ctx).map((key) => [key, (ctx as any)[key]])),
    user: session.user,
    registered: session.registered,
    paymentLink: session.paymentLink,
    // The visitor's own database. Before the first payment it does not exist yet; the first
    // write through this client creates it and registers the visitor's token with it.
    client: createClient(env, setup, { create: true, tokenHash: session.hasRow ? null : session.token.hash }),
    charge: async (amountCents, allowNegativeBalance = false, description?: string) => {
      if (notCharged) return { charged: false, message: notCharged };
      const capped = overCap(cap, amountCents, tally.charged);
      if (capped) return { charged: false, message: capped };
      const result = await chargeAccount(env, session, amountCents, allowNegativeBalance, requestLine, cleanDescription(description) ?? "ctx.charge");
      if (result.replayed) tally.replayed = true;
      else if (result.charged) tally.charged += amountCents;
      return result;
    },
  } as StripeflareContext<U>;
}

async function chargeAccount<U extends StripeUser>(
  env: StripeflareEnv,
  session: Session<U>,
  amount: number,
  allowNegativeBalance: boolean,
  reference: string,
  description: string,
): Promise<ChargeResult> {
  const problem = invalidAmount(amount);
  if (problem) {
    console.warn(`[stripeflare] charge refused: ${problem}`);
    return { charged: false, message: problem };
  }
  const setup = session.dbs.account(session.account);
  const budgetTokenHash = session.budget?.tokenHash;
  const result = await stub(env, setup).charge(setup, session.account, { amount, allowNegativeBalance, reference, description, idempotency: session.idempotency, budgetTokenHash });
  if (result.balance !== undefined) session.user.balance = result.balance;
  return result;
}

/**
 * Charges the handler's `X-Price`. Returns the cents charged, or the response to send instead:
 * 402 when the balance cannot cover it or the caller's X-Max-Price does not (the content is not
 * given away), 500 when the app set a price that is not a whole number of cents.
 */
async function chargeResponsePrice<E, U extends StripeUser>(
  env: E & StripeflareEnv,
  request: Request,
  requestLine: string,
  response: Response,
  session: Session<U>,
  options: StripeflareOptions<U, E>,
  limit: { cap: number | undefined; tally: Tally },
  agent: AgentPayments | null,
): Promise<number | Response> {
  const header = response.headers.get("X-Price");
  if (header === null) return 0;
  const value = header.trim();
  if (value === "0") return 0;
  const amount = /^\d+$/.test(value) ? Number(value) : NaN;
  const problem = invalidAmount(amount);
  if (problem) {
    console.error(`[stripeflare] ${requestLine} set X-Price ${JSON.stringify(header)}; nothing charged`);
    return json(500, { error: `The app answered with an invalid X-Price header (${JSON.stringify(header)}): it must be a positive whole number of cents. Nothing was charged.` });
  }
  const capped = overCap(limit.cap, amount, limit.tally.charged);
  if (capped) {
    // Not what the caller agreed to pay: no body, and what this request charged so far goes back.
    await response.body?.cancel();
    await giveBack(env, session, limit.tally, requestLine);
    return paymentRequired(request, env, session, amount, capped, options, null);
  }
  // X-Price-Description (optional) is what the visitor's statement says about this charge.
  const description = cleanDescription(response.headers.get("X-Price-Description")) ?? requestLine;
  const result = await chargeAccount(env, session, amount, false, requestLine, description);
  if (result.replayed) {
    limit.tally.replayed = true; // charged by an earlier attempt with this Idempotency-Key
    return 0;
  }
  if (result.conflict) {
    await response.body?.cancel();
    await giveBack(env, session, limit.tally, requestLine);
    return json(422, { error: result.message, param: IDEMPOTENCY_HEADER });
  }
  if (result.charged) return amount;
  console.log(`[stripeflare] X-Price ${amount} not charged to ${session.account}: ${result.message}`);
  await response.body?.cancel();
  return paymentRequired(request, env, session, amount, result.message, options, agent);
}

/** Adds the wallet headers to whatever answer goes out. */
function finish<U extends StripeUser>(response: Response, session: Session<U>, charged: number, replayed = false): Response {
  if (response.status === 101) return response; // a WebSocket upgrade: headers are sent already
  const out = new Response(response.body, response);
  // As Stripe's API says it: this answer's charge was made by an earlier attempt with the key.
  if (replayed) out.headers.set("Idempotent-Replayed", "true");
  out.headers.set("X-Balance", String(session.user.balance));
  out.headers.set("X-PaymentLink", session.paymentLink);
  if (charged > 0) out.headers.set("X-Price", String(charged));
  else out.headers.delete("X-Price");
  out.headers.delete("X-Price-Description"); // an instruction to the wallet, not to the visitor
  if (session.setCookie) out.headers.append("Set-Cookie", sessionCookie(session.token.token));
  return out;
}

/**
 * Charges a visitor given their access token, from any handler (a queue, a cron). One round
 * trip (two after login by payment). Never throws for bad input: `charged` is false and
 * `message` says why. `description` (optional) is shown in the visitor's statement.
 */
export async function chargeUser(
  env: StripeflareEnv,
  _ctx: ExecutionContext,
  accessToken: string,
  migrations: Migrations | undefined,
  version: string | undefined,
  amountCents: number,
  allowNegativeBalance: boolean,
  description?: string,
): Promise<ChargeResult> {
  const problem = configurationProblem(env) ?? invalidAmount(amountCents);
  if (problem) {
    console.warn(`[stripeflare] chargeUser refused: ${problem}`);
    return { charged: false, message: problem };
  }
  const token = await parseToken(accessToken);
  if (!token) {
    console.warn(`[stripeflare] chargeUser: malformed access token`);
    return { charged: false, message: "Malformed access token" };
  }
  const session = await loadSession(env, { kind: "token", source: "bearer", token }, databases(migrations, version), {
    amount: amountCents,
    allowNegativeBalance,
    reference: "chargeUser",
    description: cleanDescription(description) ?? "chargeUser",
  });
  if (!session) return { charged: false, message: "This access token opens no account (rotated away or signed out)" };
  return session.charge ?? { charged: false, message: "User is not signed up yet and cannot be charged" };
}
