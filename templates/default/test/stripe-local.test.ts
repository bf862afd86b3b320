// The Stripe stand-in (scripts/stripe-local.ts) answers the real `stripe` SDK as Stripe does
// for the calls the refund and dispute tests rely on: refunds, their lists and errors, charges
// with refunds expanded, disputes decided by test evidence.
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { testEnv } from "./helpers";

const base = new URL(testEnv.STRIPE_API_BASE!);
const stripe = new Stripe(testEnv.STRIPE_SECRET!, {
  host: base.hostname,
  port: Number(base.port),
  protocol: "http",
  maxNetworkRetries: 0,
  httpClient: Stripe.createFetchHttpClient(),
});

describe("stripe-local through the stripe SDK", () => {
  it("refunds: partial, the rest, the list (paginated), Stripe's errors, the charge's totals", async () => {
    const intent = await stripe.paymentIntents.create({ amount: 1000, currency: "usd", payment_method: "pm_card_visa", confirm: true });
    const charge = String(intent.latest_charge);
    const first = await stripe.refunds.create({ charge, amount: 300 });
    const rest = await stripe.refunds.create({ payment_intent: intent.id });
    expect(first).toMatchObject({ object: "refund", amount: 300, status: "succeeded", charge, payment_intent: intent.id });
    expect(rest.amount).toBe(700);

    const page = await stripe.refunds.list({ charge, limit: 1 });
    expect(page).toMatchObject({ object: "list", has_more: true });
    expect(page.data[0]!.id).toBe(rest.id); // newest first
    const all: string[] = [];
    for await (const refund of stripe.refunds.list({ charge, limit: 1 })) all.push(refund.id);
    expect(all).toEqual([rest.id, first.id]);

    await expect(stripe.refunds.create({ charge })).rejects.toMatchObject({ type: "StripeInvalidRequestError", code: "charge_already_refunded" });
    await expect(stripe.refunds.create({})).rejects.toMatchObject({ type: "StripeInvalidRequestError" });
    await expect(stripe.refunds.create({ charge: "ch_missing" })).rejects.toMatchObject({ code: "resource_missing", param: "charge" });

    const refunded = await stripe.charges.retrieve(charge, { expand: ["refunds"] });
    expect(refunded).toMatchObject({ amount_refunded: 1000, refunded: true });
    expect(refunded.refunds!.data.map((r) => r.id)).toEqual([rest.id, first.id]);
    expect((await stripe.charges.retrieve(charge)).refunds).toBeUndefined();
  });

  it("test cards keep one fingerprint each; the local-only pm_card_new is a new card every time", async () => {
    const fingerprint = async (payment_method: string) => {
      const intent = await stripe.paymentIntents.create({ amount: 100, currency: "usd", payment_method, confirm: true });
      return (await stripe.charges.retrieve(String(intent.latest_charge))).payment_method_details?.card?.fingerprint;
    };
    const [visa1, visa2, new1, new2] = [await fingerprint("pm_card_visa"), await fingerprint("pm_card_visa"), await fingerprint("pm_card_new"), await fingerprint("pm_card_new")];
    expect(visa1).toBe(visa2);
    expect(new Set([visa1, new1, new2]).size).toBe(3);
    expect(new1).toMatch(/^[A-Za-z0-9]{16}$/);
  });

  it("disputes: the dispute test card opens one; winning evidence wins it; a closed dispute cannot close again", async () => {
    const intent = await stripe.paymentIntents.create({ amount: 500, currency: "usd", payment_method: "pm_card_createDispute", confirm: true });
    const [dispute] = (await stripe.disputes.list({ payment_intent: intent.id })).data;
    expect(dispute).toMatchObject({ object: "dispute", status: "needs_response", amount: 500, charge: intent.latest_charge });
    expect((await stripe.disputes.update(dispute!.id, { evidence: { uncategorized_text: "winning_evidence" } })).status).toBe("won");
    await expect(stripe.disputes.close(dispute!.id)).rejects.toMatchObject({ type: "StripeInvalidRequestError" });

    const other = await stripe.paymentIntents.create({ amount: 500, currency: "usd", payment_method: "pm_card_createDispute", confirm: true });
    const [second] = (await stripe.disputes.list({ charge: String(other.latest_charge) })).data;
    expect((await stripe.disputes.close(second!.id)).status).toBe("lost");
  });

  it("payment links and checkout sessions: retrieved with their line items and expansions; refunds of the refund-failure card fail later", async () => {
    const link = await stripe.paymentLinks.retrieve("plink_test_stripeflare", { expand: ["line_items"] });
    expect(link).toMatchObject({ object: "payment_link", url: "https://buy.stripe.com/test_stripeflare", active: true });
    expect(link.line_items!.data[0]!.price).toMatchObject({ currency: "usd", unit_amount: 500 });
    expect((await stripe.paymentLinks.retrieve("plink_test_stripeflare")).line_items).toBeUndefined();
    await expect(stripe.paymentLinks.retrieve("plink_missing")).rejects.toMatchObject({ code: "resource_missing", statusCode: 404 });

    const intent = await stripe.paymentIntents.create({ amount: 500, currency: "usd", payment_method: "pm_card_refundFail", confirm: true });
    const session = { id: `cs_test_${crypto.randomUUID().replace(/-/g, "")}`, object: "checkout.session", payment_intent: intent.id, payment_link: link.id, payment_status: "paid" };
    await fetch(`${base.origin}/local/checkout_sessions`, { method: "POST", headers: { Authorization: `Bearer ${testEnv.STRIPE_SECRET}` }, body: JSON.stringify(session) });
    const read = await stripe.checkout.sessions.retrieve(session.id, { expand: ["payment_intent.latest_charge"] });
    const expanded = read.payment_intent as Stripe.PaymentIntent;
    expect((expanded.latest_charge as Stripe.Charge).payment_method_details?.card?.last4).toBe("5126");
    expect((await stripe.checkout.sessions.retrieve(session.id)).payment_intent).toBe(intent.id);
    await expect(stripe.checkout.sessions.retrieve("cs_test_missing")).rejects.toMatchObject({ code: "resource_missing" });

    const refund = await stripe.refunds.create({ payment_intent: intent.id });
    expect(refund.status).toBe("succeeded");
    await fetch(`${base.origin}/local/refunds/${refund.id}/fail`, { method: "POST", headers: { Authorization: `Bearer ${testEnv.STRIPE_SECRET}` } });
    expect((await stripe.refunds.retrieve(refund.id)).status).toBe("failed");
  });
});
