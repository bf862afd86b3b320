// The wallet's own routes: GET /me, POST /rotate-token and the admin database API /db/*.
// (POST /stripe-webhook is in ./webhook.ts.)

import { studioMiddleware } from "dormroom";
import { stub, type Databases } from "./databases";
import { encodeReference, equalStrings, isAccountId, mintToken } from "./identity";
import { paymentLink, type Session } from "./session";
import type { DatabaseSetup, StripeflareEnv, StripeUser } from "./types";

/** GET /me: the visitor's public wallet facts; never the access token. */
export function me<U extends StripeUser>(request: Request, session: Session<U>): Response {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return json(405, { error: "Method not allowed: use GET /me" }, { Allow: "GET, HEAD" });
  }
  const { user } = session;
  return json(200, {
    paymentLink: session.paymentLink,
    client_reference_id: session.clientReferenceId,
    balance: user.balance,
    name: user.name ?? null,
    email: user.email ?? null,
    card_fingerprint: user.card_fingerprint ?? null,
    verified_email: user.verified_email ?? null,
    registered: session.registered,
  });
}

/**
 * POST /rotate-token: the account gets a new token, the presented one stops opening it.
 * Balance, ledger and custom columns stay with the account (they live in its database, keyed
 * by the account id, which does not change). A visitor without an account gets a fresh
 * identity. Bearer clients receive the new token in the body (they cannot read cookies);
 * browsers only get the HttpOnly cookie.
 */
export async function rotate<U extends StripeUser>(
  request: Request,
  env: StripeflareEnv,
  session: Session<U>,
): Promise<{ response: Response; session: Session<U> }> {
  if (request.method !== "POST") {
    return { response: json(405, { error: "Method not allowed: use POST /rotate-token" }, { Allow: "POST" }), session };
  }
  const dbs = session.dbs;
  let next: Session<U>;
  if (session.hasRow && session.presentedHash) {
    const token = await mintToken(session.account);
    const account = dbs.account(session.account);
    // After login by payment the presented token lives in the visitor's database: it is
    // revoked there, and the new token is added to the account.
    const rotated = await stub(env, account).rotate(account, session.account, session.via ? null : session.presentedHash, token.hash);
    if (!rotated) return { response: json(409, { error: "This token was rotated concurrently; retry with the current one" }), session };
    if (session.via) await stub(env, dbs.account(session.via.account)).revoke(dbs.account(session.via.account), session.via.tokenHash);
    next = { ...session, token, setCookie: true, via: null, presentedHash: token.hash };
  } else {
    const token = await mintToken();
    const clientReferenceId = await encodeReference(env.DB_SECRET, { account: token.account, tokenHash: token.hash });
    next = {
      ...session,
      token,
      account: token.account,
      user: { ...session.user, access_token: token.account, client_reference_id: clientReferenceId },
      clientReferenceId,
      paymentLink: paymentLink(env, clientReferenceId),
      setCookie: true,
    };
  }
  console.log(`[stripeflare] rotated the access token of ${next.account}`);
  return {
    response: json(200, {
      rotated: true,
      paymentLink: next.paymentLink,
      client_reference_id: next.clientReferenceId,
      ...(session.source === "bearer" ? { access_token: next.token.token } : {}),
    }),
    session: next,
  };
}

/**
 * /db/*: dormroom's query API and Outerbase studio, admin only (basic auth admin:DB_SECRET).
 *   /db                     lists the databases
 *   /db/aggregate           every users row (the mirror)
 *   /db/index               the payment index
 *   /db/<account id>        one account's database
 * Writes through it are admin writes: a balance changed here bypasses the ledger.
 */
export async function databaseApi(request: Request, env: StripeflareEnv, dbs: Databases): Promise<Response> {
  if (!isAdmin(request, env.DB_SECRET)) {
    console.warn(`[stripeflare] /db request without valid admin credentials`);
    return json(401, { error: "Admin credentials required (basic auth admin:DB_SECRET)" }, { "WWW-Authenticate": 'Basic realm="stripeflare db"' });
  }
  const name = new URL(request.url).pathname.replace(/^\/db\/?/, "").replace(/\/$/, "");
  if (!name) {
    return json(200, {
      databases: { aggregate: "/db/aggregate", index: "/db/index", account: "/db/<account id>" },
      version: dbs.version,
    });
  }
  let setup: DatabaseSetup;
  if (name === "aggregate") setup = dbs.aggregate;
  else if (name === "index") setup = dbs.index;
  else if (isAccountId(name)) setup = dbs.account(name);
  else return json(404, { error: `No database ${JSON.stringify(name)}: use aggregate, index or an account id` });

  const db = stub(env, setup);
  const raw = (sql: string, ...bindings: unknown[]) => db.queryRaw(setup, sql, bindings, { create: setup.role !== "account" }) as never;
  try {
    // Credentials were checked above (constant-time, any characters in DB_SECRET).
    return await studioMiddleware(request, raw, { dangerouslyDisableAuth: true });
  } catch (error) {
    console.warn(`[stripeflare] /db/${name}: ${error}`);
    return json(400, { error: `Bad query request: ${error instanceof Error ? error.message : String(error)}` });
  }
}

function isAdmin(request: Request, secret: string): boolean {
  const header = request.headers.get("Authorization") ?? "";
  if (!/^basic\s/i.test(header)) return false;
  let decoded: string;
  try {
    decoded = atob(header.slice(6).trim());
  } catch {
    return false;
  }
  return equalStrings(decoded, `admin:${secret}`);
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "private, no-store", ...headers },
  });
}

export function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body + "\n", { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } });
}
