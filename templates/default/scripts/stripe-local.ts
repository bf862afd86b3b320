// A small local stand-in for the Stripe API calls around a Stripeflare payment: create and
// confirm a PaymentIntent with a test payment method (as `POST /v1/payment_intents` does in
// test mode), and read it back (with `expand[]=latest_charge`) or read its Charge: the two
// reads the Worker makes for login by payment. Refunds (`POST /v1/refunds`, listed by charge)
// and disputes (the test card pm_card_createDispute opens one, as in Stripe test mode; evidence
// "winning_evidence" / "losing_evidence" or `POST /v1/disputes/:id/close` decides it) for the
// refund and dispute webhooks. State lives in memory.
//
//   node scripts/stripe-local.ts [--port 12111]      then STRIPE_API_BASE=http://127.0.0.1:12111
//
// Objects are typed against the `stripe` SDK's own types (the fields this server fills in);
// errors use Stripe's format `{ error: { type, code, message, param } }`. Test payment
// methods behave as in Stripe test mode: pm_card_visa, pm_card_mastercard, pm_card_amex,
// pm_card_discover, pm_card_visa_debit succeed with a stable card fingerprint per card;
// pm_card_chargeDeclined fails with card_declined; pm_card_createDispute and
// pm_card_createDisputeInquiry succeed and open a dispute (an inquiry). Local-only additions:
// `pm_link` pays with Link (payment_method_details.type "link"; pass `receipt_email` as its
// email), and `POST /local/checkout_sessions` (a JSON Checkout Session) records a completed
// checkout, as a Payment Link checkout would, so `GET /v1/checkout/sessions?payment_intent=`
// finds it.

import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type Stripe from "stripe";

export type LocalCharge = Pick<
  Stripe.Charge,
  | "id"
  | "object"
  | "amount"
  | "amount_captured"
  | "amount_refunded"
  | "captured"
  | "created"
  | "currency"
  | "disputed"
  | "livemode"
  | "paid"
  | "payment_intent"
  | "payment_method"
  | "receipt_email"
  | "refunded"
  | "status"
> & {
  payment_method_details: Pick<Stripe.Charge.PaymentMethodDetails, "type"> & {
    card?: Pick<Stripe.Charge.PaymentMethodDetails.Card, "brand" | "country" | "exp_month" | "exp_year" | "fingerprint" | "funding" | "last4">;
    link?: Pick<Stripe.Charge.PaymentMethodDetails.Link, "country">;
  };
};

export type LocalPaymentIntent = Pick<
  Stripe.PaymentIntent,
  | "id"
  | "object"
  | "amount"
  | "amount_received"
  | "client_secret"
  | "confirmation_method"
  | "created"
  | "currency"
  | "livemode"
  | "metadata"
  | "payment_method_types"
  | "receipt_email"
  | "status"
> & {
  payment_method: string | null;
  latest_charge: string | LocalCharge | null;
};

export type LocalRefund = Pick<
  Stripe.Refund,
  "id" | "object" | "amount" | "charge" | "created" | "currency" | "metadata" | "payment_intent" | "reason" | "status"
>;

export type LocalDispute = Pick<
  Stripe.Dispute,
  "id" | "object" | "amount" | "charge" | "created" | "currency" | "is_charge_refundable" | "livemode" | "metadata" | "payment_intent" | "reason" | "status"
> & { evidence: { uncategorized_text: string | null } };

export type LocalCheckoutSession = Pick<Stripe.Checkout.Session, "id" | "object" | "payment_intent"> & Record<string, unknown>;

interface StripeErrorBody {
  error: Pick<Stripe.StripeRawError, "type" | "code" | "message" | "param"> & { decline_code?: string };
}

interface TestCard {
  brand: string;
  last4: string;
  funding: string;
  declined?: boolean;
  /** Stripe test mode: the charge succeeds and a dispute (or an inquiry) opens on it. */
  dispute?: "fraudulent" | "inquiry";
}

const TEST_CARDS: Record<string, TestCard> = {
  pm_card_visa: { brand: "visa", last4: "4242", funding: "credit" },
  pm_card_visa_debit: { brand: "visa", last4: "5556", funding: "debit" },
  pm_card_mastercard: { brand: "mastercard", last4: "4444", funding: "credit" },
  pm_card_amex: { brand: "amex", last4: "8431", funding: "credit" },
  pm_card_discover: { brand: "discover", last4: "1117", funding: "credit" },
  pm_card_chargeDeclined: { brand: "visa", last4: "0002", funding: "credit", declined: true },
  pm_card_createDispute: { brand: "visa", last4: "0259", funding: "credit", dispute: "fraudulent" },
  pm_card_createDisputeInquiry: { brand: "visa", last4: "2684", funding: "credit", dispute: "inquiry" },
};
const LINK_METHOD = "pm_link";

class StripeApiError extends Error {
  readonly status: number;
  readonly body: StripeErrorBody;
  constructor(status: number, body: StripeErrorBody) {
    super(body.error.message);
    this.status = status;
    this.body = body;
  }
}

const invalid = (message: string, param?: string, code?: string, status = 400) =>
  new StripeApiError(status, { error: { type: "invalid_request_error", message, ...(param ? { param } : {}), ...(code ? { code } : {}) } });

/** Stable per card (like Stripe: one fingerprint per card number per account). */
export function fingerprintOf(paymentMethod: string): string {
  return createHash("sha256").update(`stripe-local:${paymentMethod}`).digest("base64url").replace(/[-_]/g, "").slice(0, 16);
}

export class StripeLocalState {
  readonly paymentIntents = new Map<string, LocalPaymentIntent>();
  readonly charges = new Map<string, LocalCharge>();
  readonly refunds = new Map<string, LocalRefund>();
  readonly disputes = new Map<string, LocalDispute>();
  readonly checkoutSessions = new Map<string, LocalCheckoutSession>();

  createPaymentIntent(params: URLSearchParams): LocalPaymentIntent {
    const amountText = params.get("amount");
    if (amountText === null) throw invalid("Missing required param: amount.", "amount", "parameter_missing");
    const amount = Number(amountText);
    if (!/^\d+$/.test(amountText) || !Number.isSafeInteger(amount) || amount < 1) {
      throw invalid("This value must be greater than or equal to 1.", "amount", "parameter_invalid_integer");
    }
    const currency = params.get("currency");
    if (currency === null) throw invalid("Missing required param: currency.", "currency", "parameter_missing");
    if (!/^[a-zA-Z]{3}$/.test(currency)) throw invalid(`Invalid currency: ${currency.toLowerCase()}.`, "currency", "parameter_invalid_string");
    const paymentMethod = params.get("payment_method");
    if (paymentMethod !== null && !(paymentMethod in TEST_CARDS) && paymentMethod !== LINK_METHOD) {
      throw invalid(`No such PaymentMethod: '${paymentMethod}'`, "payment_method", "resource_missing", 400);
    }
    const confirm = params.get("confirm") === "true";
    if (confirm && paymentMethod === null) {
      throw invalid(
        "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with cus_..., specify a payment method attached to this customer along with the customer ID.",
        undefined,
        "payment_intent_unexpected_state",
      );
    }
    const metadata: Record<string, string> = {};
    for (const [key, value] of params) {
      const match = /^metadata\[(.+)\]$/.exec(key);
      if (match) metadata[match[1]!] = value;
    }
    const types = [...params].filter(([key]) => /^payment_method_types\[\d*\]$/.test(key)).map(([, value]) => value);
    const id = `pi_${localId()}`;
    const intent: LocalPaymentIntent = {
      id,
      object: "payment_intent",
      amount,
      amount_received: 0,
      client_secret: `${id}_secret_${localId()}`,
      confirmation_method: "automatic",
      created: now(),
      currency: currency.toLowerCase(),
      livemode: false,
      metadata,
      payment_method: paymentMethod,
      payment_method_types: types.length ? types : ["card", "link"],
      receipt_email: params.get("receipt_email"),
      status: paymentMethod === null ? "requires_payment_method" : "requires_confirmation",
      latest_charge: null,
    };
    this.paymentIntents.set(id, intent);
    if (confirm) this.confirm(intent);
    return intent;
  }

  private confirm(intent: LocalPaymentIntent): void {
    const method = intent.payment_method!;
    const card = TEST_CARDS[method];
    const charge: LocalCharge = {
      id: `ch_${localId()}`,
      object: "charge",
      amount: intent.amount,
      amount_captured: card?.declined ? 0 : intent.amount,
      amount_refunded: 0,
      captured: !card?.declined,
      created: now(),
      currency: intent.currency,
      disputed: false,
      livemode: false,
      paid: !card?.declined,
      payment_intent: intent.id,
      payment_method: method,
      receipt_email: intent.receipt_email,
      refunded: false,
      status: card?.declined ? "failed" : "succeeded",
      payment_method_details: card
        ? {
            type: "card",
            card: { brand: card.brand, country: "US", exp_month: 12, exp_year: new Date().getFullYear() + 3, fingerprint: fingerprintOf(method), funding: card.funding, last4: card.last4 },
          }
        : { type: "link", link: { country: "US" } },
    };
    this.charges.set(charge.id, charge);
    intent.latest_charge = charge.id;
    if (card?.declined) {
      intent.status = "requires_payment_method";
      throw new StripeApiError(402, {
        error: { type: "card_error", code: "card_declined", decline_code: "generic_decline", message: "Your card was declined.", param: "" },
      });
    }
    intent.status = "succeeded";
    intent.amount_received = intent.amount;
    if (card?.dispute) this.openDispute(charge, card.dispute);
  }

  private openDispute(charge: LocalCharge, kind: "fraudulent" | "inquiry"): void {
    const dispute: LocalDispute = {
      id: `dp_${localId()}`,
      object: "dispute",
      amount: charge.amount,
      charge: charge.id,
      created: now(),
      currency: charge.currency,
      evidence: { uncategorized_text: null },
      is_charge_refundable: kind === "inquiry",
      livemode: false,
      metadata: {},
      payment_intent: charge.payment_intent,
      reason: kind === "inquiry" ? "general" : "fraudulent",
      status: kind === "inquiry" ? "warning_needs_response" : "needs_response",
    };
    charge.disputed = kind !== "inquiry";
    this.disputes.set(dispute.id, dispute);
  }

  /** POST /v1/refunds: refunds a charge (by `charge` or `payment_intent`), all or `amount` of what is left. */
  createRefund(params: URLSearchParams): LocalRefund {
    const chargeParam = params.get("charge");
    const intentParam = params.get("payment_intent");
    if (chargeParam === null && intentParam === null) {
      throw invalid("One of the following params should be provided for this request: payment_intent or charge.");
    }
    let charge: LocalCharge | undefined;
    if (chargeParam !== null) {
      charge = this.charges.get(chargeParam);
      if (!charge) throw invalid(`No such charge: '${chargeParam}'`, "charge", "resource_missing");
    } else {
      const intent = this.paymentIntents.get(intentParam!);
      if (!intent) throw invalid(`No such payment_intent: '${intentParam}'`, "payment_intent", "resource_missing");
      charge = typeof intent.latest_charge === "string" ? this.charges.get(intent.latest_charge) : undefined;
      if (!charge || intent.status !== "succeeded") {
        throw invalid(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, "payment_intent");
      }
    }
    if (charge.status !== "succeeded") throw invalid(`Charge ${charge.id} has not succeeded and cannot be refunded.`, "charge");
    const left = charge.amount - charge.amount_refunded;
    if (left <= 0) throw invalid(`Charge ${charge.id} has already been refunded.`, undefined, "charge_already_refunded");
    const amountText = params.get("amount");
    const amount = amountText === null ? left : Number(amountText);
    if (amountText !== null && (!/^\d+$/.test(amountText) || !Number.isSafeInteger(amount) || amount < 1)) {
      throw invalid("This value must be greater than or equal to 1.", "amount", "parameter_invalid_integer");
    }
    if (amount > left) {
      throw invalid(`Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`, "amount", "amount_too_large");
    }
    const refund: LocalRefund = {
      id: `re_${localId()}`,
      object: "refund",
      amount,
      charge: charge.id,
      created: now(),
      currency: charge.currency,
      metadata: {},
      payment_intent: charge.payment_intent,
      reason: (params.get("reason") as LocalRefund["reason"]) ?? null,
      status: "succeeded",
    };
    this.refunds.set(refund.id, refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount;
    return refund;
  }

  refund(id: string): LocalRefund {
    const refund = this.refunds.get(id);
    if (!refund) throw invalid(`No such refund: '${id}'`, "id", "resource_missing", 404);
    return refund;
  }

  /** GET /v1/refunds: newest first, filtered by charge / payment_intent, paginated like Stripe. */
  listRefunds(query: URLSearchParams): LocalList<LocalRefund> {
    const charge = query.get("charge");
    const intent = query.get("payment_intent");
    const all = [...this.refunds.values()].filter((r) => (!charge || r.charge === charge) && (!intent || r.payment_intent === intent));
    return list("/v1/refunds", all.reverse(), query);
  }

  dispute(id: string): LocalDispute {
    const dispute = this.disputes.get(id);
    if (!dispute) throw invalid(`No such dispute: '${id}'`, "dispute", "resource_missing", 404);
    return dispute;
  }

  listDisputes(query: URLSearchParams): LocalList<LocalDispute> {
    const charge = query.get("charge");
    const intent = query.get("payment_intent");
    const all = [...this.disputes.values()].filter((d) => (!charge || d.charge === charge) && (!intent || d.payment_intent === intent));
    return list("/v1/disputes", all.reverse(), query);
  }

  /**
   * POST /v1/disputes/:id: evidence, and `submit`. As in Stripe test mode, evidence
   * "winning_evidence" wins the dispute and "losing_evidence" loses it (here at once).
   */
  updateDispute(id: string, params: URLSearchParams): LocalDispute {
    const dispute = this.openForChange(id);
    const evidence = params.get("evidence[uncategorized_text]");
    if (evidence !== null) dispute.evidence.uncategorized_text = evidence;
    const inquiry = dispute.status.startsWith("warning_");
    if (evidence === "winning_evidence") dispute.status = inquiry ? "warning_closed" : "won";
    else if (evidence === "losing_evidence") dispute.status = inquiry ? "warning_closed" : "lost";
    else if (params.get("submit") === "true") dispute.status = inquiry ? "warning_under_review" : "under_review";
    this.settleDispute(dispute);
    return dispute;
  }

  /** POST /v1/disputes/:id/close: accepting the dispute, which loses it. */
  closeDispute(id: string): LocalDispute {
    const dispute = this.openForChange(id);
    dispute.status = dispute.status.startsWith("warning_") ? "warning_closed" : "lost";
    this.settleDispute(dispute);
    return dispute;
  }

  private openForChange(id: string): LocalDispute {
    const dispute = this.dispute(id);
    if (["won", "lost", "warning_closed"].includes(dispute.status)) {
      throw invalid(`This dispute is already closed: ${id}`, undefined, "dispute_already_closed");
    }
    return dispute;
  }

  private settleDispute(dispute: LocalDispute): void {
    const charge = this.charges.get(String(dispute.charge));
    if (charge && dispute.status === "won") charge.disputed = false;
  }

  /** Local only: records a completed Checkout Session (what a Payment Link checkout leaves behind). */
  recordCheckoutSession(session: LocalCheckoutSession): LocalCheckoutSession {
    if (typeof session?.id !== "string" || !session.id.startsWith("cs_")) throw invalid("A checkout session needs an id starting with cs_.", "id");
    this.checkoutSessions.set(session.id, { ...session, object: "checkout.session" });
    return this.checkoutSessions.get(session.id)!;
  }

  /** GET /v1/checkout/sessions: newest first, filtered by payment_intent. */
  listCheckoutSessions(query: URLSearchParams): LocalList<LocalCheckoutSession> {
    const intent = query.get("payment_intent");
    const all = [...this.checkoutSessions.values()].filter((s) => !intent || s.payment_intent === intent);
    return list("/v1/checkout/sessions", all.reverse(), query);
  }

  paymentIntent(id: string, expand: string[]): LocalPaymentIntent {
    const intent = this.paymentIntents.get(id);
    if (!intent) throw invalid(`No such payment_intent: '${id}'`, "id", "resource_missing", 404);
    if (expand.includes("latest_charge") && typeof intent.latest_charge === "string") {
      return { ...intent, latest_charge: this.charges.get(intent.latest_charge)! };
    }
    return intent;
  }

  charge(id: string, expand: string[] = []): LocalCharge | (LocalCharge & { refunds: LocalList<LocalRefund> }) {
    const charge = this.charges.get(id);
    if (!charge) throw invalid(`No such charge: '${id}'`, "id", "resource_missing", 404);
    // Like API versions since 2022-11-15: a charge lists its refunds only when expanded.
    if (expand.includes("refunds")) return { ...charge, refunds: this.listRefunds(new URLSearchParams({ charge: id, limit: "100" })) };
    return charge;
  }
}

export interface LocalList<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  url: string;
}

/** One page of a Stripe list: `limit` (1..100, default 10), `starting_after` an id on the list. */
function list<T extends { id: string }>(url: string, all: T[], query: URLSearchParams): LocalList<T> {
  const limitText = query.get("limit");
  const limit = limitText === null ? 10 : Number(limitText);
  if (!/^\d+$/.test(limitText ?? "10") || limit < 1 || limit > 100) {
    throw invalid("Invalid integer: limit must be between 1 and 100", "limit", "parameter_invalid_integer");
  }
  let start = 0;
  const after = query.get("starting_after");
  if (after) {
    const index = all.findIndex((item) => item.id === after);
    if (index < 0) throw invalid(`No such object: '${after}'`, "starting_after", "resource_missing");
    start = index + 1;
  }
  const data = all.slice(start, start + limit);
  return { object: "list", data, has_more: start + limit < all.length, url };
}

/** Answers one request the way the Stripe API would. */
export async function handle(state: StripeLocalState, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  const send = (status: number, body: unknown) => {
    response.writeHead(status, { "Content-Type": "application/json", "Request-Id": `req_${localId()}` });
    response.end(JSON.stringify(body, null, 2));
  };
  try {
    const key = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    if (!key) {
      throw invalid(
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        undefined,
        undefined,
        401,
      );
    }
    if (!/^(sk|rk)_(test|live)_\w+$/.test(key)) throw invalid(`Invalid API Key provided: ${key.slice(0, 8)}****`, undefined, undefined, 401);

    const rawBody = await readBody(request);
    const body = new URLSearchParams(request.headers["content-type"]?.includes("json") ? "" : rawBody);
    // expand[]=x (curl, the Worker) or expand[0]=x (the stripe SDK).
    const expand = [...url.searchParams, ...body].filter(([key]) => /^expand\[\d*\]$/.test(key)).map(([, value]) => value);
    const path = url.pathname.replace(/\/+$/, "");
    let match: RegExpExecArray | null;
    if (request.method === "POST" && path === "/v1/payment_intents") {
      return send(200, state.createPaymentIntent(body));
    }
    if (request.method === "GET" && (match = /^\/v1\/payment_intents\/([^/]+)$/.exec(path))) {
      return send(200, state.paymentIntent(decodeURIComponent(match[1]!), expand));
    }
    if (request.method === "GET" && (match = /^\/v1\/charges\/([^/]+)$/.exec(path))) {
      return send(200, state.charge(decodeURIComponent(match[1]!), expand));
    }
    if (request.method === "POST" && path === "/v1/refunds") return send(200, state.createRefund(body));
    if (request.method === "GET" && path === "/v1/refunds") return send(200, state.listRefunds(url.searchParams));
    if (request.method === "GET" && (match = /^\/v1\/refunds\/([^/]+)$/.exec(path))) {
      return send(200, state.refund(decodeURIComponent(match[1]!)));
    }
    if (request.method === "GET" && path === "/v1/disputes") return send(200, state.listDisputes(url.searchParams));
    if ((match = /^\/v1\/disputes\/([^/]+)(\/close)?$/.exec(path))) {
      const id = decodeURIComponent(match[1]!);
      if (request.method === "GET" && !match[2]) return send(200, state.dispute(id));
      if (request.method === "POST" && match[2]) return send(200, state.closeDispute(id));
      if (request.method === "POST") return send(200, state.updateDispute(id, body));
    }
    if (request.method === "GET" && path === "/v1/checkout/sessions") return send(200, state.listCheckoutSessions(url.searchParams));
    if (request.method === "POST" && path === "/local/checkout_sessions") {
      let session: LocalCheckoutSession;
      try {
        session = JSON.parse(rawBody);
      } catch {
        throw invalid("The body must be a JSON Checkout Session.");
      }
      return send(200, state.recordCheckoutSession(session));
    }
    throw invalid(`Unrecognized request URL (${request.method}: ${url.pathname}).`, undefined, undefined, 404);
  } catch (error) {
    if (error instanceof StripeApiError) return send(error.status, error.body);
    send(500, { error: { type: "api_error", message: String(error) } });
  }
}

export interface StripeLocal {
  url: string;
  port: number;
  state: StripeLocalState;
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1 (`port` 0: any free port). */
export async function startStripeLocal({ port = 0 }: { port?: number } = {}): Promise<StripeLocal> {
  const state = new StripeLocalState();
  const server: Server = createServer((request, response) => void handle(state, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (data += chunk));
    request.on("end", () => resolve(data));
    request.on("error", reject);
  });
}

function localId(): string {
  return randomBytes(12).toString("base64url").replace(/[-_]/g, "x");
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

// Standalone: `node scripts/stripe-local.ts [--port N]` (Node 22 strips the types).
if (import.meta.url === `file://${process.argv[1]}`) {
  const flag = process.argv.indexOf("--port");
  const port = Number(flag > 0 ? process.argv[flag + 1] : (process.env.PORT ?? 12111));
  const local = await startStripeLocal({ port });
  console.log(`Stripe stand-in listening on ${local.url} (set STRIPE_API_BASE=${local.url})`);
}
