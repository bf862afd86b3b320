// `npm run pay -- <client_reference_id>`: a local test payment, with no Stripe account.
//
// Does what `stripe trigger checkout.session.completed` does against a real account: a paid
// checkout session exists at "Stripe" (here the local stand-in, scripts/stripe-local.ts, which
// also answers the Worker's reads of the PaymentIntent and its charge), and a signed
// `checkout.session.completed` event for it reaches the Worker's /stripe-webhook.
// `npm run pay -- --refund <pi_…|ch_…>` refunds such a payment and sends `charge.refunded`.
//
// Why this cannot credit a deployed Worker: the Worker trusts no "local" switch; it verifies
// each event's signature with its own STRIPE_WEBHOOK_SIGNING_SECRET. This script signs with
// the one in .dev.vars (generated locally by --setup when empty) and sends only to loopback
// addresses, with no option to do otherwise.
//
//   pay/dev-vars.ts   .dev.vars, and what --setup writes to it
//   pay/stand-in.ts   the payment, its checkout session and refunds at the local stand-in
//   pay/events.ts     the events, signed and delivered to the local Worker
import { parseArgs } from "node:util";
import Stripe from "stripe";
// Money as people read it ($5.00, ¥500), the same function the pages use.
import { formatMoney } from "../src/stripeflare/money.ts";
import { LOCAL_STRIPE_API_BASE, LOCAL_STRIPE_SECRET, localSetup, readDevVars, updateDevVars } from "./pay/dev-vars.ts";
import { chargeRefundedEvent, checkoutCompletedEvent, deliver } from "./pay/events.ts";
import { checkoutSession, isLoopbackHost, recordPayment, refundPayment, type PaymentRequest } from "./pay/stand-in.ts";
import { UsageError } from "./pay/usage-error.ts";

export { isLoopbackHost } from "./pay/stand-in.ts";
export { LOCAL_STRIPE_API_BASE, LOCAL_STRIPE_SECRET } from "./pay/dev-vars.ts";

const DEFAULT_WORKER_URL = "http://localhost:8787";
/** The stand-in's test cards (scripts/stripe-local.ts), by the names --card takes. */
const TEST_CARDS = ["visa", "visa_debit", "mastercard", "amex", "discover"];

const USAGE = `Usage: npm run pay -- <client_reference_id | payment link URL> [options]
       npm run pay -- --refund <payment_intent | charge id> [--amount <cents>] [--url <url>]
       npm run pay -- --setup

Sends a signed checkout.session.completed for that visitor to the local Worker (npm run dev).
The page at http://localhost:8787 shows this command with your client_reference_id.

Options:
  --amount <cents>     amount paid (or refunded), in the currency's smallest unit (default 500; a
                       refund: all that is left)
  --currency <code>    ISO 4217 currency (default usd)
  --card <brand>       pay with the stand-in's test card visa, visa_debit, mastercard, amex or discover
                       (each has one card fingerprint: paying again with it from another browser logs
                       that browser in to the first wallet); default: a new card every time
  --email <address>    the payer's email (default pay@example.com)
  --name <text>        the payer's name (default Test Payer)
  --url <url>          the local Worker (default ${DEFAULT_WORKER_URL}); loopback addresses only
  --refund <id>        refund a local payment (its pi_… or ch_…) and send charge.refunded. Needs the
                       stand-in that holds the payment: start \`npm run stripe-local\` before paying
                       (a stand-in started by npm run pay itself forgets its payments when it ends)
  --setup              only prepare .dev.vars for local payments (see README.md): when empty, a generated
                       STRIPE_WEBHOOK_SIGNING_SECRET; without a Stripe key, STRIPE_SECRET=${LOCAL_STRIPE_SECRET}
                       and STRIPE_API_BASE=${LOCAL_STRIPE_API_BASE} (the stand-in)
  -h, --help`;

// ---------------------------------------------------------------------------------------
// Arguments

export interface PayOptions extends PaymentRequest {
  workerUrl: URL;
}

export interface RefundOptions {
  /** pi_… or ch_… of a local payment. */
  id: string;
  /** Cents to refund; null for all that is left. */
  amount: number | null;
  workerUrl: URL;
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

function positiveCents(text: string, flag: string): number {
  const amount = Number(text);
  if (!Number.isSafeInteger(amount) || amount < 1) {
    throw new UsageError(`${flag} must be a positive whole number of cents, not "${text}"`);
  }
  return amount;
}

function localWorkerUrl(text: string): URL {
  let workerUrl: URL;
  try {
    workerUrl = new URL(text);
  } catch {
    throw new UsageError(`--url is not a URL: ${text}`);
  }
  if (!/^https?:$/.test(workerUrl.protocol) || !isLoopbackHost(workerUrl.hostname)) {
    throw new UsageError(
      `refusing to send a test payment to ${workerUrl.origin}: npm run pay only talks to the local Worker ` +
        "(localhost, 127.0.0.1, [::1]). A deployed Worker is paid through Stripe.",
    );
  }
  return workerUrl;
}

export function parsePayArgs(argv: string[]): { setup: boolean; help: boolean; options?: PayOptions; refund?: RefundOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      amount: { type: "string" },
      currency: { type: "string", default: "usd" },
      card: { type: "string" },
      email: { type: "string", default: "pay@example.com" },
      name: { type: "string", default: "Test Payer" },
      url: { type: "string", default: DEFAULT_WORKER_URL },
      refund: { type: "string" },
      setup: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return { setup: false, help: true };
  if (values.setup) return { setup: true, help: false };
  if (values.refund !== undefined) {
    if (positionals.length > 0) throw new UsageError("--refund takes the payment's id only, no client_reference_id");
    if (!/^(pi|ch)_[A-Za-z0-9_]+$/.test(values.refund)) {
      throw new UsageError(`--refund needs a PaymentIntent (pi_…) or charge (ch_…) id, not "${values.refund}"`);
    }
    const amount = values.amount === undefined ? null : positiveCents(values.amount, "--amount");
    return { setup: false, help: false, refund: { id: values.refund, amount, workerUrl: localWorkerUrl(values.url!) } };
  }
  if (positionals.length !== 1) {
    throw new UsageError("give the visitor's client_reference_id (the page on http://localhost:8787 shows it)");
  }
  const amount = positiveCents(values.amount ?? "500", "--amount");
  if (!/^[a-z]{3}$/i.test(values.currency!)) throw new UsageError(`--currency must be a 3-letter code, not "${values.currency}"`);
  if (values.card !== undefined && !TEST_CARDS.includes(values.card)) {
    throw new UsageError(`--card must be one of ${TEST_CARDS.join(", ")}, not "${values.card}"`);
  }
  const workerUrl = localWorkerUrl(values.url!);
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

function jsonOf(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function pay(vars: Record<string, string>, options: PayOptions): Promise<number> {
  const payment = await recordPayment(vars, options);
  try {
    const session = checkoutSession(options, payment.paymentIntent, payment.paymentLink);
    await payment.recordSession(session);
    const event = checkoutCompletedEvent(session);
    const answer = await deliver(event, options.workerUrl, vars.STRIPE_WEBHOOK_SIGNING_SECRET!);
    for (const note of payment.notes) console.log(note);
    const paidWith = payment.paymentIntent ? `, ${payment.paymentIntent}` : "";
    const summary = `${formatMoney(options.amount, options.currency)} for ${options.clientReferenceId} (${session.id}${paidWith})`;
    const body = jsonOf(answer.body);
    if (answer.status >= 200 && answer.status < 300 && body?.credited) {
      console.log(`Paid ${summary}. Reload the page to see the new balance.`);
      // Stripe's redirect after paying: only the browser that paid may log in by payment.
      const back = new URL(`/me/paid?session_id=${session.id}`, options.workerUrl);
      if (payment.standInStays) console.log(`Log in by payment, as Stripe's redirect would: open ${back} in the browser that paid.`);
      else console.log("(Login by payment needs the stand-in to keep running: start `npm run stripe-local` before paying.)");
      return 0;
    }
    console.error(`pay: the Worker did not credit ${summary}: ${answer.status} ${answer.body.trim()}`);
    if (answer.status === 400) {
      console.error(
        "pay: the signature did not verify: the running Worker has another STRIPE_WEBHOOK_SIGNING_SECRET. " +
          "Restart `npm run dev` after changing .dev.vars.",
      );
    } else if (answer.status === 200) {
      console.error(
        "pay: is that the client_reference_id this Worker showed (it only opens with this Worker's DB_SECRET), " +
          "and the currency of STRIPE_PAYMENT_LINK's price? Restart `npm run dev` after changing .dev.vars.",
      );
    }
    return 1;
  } finally {
    await payment.close();
  }
}

async function refund(vars: Record<string, string>, options: RefundOptions): Promise<number> {
  const { refund, charge } = await refundPayment(vars, options.id, options.amount);
  const answer = await deliver(chargeRefundedEvent(charge), options.workerUrl, vars.STRIPE_WEBHOOK_SIGNING_SECRET!);
  const body = jsonOf(answer.body);
  const summary = `${formatMoney(refund.amount, refund.currency)} of ${charge.id} (${refund.id})`;
  if (answer.status >= 200 && answer.status < 300 && Array.isArray(body?.applied) && body.applied.length > 0) {
    console.log(`Refunded ${summary}; the Worker debited it. Reload the page to see the new balance.`);
    return 0;
  }
  console.error(`pay: the Worker did not debit the refund ${summary}: ${answer.status} ${answer.body.trim()}`);
  return 1;
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
    if (args.refund) return await refund(file.vars, args.refund);
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
