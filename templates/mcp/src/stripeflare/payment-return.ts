// GET /me/paid?session_id=cs_…: where the Payment Link sends the browser that paid (its
// after-completion redirect is `<worker>/me/paid?session_id={CHECKOUT_SESSION_ID}`).
//
// Login by payment happens here and nowhere else. Whoever made a payment link is paid what is
// paid on it, but only the browser that paid may become the account its card (or Link email)
// belongs to: a webhook never moves anyone into another account, so sending a victim your
// link ("top me up") gains you the victim's money at most, never their account.
//
//   1. Read the session from Stripe (not from the URL): it must be paid, of this wallet's
//      Payment Link and of the key's mode. Credit it now (exactly once, shared with the
//      webhook), so the balance is there on return even before the webhook arrives.
//   2. Ask the payment index (beginLogin) what this browser may do, once per session and only
//      within LOGIN_WINDOW_SECONDS of paying: become the card's account (merging the account
//      it held into it), tie a new card to the link owner's account, or nothing.
//   3. Move the balance of a merged account, give the browser a token of its account, and send
//      it to "/" (303: the session id leaves the address bar, and no Referer carries it).
//
// The checkout session id is what proves "this browser paid", so it is never shown to the
// link's owner (the statement shows the PaymentIntent) and works once.

import type Stripe from "stripe";
import { stub, type Databases } from "./databases";
import { mintToken, type Token } from "./identity";
import { checkoutSessionOf, liveKey, StripeRequestError } from "./stripe";
import { loadSession, sessionCookie, type TokenRead } from "./session";
import type { StripeflareEnv, StripeUser } from "./types";
import { creditSession } from "./webhook";

export const PAYMENT_RETURN_PATH = "/me/paid";

const SESSION_ID = /^cs_(test|live)_[A-Za-z0-9_]{1,250}$/;

export async function paymentReturn(request: Request, env: StripeflareEnv, read: TokenRead, dbs: Databases): Promise<Response> {
  if (request.method !== "GET") return new Response("Method not allowed: the Payment Link's redirect is a GET\n", { status: 405, headers: { Allow: "GET" } });
  const sessionId = new URL(request.url).searchParams.get("session_id") ?? "";
  const outcome = await loginByPayment(env, read, dbs, sessionId);
  console.log(`[stripeflare] payment return ${sessionId.slice(0, 16)}…: ${outcome.note}`);
  const headers = new Headers({ Location: "/", "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer" });
  if (outcome.cookie) headers.append("Set-Cookie", sessionCookie(outcome.cookie.token));
  return new Response(null, { status: 303, headers });
}

async function loginByPayment(
  env: StripeflareEnv,
  read: TokenRead,
  dbs: Databases,
  sessionId: string,
): Promise<{ note: string; cookie?: Token }> {
  if (!SESSION_ID.test(sessionId)) return { note: "no valid session_id" };
  let session: Stripe.Checkout.Session;
  try {
    session = await checkoutSessionOf(env, sessionId);
  } catch (error) {
    const known = error instanceof StripeRequestError;
    return { note: `${known ? "Stripe does not know" : "could not read"} the session (${error instanceof Error ? error.message : error})` };
  }
  if (session.livemode !== liveKey(env.STRIPE_SECRET)) return { note: "the session is of the other mode" };
  const credit = await creditSession(session, env, dbs, `payment return ${session.id}`);
  if (credit.kind !== "credited") return { note: `not credited: ${credit.reason}` };

  // The browser: the account its token opens now (a cookie; an agent following the redirect
  // with a Bearer token is treated the same), or nobody.
  const current = read.kind === "token" ? await loadSession<StripeUser>(env, read, dbs) : null;
  // A budget token (an agent's, ./budgets.ts) never logs in by payment: tying its card to the
  // wallet would let it come back with a full token of the wallet.
  if (current?.budget) return { note: "a budget token: credited, no login by payment" };
  const browser = current?.hasRow ? current.account : null;
  const decision = await stub(env, dbs.index).beginLogin(dbs.index, {
    reference: session.id,
    browser,
    now: Math.floor(Date.now() / 1000),
  });
  if (decision.kind === "none") return { note: decision.reason };

  const target = decision.account;
  let moved = 0;
  if (decision.mergeFrom) {
    const from = dbs.account(decision.mergeFrom);
    moved = await stub(env, from).mergeOut(from, decision.mergeFrom, session.id, target);
  }
  const token = await mintToken(target);
  const into = dbs.account(target);
  await stub(env, into).acceptLogin(into, target, session.id, decision.mergeFrom, moved, token.hash);
  // The token the browser showed (of the merged account) mints nothing more when shown again.
  if (read.kind === "token" && read.token.account !== target) {
    await stub(env, dbs.account(read.token.account)).markUpgraded(dbs.account(read.token.account), read.token.hash);
  }
  await stub(env, dbs.index).finishLogin(dbs.index, session.id);
  return { note: `logged in to ${target}${decision.mergeFrom ? `, ${moved} moved from ${decision.mergeFrom}` : ""}`, cookie: token };
}
