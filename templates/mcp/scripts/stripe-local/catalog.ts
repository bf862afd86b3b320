// The catalog the CLI sets up through the Stripe API: products, prices, payment links and
// webhook endpoints, per mode, as stateful handlers. Objects are built as the SDK's own types
// (Stripe.Product, …) so a shape drift fails tsc. The Worker reads the payment links too.
import { randomBytes } from "node:crypto";
import type Stripe from "stripe";
import {
  afterCompletion,
  allow,
  bool,
  enabledEvents,
  integer,
  invalidParam,
  metadata,
  missingParam,
  noSuch,
  nowSeconds,
  optionalString,
  requireString,
  webhookUrl,
  type Form,
} from "./form.ts";

export type Kind = "product" | "price" | "payment_link" | "webhook_endpoint";
type AnyObject = Stripe.Product | Stripe.Price | Stripe.PaymentLink | Stripe.WebhookEndpoint;
interface Stored<T = AnyObject> {
  object: T;
  seq: number;
}

const PREFIX: Record<Kind, string> = { product: "prod", price: "price", payment_link: "plink", webhook_endpoint: "we" };
const base62 = (n: number) => {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  return Array.from(randomBytes(n), (b) => alphabet[b % 62]).join("");
};


export interface Request {
  method: string;
  params: Form;
  livemode: boolean;
}

export class Store {
  readonly objects = new Map<string, Stored & { kind: Kind }>();
  /** Signing secrets by endpoint id: the API returns them only on creation; tests may look. */
  readonly webhookSecrets = new Map<string, string>();
  /** A payment link's line items (prices and quantities), for `expand[]=line_items`. */
  readonly linkItems = new Map<string, { price: string; quantity: number }[]>();
  private seq = 0;

  private add<T extends AnyObject>(kind: Kind, object: T): T {
    this.objects.set(object.id, { kind, object, seq: ++this.seq });
    return object;
  }

  id(kind: Kind): string {
    return `${PREFIX[kind]}_${base62(24)}`;
  }

  get<T extends AnyObject>(kind: Kind, id: string, livemode: boolean, param = "id"): T {
    const stored = this.objects.get(id);
    if (!stored || stored.kind !== kind || stored.object.livemode !== livemode) {
      throw noSuch(kind.replace("_", " "), id, param);
    }
    return stored.object as T;
  }

  /** All objects of a kind in one mode, newest first (Stripe's list order). */
  all<T extends AnyObject>(kind: Kind, livemode: boolean): T[] {
    return [...this.objects.values()]
      .filter((s) => s.kind === kind && s.object.livemode === livemode)
      .sort((a, b) => b.seq - a.seq)
      .map((s) => s.object as T);
  }

  remove(id: string): void {
    this.objects.delete(id);
    this.webhookSecrets.delete(id);
  }

  createProduct(r: Request): Stripe.Product {
    allow(r.params, ["name", "metadata", "active", "description", "statement_descriptor", "unit_label", "url", "images"]);
    const name = requireString(r.params, "name");
    const now = nowSeconds();
    return this.add("product", {
      id: this.id("product"),
      object: "product",
      active: bool(r.params.active, true),
      created: now,
      default_price: null,
      description: optionalString(r.params.description),
      images: [],
      livemode: r.livemode,
      marketing_features: [],
      metadata: metadata(r.params.metadata),
      name,
      package_dimensions: null,
      shippable: null,
      statement_descriptor: optionalString(r.params.statement_descriptor),
      tax_code: null,
      tax_details: null,
      type: "service",
      unit_label: optionalString(r.params.unit_label),
      updated: now,
      url: optionalString(r.params.url),
    });
  }

  updateProduct(id: string, r: Request): Stripe.Product {
    allow(r.params, ["name", "metadata", "active", "description"]);
    const product = this.get<Stripe.Product>("product", id, r.livemode);
    if (r.params.name !== undefined) product.name = requireString(r.params, "name");
    if (r.params.active !== undefined) product.active = bool(r.params.active, product.active);
    if (r.params.description !== undefined) product.description = optionalString(r.params.description);
    product.metadata = metadata(r.params.metadata, product.metadata);
    product.updated = nowSeconds();
    return product;
  }

  createPrice(r: Request): Stripe.Price {
    allow(r.params, ["product", "currency", "unit_amount", "metadata", "active", "nickname", "lookup_key", "tax_behavior"]);
    const currency = requireString(r.params, "currency").toLowerCase();
    if (!/^[a-z]{3}$/.test(currency)) throw invalidParam("currency", `Invalid currency: ${currency}.`);
    const productId = requireString(r.params, "product");
    const product = this.get<Stripe.Product>("product", productId, r.livemode, "product");
    if (!product.active) throw invalidParam("product", `The product ${productId} is not active.`);
    const unitAmount = integer(r.params, "unit_amount", { required: true, min: 0 })!;
    return this.add("price", {
      id: this.id("price"),
      object: "price",
      active: bool(r.params.active, true),
      billing_scheme: "per_unit",
      created: nowSeconds(),
      currency,
      custom_unit_amount: null,
      livemode: r.livemode,
      lookup_key: optionalString(r.params.lookup_key),
      metadata: metadata(r.params.metadata),
      nickname: optionalString(r.params.nickname),
      product: productId,
      recurring: null,
      tax_behavior: (optionalString(r.params.tax_behavior) ?? "unspecified") as Stripe.Price.TaxBehavior,
      tiers_mode: null,
      transform_quantity: null,
      type: "one_time",
      unit_amount: unitAmount,
      // On the wire this is a decimal string; the SDK type models it as its Decimal class.
      unit_amount_decimal: String(unitAmount) as unknown as Stripe.Price["unit_amount_decimal"],
    });
  }

  updatePrice(id: string, r: Request): Stripe.Price {
    allow(r.params, ["active", "metadata", "nickname", "lookup_key"]);
    const price = this.get<Stripe.Price>("price", id, r.livemode);
    if (r.params.active !== undefined) price.active = bool(r.params.active, price.active);
    if (r.params.nickname !== undefined) price.nickname = optionalString(r.params.nickname);
    price.metadata = metadata(r.params.metadata, price.metadata);
    return price;
  }

  /** `local`: the id and URL a local payment link should have (`POST /local/payment_links`). */
  createPaymentLink(r: Request, local: { id?: string; url?: string } = {}): Stripe.PaymentLink {
    allow(r.params, ["line_items", "metadata", "after_completion", "allow_promotion_codes", "submit_type"]);
    const items = r.params.line_items;
    if (items === undefined) throw missingParam("line_items");
    if (!Array.isArray(items) || items.length === 0) throw invalidParam("line_items", "line_items must contain at least one item.");
    let currency = "";
    const lineItems: { price: string; quantity: number }[] = [];
    items.forEach((item, i) => {
      if (typeof item !== "object" || Array.isArray(item)) throw invalidParam(`line_items[${i}]`, "Invalid line item.");
      const priceId = requireString(item as Form, "price", `line_items[${i}][price]`);
      const price = this.get<Stripe.Price>("price", priceId, r.livemode, `line_items[${i}][price]`);
      if (!price.active) throw invalidParam(`line_items[${i}][price]`, `The price ${priceId} is not active.`);
      const quantity = integer(item as Form, "quantity", { required: true, min: 1, param: `line_items[${i}][quantity]` })!;
      lineItems.push({ price: priceId, quantity });
      currency = price.currency;
    });
    const link: Stripe.PaymentLink = {
      id: local.id ?? this.id("payment_link"),
      object: "payment_link",
      active: true,
      after_completion: afterCompletion(r.params.after_completion),
      allow_promotion_codes: bool(r.params.allow_promotion_codes, false),
      application: null,
      application_fee_amount: null,
      application_fee_percent: null,
      automatic_tax: { enabled: false, liability: null },
      billing_address_collection: "auto",
      consent_collection: null,
      currency,
      custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer_creation: "if_required",
      inactive_message: null,
      invoice_creation: { enabled: false, invoice_data: null },
      livemode: r.livemode,
      managed_payments: null,
      metadata: metadata(r.params.metadata),
      on_behalf_of: null,
      payment_intent_data: null,
      payment_method_collection: "always",
      payment_method_options: null,
      payment_method_types: null,
      phone_number_collection: { enabled: false },
      restrictions: null,
      shipping_address_collection: null,
      shipping_options: [],
      submit_type: (optionalString(r.params.submit_type) ?? "auto") as Stripe.PaymentLink.SubmitType,
      subscription_data: null,
      tax_id_collection: { enabled: false, required: "never" },
      transfer_data: null,
      url: local.url ?? `https://buy.stripe.com/${r.livemode ? "" : "test_"}${base62(14)}`,
    };
    this.linkItems.set(link.id, lineItems);
    return this.add("payment_link", link);
  }

  /** A payment link with its line items expanded (what the Worker reads: the price's currency). */
  paymentLinkWithItems(id: string, livemode: boolean): Stripe.PaymentLink {
    const link = this.get<Stripe.PaymentLink>("payment_link", id, livemode);
    const data = (this.linkItems.get(id) ?? []).map(({ price: priceId, quantity }, i) => {
      const price = this.get<Stripe.Price>("price", priceId, livemode);
      const amount = (price.unit_amount ?? 0) * quantity;
      return { id: `li_${id.slice(6)}_${i}`, object: "item", amount_discount: 0, amount_subtotal: amount, amount_tax: 0, amount_total: amount, currency: price.currency, description: null, price, quantity };
    });
    return { ...link, line_items: { object: "list", data, has_more: false, url: `/v1/payment_links/${id}/line_items` } } as unknown as Stripe.PaymentLink;
  }

  updatePaymentLink(id: string, r: Request): Stripe.PaymentLink {
    allow(r.params, ["active", "metadata", "after_completion", "allow_promotion_codes", "inactive_message"]);
    const link = this.get<Stripe.PaymentLink>("payment_link", id, r.livemode);
    if (r.params.active !== undefined) link.active = bool(r.params.active, link.active);
    if (r.params.after_completion !== undefined) link.after_completion = afterCompletion(r.params.after_completion);
    if (r.params.inactive_message !== undefined) link.inactive_message = optionalString(r.params.inactive_message);
    link.metadata = metadata(r.params.metadata, link.metadata);
    return link;
  }

  createWebhookEndpoint(r: Request): Stripe.WebhookEndpoint {
    allow(r.params, ["url", "enabled_events", "metadata", "description", "api_version", "connect"]);
    const url = webhookUrl(r.params, r.livemode);
    const events = enabledEvents(r.params, true)!;
    const secret = `whsec_${base62(32)}`;
    const endpoint = this.add("webhook_endpoint", {
      id: this.id("webhook_endpoint"),
      object: "webhook_endpoint",
      api_version: optionalString(r.params.api_version),
      application: null,
      created: nowSeconds(),
      description: optionalString(r.params.description),
      enabled_events: events,
      livemode: r.livemode,
      metadata: metadata(r.params.metadata),
      status: "enabled",
      url,
    } satisfies Stripe.WebhookEndpoint);
    this.webhookSecrets.set(endpoint.id, secret);
    // The secret is part of the creation response only; the stored object never carries it.
    return { ...endpoint, secret };
  }

  updateWebhookEndpoint(id: string, r: Request): Stripe.WebhookEndpoint {
    allow(r.params, ["url", "enabled_events", "metadata", "description", "disabled"]);
    const endpoint = this.get<Stripe.WebhookEndpoint>("webhook_endpoint", id, r.livemode);
    if (r.params.url !== undefined) endpoint.url = webhookUrl(r.params, r.livemode);
    if (r.params.enabled_events !== undefined) endpoint.enabled_events = enabledEvents(r.params, true)!;
    if (r.params.description !== undefined) endpoint.description = optionalString(r.params.description);
    if (r.params.disabled !== undefined) endpoint.status = bool(r.params.disabled, false) ? "disabled" : "enabled";
    endpoint.metadata = metadata(r.params.metadata, endpoint.metadata);
    return endpoint;
  }
}
