// `npm run pay -- <client_reference_id>`: a local test payment, with no Stripe account.
//
// Does what `stripe trigger checkout.session.completed` does against a real account: a paid
// checkout session exists at "Stripe" (here the local stand-in, scripts/stripe-local.ts, which
// also answers the Worker's reads of the PaymentIntent and its charge), and a signed
// `checkout.session.completed` event for it reaches the Worker's /stripe-webhook.
//
// Why this cannot credit a deployed Worker: the Worker trusts no "local" switch; it verifies
// each event's signature with its own STRIPE_WEBHOOK_SIGNING_SECRET. This script signs with
// the one in .dev.vars (generated locally by --setup when empty) and sends only to loopback
// addresses, with no option to do otherwise.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, parseEnv } from "node:util";
import Stripe from "stripe";

const DEFAULT_WORKER_URL = "http://localhost:8787";
/** Where --setup points the Worker's Stripe reads (stripe-mock's customary port). */
export const LOCAL_STRIPE_API_BASE = "http://127.0.0.1:12111";
/**
 * The key --setup gives a project without a Stripe account, so the Worker can authenticate to
 * the stand-in. Stripe rejects it; it opens nothing anywhere.
 */
export const LOCAL_STRIPE_SECRET = "sk_test_stripeflare_local_stand_in";
/** The stand-in's test cards (scripts/stripe-local.ts), by the names --card takes. */
const TEST_CARDS = ["visa", "visa_debit", "mastercard", "amex", "discover"];

const USAGE = `Usage: npm run pay -- <client_reference_id | payment link URL> [options]
       npm run pay -- --setup

Sends a signed checkout.session.completed for that visitor to the local Worker (npm run dev).
The page at http://localhost:8787 shows this command with your client_reference_id.

Options:
  --amount <cents>     amount paid, in the currency's smallest unit (default 500)
  --currency <code>    ISO 4217 currency (default usd)
  --card <brand>       pay with the stand-in's test card visa, visa_debit, mastercard, amex or discover
                       (each has one card fingerprint: paying again with it from another browser logs
                       that browser in to the first wallet); default: a new card every time
  --email <address>    the payer's email (default pay@example.com)
  --name <text>        the payer's name (default Test Payer)
  --url <url>          the local Worker (default ${DEFAULT_WORKER_URL}); loopback addresses only
  --setup              only prepare .dev.vars for local payments (see README.md): when empty, a generated
                       STRIPE_WEBHOOK_SIGNING_SECRET; without a Stripe key, STRIPE_SECRET=${LOCAL_STRIPE_SECRET}
                       and STRIPE_API_BASE=${LOCAL_STRIPE_API_BASE} (the stand-in)
  -h, --help`;

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------
// .dev.vars

export interface DevVarsFile {
  path: string;
  vars: Record<string, string>;
}

export function readDevVars(dir: string): DevVarsFile {
  const path = join(dir, ".dev.vars");
  if (!existsSync(path)) {
    throw new UsageError(
      "no .dev.vars here. Run this in the project folder; create-stripeflare writes .dev.vars " +
        "(or: cp .dev.vars.example .dev.vars and set DB_SECRET, e.g. `openssl rand -hex 32`).",
    );
  }
  return { path, vars: parseEnv(readFileSync(path, "utf8")) as Record<string, string> };
}

/**
 * Sets keys in .dev.vars, keeping every other line (and its comments) as it is. Written to a
 * temporary file and renamed, keeping the file's mode (0600 from the CLI).
 */
export function updateDevVars(file: DevVarsFile, updates: Record<string, string>): void {
  const lines = readFileSync(file.path, "utf8").split("\n");
  const pending = new Map(Object.entries(updates));
  const updated = lines.map((line) => {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (key && pending.has(key)) {
      const value = pending.get(key)!;
      pending.delete(key);
      return `${key}=${value}`;
    }
    return line;
  });
  if (pending.size > 0) {
    while (updated.length > 0 && updated[updated.length - 1] === "") updated.pop();
    updated.push("", "# Local development only, written by `npm run pay -- --setup`. Never a production secret.");
    for (const [key, value] of pending) updated.push(`${key}=${value}`);
    updated.push("");
  }
  const mode = statSync(file.path).mode & 0o777;
  const temp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temp, updated.join("\n"), { mode });
  chmodSync(temp, mode);
  renameSync(temp, file.path);
  Object.assign(file.vars, updates);
}

/** What --setup would change in .dev.vars (empty when it is ready for local payments). */
export function localSetup(vars: Record<string, string>): Record<string, string> {
  const changes: Record<string, string> = {};
  if (!vars.STRIPE_WEBHOOK_SIGNING_SECRET) {
    // Made here, known only to this .dev.vars and so to the local Worker.
    changes.STRIPE_WEBHOOK_SIGNING_SECRET = `whsec_${randomBytes(24).toString("base64url")}`;
  }
  if (!vars.STRIPE_SECRET) {
    // No Stripe account in use: the Worker's Stripe reads go to the stand-in, with a key
    // that only the stand-in accepts.
    changes.STRIPE_SECRET = LOCAL_STRIPE_SECRET;
    if (!vars.STRIPE_API_BASE) changes.STRIPE_API_BASE = LOCAL_STRIPE_API_BASE;
  }
  return changes;
}

// ---------------------------------------------------------------------------------------
// Arguments

export interface PayOptions {
  clientReferenceId: string;
  amount: number;
  currency: string;
  /** A stand-in test card name, or null for a new card. */
  card: string | null;
  email: string;
  name: string;
  workerUrl: URL;
}

/** True for localhost, 127.0.0.0/8 and [::1]: the only places a local payment may go. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** Accepts a bare client_reference_id or any URL carrying `?client_reference_id=`. */
export function clientReferenceIdFrom(input: string): string {
  let id = input.trim();
  if (/^https?:\/\/|^\?/.test(id)) {
    const query = id.includes("?") ? id.slice(id.indexOf("?") + 1) : "";
    id = new URLSearchParams(query).get("client_reference_id") ?? "";
    if (!id) throw new UsageError(`${input} has no client_reference_id parameter`);
  }
  // Stripe keeps at most 200 characters of [A-Za-z0-9_-] (CONTRACT.md §3).
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(id)) {
    throw new UsageError(`"${input}" is not a client_reference_id (1 to 200 of A-Z a-z 0-9 _ -)`);
  }
  return id;
}

export function parsePayArgs(argv: string[]): { setup: boolean; help: boolean; options?: PayOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      amount: { type: "string", default: "500" },
      currency: { type: "string", default: "usd" },
      card: { type: "string" },
      email: { type: "string", default: "pay@example.com" },
      name: { type: "string", default: "Test Payer" },
      url: { type: "string", default: DEFAULT_WORKER_URL },
      setup: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return { setup: false, help: true };
  if (values.setup) return { setup: true, help: false };
  if (positionals.length !== 1) {
    throw new UsageError("give the visitor's client_reference_id (the page on http://localhost:8787 shows it)");
  }
  const amount = Number(values.amount);
  if (!Number.isSafeInteger(amount) || amount < 1) {
    throw new UsageError(`--amount must be a positive whole number of cents, not "${values.amount}"`);
  }
  if (!/^[a-z]{3}$/i.test(values.currency!)) throw new UsageError(`--currency must be a 3-letter code, not "${values.currency}"`);
  if (values.card !== undefined && !TEST_CARDS.includes(values.card)) {
    throw new UsageError(`--card must be one of ${TEST_CARDS.join(", ")}, not "${values.card}"`);
  }
  let workerUrl: URL;
  try {
    workerUrl = new URL(values.url!);
  } catch {
    throw new UsageError(`--url is not a URL: ${values.url}`);
  }
  if (!/^https?:$/.test(workerUrl.protocol) || !isLoopbackHost(workerUrl.hostname)) {
    throw new UsageError(
      `refusing to send a test payment to ${workerUrl.origin}: npm run pay only talks to the local Worker ` +
        "(localhost, 127.0.0.1, [::1]). A deployed Worker is paid through Stripe.",
    );
  }
  return {
    setup: false,
    help: false,
    options: {
      clientReferenceId: clientReferenceIdFrom(positionals[0]!),
      amount,
      currency: values.currency!.toLowerCase(),
      card: values.card ?? null,
      email: values.email!,
      name: values.name!,
      workerUrl,
    },
  };
}


// ---------------------------------------------------------------------------------------
// The event

/** A `checkout.session.completed` event as Stripe sends it for a paid Payment Link checkout. */
export function checkoutCompletedEvent(session: Stripe.Checkout.Session): Stripe.Event {
  return {
    id: `evt_local_${randomBytes(12).toString("hex")}`,
    object: "event",
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    data: { object: session },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "checkout.session.completed",
  } as Stripe.Event;
}

/** Signs like Stripe (`t=…,v1=…` over the raw body) and posts to the local /stripe-webhook. */
export async function deliver(
  event: Stripe.Event,
  workerUrl: URL,
  secret: string,
): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(event, null, 2);
  const signature = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret });
  const url = new URL("/stripe-webhook", workerUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature },
      body: payload,
      redirect: "manual",
    });
  } catch (error) {
    throw new UsageError(
      `cannot reach the local Worker at ${url.origin} (${(error as Error).cause ?? (error as Error).message}). ` +
        "Is `npm run dev` running? Pass --url if it listens elsewhere.",
    );
  }
  return { status: response.status, body: await response.text() };
}

// ---------------------------------------------------------------------------------------
// The payment at "Stripe": the local stand-in

interface RecordedPayment {
  paymentIntent: string | null;
  notes: string[];
  close(): Promise<void>;
}

/**
 * Records a paid PaymentIntent (and its charge) at the stand-in that STRIPE_API_BASE names,
 * through the `stripe` SDK as any Stripe client would, so the Worker's reads while handling
 * the event find it. Starts the stand-in for the duration of this payment unless one already
 * listens there (`node scripts/stripe-local.ts`).
 */
export async function recordPayment(vars: Record<string, string>, options: PayOptions): Promise<RecordedPayment> {
  const none = (note: string): RecordedPayment => ({ paymentIntent: null, notes: [note], close: async () => {} });
  if (!vars.STRIPE_API_BASE) {
    return none(
      "STRIPE_API_BASE is not set, so the Worker reads payments from Stripe itself: the event carries no " +
        "PaymentIntent (credited without card details, login by payment not simulated).",
    );
  }
  const base = new URL(vars.STRIPE_API_BASE);
  if (base.protocol !== "http:" || !isLoopbackHost(base.hostname)) {
    return none(`STRIPE_API_BASE (${base.origin}) is not a local stand-in: the event carries no PaymentIntent.`);
  }
  const port = Number(base.port || 80);
  const { startStripeLocal } = await import("./stripe-local.ts");
  let local: Awaited<ReturnType<typeof startStripeLocal>> | undefined;
  const notes: string[] = [];
  try {
    local = await startStripeLocal({ port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    notes.push(`Using the Stripe stand-in already listening on ${base.origin}.`);
  }
  const portTaken = local === undefined;
  try {
    const stripe = new Stripe(vars.STRIPE_SECRET || LOCAL_STRIPE_SECRET, {
      host: base.hostname,
      port,
      protocol: "http",
      maxNetworkRetries: 0,
      telemetry: false,
    });
    const intent = await stripe.paymentIntents.create({
      amount: options.amount,
      currency: options.currency,
      payment_method: `pm_card_${options.card ?? "visa"}`,
      confirm: true,
      receipt_email: options.email,
    });
    if (options.card === null) {
      // "A new card": give this charge a fingerprint no other payment has, so paying does not
      // log the visitor in to someone else's wallet. Only possible in our own stand-in.
      const charge = local?.state.charges.get(String(intent.latest_charge));
      if (charge?.payment_method_details.card) {
        charge.payment_method_details.card.fingerprint = randomBytes(12).toString("base64url").replace(/[-_]/g, "x").slice(0, 16);
      } else {
        notes.push("Paid with the stand-in's visa test card (the running stand-in is not ours to give it a new card).");
      }
    }
    return { paymentIntent: intent.id, notes, close: async () => void (await local?.close()) };
  } catch (error) {
    await local?.close();
    if (portTaken && error instanceof Stripe.errors.StripeError) {
      throw new UsageError(
        `${base.origin} (STRIPE_API_BASE) answered "${error.message}". Another program holds that port; ` +
          "if it is not scripts/stripe-local.ts, set STRIPE_API_BASE in .dev.vars to a free port and restart `npm run dev`.",
      );
    }
    throw error;
  }
}

/** The checkout session a paid Payment Link checkout completes with. */
export function checkoutSession(options: PayOptions, paymentIntent: string | null): Stripe.Checkout.Session {
  const created = Math.floor(Date.now() / 1000);
  return {
    id: `cs_test_local_${randomBytes(16).toString("hex")}`,
    object: "checkout.session",
    amount_subtotal: options.amount,
    amount_total: options.amount,
    cancel_url: null,
    client_reference_id: options.clientReferenceId,
    created,
    currency: options.currency,
    customer: null,
    customer_creation: "if_required",
    customer_details: { address: null, email: options.email, name: options.name, phone: null, tax_exempt: "none", tax_ids: [] },
    customer_email: null,
    expires_at: created + 24 * 60 * 60,
    livemode: false,
    metadata: {},
    mode: "payment",
    payment_intent: paymentIntent,
    payment_link: "plink_local",
    payment_method_types: ["card", "link"],
    payment_status: "paid",
    status: "complete",
    success_url: null,
    url: null,
  } as unknown as Stripe.Checkout.Session;
}

// ---------------------------------------------------------------------------------------

async function pay(vars: Record<string, string>, options: PayOptions): Promise<number> {
  const payment = await recordPayment(vars, options);
  try {
    const session = checkoutSession(options, payment.paymentIntent);
    const event = checkoutCompletedEvent(session);
    const answer = await deliver(event, options.workerUrl, vars.STRIPE_WEBHOOK_SIGNING_SECRET!);
    for (const note of payment.notes) console.log(note);
    const summary = `${options.amount} ${options.currency} for ${options.clientReferenceId} (${session.id})`;
    let body: { credited?: boolean; duplicate?: boolean } | undefined;
    try {
      body = JSON.parse(answer.body);
    } catch {
      body = undefined;
    }
    if (answer.status >= 200 && answer.status < 300 && body?.credited) {
      console.log(`Paid ${summary}. Reload the page to see the new balance.`);
      return 0;
    }
    console.error(`pay: the Worker did not credit ${summary}: ${answer.status} ${answer.body.trim()}`);
    if (answer.status === 400) {
      console.error(
        "pay: the signature did not verify: the running Worker has another STRIPE_WEBHOOK_SIGNING_SECRET. " +
          "Restart `npm run dev` after changing .dev.vars.",
      );
    } else if (answer.status === 200) {
      console.error("pay: is that the client_reference_id this Worker showed? (It only opens with this Worker's DB_SECRET.)");
    }
    return 1;
  } finally {
    await payment.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parsePayArgs(argv);
    if (args.help) {
      console.log(USAGE);
      return 0;
    }
    const file = readDevVars(process.cwd());
    const changes = localSetup(file.vars);
    if (Object.keys(changes).length > 0) {
      updateDevVars(file, changes);
      console.log(`Wrote to .dev.vars, for local development only: ${Object.keys(changes).join(", ")}.`);
      console.log("(Re)start `npm run dev` so the Worker reads them: wrangler reads .dev.vars when it starts.");
      if (!args.setup) {
        console.log("Then run this command again.");
        return 1;
      }
      return 0;
    }
    if (args.setup) {
      console.log(".dev.vars is ready for local payments.");
      return 0;
    }
    return await pay(file.vars, args.options!);
  } catch (error) {
    if (error instanceof UsageError) console.error(`pay: ${error.message}`);
    else if (error instanceof Stripe.errors.StripeError) console.error(`pay: the Stripe stand-in refused: ${error.message}`);
    else console.error(`pay: ${(error as Error).message ?? error}`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
