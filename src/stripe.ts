// Stripe provisioning. Every object is tagged with metadata.stripeflare_project (the name, for
// people) and stripeflare_project_id (a random id recorded in .stripeflare.json): only objects
// carrying this project's id are reused, updated, retired or deleted, so another project on
// the same Stripe account, even one of the same name, is never touched. Ids recorded in
// .stripeflare.json are tried first because list results may lag behind writes. Creates carry
// idempotency keys so the SDK's automatic retries can never make a second copy.
import Stripe from "stripe";
import { maskSecret } from "./keys.js";
import { sha256, type StripeRecord } from "./state.js";

export const PROJECT_METADATA_KEY = "stripeflare_project";
export const PROJECT_ID_METADATA_KEY = "stripeflare_project_id";

/** The wallet route the Payment Link sends the paying browser back to (login by payment). */
export const PAYMENT_RETURN_PATH = "/me/paid?session_id={CHECKOUT_SESSION_ID}";
/**
 * Every event the Worker's webhook acts on (WEBHOOK_EVENTS in the template's
 * src/stripeflare/webhook.ts): checkouts credit, refunds and disputes take credit back or hold
 * it. A test compares the two lists; an endpoint missing one is brought up to date on a rerun.
 */
export const WEBHOOK_EVENTS = [
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
  "charge.refunded",
  "charge.refund.updated",
  "charge.dispute.created",
  "charge.dispute.closed",
] as const satisfies readonly Stripe.WebhookEndpointCreateParams.EnabledEvent[];

/** The key check answers in well under a second when Stripe is there: wait this long, once. */
export const KEY_CHECK_TIMEOUT_MS = 10_000;

/** Where the Stripe calls go, for messages: the stand-in's address, or Stripe's. */
export function stripeHost(apiBase = process.env.STRIPE_API_BASE): string {
  return apiBase ? apiBase.replace(/\/+$/, "") : "api.stripe.com";
}

export function createStripeClient(secret: string, apiBase = process.env.STRIPE_API_BASE, limits: { timeout?: number; maxNetworkRetries?: number } = {}): Stripe {
  const config: ConstructorParameters<typeof Stripe>[1] = {
    maxNetworkRetries: limits.maxNetworkRetries ?? 2,
    timeout: limits.timeout ?? 30_000,
    telemetry: false,
    appInfo: { name: "create-stripeflare" },
  };
  if (apiBase) {
    let url: URL;
    try {
      url = new URL(apiBase);
    } catch {
      throw new Error(`STRIPE_API_BASE must be a URL such as http://127.0.0.1:12111 (got "${apiBase}")`);
    }
    const protocol = url.protocol.replace(":", "");
    if (protocol !== "http" && protocol !== "https") throw new Error(`STRIPE_API_BASE must use http or https (got "${apiBase}")`);
    config.protocol = protocol;
    config.host = url.hostname;
    config.port = url.port || (protocol === "http" ? 80 : 443);
  }
  return new Stripe(secret, config);
}

/** One line for the user; never the raw key (Stripe's own messages may quote part of it). */
export function describeStripeError(error: unknown): string {
  if (error instanceof Stripe.errors.StripeError) {
    const message = error.message.replace(/\b(sk|rk|pk)_(test|live)_[A-Za-z0-9_]+/g, (key) => maskSecret(key));
    if (error.type === "StripeConnectionError") {
      return `could not reach the Stripe API at ${stripeHost()}: ${message}. Check the connection (or STRIPE_API_BASE) and run again`;
    }
    return `Stripe ${error.statusCode ?? ""}${error.code ? ` ${error.code}` : ""}: ${message}`.replace("Stripe :", "Stripe:");
  }
  return error instanceof Error ? error.message : String(error);
}

function isMissing(error: unknown): boolean {
  return error instanceof Stripe.errors.StripeError && (error.statusCode === 404 || error.code === "resource_missing");
}

async function retrieveOrNull<T>(load: () => Promise<T>): Promise<T | null> {
  try {
    return await load();
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** Auto-paginates; capped so an enormous account cannot keep us listing forever. */
async function collect<T>(items: AsyncIterable<T>, keep: (item: T) => boolean, cap = 2000): Promise<T[]> {
  const out: T[] = [];
  let seen = 0;
  for await (const item of items) {
    if (keep(item)) out.push(item);
    if (++seen >= cap) break;
  }
  return out;
}

/** Checks the key with a read it needs anyway (products) before anything is created. */
export async function checkStripeKey(stripe: Stripe, secret: string): Promise<void> {
  try {
    await stripe.products.list({ limit: 1 });
  } catch (error) {
    if (error instanceof Stripe.errors.StripeAuthenticationError) {
      throw new Error(`Stripe rejected the secret key ${maskSecret(secret)}: ${describeStripeError(error)}`);
    }
    if (error instanceof Stripe.errors.StripePermissionError) {
      throw new Error(`the Stripe key ${maskSecret(secret)} may not read products (a restricted key needs write access to Products, Prices, Payment Links and Webhook Endpoints): ${describeStripeError(error)}`);
    }
    throw new Error(describeStripeError(error));
  }
}

export interface CatalogInput {
  project: string;
  projectId: string;
  title: string;
  /** Rename an existing product only when the user asked for a title. */
  titleExplicit: boolean;
  unitAmount: number;
  currency: string;
  /** Where checkout sends the buyer back; hosted confirmation when unknown. */
  redirectUrl?: string;
  runId: string;
}

export interface Catalog {
  product: Stripe.Product;
  price: Stripe.Price;
  paymentLink: Stripe.PaymentLink;
}

export type Report = (line: string) => void;

type Tagged = { id: string; metadata: Stripe.Metadata | null };

/**
 * Ownership: an object is this project's when it carries its id. An object this project
 * recorded before ids existed (its id in .stripeflare.json, tagged with the project's name and
 * no id) is adopted: `adopt` writes the id into its metadata.
 */
function ownership(project: string, projectId: string, recorded: (string | undefined)[]) {
  const isOurs = (item: Tagged) => item.metadata?.[PROJECT_ID_METADATA_KEY] === projectId;
  const isLegacyOurs = (item: Tagged) =>
    recorded.includes(item.id) && item.metadata?.[PROJECT_METADATA_KEY] === project && !item.metadata?.[PROJECT_ID_METADATA_KEY];
  return { isOurs, isLegacyOurs, metadata: { [PROJECT_METADATA_KEY]: project, [PROJECT_ID_METADATA_KEY]: projectId } };
}

function afterCompletion(redirectUrl?: string): Stripe.PaymentLinkCreateParams.AfterCompletion {
  return redirectUrl ? { type: "redirect", redirect: { url: redirectUrl } } : { type: "hosted_confirmation" };
}

/**
 * Product, Price and Payment Link: reuse what exists, create what is missing, retire what a
 * changed price made obsolete. `save` is called after every change so an interruption loses no id.
 */
export async function provisionCatalog(
  stripe: Stripe,
  input: CatalogInput,
  record: StripeRecord,
  save: (record: StripeRecord) => void,
  report: Report,
): Promise<Catalog> {
  const { project } = input;
  const { isOurs, isLegacyOurs, metadata } = ownership(project, input.projectId, [record.productId, record.priceId, record.paymentLinkId]);
  const idTag = { [PROJECT_ID_METADATA_KEY]: input.projectId };

  // Product
  let product: Stripe.Product | null = record.productId ? await retrieveOrNull(() => stripe.products.retrieve(record.productId!)) : null;
  if (product && isLegacyOurs(product)) product = await stripe.products.update(product.id, { metadata: idTag });
  if (product && !isOurs(product)) product = null;
  const products = await collect(stripe.products.list({ limit: 100, active: true }), (p) => isOurs(p) || p.metadata?.[PROJECT_METADATA_KEY] === project);
  product ??= products.find(isOurs) ?? null;
  const namesakes = products.filter((p) => !isOurs(p) && p.id !== product?.id);
  if (namesakes.length) report(`left alone ${namesakes.map((p) => p.id).join(", ")}: another project named "${project}" on this Stripe account`);
  if (!product) {
    product = await stripe.products.create({ name: input.title, metadata }, { idempotencyKey: `${input.runId}:product` });
    report(`created Product ${product.id}`);
  } else {
    const changes: Stripe.ProductUpdateParams = {};
    if (!product.active) changes.active = true;
    if (input.titleExplicit && product.name !== input.title) changes.name = input.title;
    if (Object.keys(changes).length) product = await stripe.products.update(product.id, changes);
    report(`reused Product ${product.id}`);
  }
  save({ ...record, productId: product.id });
  record = { ...record, productId: product.id };

  // Price: one-time, this amount and currency.
  const productId = product.id;
  const fits = (price: Stripe.Price) =>
    price.active &&
    price.type === "one_time" &&
    price.currency === input.currency &&
    price.unit_amount === input.unitAmount &&
    (typeof price.product === "string" ? price.product : price.product.id) === productId;
  let price: Stripe.Price | null = record.priceId ? await retrieveOrNull(() => stripe.prices.retrieve(record.priceId!)) : null;
  if (price && isLegacyOurs(price)) price = await stripe.prices.update(price.id, { metadata: idTag });
  if (price && (!fits(price) || !isOurs(price))) price = null;
  const ourPrices = await collect(stripe.prices.list({ limit: 100, active: true, product: productId }), isOurs);
  price ??= ourPrices.find(fits) ?? null;
  if (!price) {
    price = await stripe.prices.create(
      { product: productId, currency: input.currency, unit_amount: input.unitAmount, metadata },
      { idempotencyKey: `${input.runId}:price:${input.currency}:${input.unitAmount}` },
    );
    report(`created Price ${price.id}`);
  } else report(`reused Price ${price.id}`);
  record = { ...record, priceId: price.id };
  save(record);

  // Payment Link for exactly this price.
  const priceId = price.id;
  const wanted = afterCompletion(input.redirectUrl);
  const linkFits = (link: Stripe.PaymentLink) => link.active && isOurs(link) && link.metadata?.stripeflare_price === priceId;
  let link: Stripe.PaymentLink | null = record.paymentLinkId ? await retrieveOrNull(() => stripe.paymentLinks.retrieve(record.paymentLinkId!)) : null;
  if (link && isLegacyOurs(link)) link = await stripe.paymentLinks.update(link.id, { metadata: { ...link.metadata, ...idTag } });
  if (link && !linkFits(link)) link = null;
  const ourLinks = await collect(stripe.paymentLinks.list({ limit: 100, active: true }), isOurs);
  link ??= ourLinks.find(linkFits) ?? null;
  if (!link) {
    link = await stripe.paymentLinks.create(
      {
        line_items: [{ price: priceId, quantity: 1 }],
        after_completion: wanted,
        metadata: { ...metadata, stripeflare_price: priceId },
      },
      { idempotencyKey: `${input.runId}:payment_link:${priceId}` },
    );
    report(`created Payment Link ${link.id}`);
  } else {
    const current = link.after_completion;
    const same = current.type === wanted.type && (current.redirect?.url ?? null) === (wanted.redirect?.url ?? null);
    if (!same) link = await stripe.paymentLinks.update(link.id, { after_completion: wanted });
    report(`reused Payment Link ${link.id}`);
  }
  record = { ...record, paymentLinkId: link.id, paymentLinkUrl: link.url };
  save(record);

  // A changed price leaves an old link and price behind: retire them so nobody pays the old amount.
  for (const old of ourLinks) {
    if (old.id === link.id || !old.active) continue;
    await stripe.paymentLinks.update(old.id, { active: false });
    report(`deactivated old Payment Link ${old.id}`);
  }
  for (const old of ourPrices) {
    if (old.id === priceId || !old.active) continue;
    await stripe.prices.update(old.id, { active: false });
    report(`archived old Price ${old.id}`);
  }
  return { product, price, paymentLink: link };
}

export interface WebhookInput {
  project: string;
  projectId: string;
  url: string;
  /** STRIPE_WEBHOOK_SIGNING_SECRET currently in .dev.vars, if any. */
  currentSecret?: string;
  runId: string;
}

export interface WebhookResult {
  endpoint: Stripe.WebhookEndpoint;
  secret: string;
  created: boolean;
}

/**
 * The endpoint's signing secret is only ever returned when it is created. Keep the endpoint when
 * .dev.vars holds its secret; otherwise create a new one and delete the ones whose secret is lost,
 * so no endpoint is left that the Worker cannot verify. `onSecret` must persist the new secret
 * before stale endpoints are removed.
 */
export async function provisionWebhook(
  stripe: Stripe,
  input: WebhookInput,
  record: StripeRecord,
  onSecret: (record: StripeRecord, secret: string) => void,
  report: Report,
): Promise<WebhookResult> {
  const { isOurs, isLegacyOurs, metadata } = ownership(input.project, input.projectId, [record.webhookEndpointId]);
  const found = await collect(stripe.webhookEndpoints.list({ limit: 100 }), (endpoint) => isOurs(endpoint) || isLegacyOurs(endpoint) || endpoint.url === input.url);
  // Someone else's endpoint at our URL (made by hand, or by another project serving this
  // domain): never deleted or taken over. Two endpoints at one URL would each need the
  // Worker's one signing secret, so stop and say what to do.
  const foreign = found.find((endpoint) => !isOurs(endpoint) && !isLegacyOurs(endpoint));
  if (foreign) {
    throw new Error(
      `Stripe already has Webhook Endpoint ${foreign.id} at ${input.url}, not made by this project. ` +
        "Nothing was changed: delete it in the Stripe dashboard (Developers > Webhooks) if it is an old one of yours, or use another --domain, then run again",
    );
  }
  for (const legacy of found.filter(isLegacyOurs)) {
    const adopted = await stripe.webhookEndpoints.update(legacy.id, { metadata: { ...legacy.metadata, [PROJECT_ID_METADATA_KEY]: input.projectId } });
    found.splice(found.indexOf(legacy), 1, adopted);
  }
  const candidates = found;
  let recorded = record.webhookEndpointId ? candidates.find((e) => e.id === record.webhookEndpointId) : undefined;
  if (!recorded && record.webhookEndpointId) {
    recorded = (await retrieveOrNull(() => stripe.webhookEndpoints.retrieve(record.webhookEndpointId!))) ?? undefined;
    if (recorded && !isOurs(recorded)) recorded = undefined;
  }
  const secretHeld =
    recorded && input.currentSecret && record.webhookSecretSha256 === sha256(input.currentSecret) ? input.currentSecret : undefined;

  let endpoint: Stripe.WebhookEndpoint;
  let secret: string;
  let created = false;
  if (recorded && secretHeld) {
    endpoint = recorded;
    secret = secretHeld;
    const missingEvents = WEBHOOK_EVENTS.some((event) => !endpoint.enabled_events.includes(event) && !endpoint.enabled_events.includes("*"));
    if (endpoint.url !== input.url || missingEvents || endpoint.status !== "enabled") {
      // Events the user subscribed the endpoint to by hand stay; "*" already covers ours.
      const enabled = endpoint.enabled_events.includes("*") ? ["*"] : [...new Set([...endpoint.enabled_events, ...WEBHOOK_EVENTS])];
      endpoint = await stripe.webhookEndpoints.update(endpoint.id, {
        url: input.url,
        enabled_events: enabled as Stripe.WebhookEndpointUpdateParams.EnabledEvent[],
        disabled: false,
      });
      report(`updated Webhook Endpoint ${endpoint.id} -> ${input.url}`);
    } else report(`reused Webhook Endpoint ${endpoint.id}`);
  } else {
    endpoint = await stripe.webhookEndpoints.create(
      {
        url: input.url,
        enabled_events: [...WEBHOOK_EVENTS],
        api_version: Stripe.API_VERSION as Stripe.WebhookEndpointCreateParams.ApiVersion,
        description: `Stripeflare wallet top-ups for ${input.project}`,
        metadata,
      },
      { idempotencyKey: `${input.runId}:webhook_endpoint` },
    );
    if (!endpoint.secret) throw new Error(`Stripe created Webhook Endpoint ${endpoint.id} without a signing secret`);
    secret = endpoint.secret;
    created = true;
    report(`created Webhook Endpoint ${endpoint.id} -> ${input.url}`);
  }
  record = { ...record, webhookEndpointId: endpoint.id, webhookUrl: input.url, webhookSecretSha256: sha256(secret) };
  onSecret(record, secret);

  for (const stale of candidates) {
    if (stale.id === endpoint.id || !isOurs(stale)) continue;
    await stripe.webhookEndpoints.del(stale.id);
    report(`deleted Webhook Endpoint ${stale.id} of this project (its signing secret is not in .dev.vars)`);
  }
  return { endpoint, secret, created };
}
