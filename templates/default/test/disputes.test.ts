// charge.dispute.created holds the disputed amount; charge.dispute.closed releases it when the
// dispute is won and keeps it when lost. Each event applies once, in any order.
import { describe, expect, it } from "vitest";
import { books, deliver, disputeOfCheckout, fixture, ledger, me, newVisitor, pay, request, stripeApi, stripeEvent, type Worker } from "./helpers";

/** A visitor who paid with Stripe's dispute test card, spent 100, and whose dispute is open at Stripe. */
async function disputedVisitor(worker: Worker, amount = 500, paymentMethod = "pm_card_createDispute") {
  const visitor = await newVisitor(worker);
  const payment = await pay(worker, { reference: visitor.reference, amount, paymentMethod });
  expect((await worker(request("/price?value=100", visitor))).status).toBe(200);
  const dispute = await disputeOfCheckout(payment.event);
  return { ...visitor, dispute };
}

describe("disputes", () => {
  it("created then won: the hold is debited (balance negative, 402), then released", async () => {
    const worker = fixture();
    const visitor = await disputedVisitor(worker);
    expect(visitor.dispute).toMatchObject({ status: "needs_response", amount: 500 });

    const created = await deliver(worker, stripeEvent("charge.dispute.created", visitor.dispute));
    expect(created.status).toBe(200);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: -100, ledger: -100, rows: 3 });
    expect((await worker(request("/price?value=1", visitor))).status).toBe(402);

    const won = await stripeApi("POST", `/v1/disputes/${visitor.dispute.id}`, { "evidence[uncategorized_text]": "winning_evidence" });
    expect(won.status).toBe("won");
    expect((await deliver(worker, stripeEvent("charge.dispute.closed", won))).status).toBe(200);

    expect(await books(worker.version, visitor.account)).toEqual({ balance: 400, ledger: 400, rows: 4 });
    expect((await ledger(worker.version, visitor.account)).slice(2)).toMatchObject([
      { kind: "dispute", amount: -500, balance_after: -100, reference: visitor.dispute.id },
      { kind: "dispute_won", amount: 500, balance_after: 400, reference: visitor.dispute.id },
    ]);
    expect((await worker(request("/price?value=1", visitor))).status).toBe(200);
  });

  it("created then lost: the hold stays, with a line saying so", async () => {
    const worker = fixture();
    const visitor = await disputedVisitor(worker);
    await deliver(worker, stripeEvent("charge.dispute.created", visitor.dispute));
    const lost = await stripeApi("POST", `/v1/disputes/${visitor.dispute.id}/close`);
    expect(lost.status).toBe("lost");
    expect((await deliver(worker, stripeEvent("charge.dispute.closed", lost))).status).toBe(200);

    expect(await books(worker.version, visitor.account)).toEqual({ balance: -100, ledger: -100, rows: 4 });
    expect((await ledger(worker.version, visitor.account))[3]).toMatchObject({ kind: "dispute_lost", amount: 0, reference: visitor.dispute.id });
    expect((await me(worker, visitor)).body.balance).toBe(-100);
  });

  it("duplicate and concurrent dispute events apply once each", async () => {
    const worker = fixture();
    const visitor = await disputedVisitor(worker);
    const created = stripeEvent("charge.dispute.created", visitor.dispute);
    const createdResponses = await Promise.all(Array.from({ length: 10 }, () => deliver(worker, created)));
    expect(createdResponses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await books(worker.version, visitor.account)).toEqual({ balance: -100, ledger: -100, rows: 3 });

    const won = await stripeApi("POST", `/v1/disputes/${visitor.dispute.id}`, { "evidence[uncategorized_text]": "winning_evidence" });
    const closed = stripeEvent("charge.dispute.closed", won);
    await Promise.all([...Array.from({ length: 5 }, () => deliver(worker, closed)), deliver(worker, created)]);
    await deliver(worker, { ...created, id: "evt_created_again_later" });
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 400, ledger: 400, rows: 4 });
  });

  it("a close delivered before the creation holds first, so the order of deliveries does not matter", async () => {
    const worker = fixture();
    const visitor = await disputedVisitor(worker);
    const lost = await stripeApi("POST", `/v1/disputes/${visitor.dispute.id}/close`);
    await deliver(worker, stripeEvent("charge.dispute.closed", lost));
    await deliver(worker, stripeEvent("charge.dispute.created", visitor.dispute));
    expect(await books(worker.version, visitor.account)).toEqual({ balance: -100, ledger: -100, rows: 4 });
    expect((await ledger(worker.version, visitor.account)).map((row) => row.kind)).toEqual(["credit", "charge", "dispute", "dispute_lost"]);
  });

  it("an inquiry that closes without a chargeback releases its hold", async () => {
    const worker = fixture();
    const visitor = await disputedVisitor(worker, 500, "pm_card_createDisputeInquiry");
    expect(visitor.dispute.status).toBe("warning_needs_response");
    await deliver(worker, stripeEvent("charge.dispute.created", visitor.dispute));
    const closed = await stripeApi("POST", `/v1/disputes/${visitor.dispute.id}/close`);
    expect(closed.status).toBe("warning_closed");
    await deliver(worker, stripeEvent("charge.dispute.closed", closed));
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 400, ledger: 400, rows: 4 });
  });

  it("ignores disputes of charges this Worker never credited", async () => {
    const worker = fixture();
    const visitor = await disputedVisitor(worker);
    const intent = await stripeApi("POST", "/v1/payment_intents", { amount: "700", currency: "usd", payment_method: "pm_card_createDispute", confirm: "true" });
    const { data } = await stripeApi("GET", "/v1/disputes", { payment_intent: intent.id });
    const response = await deliver(worker, stripeEvent("charge.dispute.created", data[0]));
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^Ignored: charge ch_\w+ is not a payment this Worker credited/);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 400, ledger: 400, rows: 2 });
  });
});
