// The Stripe stand-in's memory: PaymentIntents and their charges, refunds, disputes and
// completed checkout sessions, changed as Stripe's test mode changes them (see
// scripts/stripe-local.ts for what it answers).

import {
  fingerprintOf,
  invalid,
  LINK_METHOD,
  list,
  localId,
  now,
  StripeApiError,
  TEST_CARDS,
  type LocalCharge,
  type LocalCheckoutSession,
  type LocalDispute,
  type LocalList,
  type LocalPaymentIntent,
  type LocalRefund,
} from "./objects.ts";

export class StripeLocalState {
  readonly paymentIntents = new Map<string, LocalPaymentIntent>();
  readonly charges = new Map<string, LocalCharge>();
  readonly refunds = new Map<string, LocalRefund>();
  readonly disputes = new Map<string, LocalDispute>();
  readonly checkoutSessions = new Map<string, LocalCheckoutSession>();

  createPaymentIntent(params: URLSearchParams, extra: { shared_payment_granted_token?: string } = {}): LocalPaymentIntent {
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
      ...extra,
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
            card: { brand: card.brand, country: "US", exp_month: 12, exp_year: new Date().getFullYear() + 3, fingerprint: fingerprintOf(card.unique ? `${method}:${localId()}` : method), funding: card.funding, last4: card.last4 },
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
    return listOfPayment("/v1/refunds", this.refunds, query);
  }

  dispute(id: string): LocalDispute {
    const dispute = this.disputes.get(id);
    if (!dispute) throw invalid(`No such dispute: '${id}'`, "dispute", "resource_missing", 404);
    return dispute;
  }

  listDisputes(query: URLSearchParams): LocalList<LocalDispute> {
    return listOfPayment("/v1/disputes", this.disputes, query);
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

  /** GET /v1/checkout/sessions/:id, with `payment_intent` (and `payment_intent.latest_charge`) expandable. */
  checkoutSession(id: string, expand: string[], legacy = false): LocalCheckoutSession {
    const session = this.checkoutSessions.get(id);
    if (!session) throw invalid(`No such checkout.session: '${id}'`, "session", "resource_missing", 404);
    const intent = typeof session.payment_intent === "string" ? session.payment_intent : null;
    if (!intent || !expand.some((path) => path === "payment_intent" || path.startsWith("payment_intent."))) return session;
    const nested = expand.filter((path) => path.startsWith("payment_intent.")).map((path) => path.slice("payment_intent.".length));
    return { ...session, payment_intent: this.paymentIntent(intent, nested, legacy) as never };
  }

  /** Local only: a refund of pm_card_refundFail fails, as Stripe's test card makes it fail "some time later". */
  failRefund(id: string): LocalRefund {
    const refund = this.refund(id);
    const charge = this.charges.get(String(refund.charge))!;
    if (charge.payment_method !== "pm_card_refundFail") throw invalid(`Refund ${id} is not of pm_card_refundFail and cannot fail.`, "refund");
    if (refund.status === "failed") return refund;
    refund.status = "failed";
    charge.amount_refunded -= refund.amount;
    charge.refunded = false;
    return refund;
  }

  /** GET /v1/checkout/sessions: newest first, filtered by payment_intent. */
  listCheckoutSessions(query: URLSearchParams): LocalList<LocalCheckoutSession> {
    const intent = query.get("payment_intent");
    const all = [...this.checkoutSessions.values()].filter((s) => !intent || s.payment_intent === intent);
    return list("/v1/checkout/sessions", all.reverse(), query);
  }

  /**
   * GET /v1/payment_intents/:id. `legacy`: answered for an API version before 2022-11-15,
   * which had `charges` (a list) and no `latest_charge` to read or expand.
   */
  paymentIntent(id: string, expand: string[], legacy = false): LocalPaymentIntent | Omit<LocalPaymentIntent, "latest_charge"> {
    const intent = this.paymentIntents.get(id);
    if (!intent) throw invalid(`No such payment_intent: '${id}'`, "id", "resource_missing", 404);
    if (legacy) {
      if (expand.includes("latest_charge")) throw invalid("This property cannot be expanded (latest_charge).", "expand");
      const { latest_charge, ...old } = intent;
      const charges = typeof latest_charge === "string" ? [this.charges.get(latest_charge)!] : [];
      return { ...old, charges: list(`/v1/charges?payment_intent=${id}`, charges, new URLSearchParams()) } as never;
    }
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

/** A Stripe list of refunds or disputes, newest first, filtered by `charge` / `payment_intent` as Stripe filters them. */
function listOfPayment<T extends { id: string; charge: unknown; payment_intent: unknown }>(
  url: string,
  items: Map<string, T>,
  query: URLSearchParams,
): LocalList<T> {
  const charge = query.get("charge");
  const intent = query.get("payment_intent");
  const matching = [...items.values()].filter((item) => (!charge || item.charge === charge) && (!intent || item.payment_intent === intent));
  return list(url, matching.reverse(), query);
}
