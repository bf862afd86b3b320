// A hostile internet (issue 9): each test performs one attack on the wallet and asserts that
// no money, account or token changes hands. The takeover and token scenarios (4, 5) are in
// login-by-payment.test.ts, /db CSRF (7) and the non-ASCII DB_SECRET (21) in db-api.test.ts,
// stale refunds (10) in refunds.test.ts, the example route (8) in app.test.ts.
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { STRIPE_API_VERSION } from "../src/stripeflare/stripe";
import { WEBHOOK_BODY_LIMIT } from "../src/stripeflare/webhook";
import { CUSTOM_MIGRATIONS } from "./fixtures/worker";
import {
  books,
  checkoutEvent,
  cookieToken,
  deliver,
  fixture,
  ledger,
  me,
  newVisitor,
  pay,
  payAndReturn,
  refundCheckout,
  request,
  returnFrom,
  stripeApi,


  type Worker,
} from "./helpers";

async function funded(worker: Worker, amount = 1000) {
  const visitor = await newVisitor(worker);
  await pay(worker, { reference: visitor.reference, amount });
  return visitor;
}

describe("money that is not ours does not credit", () => {
  // Scenario 1: every Payment Link of an account takes ?client_reference_id=.
  it("a session of another Payment Link (a cheaper one, another product's) credits nothing", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const other = await stripeApi("POST", "/local/payment_links", JSON.stringify({ url: "https://buy.stripe.com/test_other_product", currency: "usd", unit_amount: 100 }));
    for (const link of [other.id, "plink_unknown_to_stripe", null]) {
      const { response } = await pay(worker, { reference: visitor.reference, amount: 5000, session: { payment_link: link } });
      expect(response.status, String(link)).toBe(200);
      expect(await response.text(), String(link)).toMatch(/^Ignored: /);
    }
    expect(await books(worker.version, visitor.account)).toBeUndefined(); // no database: nothing was ever written
    // The honest one, on our link, does.
    expect(await (await pay(worker, { reference: visitor.reference, amount: 500 })).response.json()).toMatchObject({ credited: true });
  });

  it("a Worker whose STRIPE_PAYMENT_LINK is another link refuses sessions of ours, and takes its own", async () => {
    const link = await stripeApi("POST", "/local/payment_links", JSON.stringify({ url: "https://buy.stripe.com/test_hand_made", currency: "usd", unit_amount: 700 }));
    const worker = fixture({}, { STRIPE_PAYMENT_LINK: "https://buy.stripe.com/test_hand_made/" });
    const visitor = await newVisitor(worker);
    expect(await (await pay(worker, { reference: visitor.reference })).response.text()).toMatch(/not STRIPE_PAYMENT_LINK/);
    expect(await (await pay(worker, { reference: visitor.reference, amount: 700, session: { payment_link: link.id } })).response.json()).toMatchObject({ credited: true });
    expect((await me(worker, visitor)).body.balance).toBe(700);
  });

  // Scenario 2: IDR 8,000,000 minor units is about 5 US dollars.
  it("a session in another currency credits nothing at face value", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const { response } = await pay(worker, { reference: visitor.reference, amount: 8_000_000, session: { currency: "idr" } });
    expect(await response.text()).toMatch(/^Ignored: .* paid in "idr", not in the wallet's currency usd/);
    expect(await books(worker.version, visitor.account)).toBeUndefined();
  });

  it("Adaptive Pricing: credits what Stripe charged for our price in the wallet's currency", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const session = {
      currency: "idr",
      amount_subtotal: 8_000_000,
      amount_total: 8_000_000,
      currency_conversion: { source_currency: "usd", amount_subtotal: 500, amount_total: 500, fx_rate: "16000" },
    };
    expect(await (await pay(worker, { reference: visitor.reference, amount: 8_000_000, session })).response.json()).toMatchObject({ credited: true });
    expect(await ledger(worker.version, visitor.account)).toMatchObject([{ kind: "credit", amount: 500, currency: "usd" }]);
    // A conversion from a currency that is not the wallet's is refused too.
    const eur = { ...session, currency_conversion: { ...session.currency_conversion, source_currency: "eur" } };
    expect(await (await pay(worker, { reference: visitor.reference, amount: 8_000_000, session: eur })).response.text()).toMatch(/^Ignored/);
    expect((await me(worker, visitor)).body.balance).toBe(500);
  });

  it("tax and shipping are not wallet money; discounts are taken off", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 650, session: { amount_subtotal: 500, total_details: { amount_tax: 100, amount_shipping: 50, amount_discount: 0 } } });
    await pay(worker, { reference: visitor.reference, amount: 400, session: { amount_subtotal: 500, total_details: { amount_tax: 0, amount_shipping: 0, amount_discount: 100 } } });
    // A 100% discount leaves nothing to credit.
    const free = await pay(worker, { reference: visitor.reference, amount: 0, session: { amount_subtotal: 500, total_details: { amount_tax: 0, amount_shipping: 0, amount_discount: 500 } } });
    expect(await free.response.text()).toMatch(/^Ignored: .* no positive amount/);
    expect((await ledger(worker.version, visitor.account)).map((r) => r.amount)).toEqual([500, 400]);
  });

  // Scenario 3.
  it("events of a connected account or of the other mode write nothing", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 500);
    const connect = { ...(await checkoutEvent({ reference: visitor.reference, amount: 900 })), account: "acct_1Connected" };
    expect(await (await deliver(worker, connect)).text()).toMatch(/^Ignored: the event belongs to connected account/);
    const live = { ...(await checkoutEvent({ reference: visitor.reference, amount: 900 })), livemode: true };
    expect(await (await deliver(worker, live)).text()).toMatch(/^Ignored: a live mode event, but STRIPE_SECRET is a test key/);
    // A live Worker ignores test events (its key is sk_live_…).
    const liveWorker = fixture({ version: worker.version }, { STRIPE_SECRET: "sk_live_stripeflare_local" });
    const testEvent = await checkoutEvent({ reference: visitor.reference, amount: 900 });
    expect(await (await deliver(liveWorker, testEvent)).text()).toMatch(/^Ignored: a test mode event, but STRIPE_SECRET is a live key/);
    // Refunds of a connected account's charge do not debit either.
    const { event: refunded } = await refundCheckout((await pay(worker, { reference: visitor.reference, amount: 100, paymentMethod: "pm_card_visa" })).event);
    expect(await (await deliver(worker, { ...refunded, account: "acct_1Connected" })).text()).toMatch(/^Ignored/);
    expect((await me(worker, visitor)).body.balance).toBe(600);
  });
});

describe("browsers: spending only by the visitor's own hand (scenarios 8, 9)", () => {
  const crossSite = { "Sec-Fetch-Site": "cross-site", Origin: "https://evil.example" };

  it("HEAD is never charged: a declared price, an X-Price, ctx.charge", async () => {
    const worker = fixture({ prices: { "/paid": 5 } });
    const visitor = await funded(worker, 100);
    const head = await worker(request("/paid", visitor, { method: "HEAD" }));
    expect(head.status).toBe(204);
    const priced = await worker(request("/price?value=7", visitor, { method: "HEAD" }));
    expect(priced.headers.get("X-Price")).toBeNull();
    const ctxCharge = await worker(request("/ctx-charge?amount=9", visitor, { method: "HEAD" }));
    expect(ctxCharge.headers.get("X-Balance")).toBe("100");
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 100, ledger: 100, rows: 1 });
  });

  it("a cookie request another site makes the browser send is never charged; Bearer callers are unaffected", async () => {
    const worker = fixture({ prices: { "/paid": 5 } });
    const visitor = await funded(worker, 100);
    for (const path of ["/paid", "/price?value=7"]) {
      const response = await worker(request(path, visitor, { headers: crossSite }));
      expect(response.status, path).toBe(403);
      expect(await response.text(), path).not.toContain("priced content");
    }
    const ctxCharge = await (await worker(request("/ctx-charge?amount=9", visitor, { headers: crossSite }))).json();
    expect(ctxCharge).toMatchObject({ charged: false });
    // A person who followed a link from another site gets a link to click here instead.
    const page = await worker(request("/paid?x=1&y=2", visitor, { headers: { ...crossSite, Accept: "text/html" } }));
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('<a href="/paid?x=1&amp;y=2">Open it here</a>');
    // Browsers without Fetch Metadata: another Origin counts the same.
    expect((await worker(request("/paid", visitor, { method: "POST", headers: { Origin: "https://evil.example" } }))).status).toBe(403);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 100, ledger: 100, rows: 1 });

    // Same-origin requests, and agents whatever headers they send, are charged.
    expect((await worker(request("/paid", visitor, { headers: { "Sec-Fetch-Site": "same-origin" } }))).status).toBe(200);
    expect((await worker(request("/paid", { ...visitor, bearer: true }, { headers: crossSite }))).status).toBe(200);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 90 });
  });

  it("a cross-site POST never mints or sets a token (the victim's only token stays)", async () => {
    const worker = fixture();
    // SameSite=Lax: a cross-site POST carries no cookie at all, so it looks like a new visitor.
    for (const headers of [crossSite, { Origin: "https://evil.example" }]) {
      const response = await worker(request("/whoami", {}, { method: "POST", headers }));
      expect(response.status).toBe(200);
      expect(response.headers.get("Set-Cookie")).toBeNull();
    }
    // A stale or rotated cookie sent cross-site is not replaced either.
    const visitor = await funded(worker, 100);
    const rotated = await worker(request("/rotate-token", visitor, { method: "POST" }));
    expect(cookieToken(rotated)).not.toBeNull();
    expect((await worker(request("/whoami", visitor, { method: "POST", headers: crossSite }))).headers.get("Set-Cookie")).toBeNull();
    const rotateCrossSite = await worker(request("/rotate-token", visitor, { method: "POST", headers: crossSite }));
    expect(rotateCrossSite.status).toBe(403);
    expect(rotateCrossSite.headers.get("Set-Cookie")).toBeNull();
    // A top-level link from another site (GET) may still start a visitor, and same-site POSTs too.
    expect(cookieToken(await worker(request("/", {}, { headers: crossSite })))).not.toBeNull();
    expect(cookieToken(await worker(request("/whoami", {}, { method: "POST", headers: { "Sec-Fetch-Site": "same-origin" } })))).not.toBeNull();
  });
});

describe("a paid request that ends in a server error is not charged (scenario 11)", () => {
  it("declared price, handler throws: 500 and the price comes back in the same request", async () => {
    const worker = fixture({ prices: { "/boom": 5 } });
    const visitor = await funded(worker, 100);
    const response = await worker(request("/boom", visitor));
    expect(response.status).toBe(500);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 100, ledger: 100, rows: 3 });
    expect((await ledger(worker.version, visitor.account)).map((r) => [r.kind, r.amount])).toEqual([["credit", 100], ["charge", -5], ["reversed", 5]]);
  });

  it("declared price, handler answers 503: the price comes back, X-Balance says so", async () => {
    const worker = fixture({ prices: { "/fail": 5 } });
    const visitor = await funded(worker, 100);
    const response = await worker(request("/fail?status=503", visitor));
    expect(response.status).toBe(503);
    expect(response.headers.get("X-Balance")).toBe("100");
    expect(response.headers.get("X-Price")).toBeNull();
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 100, ledger: 100 });
  });

  it("an X-Price on a 5xx is not charged; ctx.charge before a throw or a 5xx is given back", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 100);
    expect((await worker(request("/fail?status=502&price=7", visitor))).headers.get("X-Price")).toBeNull();
    expect((await worker(request("/boom?charge=9", visitor))).status).toBe(500);
    expect((await worker(request("/fail?status=500&charge=11", visitor))).status).toBe(500);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 100, ledger: 100 });
    // A 4xx is the visitor's own doing: charged as the app says.
    await worker(request("/fail?status=404&price=3", visitor));
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 97 });
  });
});

describe("identity edges", () => {
  // Scenario 12: the row had an empty client_reference_id, and the visitor's payment was lost.
  it("a row the app wrote before the first payment still gets a payment link that credits", async () => {
    const worker = fixture({ customMigrations: CUSTOM_MIGRATIONS });
    const visitor = await newVisitor(worker);
    expect((await worker(request("/app-row", visitor))).status).toBe(200);
    const { body } = await me(worker, visitor);
    expect(body.client_reference_id).toMatch(/^[A-Za-z0-9_-]{20,200}$/);
    expect(body.paymentLink).toContain(`client_reference_id=${body.client_reference_id}`);
    const { response } = await pay(worker, { reference: body.client_reference_id, amount: 300 });
    expect(await response.json()).toMatchObject({ credited: true });
    expect((await me(worker, visitor)).body).toMatchObject({ balance: 300, registered: true });
    // The link the visitor copied before paying keeps crediting the same account.
    await pay(worker, { reference: visitor.reference, amount: 50 });
    expect((await me(worker, visitor)).body.balance).toBe(350);
  });

  // Scenario 21: a body without Content-Length used to be read whole before the limit applied.
  it("stops reading a webhook body at the limit when no Content-Length is sent", async () => {
    const worker = fixture();
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(120);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 8 * WEBHOOK_BODY_LIMIT) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await worker(new Request("https://app.example/stripe-webhook", { method: "POST", body, headers: { "Stripe-Signature": "t=1,v1=00" } }));
    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(2 * WEBHOOK_BODY_LIMIT); // it stopped pulling soon after the limit
  });
});

describe("Stripe's API version, pinned (scenario 13)", () => {
  it("is the version the stripe SDK (and so the CLI's webhook endpoint) uses", () => {
    expect(STRIPE_API_VERSION).toBe(Stripe.API_VERSION);
  });

  it("login by payment works for an account whose default API version predates latest_charge", async () => {
    // The stand-in answers unversioned requests of a "_legacy_" key in pre-2022-11-15 shapes
    // (no latest_charge): without the pinned version, card fingerprints could not be read.
    const worker = fixture({}, { STRIPE_SECRET: "sk_test_legacy_default_2020_08_27" });
    const owner = await newVisitor(worker);
    await payAndReturn(worker, owner, { amount: 500, paymentMethod: "pm_card_visa_debit" });
    const laptop = await newVisitor(worker);
    const { token } = await payAndReturn(worker, laptop, { amount: 200, paymentMethod: "pm_card_visa_debit" });
    expect(token?.split(".")[0]).toBe(owner.account);
    expect((await me(worker, { token: token! })).body.balance).toBe(700);
    expect((await returnFrom(worker, laptop, "cs_test_unknown")).token).toBeNull();
  });

  // Scenario 20: the provisioning key (write access) need not be the Worker's runtime key.
  it("runs on a restricted read-only key (rk_test_…): credit, login by payment, refunds", async () => {
    const worker = fixture({}, { STRIPE_SECRET: "rk_test_stripeflare_read_only_runtime" });
    const owner = await newVisitor(worker);
    await payAndReturn(worker, owner, { amount: 500, paymentMethod: "pm_card_mastercard" });
    const laptop = await newVisitor(worker);
    const { token, event } = await payAndReturn(worker, laptop, { amount: 100, paymentMethod: "pm_card_mastercard" });
    expect(token?.split(".")[0]).toBe(owner.account);
    const { event: refunded } = await refundCheckout(event);
    expect((await deliver(worker, refunded)).status).toBe(200);
    expect((await me(worker, owner)).body.balance).toBe(500);
  });
});
