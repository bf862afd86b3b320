// The wallet's own routes: GET /me, POST /rotate-token and the admin database API /db/*.
// (POST /stripe-webhook is in ./webhook.ts.)

import { studioMiddleware } from "dormroom";
import { stub, type Databases } from "./databases";
import { encodeReference, equalStrings, isAccountId, mintToken } from "./identity";
import { parseBudgetRequest, TOKENS_PATH } from "./budgets";
import { fetchSite, paymentLink, type Session } from "./session";
import type { DatabaseSetup, StripeflareEnv, StripeUser } from "./types";

/** GET /me: the visitor's public wallet facts; never the access token. */
export function me<U extends StripeUser>(request: Request, session: Session<U>): Response {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return json(405, { error: "Method not allowed: use GET /me" }, { Allow: "GET, HEAD" });
  }
  const { user } = session;
  return json(200, {
    // null, as on the example page, while STRIPE_PAYMENT_LINK is not set.
    paymentLink: session.paymentLink || null,
    client_reference_id: session.clientReferenceId,
    balance: user.balance,
    name: user.name ?? null,
    email: user.email ?? null,
    card_fingerprint: user.card_fingerprint ?? null,
    verified_email: user.verified_email ?? null,
    registered: session.registered,
    // A budget token (POST /me/tokens) also learns what it may still spend.
    ...(session.budget
      ? { budget: { id: session.budget.id, label: session.budget.label, cap: session.budget.cap, spent: session.budget.spent, expires_at: new Date(session.budget.expiresAt).toISOString() } }
      : {}),
  });
}

/**
 * /me/tokens: budget tokens for agents (./budgets.ts). POST mints one (JSON body: cap in cents,
 * expires_in seconds, label) and answers its access_token, once; GET lists them; DELETE
 * /me/tokens/<id> revokes one. The middleware lets only the wallet's own full token, from this
 * site or a script, reach it.
 */
export async function tokensApi<U extends StripeUser>(request: Request, env: StripeflareEnv, session: Session<U>, pathname: string): Promise<Response> {
  if (!session.hasRow || !session.registered) return json(409, { error: "This wallet has no account yet: top it up first, then give an agent a budget" });
  const setup = session.dbs.account(session.account);
  const id = pathname.slice(TOKENS_PATH.length + 1);
  if (pathname !== TOKENS_PATH) {
    if (request.method !== "DELETE") return json(405, { error: `Method not allowed: use DELETE ${TOKENS_PATH}/<id>` }, { Allow: "DELETE" });
    if (!/^bt_[\w-]{1,64}$/.test(id) || !(await stub(env, setup).revokeBudget(setup, id))) return json(404, { error: `No budget token ${id.slice(0, 80)}` });
    console.log(`[stripeflare] ${session.account} revoked budget token ${id}`);
    return json(200, { id, revoked: true });
  }
  if (request.method === "GET" || request.method === "HEAD") {
    return json(200, { object: "list", data: await stub(env, setup).listBudgets(setup) });
  }
  if (request.method !== "POST") return json(405, { error: `Method not allowed: use GET or POST ${TOKENS_PATH}` }, { Allow: "GET, POST" });
  // JSON only: a form another site posts cannot mint tokens (with the cross-site refusal in middleware).
  if (!(request.headers.get("Content-Type") ?? "").toLowerCase().startsWith("application/json")) {
    return json(415, { error: "Send the budget as JSON (Content-Type: application/json)" });
  }
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    return json(400, { error: "The body is not JSON", param: "body" });
  }
  const parsed = parseBudgetRequest(body);
  if ("error" in parsed) return json(400, parsed);
  const token = await mintToken(session.account);
  const budgetId = `bt_${crypto.randomUUID().replace(/-/g, "").slice(0, 20)}`;
  await stub(env, setup).mintBudget(setup, token.hash, budgetId, parsed);
  console.log(`[stripeflare] ${session.account} minted budget token ${budgetId} (cap ${parsed.cap})`);
  return json(201, {
    id: budgetId,
    access_token: token.token,
    label: parsed.label,
    cap: parsed.cap,
    spent: 0,
    expires_at: new Date(parsed.expiresAt).toISOString(),
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

export const SIGN_OUT_OTHERS_PATH = "/me/sign-out-others";

/**
 * POST /me/sign-out-others: every other token of the account stops opening it (other
 * devices, leaked tokens, and the tokens of accounts merged into this one by login by
 * payment). The caller keeps its token; one that opened the account only through a merged
 * account gets a token of the account itself (a cookie, or `access_token` for Bearer clients).
 */
export async function signOutOthers<U extends StripeUser>(
  request: Request,
  env: StripeflareEnv,
  session: Session<U>,
): Promise<{ response: Response; session: Session<U> }> {
  if (request.method !== "POST") {
    return { response: json(405, { error: `Method not allowed: use POST ${SIGN_OUT_OTHERS_PATH}` }, { Allow: "POST" }), session };
  }
  if (!session.hasRow || !session.presentedHash) {
    return { response: json(409, { error: "No account to sign out of: this visitor has not paid yet" }), session };
  }
  const dbs = session.dbs;
  const keep = session.via ? await mintToken(session.account) : session.token;
  const account = dbs.account(session.account);
  const { removed, merged } = await stub(env, account).signOutOthers(account, session.account, keep.hash);
  let revoked = 0;
  for (const other of merged) revoked += await stub(env, dbs.account(other)).revokeAll(dbs.account(other));
  const next = session.via ? { ...session, token: keep, setCookie: session.source === "cookie", via: null, presentedHash: keep.hash } : session;
  console.log(`[stripeflare] ${session.account} signed out ${removed + revoked} other token(s)`);
  return {
    response: json(200, {
      signedOut: removed + revoked,
      ...(session.via && session.source === "bearer" ? { access_token: keep.token } : {}),
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
 *
 * A browser that holds the admin's basic-auth credentials sends them to any request, also
 * one another site makes it send (a form posting text/plain). So /db answers only requests
 * that are same-origin or not from a browser at all, and only JSON bodies; its studio page
 * cannot be framed and forwards only the Outerbase frame's messages.
 */
export async function databaseApi(request: Request, env: StripeflareEnv, dbs: Databases): Promise<Response> {
  const refused = crossOriginProblem(request);
  if (refused) {
    console.warn(`[stripeflare] /db request refused: ${refused}`);
    return json(403, { error: `Refused: ${refused}. Use /db from its own origin or from a script.` });
  }
  if (!isAdmin(request, env.DB_SECRET)) {
    console.warn(`[stripeflare] /db request without valid admin credentials`);
    return json(401, { error: "Admin credentials required (basic auth admin:DB_SECRET)" }, { "WWW-Authenticate": 'Basic realm="stripeflare db"' });
  }
  if (request.method === "POST" && !/^application\/json\s*(;|$)/i.test(request.headers.get("Content-Type") ?? "")) {
    return json(415, { error: "Send /db queries as JSON (Content-Type: application/json)" });
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

  if (request.method === "GET" || request.method === "HEAD") return studioPage();
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

/** Why a /db request looks like another site's doing (anything but same-origin or typed), or null. */
function crossOriginProblem(request: Request): string | null {
  const site = fetchSite(request, new URL(request.url));
  if (site === null || site === "same-origin" || site === "none") return null;
  return `the request comes from ${request.headers.get("Origin") ?? "another site"} (Sec-Fetch-Site: ${site})`;
}

const STUDIO_ORIGIN = "https://studio.outerbase.com";

/**
 * The studio: Outerbase's editor in a frame, whose queries this page forwards to /db as JSON.
 * Only messages from that frame are forwarded, answers go only to its origin, and no other
 * page may frame this one.
 */
function studioPage(): Response {
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>Stripeflare database</title>
<style>html,body,iframe{margin:0;padding:0;border:0;width:100vw;height:100vh;overflow:hidden}</style></head>
<body><iframe id="editor" allow="clipboard-read; clipboard-write" src="${STUDIO_ORIGIN}/embed/starbase"></iframe>
<script>
const editor = document.getElementById("editor");
window.addEventListener("message", async (event) => {
  if (event.origin !== "${STUDIO_ORIGIN}" || event.source !== editor.contentWindow) return;
  const { id, type } = event.data || {};
  if (type !== "query" && type !== "transaction") return;
  let reply;
  try {
    const response = await fetch(location.pathname, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(event.data) });
    const body = await response.json();
    reply = body.error ? { id, type, error: body.error } : { id, type, data: body.result };
  } catch (error) {
    reply = { id, type, error: String(error) };
  }
  editor.contentWindow.postMessage(reply, "${STUDIO_ORIGIN}");
});
</script></body></html>`;
  return new Response(html, {
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "private, no-store",
      "Content-Security-Policy": `frame-ancestors 'none'`,
      "X-Frame-Options": "DENY",
    },
  });
}

function isAdmin(request: Request, secret: string): boolean {
  const header = request.headers.get("Authorization") ?? "";
  if (!/^basic\s/i.test(header)) return false;
  let decoded: string;
  try {
    // Browsers and curl send the credentials as UTF-8 bytes: decode them as such, so a
    // DB_SECRET with non-ASCII characters logs in too.
    const bytes = Uint8Array.from(atob(header.slice(6).trim()), (c) => c.charCodeAt(0));
    decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
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
