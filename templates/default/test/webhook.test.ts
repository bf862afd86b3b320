// POST /stripe-webhook: signatures, exactly-once credit, and the events it must ignore.
import { describe, expect, it } from "vitest";
import { books, checkoutEvent, deliver, fixture, ledger, me, newVisitor, pay, sqlIn, database, userRow } from "./helpers";

describe("signature", () => {
  it("refuses unsigned, badly signed, stale and tampered events with 400 and writes nothing", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const event = await checkoutEvent({ reference: visitor.reference, paymentMethod: "pm_card_visa" });
    const body = JSON.stringify(event);

    const attempts = [
      await deliver(worker, body, { header: null }),
      await deliver(worker, body, { header: "garbage" }),
      await deliver(worker, body, { header: "t=abc,v1=" }),
      await deliver(worker, body, { secret: "whsec_someone_else" }),
      await deliver(worker, body, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
    ];
    for (const response of attempts) {
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/^Webhook signature verification failed: /);
    }
    expect(await userRow(worker.version, visitor.account)).toBeUndefined();
    expect(await sqlIn(database(worker.version, "index"), "SELECT * FROM claims")).toEqual([]);
  });

  it("refuses a body that differs from the signed one", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const event = await checkoutEvent({ reference: visitor.reference });
    const signed = JSON.stringify(event);
    const { default: Stripe } = await import("stripe");
    const header = await new Stripe("sk_test_x").webhooks.generateTestHeaderStringAsync({
      payload: signed,
      secret: "whsec_test_stripeflare_local",
    });
    const response = await deliver(worker, signed.replace('"amount_total":500', '"amount_total":50000'), { header });
    expect(response.status).toBe(400);
    expect(await userRow(worker.version, visitor.account)).toBeUndefined();
  });

  it("accepts an event signed within the 300 s tolerance", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const event = await checkoutEvent({ reference: visitor.reference });
    const response = await deliver(worker, event, { timestamp: Math.floor(Date.now() / 1000) - 240 });
    expect(response.status).toBe(200);
    expect((await userRow(worker.version, visitor.account))?.balance).toBe(500);
  });
});

describe("credit", () => {
  it("credits amount_total, records email and name, and creates the user row on first payment", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    expect((await me(worker, visitor)).body).toMatchObject({ balance: 0, registered: false });

    const { response, sessionId } = await pay(worker, {
      reference: visitor.reference,
      amount: 700,
      paymentMethod: "pm_card_mastercard",
      email: "ada@example.com",
      name: "Ada",
    });
    expect(response.status).toBe(200);

    const { body } = await me(worker, visitor);
    expect(body).toMatchObject({ balance: 700, name: "Ada", email: "ada@example.com", registered: true });
    expect(body.card_fingerprint).toMatch(/^\w{16}$/);
    expect(await ledger(worker.version, visitor.account)).toMatchObject([
      { kind: "credit", amount: 700, balance_after: 700, reference: sessionId, currency: "usd" },
    ]);
  });

  it("credits each checkout session once across 20 concurrent deliveries and a redelivery later", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const event = await checkoutEvent({ reference: visitor.reference, amount: 500, paymentMethod: "pm_card_visa" });

    const responses = await Promise.all(Array.from({ length: 20 }, () => deliver(worker, event)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ credited: boolean }>));
    expect(bodies.filter((b) => b.credited)).toHaveLength(1);

    // "Days later": the same event again, then the same session in another event
    // (async_payment_succeeded), with a fresh signature each time.
    expect((await deliver(worker, event)).status).toBe(200);
    const again = { ...event, id: "evt_redelivered", type: "checkout.session.async_payment_succeeded" };
    expect((await deliver(worker, again)).status).toBe(200);

    expect(await books(worker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 1 });
    // A second, different session for the same visitor does credit.
    await pay(worker, { reference: visitor.reference, amount: 300, paymentMethod: "pm_card_visa" });
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 800, ledger: 800, rows: 2 });
  });

  it("is idempotent when a crash left the claim written but not the credit", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const event = await checkoutEvent({ reference: visitor.reference, amount: 250 });
    const session = event.data.object as { id: string };
    // Step 4 happened (the index claimed the session for this account), step 5 did not.
    const { databases } = await import("../src/stripeflare/databases");
    const dbs = databases(undefined, worker.version);
    await database(worker.version, "index").claim(dbs.index, {
      reference: session.id,
      visitor: visitor.account,
      amount: 250,
      cardFingerprint: null,
      verifiedEmail: null,
      paidAt: null,
    });
    expect(await userRow(worker.version, visitor.account)).toBeUndefined();

    // Stripe's retry completes it, once.
    await deliver(worker, event);
    await deliver(worker, event);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 250, ledger: 250, rows: 1 });
    // The token was registered by the credit that created the account, so the visitor is in.
    expect((await me(worker, visitor)).body).toMatchObject({ balance: 250, registered: true });
  });
});

describe("events to ignore (2xx, nothing written)", () => {
  it("ignores a client_reference_id sealed with another DB_SECRET, whatever the card", async () => {
    const worker = fixture();
    const otherApp = fixture({ version: worker.version }, { DB_SECRET: "another-apps-secret-0123456789abcdefghij" });
    const theirs = await newVisitor(otherApp);
    const ours = await newVisitor(worker);
    // Make the card known here first, so a login by payment would be possible.
    await pay(worker, { reference: ours.reference, paymentMethod: "pm_card_amex" });

    const { response } = await pay(worker, { reference: theirs.reference, paymentMethod: "pm_card_amex" });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("not for this Worker");
    expect(await userRow(worker.version, theirs.account)).toBeUndefined();
    expect(await books(worker.version, ours.account)).toEqual({ balance: 500, ledger: 500, rows: 1 });
    expect(await sqlIn(database(worker.version, "index"), "SELECT count(*) AS n FROM claims")).toEqual([{ n: 1 }]);
  });

  it.each([
    ["a forged reference", "AQ" + "A".repeat(58)],
    ["a garbled reference", "not base64 at all!"],
    ["an over-long reference", "A".repeat(300)],
    ["no reference", null],
  ])("ignores %s", async (_label, reference) => {
    const worker = fixture();
    const { response } = await pay(worker, { reference, paymentMethod: "pm_card_visa" });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/Ignored: .*not for this Worker/);
    expect(await sqlIn(database(worker.version, "index"), "SELECT * FROM claims")).toEqual([]);
  });

  it("ignores unpaid sessions, zero amounts and other event types", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const unpaid = await pay(worker, { reference: visitor.reference, session: { payment_status: "unpaid" } });
    expect(unpaid.response.status).toBe(200);
    expect(await unpaid.response.text()).toContain("not paid");
    const free = await pay(worker, { reference: visitor.reference, amount: 0, session: { payment_status: "no_payment_required" } });
    expect(free.response.status).toBe(200);
    const other = await pay(worker, { reference: visitor.reference, type: "customer.created" });
    expect(await other.response.text()).toContain("Ignored event type customer.created");
    expect(await userRow(worker.version, visitor.account)).toBeUndefined();
  });
});

describe("amounts Stripe cannot charge (2xx ignored, nothing written)", () => {
  it("ignores amount_total above 99,999,999, negative, fractional or past 2^53; credits the largest real one exactly", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    for (const amount of [100_000_000, 2 ** 53 - 1, 2 ** 53 + 2, 1e20, -500, 12.5]) {
      const { response } = await pay(worker, { reference: visitor.reference, amount, session: { amount_subtotal: amount } });
      expect(response.status, String(amount)).toBe(200);
      expect(await response.text(), String(amount)).toMatch(/^Ignored: .* no (positive )?amount (Stripe can charge|for the wallet)/);
    }
    expect(await userRow(worker.version, visitor.account)).toBeUndefined();
    expect(await sqlIn(database(worker.version, "index"), "SELECT * FROM claims")).toEqual([]);

    const largest = await pay(worker, { reference: visitor.reference, amount: 99_999_999 });
    expect(await largest.response.json()).toMatchObject({ credited: true });
    const again = await pay(worker, { reference: visitor.reference, amount: 99_999_999 });
    expect(again.response.status).toBe(200);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 199_999_998, ledger: 199_999_998 });
  });

  it("skips refunds and ignores disputes whose amount Stripe cannot produce", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const { event } = await pay(worker, { reference: visitor.reference, amount: 1_000, paymentMethod: "pm_card_visa" });
    const { chargeOfCheckout, stripeEvent } = await import("./helpers");
    const charge = await chargeOfCheckout(event);
    const refunded = stripeEvent("charge.refunded", {
      ...charge,
      refunds: { object: "list", has_more: false, data: [{ id: "re_huge", object: "refund", amount: 2 ** 60, charge: charge.id, status: "succeeded" }] },
    });
    expect((await deliver(worker, refunded)).status).toBe(200);
    const disputed = stripeEvent("charge.dispute.created", { id: "dp_huge", object: "dispute", charge: charge.id, amount: 100_000_000, status: "needs_response" });
    const response = await deliver(worker, disputed);
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^Ignored/);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 1_000, ledger: 1_000 });
    expect((await ledger(worker.version, visitor.account)).map((row) => row.kind)).toEqual(["credit"]);
  });
});

describe("signed events with fields of the wrong type (2xx, nothing written, never 500)", () => {
  it("ignores a non-string type, a payment_status object, and refund / dispute objects of the wrong shape", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const { stripeEvent } = await import("./helpers");
    const odd = [
      { id: { toString: 0 }, type: { toString: 0 }, data: {} },
      (await checkoutEvent({ reference: visitor.reference, session: { payment_status: { toString: [] } } })) as unknown,
      stripeEvent("charge.refunded", { id: { nested: true }, refunds: 5 }),
      stripeEvent("charge.refunded", { id: "ch_nope", refunds: { data: [null, 7, { id: 1 }], has_more: false } }),
      stripeEvent("charge.refund.updated", { id: "re_x", charge: ["ch_x"], amount: "100" }),
      stripeEvent("charge.dispute.created", { id: "dp_x", charge: { id: 5 }, amount: 100, status: { won: true } }),
      stripeEvent("charge.dispute.closed", { id: "dp_x", charge: "ch_x", amount: -1 }),
    ];
    for (const event of odd) {
      const response = await deliver(worker, event);
      expect(response.status, JSON.stringify(event)).toBe(200);
      expect(await response.text()).toMatch(/^Ignored/);
    }
    expect(await userRow(worker.version, visitor.account)).toBeUndefined();
    expect(await sqlIn(database(worker.version, "index"), "SELECT * FROM claims")).toEqual([]);
  });
});

describe("sessions with missing parts still credit the visitor", () => {
  it("handles payment_intent null, no customer_details, and a payment without card fingerprint", async () => {
    const worker = fixture();
    const a = await newVisitor(worker);
    const b = await newVisitor(worker);
    const c = await newVisitor(worker);
    const r1 = await pay(worker, { reference: a.reference, session: { payment_intent: null } });
    const r2 = await pay(worker, { reference: b.reference, paymentMethod: "pm_card_visa", session: { customer_details: null } });
    const r3 = await pay(worker, { reference: c.reference, paymentMethod: "pm_link", session: { customer_details: null } });
    for (const { response } of [r1, r2, r3]) expect(response.status).toBe(200);
    expect(await userRow(worker.version, a.account)).toMatchObject({ balance: 500, card_fingerprint: null });
    expect(await userRow(worker.version, b.account)).toMatchObject({ balance: 500, email: null, name: null });
    expect(await userRow(worker.version, c.account)).toMatchObject({ balance: 500, card_fingerprint: null, verified_email: null });
  });

  it("credits without card details when Stripe does not know the PaymentIntent", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const { response } = await pay(worker, { reference: visitor.reference, session: { payment_intent: "pi_does_not_exist" } });
    expect(response.status).toBe(200);
    expect(await userRow(worker.version, visitor.account)).toMatchObject({ balance: 500, card_fingerprint: null });
  });

  it("answers 503 (Stripe retries) when the Stripe API cannot be reached, and credits on the retry", async () => {
    const visitorWorker = fixture();
    const unreachable = fixture({ version: visitorWorker.version }, { STRIPE_API_BASE: "http://127.0.0.1:9" });
    const visitor = await newVisitor(visitorWorker);
    const event = await checkoutEvent({ reference: visitor.reference, paymentMethod: "pm_card_visa" });
    const down = await deliver(unreachable, event);
    expect(down.status).toBe(503);
    expect(await down.text()).not.toMatch(/at \w+ \(/); // no stack trace
    expect(await userRow(visitorWorker.version, visitor.account)).toBeUndefined();
    expect((await deliver(visitorWorker, event)).status).toBe(200);
    expect(await books(visitorWorker.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 1 });
  });
});
