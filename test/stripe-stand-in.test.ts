// The stand-in must answer as Stripe does, or the CLI tests prove nothing. Checked here with the
// real stripe SDK: typed objects, error classes and fields, pagination, idempotency, secrets.
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStripeStandIn, type StripeStandIn } from "./helpers/index.js";

let standIn: StripeStandIn;
let stripe: Stripe;
beforeAll(async () => {
  standIn = await startStripeStandIn();
  const url = new URL(standIn.url);
  stripe = new Stripe(standIn.keys.secret, { host: url.hostname, port: url.port, protocol: "http", maxNetworkRetries: 0 });
});
afterAll(() => standIn.close());

async function stripeError(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as InstanceType<typeof Stripe.errors.StripeError>;
  }
  throw new Error("expected a Stripe error");
}

describe("Stripe stand-in", () => {
  it("creates and lists objects the SDK accepts, with metadata", async () => {
    const product = await stripe.products.create({ name: "Wallet", metadata: { stripeflare_project: "p1" } });
    expect(product).toMatchObject({ object: "product", active: true, livemode: false, name: "Wallet", metadata: { stripeflare_project: "p1" } });
    expect(product.id).toMatch(/^prod_/);
    const price = await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 500 });
    expect(price).toMatchObject({ object: "price", type: "one_time", unit_amount: 500, currency: "usd", product: product.id });
    const link = await stripe.paymentLinks.create({ line_items: [{ price: price.id, quantity: 1 }] });
    expect(link.url).toMatch(/^https:\/\/buy\.stripe\.com\/test_/);
    expect(link.after_completion.type).toBe("hosted_confirmation");
    expect((await stripe.products.retrieve(product.id)).id).toBe(product.id);
  });

  it("returns the webhook secret only when the endpoint is created", async () => {
    const created = await stripe.webhookEndpoints.create({ url: "https://a.example.com/stripe-webhook", enabled_events: ["checkout.session.completed"] });
    expect(created.secret).toMatch(/^whsec_/);
    expect(standIn.webhookSecret(created.id)).toBe(created.secret);
    expect((await stripe.webhookEndpoints.retrieve(created.id)).secret).toBeUndefined();
    const listed = await stripe.webhookEndpoints.list();
    expect(listed.data.find((e) => e.id === created.id)?.secret).toBeUndefined();
    const updated = await stripe.webhookEndpoints.update(created.id, { url: "https://b.example.com/stripe-webhook" });
    expect(updated.secret).toBeUndefined();
    expect(await stripe.webhookEndpoints.del(created.id)).toMatchObject({ id: created.id, deleted: true });
    expect((await stripeError(stripe.webhookEndpoints.retrieve(created.id))).statusCode).toBe(404);
  });

  it("answers errors in Stripe's format, which the SDK maps to its error classes", async () => {
    const missing = await stripeError(stripe.products.create({} as Stripe.ProductCreateParams));
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect([missing.statusCode, missing.code, missing.param]).toEqual([400, "parameter_missing", "name"]);
    const unknown = await stripeError(stripe.products.create({ name: "x", colour: "red" } as Stripe.ProductCreateParams));
    expect([unknown.code, unknown.param]).toEqual(["parameter_unknown", "colour"]);
    const noSuch = await stripeError(stripe.prices.create({ product: "prod_nope", currency: "usd", unit_amount: 1 }));
    expect([noSuch.statusCode, noSuch.code, noSuch.param]).toEqual([404, "resource_missing", "product"]);
    const badEvent = await stripeError(stripe.webhookEndpoints.create({ url: "https://x.example.com", enabled_events: ["nope.nope" as "*"] }));
    expect(badEvent.param).toBe("enabled_events[0]");
    const badKey = new Stripe("sk_test_notAKnownKey123456", { host: "127.0.0.1", port: new URL(standIn.url).port, protocol: "http", maxNetworkRetries: 0 });
    const auth = await stripeError(badKey.products.list());
    expect(auth).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(auth.statusCode).toBe(401);
    expect(auth.message).not.toContain("sk_test_notAKnownKey123456");
  });

  it("keeps test and live mode apart", async () => {
    const url = new URL(standIn.url);
    const live = new Stripe(standIn.keys.liveSecret, { host: url.hostname, port: url.port, protocol: "http", maxNetworkRetries: 0 });
    const product = await live.products.create({ name: "Live" });
    expect(product.livemode).toBe(true);
    expect((await stripeError(stripe.products.retrieve(product.id))).statusCode).toBe(404);
    const hook = await stripeError(live.webhookEndpoints.create({ url: "http://insecure.example.com", enabled_events: ["*"] }));
    expect(hook.param).toBe("url");
  });

  it("paginates lists newest first with has_more, as the SDK's auto-pagination expects", async () => {
    for (let i = 0; i < 7; i++) await stripe.products.create({ name: `page-${i}`, metadata: { batch: "pages" } });
    const first = await stripe.products.list({ limit: 3 });
    expect(first).toMatchObject({ object: "list", has_more: true, url: "/v1/products" });
    expect(first.data).toHaveLength(3);
    const names: string[] = [];
    for await (const product of stripe.products.list({ limit: 2 })) if (product.metadata.batch === "pages") names.push(product.name);
    expect(names).toEqual(["page-6", "page-5", "page-4", "page-3", "page-2", "page-1", "page-0"]);
    expect((await stripeError(stripe.products.list({ limit: 500 }))).param).toBe("limit");
  });

  it("replays idempotent requests and refuses a reused key with other parameters", async () => {
    const a = await stripe.products.create({ name: "Once" }, { idempotencyKey: "key-1" });
    const b = await stripe.products.create({ name: "Once" }, { idempotencyKey: "key-1" });
    expect(b.id).toBe(a.id);
    expect(standIn.list<Stripe.Product>("product").filter((p) => p.name === "Once")).toHaveLength(1);
    const clash = await stripeError(stripe.products.create({ name: "Other" }, { idempotencyKey: "key-1" }));
    expect(clash).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
  });

  it("injects failures: an error response, or a dropped connection after the write", async () => {
    standIn.fail({ method: "POST", path: "/v1/products", kind: "error", status: 500 });
    const error = await stripeError(stripe.products.create({ name: "Fails" }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    // A dropped answer after the write: the SDK retries with the same Idempotency-Key and gets the
    // original response replayed, so one product exists.
    standIn.fail({ method: "POST", path: "/v1/products", kind: "drop-after" });
    const replayed = await stripe.products.create({ name: "Blip" });
    expect(standIn.list<Stripe.Product>("product").filter((p) => p.name === "Blip").map((p) => p.id)).toEqual([replayed.id]);
    expect(standIn.requests.filter((r) => r.params.name === "Blip").map((r) => r.replayed)).toEqual([false, true]);
    // Dropped every time: a connection error, yet the write happened once.
    standIn.fail({ method: "POST", path: "/v1/products", kind: "drop-after", times: 10 });
    const dropped = await stripeError(stripe.products.create({ name: "Dropped" }));
    standIn.clearFailures();
    expect(dropped).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(standIn.list<Stripe.Product>("product").filter((p) => p.name === "Dropped")).toHaveLength(1);
    expect(standIn.list<Stripe.Product>("product").filter((p) => p.name === "Fails")).toHaveLength(0);
  });
});
