// Shared Payment Tokens (SPTs) in the Stripe stand-in: what an agent pays an MPP `stripe`
// challenge with. Stripe's test helper grants one (`POST /v1/test_helpers/shared_payment/
// granted_tokens`), and the seller spends it by creating and confirming a PaymentIntent with
// `shared_payment_granted_token`. Both exist only in Stripe's preview API: a request without a
// preview `Stripe-Version` is refused as Stripe refuses unknown parameters. A token pays once,
// before its `usage_limits.expires_at`, at most `usage_limits.max_amount` in
// `usage_limits.currency`. The `stripe` SDK has no types for these objects yet, so the shape is
// declared here, from Stripe's API reference for the preview.

import { invalid, localId, now, TEST_CARDS } from "./objects.ts";
import { apiError } from "./form.ts";

export interface LocalGrantedToken {
  id: string;
  object: "shared_payment.granted_token";
  created: number;
  livemode: boolean;
  payment_method: string;
  usage_limits: { currency: string; max_amount: number; expires_at: number };
  seller_details: { network_id: string | null };
  metadata: Record<string, string>;
  deactivated_at: number | null;
  deactivated_reason: "consumed" | "expired" | null;
}

/** `Stripe-Version` values that carry the preview API (`2026-07-29.preview`). */
export const isPreviewVersion = (version: string | undefined) => !!version && /\.preview$/.test(version);

export class SharedPaymentTokens {
  readonly tokens = new Map<string, LocalGrantedToken>();

  /** POST /v1/test_helpers/shared_payment/granted_tokens */
  grant(params: URLSearchParams, livemode: boolean, version: string | undefined): LocalGrantedToken {
    if (!isPreviewVersion(version)) throw unknownEndpoint("/v1/test_helpers/shared_payment/granted_tokens");
    if (livemode) throw apiError(400, "invalid_request_error", "Test helpers can only be used with a test mode API key.");
    const paymentMethod = required(params, "payment_method");
    if (!(paymentMethod in TEST_CARDS)) throw invalid(`No such PaymentMethod: '${paymentMethod}'`, "payment_method", "resource_missing");
    const currency = required(params, "usage_limits[currency]");
    if (!/^[a-zA-Z]{3}$/.test(currency)) throw invalid(`Invalid currency: ${currency.toLowerCase()}.`, "usage_limits[currency]", "parameter_invalid_string");
    const maxAmount = positiveInteger(params, "usage_limits[max_amount]");
    const expiresAt = positiveInteger(params, "usage_limits[expires_at]");
    if (expiresAt <= now()) throw invalid("usage_limits[expires_at] must be in the future.", "usage_limits[expires_at]");
    const metadata: Record<string, string> = {};
    for (const [key, value] of params) {
      const match = /^metadata\[(.+)\]$/.exec(key);
      if (match) metadata[match[1]!] = value;
    }
    const token: LocalGrantedToken = {
      id: `spt_${localId()}`,
      object: "shared_payment.granted_token",
      created: now(),
      livemode,
      payment_method: paymentMethod,
      usage_limits: { currency: currency.toLowerCase(), max_amount: maxAmount, expires_at: expiresAt },
      seller_details: { network_id: params.get("seller_details[network_id]") },
      metadata,
      deactivated_at: null,
      deactivated_reason: null,
    };
    this.tokens.set(token.id, token);
    return token;
  }

  /** GET /v1/shared_payment/granted_tokens/:id */
  retrieve(id: string, livemode: boolean, version: string | undefined): LocalGrantedToken {
    if (!isPreviewVersion(version)) throw unknownEndpoint(`/v1/shared_payment/granted_tokens/${id}`, "GET");
    const token = this.tokens.get(id);
    if (!token || token.livemode !== livemode) throw invalid(`No such shared_payment_granted_token: '${id}'`, "id", "resource_missing", 404);
    return token;
  }

  /**
   * The payment method a PaymentIntent may be confirmed with by this token, for this amount and
   * currency, or Stripe's error: unknown, spent, expired, over its limit, another currency.
   */
  paymentMethodFor(params: URLSearchParams, livemode: boolean, version: string | undefined): string {
    const id = params.get("shared_payment_granted_token")!;
    if (!isPreviewVersion(version)) {
      throw invalid("Received unknown parameter: shared_payment_granted_token", "shared_payment_granted_token", "parameter_unknown");
    }
    if (params.get("payment_method") !== null) {
      throw invalid("You cannot provide both payment_method and shared_payment_granted_token.", "payment_method");
    }
    const token = this.tokens.get(id);
    if (!token || token.livemode !== livemode) throw invalid(`No such shared_payment_granted_token: '${id}'`, "shared_payment_granted_token", "resource_missing");
    if (token.deactivated_reason === "consumed") {
      throw invalid(`The shared payment token ${id} has already been used.`, "shared_payment_granted_token", "shared_payment_granted_token_used");
    }
    if (token.usage_limits.expires_at <= now()) {
      token.deactivated_at ??= now();
      token.deactivated_reason = "expired";
      throw invalid(`The shared payment token ${id} has expired.`, "shared_payment_granted_token", "shared_payment_granted_token_expired");
    }
    const currency = (params.get("currency") ?? "").toLowerCase();
    if (currency !== token.usage_limits.currency) {
      throw invalid(
        `The currency ${currency} does not match the shared payment token's usage limit currency ${token.usage_limits.currency}.`,
        "currency",
        "shared_payment_granted_token_usage_limits_exceeded",
      );
    }
    const amount = Number(params.get("amount"));
    if (amount > token.usage_limits.max_amount) {
      throw invalid(
        `The amount ${amount} exceeds the shared payment token's usage limit of ${token.usage_limits.max_amount}.`,
        "amount",
        "shared_payment_granted_token_usage_limits_exceeded",
      );
    }
    return token.payment_method;
  }

  /** The token paid a PaymentIntent: it pays nothing else. */
  consume(id: string): void {
    const token = this.tokens.get(id);
    if (!token) return;
    token.deactivated_at = now();
    token.deactivated_reason = "consumed";
  }
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null || value === "") throw invalid(`Missing required param: ${name}.`, name, "parameter_missing");
  return value;
}

function positiveInteger(params: URLSearchParams, name: string): number {
  const text = required(params, name);
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw invalid("This value must be greater than or equal to 1.", name, "parameter_invalid_integer");
  }
  return value;
}

function unknownEndpoint(path: string, method = "POST") {
  return apiError(404, "invalid_request_error", `Unrecognized request URL (${method}: ${path}). This endpoint needs a preview Stripe-Version.`);
}
