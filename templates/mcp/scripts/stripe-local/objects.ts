// The Stripe stand-in's objects (scripts/stripe-local.ts): their shapes, typed against the
// `stripe` SDK's own types (the fields the stand-in fills in), its test payment methods,
// Stripe's error format `{ error: { type, code, message, param } }`, and list pages.

import { createHash, randomBytes } from "node:crypto";
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
  /** Preview API: the agent's Shared Payment Token that paid it (./shared-payment.ts). */
  shared_payment_granted_token?: string;
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
  error: Pick<Stripe.StripeRawError, "type" | "code" | "message" | "param"> & { decline_code?: string; doc_url?: string };
}

export interface TestCard {
  brand: string;
  last4: string;
  funding: string;
  declined?: boolean;
  /** Stripe test mode: the charge succeeds and a dispute (or an inquiry) opens on it. */
  dispute?: "fraudulent" | "inquiry";
  /** Local only: a card no other payment used (a fingerprint of its own each time). */
  unique?: boolean;
}

export const TEST_CARDS: Record<string, TestCard> = {
  pm_card_visa: { brand: "visa", last4: "4242", funding: "credit" },
  pm_card_visa_debit: { brand: "visa", last4: "5556", funding: "debit" },
  pm_card_mastercard: { brand: "mastercard", last4: "4444", funding: "credit" },
  pm_card_amex: { brand: "amex", last4: "8431", funding: "credit" },
  pm_card_discover: { brand: "discover", last4: "1117", funding: "credit" },
  pm_card_chargeDeclined: { brand: "visa", last4: "0002", funding: "credit", declined: true },
  pm_card_createDispute: { brand: "visa", last4: "0259", funding: "credit", dispute: "fraudulent" },
  pm_card_createDisputeInquiry: { brand: "visa", last4: "2684", funding: "credit", dispute: "inquiry" },
  pm_card_new: { brand: "visa", last4: "4242", funding: "credit", unique: true },
  // Stripe test mode: refunds of this card start as succeeded and fail later (here: when
  // POST /local/refunds/:id/fail says so).
  pm_card_refundFail: { brand: "visa", last4: "5126", funding: "credit" },
};
export const LINK_METHOD = "pm_link";

export class StripeApiError extends Error {
  readonly status: number;
  readonly body: StripeErrorBody;
  constructor(status: number, body: StripeErrorBody) {
    super(body.error.message);
    this.status = status;
    this.body = body;
  }
}

export const invalid = (message: string, param?: string, code?: string, status = 400) =>
  new StripeApiError(status, { error: { type: "invalid_request_error", message, ...(param ? { param } : {}), ...(code ? { code } : {}) } });

/** Stable per card (like Stripe: one fingerprint per card number per account). */
export function fingerprintOf(paymentMethod: string): string {
  return createHash("sha256").update(`stripe-local:${paymentMethod}`).digest("base64url").replace(/[-_]/g, "").slice(0, 16);
}


export interface LocalList<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  url: string;
}

/**
 * One page of a Stripe list, newest first: `limit` (1..100, default 10), then `starting_after`
 * (the page after that id) or `ending_before` (the page before it).
 */
export function list<T extends { id: string }>(url: string, all: T[], query: URLSearchParams): LocalList<T> {
  const limitText = query.get("limit");
  const limit = limitText === null ? 10 : Number(limitText);
  if (!/^\d+$/.test(limitText ?? "10") || limit < 1 || limit > 100) {
    throw invalid("Invalid integer: limit must be between 1 and 100", "limit", "parameter_invalid_integer");
  }
  const position = (param: "starting_after" | "ending_before", id: string) => {
    const index = all.findIndex((item) => item.id === id);
    if (index < 0) throw invalid(`No such object: '${id}'`, param, "resource_missing", 404);
    return index;
  };
  const after = query.get("starting_after");
  const before = query.get("ending_before");
  let items = all;
  let start = 0;
  if (after) start = position("starting_after", after) + 1;
  else if (before) {
    const index = position("ending_before", before);
    items = all.slice(0, index);
    start = Math.max(0, index - limit);
  }
  return { object: "list", data: items.slice(start, start + limit), has_more: start + limit < items.length, url };
}

/** A random id part, like the tail of Stripe's ids. */
export function localId(): string {
  return randomBytes(12).toString("base64url").replace(/[-_]/g, "x");
}

export function now(): number {
  return Math.floor(Date.now() / 1000);
}
