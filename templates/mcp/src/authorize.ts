// Authorization by paying: the OAuth authorize step is the wallet's own page. A visitor gets a
// wallet (a cookie, no sign-up), tops it up through the Payment Link (paying with a card used
// before brings that wallet back: login by payment), chooses a budget and an expiry for the
// MCP client, and allows it. The client's grant then holds a budget token of that wallet
// (`POST /me/tokens`): it spends at most the budget, until it expires or is revoked here.
//
//   GET  /authorize?<OAuth request>   the page
//   POST /authorize?<OAuth request>   allow (same-origin form only): budget token, then the code
//   GET  /                            the wallet: balance, top-up link, the clients allowed
//   POST /grants/revoke               revoke one client (same-origin form only)

import type { AuthRequest, OAuthHelpers } from "@cloudflare/workers-oauth-provider";
import type { StripeflareContext, StripeflareEnv } from "./stripeflare";
import { formatMoney as money } from "./stripeflare/money";

export interface AppEnv extends StripeflareEnv {
  OAUTH_PROVIDER: OAuthHelpers;
  CURRENCY?: string;
}

type WalletFetch = (request: Request, env: AppEnv, ctx: ExecutionContext) => Promise<Response>;

const DEFAULT_BUDGET = 100; // cents
const DEFAULT_DAYS = 30;
const MAX_DAYS = 365;

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string, status = 200): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escape(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.5rem 0}input{font:inherit;width:8rem}button,a.button{font:inherit;padding:.4rem 1rem}</style></head><body>${body}</body></html>\n`;
  return new Response(html, { status, headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "private, no-store", "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'" } });
}

/** On `npm run dev` (loopback), the command that tops this browser's wallet up locally. */
function localPayment(request: Request, ctx: StripeflareContext): string {
  const { hostname } = new URL(request.url);
  if (!(hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname))) return "";
  return `<p>Local test payment (no Stripe account): <code>npm run pay -- ${escape(String(ctx.user.client_reference_id ?? ""))}</code>, then reload.</p>`;
}

/** A form post from this very page: another site must not allow a client or revoke one for you. */
function sameOrigin(request: Request): boolean {
  const site = request.headers.get("Sec-Fetch-Site");
  if (site !== null) return site === "same-origin";
  const origin = request.headers.get("Origin");
  return origin === null || origin === new URL(request.url).origin;
}

export async function authorize(request: Request, env: AppEnv, ctx: StripeflareContext, wallet: WalletFetch): Promise<Response> {
  let oauth: AuthRequest;
  try {
    oauth = await env.OAUTH_PROVIDER.parseAuthRequest(request);
  } catch (error) {
    return page("Cannot authorize", `<h1>Cannot authorize this client</h1><p>${escape(error instanceof Error ? error.message : String(error))}</p>`, 400);
  }
  const client = await env.OAUTH_PROVIDER.lookupClient(oauth.clientId);
  if (!client) return page("Unknown client", "<h1>Unknown client</h1><p>Register the MCP client again and retry.</p>", 400);
  const name = client.clientName?.trim() || oauth.clientId;
  const currency = env.CURRENCY ?? "usd";

  if (request.method === "POST") {
    if (!sameOrigin(request)) return page("Refused", "<h1>Refused</h1><p>Allow a client from this page itself.</p>", 403);
    if (!ctx.registered) return page("Top up first", `<h1>Top up first</h1><p>Your wallet is empty. <a href="${escape(ctx.paymentLink)}">Top up</a>, then come back.</p>`, 402);
    const form = await request.formData();
    const cap = Number(form.get("budget"));
    const days = Number(form.get("days"));
    if (!Number.isSafeInteger(cap) || cap < 1 || !Number.isSafeInteger(days) || days < 1 || days > MAX_DAYS) {
      return page("Check the form", `<h1>Check the form</h1><p>The budget is a whole number of cents (1 or more) and the expiry 1 to ${MAX_DAYS} days.</p>`, 400);
    }
    // The wallet mints the budget token (its own route, its own checks), for this browser's wallet.
    const minted = await wallet(
      new Request(new URL("/me/tokens", request.url), {
        method: "POST",
        headers: { Cookie: request.headers.get("Cookie") ?? "", "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ cap, expires_in: days * 86_400, label: `MCP client: ${name}`.slice(0, 100) }),
      }),
      env,
      ctx,
    );
    const token = (await minted.json()) as { access_token?: string; id?: string; error?: string };
    if (!minted.ok || !token.access_token || !token.id) return page("Not allowed", `<h1>Could not allow ${escape(name)}</h1><p>${escape(token.error ?? `status ${minted.status}`)}</p>`, minted.status >= 400 ? minted.status : 500);
    // Allowing a client again replaces its earlier grant (the provider revokes it): the budget
    // token that grant held is revoked too, so only the new budget can be spent.
    const earlier = (await env.OAUTH_PROVIDER.listUserGrants(ctx.user.access_token)).items.filter((g) => g.clientId === oauth.clientId);
    for (const grant of earlier) await revokeBudget(request, env, ctx, wallet, (grant as { metadata?: { tokenId?: string } }).metadata?.tokenId);
    const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
      request: oauth,
      userId: ctx.user.access_token,
      metadata: { client: name, tokenId: token.id, budget: cap },
      scope: oauth.scope,
      props: { token: token.access_token, tokenId: token.id },
    });
    return Response.redirect(redirectTo, 302);
  }

  const balance = money(ctx.user.balance, currency);
  const topUp = (ctx.paymentLink ? `<p><a class="button" href="${escape(ctx.paymentLink)}">Top up</a> (Stripe; after paying, come back to this page)</p>` : "<p>No payment link yet (STRIPE_PAYMENT_LINK).</p>") + localPayment(request, ctx);
  const allow = ctx.registered
    ? `<form method="post"><label>Budget for ${escape(name)}, in cents: <input name="budget" type="number" min="1" value="${DEFAULT_BUDGET}" required></label>
<label>Expires after (days): <input name="days" type="number" min="1" max="${MAX_DAYS}" value="${DEFAULT_DAYS}" required></label>
<button type="submit">Allow ${escape(name)}</button></form>`
    : "<p>Top up first: a client can only spend from a wallet with money in it.</p>";
  // Any client may register itself under any name: the address it returns to is what says who it is.
  let returnsTo = oauth.redirectUri;
  try {
    returnsTo = new URL(oauth.redirectUri).origin;
  } catch {}
  return page(`Allow ${name}`, `<h1>Allow ${escape(name)} to use paid tools?</h1>
<p>It will spend from your wallet, at most the budget you set, until it expires or you revoke it on <a href="/">your wallet's page</a>. No sign-up: the wallet lives in this browser.</p>
<p>After you allow it, your browser goes back to <code>${escape(returnsTo)}</code>: allow only a client you started yourself.</p>
<p>Balance: <strong>${balance}</strong></p>${topUp}${allow}`);
}

export async function walletHome(request: Request, env: AppEnv, ctx: StripeflareContext): Promise<Response> {
  const currency = env.CURRENCY ?? "usd";
  const grants = ctx.registered ? (await env.OAUTH_PROVIDER.listUserGrants(ctx.user.access_token)).items : [];
  const rows = grants
    .map((g) => {
      const meta = (g as { metadata?: { client?: string; budget?: number } }).metadata ?? {};
      return `<li>${escape(meta.client ?? g.clientId)} (budget ${money(Number(meta.budget ?? 0), currency)}) <form method="post" action="/grants/revoke" style="display:inline"><input type="hidden" name="grant" value="${escape(g.id)}"><button>Revoke</button></form></li>`;
    })
    .join("");
  if ((request.headers.get("Accept") ?? "").includes("application/json")) {
    return Response.json({ balance: ctx.user.balance, currency, registered: ctx.registered, paymentLink: ctx.paymentLink, client_reference_id: ctx.user.client_reference_id, mcp: `${new URL(request.url).origin}/mcp`, clients: grants.map((g) => ({ grant: g.id, client: g.clientId })) });
  }
  return page("Your wallet", `<h1>Your wallet</h1><p>Balance: <strong>${money(ctx.user.balance, currency)}</strong></p>
${ctx.paymentLink ? `<p><a class="button" href="${escape(ctx.paymentLink)}">Top up</a></p>` : ""}${localPayment(request, ctx)}
<h2>MCP clients allowed</h2>${rows ? `<ul>${rows}</ul>` : "<p>None yet. Connect an MCP client to <code>" + escape(new URL(request.url).origin) + "/mcp</code>.</p>"}`);
}

export async function revokeGrant(request: Request, env: AppEnv, ctx: StripeflareContext, wallet: WalletFetch): Promise<Response> {
  if (request.method !== "POST" || !sameOrigin(request)) return page("Refused", "<h1>Refused</h1><p>Revoke a client from your wallet's page.</p>", 403);
  const grantId = String((await request.formData()).get("grant") ?? "");
  const grants = ctx.registered ? (await env.OAUTH_PROVIDER.listUserGrants(ctx.user.access_token)).items : [];
  const grant = grants.find((g) => g.id === grantId) as ({ id: string; metadata?: { tokenId?: string } } | undefined);
  if (!grant) return page("Not found", "<h1>No such client on this wallet</h1>", 404);
  await env.OAUTH_PROVIDER.revokeGrant(grant.id, ctx.user.access_token);
  // Its budget token too, so nothing it held spends again.
  await revokeBudget(request, env, ctx, wallet, grant.metadata?.tokenId);
  return Response.redirect(new URL("/", request.url).toString(), 303);
}

/** Revokes a grant's budget token through the wallet's own route (DELETE /me/tokens/<id>). */
async function revokeBudget(request: Request, env: AppEnv, ctx: StripeflareContext, wallet: WalletFetch, tokenId: string | undefined): Promise<void> {
  if (!tokenId || !/^bt_[\w-]+$/.test(tokenId)) return;
  await wallet(new Request(new URL(`/me/tokens/${tokenId}`, request.url), { method: "DELETE", headers: { Cookie: request.headers.get("Cookie") ?? "" } }), env, ctx);
}
