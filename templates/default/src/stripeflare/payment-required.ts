// The wallet's 402: a price the balance (or a budget) cannot cover. The app may render it
// (`options.paymentRequired`), else a plain or JSON answer says how to pay; with agent payments
// on, it also carries an MPP challenge an agent can pay by itself (./agent-payments.ts).

import { offerTopUp, type AgentPaymentOffer, type AgentPayments } from "./agent-payments";
import { json } from "./routes";
import type { Session } from "./session";
import type { StripeflareEnv, StripeflareOptions, StripeUser } from "./types";

/**
 * The 402 for a price the balance cannot cover: the app's own (`options.paymentRequired`), else
 * ours. With agent payments on (`agent`), it also carries an MPP challenge for a top-up, except
 * for a budget token (its owner tops up) or a price over the caller's X-Max-Price (`agent` null).
 */
export async function paymentRequired<E, U extends StripeUser>(
  request: Request,
  env: E & StripeflareEnv,
  session: Session<U>,
  price: number,
  message: string,
  options: StripeflareOptions<U, E>,
  agent: AgentPayments | null,
): Promise<Response> {
  const balance = Number(session.user.balance ?? 0);
  const topUp = agent && !session.budget ? await offerTopUp(env, agent, new URL(request.url), session, Math.max(0, price - balance)) : null;
  let response: Response | null = null;
  if (options.paymentRequired) {
    const { user, registered, paymentLink } = session;
    try {
      response = await options.paymentRequired(request, { price, balance, paymentLink, message, user, registered, agentPayment: topUp?.offer }, env);
    } catch (error) {
      // The visitor still learns how to pay; the operator sees why the app's page failed.
      console.error(`[stripeflare] options.paymentRequired failed; answering the default 402:`, error);
    }
  }
  response ??= defaultPaymentRequired(request, session, price, message, topUp?.offer);
  return topUp ? withChallenge(response, topUp.header) : response;
}

/** The app's own 402 (it refused up front), with a top-up challenge: machine-payable too. */
export async function withTopUpChallenge<U extends StripeUser>(env: StripeflareEnv, request: Request, agent: AgentPayments, session: Session<U>, response: Response): Promise<Response> {
  if (response.status !== 402 || hasPaymentChallenge(response)) return response;
  return withChallenge(response, (await offerTopUp(env, agent, new URL(request.url), session, 0)).header);
}

const hasPaymentChallenge = (response: Response) => /(^|,)\s*payment\s/i.test(response.headers.get("WWW-Authenticate") ?? "");

/** A 402 with a `WWW-Authenticate: Payment` challenge added, unless it carries one already. */
function withChallenge(response: Response, header: string): Response {
  if (response.status !== 402 || hasPaymentChallenge(response)) return response;
  const out = new Response(response.body, response);
  out.headers.append("WWW-Authenticate", header);
  return out;
}

function defaultPaymentRequired<U extends StripeUser>(request: Request, session: Session<U>, price: number, message: string, agentPayment?: AgentPaymentOffer): Response {
  const wantsJson = (request.headers.get("Accept") ?? "").includes("application/json");
  if (wantsJson) return json(402, { error: "Payment required", message, price, paymentLink: session.paymentLink, balance: session.user.balance, ...(agentPayment ? { agentPayment } : {}) });
  const agents = agentPayment
    ? `\nAgents: pay the WWW-Authenticate "Payment" challenge (MPP, method "stripe": ${agentPayment.amount} ${agentPayment.currency} in cents) with a Shared Payment Token; send the credential in ${agentPayment.credentialHeader}.`
    : "";
  return new Response(`Payment required: ${message}. Top up at ${session.paymentLink}${agents}\n`, {
    status: 402,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "private, no-store" },
  });
}

