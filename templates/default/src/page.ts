// The example app's responses: the home page and the "how to pay" answer of a paid route,
// each as HTML, JSON or Markdown depending on the Accept header. Everything here is a pure
// function of a small view model (./page/view.ts), independent of wallet internals.

import { homeHtml, paymentRequiredHtml } from "./page/html";
import { homeMarkdown, paymentRequiredMarkdown } from "./page/markdown";
import { CONTENT_TYPES, negotiate, type Format } from "./page/negotiate";
import {
  formatMoney,
  homeJson,
  isLoopbackUrl,
  paymentRequiredJson,
  type PageOptions,
  type PaidRoute,
  type WalletView,
} from "./page/view";

export { negotiate, type Format } from "./page/negotiate";
export {
  formatMoney,
  hasPaymentLink,
  isLoopbackUrl,
  localPayCommand,
  type PageOptions,
  type PaidRoute,
  type WalletView,
} from "./page/view";

/**
 * Headers for anything personal (a balance, a payment link with the visitor's id, a charge).
 * `private, no-store` keeps shared caches and the browser's back/forward cache from serving
 * one visitor's wallet to another or a stale balance; Vary covers the negotiated formats
 * and both ways of identifying a visitor.
 */
export const PERSONAL_HEADERS: Readonly<Record<string, string>> = {
  "Cache-Control": "private, no-store",
  Vary: "Accept, Cookie, Authorization",
};

/** The parts of the wallet's handler context the page reads (CONTRACT.md §3). */
export interface WalletContext {
  user: {
    balance: number | null;
    name?: string | null;
    email?: string | null;
    client_reference_id?: string | null;
  };
  registered: boolean;
  paymentLink: string;
}

/**
 * Builds the view model from the handler context and the wallet's currency (the CURRENCY var
 * of wrangler.jsonc; `usd` when it is unset).
 */
export function walletView(ctx: WalletContext, currency = "usd"): WalletView {
  return {
    balance: Number(ctx.user.balance ?? 0),
    currency: (currency || "usd").toLowerCase(),
    paymentLink: ctx.paymentLink,
    clientReferenceId: ctx.user.client_reference_id || clientReferenceIdOf(ctx.paymentLink),
    registered: ctx.registered,
    name: ctx.user.name ?? null,
    email: ctx.user.email ?? null,
  };
}

function clientReferenceIdOf(paymentLink: string): string {
  const query = paymentLink.slice(paymentLink.indexOf("?") + 1);
  return new URLSearchParams(query).get("client_reference_id") ?? "";
}

/** Page options for a request: its origin for examples, and whether it is a local dev request. */
export function pageOptions(
  request: Request,
  title: string,
  paidRoute: PaidRoute,
  notice?: string,
  agentPayments = false,
): PageOptions {
  const url = new URL(request.url);
  return { title, origin: url.origin, paidRoute, notice, local: isLoopbackUrl(url), agentPayments };
}

function respond(format: Format, body: string, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("Content-Type", CONTENT_TYPES[format]);
  for (const [name, value] of Object.entries(PERSONAL_HEADERS)) headers.set(name, value);
  return new Response(body, { ...init, headers });
}

/** `GET /`: balance, payment link, the paid route, login by payment; in the format asked for. */
export function homeResponse(request: Request, view: WalletView, options: PageOptions): Response {
  const format = negotiate(request.headers.get("Accept"));
  const body =
    format === "html"
      ? homeHtml(view, options)
      : format === "markdown"
        ? homeMarkdown(view, options)
        : JSON.stringify(homeJson(view, options), null, 2);
  return respond(format, body);
}

/**
 * 402 Payment Required: how to pay, for people and programs alike. The payment link is in
 * the body and in `X-PaymentLink`, with the price and the balance. It must not carry
 * `X-Price`: that header is what charges.
 */
export function paymentRequiredResponse(
  request: Request,
  view: WalletView,
  price: number,
  options: PageOptions,
): Response {
  const format = negotiate(request.headers.get("Accept"));
  const body =
    format === "html"
      ? paymentRequiredHtml(view, price, options)
      : format === "markdown"
        ? paymentRequiredMarkdown(view, price, options)
        : JSON.stringify(paymentRequiredJson(view, price, options), null, 2);
  return respond(format, body, {
    status: 402,
    headers: { "X-PaymentLink": view.paymentLink },
  });
}

/**
 * A successful paid request. `X-Price` tells the wallet to charge the route's price once this
 * response leaves the handler, and `X-Price-Description` what the visitor's statement says
 * about it. A browser's form post is redirected back to the page (post/redirect/get), so a
 * reload does not pay twice; programs get the result itself.
 */
export function paidResponse(
  request: Request,
  view: WalletView,
  route: Pick<PaidRoute, "price" | "description">,
  result: string,
): Response {
  const { price } = route;
  const priceHeader = { "X-Price": String(price), "X-Price-Description": route.description };
  const format = negotiate(request.headers.get("Accept"));
  if (format === "html") {
    const location = new URL("/", request.url);
    location.searchParams.set("spent", String(price));
    return respond(format, "", { status: 303, headers: { ...priceHeader, Location: location.pathname + location.search } });
  }
  const after = view.balance - price;
  if (format === "markdown") {
    return respond(
      format,
      `# Done\n\n${result}\n\n- Charged: **${formatMoney(price, view.currency)}**\n- Balance: **${formatMoney(after, view.currency)}**\n`,
      { headers: priceHeader },
    );
  }
  return respond(format, JSON.stringify({ result, charged: price, balance: after, currency: view.currency }, null, 2), {
    headers: priceHeader,
  });
}

/** The notice shown on `/` after a browser spent, from the redirect's `?spent=`. */
export function spentNotice(url: URL, currency = "usd"): string | undefined {
  const spent = url.searchParams.get("spent");
  return spent && /^\d{1,6}$/.test(spent) ? `Spent ${formatMoney(Number(spent), currency)}.` : undefined;
}
