// The view model every face of the page renders from. Pages are pure functions of it, so
// they neither reach into the wallet nor the network and are easy to test.

export interface WalletView {
  /** Balance in cents (the currency's smallest unit), after this request's charge. */
  balance: number;
  /** ISO 4217 code, lower case: what the amounts are counted in (the Payment Link's currency). */
  currency: string;
  /** `STRIPE_PAYMENT_LINK?client_reference_id=…`, as the wallet gives it in `ctx.paymentLink`. */
  paymentLink: string;
  clientReferenceId: string;
  /** True once a first payment created the user row. */
  registered: boolean;
  name: string | null;
  email: string | null;
}

/** The example paid route, described so people and agents know what it costs. */
export interface PaidRoute {
  method: "POST" | "GET";
  path: string;
  /** Price per request in cents. */
  price: number;
  description: string;
}

export interface PageOptions {
  title: string;
  /** `https://host` of the request, for the copy-paste examples shown to agents. */
  origin: string;
  paidRoute: PaidRoute;
  /** A one-line message to show above the balance (for example after spending). */
  notice?: string;
  /**
   * True when the request reached the Worker on a loopback address (`npm run dev`): the page
   * then shows how to make a local test payment. It changes wording only, never behaviour.
   */
  local?: boolean;
  /** The Worker takes agent payments (MPP): its 402s carry a challenge an agent can pay itself. */
  agentPayments?: boolean;
}

/**
 * What an agent needs to spend on its own, without reading the HTML: how to hold a wallet, cap
 * a request, retry safely, and get a budget token from the wallet's owner.
 */
export const AGENT_FACTS = {
  auth: "Keep the access_token cookie of the first response, or send Authorization: Bearer <token>.",
  max_price_header: "X-Max-Price",
  max_price: "Send X-Max-Price: <cents> to never pay more for one request: above it the answer is 402 with the price, nothing charged.",
  idempotency_header: "Idempotency-Key",
  idempotency: "Send Idempotency-Key: <key> to retry a paid request safely: the retry is served and not charged again (Idempotent-Replayed: true).",
  budget_tokens: {
    mint: "POST /me/tokens",
    body: { cap: "cents", expires_in: "seconds (60 to a year; default 30 days)", label: "text" },
    about: "The wallet's owner mints a token for an agent that spends at most cap from the same wallet; GET /me/tokens lists, DELETE /me/tokens/<id> revokes.",
  },
} as const;

/** How an agent pays a 402 by itself, when the Worker takes agent payments (MPP). */
export const MPP_FACTS = {
  protocol: "MPP (HTTP Payment authentication): a 402 carries WWW-Authenticate: Payment … with method \"stripe\", intent \"charge\"",
  pay: "Pay the challenge with a Stripe Shared Payment Token and retry the request with the credential in Payment-Authorization (keep Authorization: Bearer <token>).",
  result: "The retry is credited one top-up, served and answered with Payment-Receipt. An agent that sent no token gets its new wallet's token in X-Access-Token.",
} as const;

/** The wallet's statement of the caller's own ledger (`GET /me/transactions`). */
export const STATEMENT_PATH = "/me/transactions";
export const STATEMENT_ABOUT = "every top-up, charge, refund and dispute, newest first";

export const LOGIN_BY_PAYMENT =
  "There is no sign-up. Your wallet lives in this browser (an HttpOnly cookie). " +
  "Pay with a card or Link email you used before, on any device, and when Stripe sends you back here this browser is in that wallet again.";

// Money as people read it: the wallet's helper (scripts/pay.ts and the MCP template use it too).
import { formatMoney } from "../stripeflare/money";
export { formatMoney };

/**
 * The payment link is only usable when STRIPE_PAYMENT_LINK is set: an unset one leaves just
 * `?client_reference_id=…` (a `--no-stripe` scaffold), which must not be shown as a button.
 */
export function hasPaymentLink(view: WalletView): boolean {
  return /^https?:\/\//i.test(view.paymentLink);
}

/** True for requests to localhost, 127.0.0.0/8 or [::1], as served by `wrangler dev`. */
export function isLoopbackUrl(url: string | URL): boolean {
  const { hostname } = typeof url === "string" ? new URL(url) : url;
  return (
    hostname === "localhost" ||
    hostname === "[::1]" ||
    /^127(\.\d{1,3}){3}$/.test(hostname)
  );
}

/** The local payment command for this visitor, as the page and the README show it. */
export function localPayCommand(view: WalletView): string {
  return `npm run pay -- ${view.clientReferenceId}`;
}

/** The JSON body of `/`: the same facts as the page, keyed like `GET /me`. */
export function homeJson(view: WalletView, options: PageOptions) {
  const { paidRoute } = options;
  return {
    balance: view.balance,
    currency: view.currency,
    registered: view.registered,
    name: view.name,
    email: view.email,
    client_reference_id: view.clientReferenceId,
    paymentLink: hasPaymentLink(view) ? view.paymentLink : null,
    paid_routes: [
      {
        method: paidRoute.method,
        path: paidRoute.path,
        price: paidRoute.price,
        description: paidRoute.description,
      },
    ],
    statement: STATEMENT_PATH,
    login_by_payment: LOGIN_BY_PAYMENT,
    agents: options.agentPayments ? { ...AGENT_FACTS, mpp: MPP_FACTS } : AGENT_FACTS,
    ...(options.notice ? { notice: options.notice } : {}),
    ...(options.local ? { local_payment: localPayCommand(view) } : {}),
  };
}

/** The JSON body of a 402: everything a program needs to pay and retry. */
export function paymentRequiredJson(view: WalletView, price: number, options?: PageOptions) {
  return {
    error: "payment_required",
    message: paymentRequiredSentence(view, price),
    price,
    balance: view.balance,
    currency: view.currency,
    paymentLink: hasPaymentLink(view) ? view.paymentLink : null,
    ...(options?.agentPayments ? { agent_payment: MPP_FACTS } : {}),
  };
}

export function paymentRequiredSentence(view: WalletView, price: number): string {
  const top = hasPaymentLink(view)
    ? `Top up at ${view.paymentLink} and retry.`
    : "Top up through the payment link and retry (this Worker has no STRIPE_PAYMENT_LINK yet).";
  return `This request costs ${formatMoney(price, view.currency)}; your balance is ${formatMoney(view.balance, view.currency)}. ${top}`;
}
