// Agent payments: every 402 of the wallet also carries an MPP challenge (./mpp.ts) for one
// top-up with Stripe's `stripe` method, and a request that answers it with a credential (an
// agent's Shared Payment Token) is settled here, credited, then served as usual.
//
// - Off unless configured: `withStripeflare(handler, { agentPayments: true })` and the Worker's
//   STRIPE_NETWORK_ID (the Stripe profile agents' tokens are granted to), TOP_UP_AMOUNT and
//   CURRENCY. SPTs are a Stripe preview: the account must be enabled for them.
// - A challenge is bound (HMAC id) to its amount, currency, realm (the host), expiry and the
//   wallet it tops up: `opaque` holds that wallet's sealed client_reference_id, as a Payment
//   Link does. A credential is redeemed only by the caller it was issued to: the wallet's own
//   token (a Bearer token stays in Authorization; the credential goes in Payment-Authorization),
//   or, for a caller that had no wallet yet, anyone holding the credential, who then receives
//   the new wallet's token (X-Access-Token).
// - Settling: one PaymentIntent per credential (idempotency key from the challenge id and the
//   token, so a retry after a timeout finds the same payment), credited once per PaymentIntent
//   through the payment index and the ledger, like a checkout session: refunds and disputes of
//   it debit the same wallet. A credential whose payment is credited already is a replay: 402.

import { stub, type Databases } from "./databases";
import { decodeReference, encodeReference, mintToken, type Token } from "./identity";
import {
  CREDENTIAL_HEADER,
  issueChallenge,
  isOurChallenge,
  problem,
  serializeChallenge,
  serializeReceipt,
  type Credential,
  type ProblemKind,
} from "./mpp";
import type { Session } from "./session";
import { createSptPaymentIntent, isStripeAmount, liveKey, STRIPE_MAX_AMOUNT, StripeRequestError } from "./stripe";
import type { StripeflareEnv, StripeUser } from "./types";

export interface AgentPaymentOptions {
  /** Cents one agent top-up credits (default: the Worker's TOP_UP_AMOUNT). At least the price asked. */
  amount?: number;
  /** Stripe profile the agents' tokens are granted to (default: the Worker's STRIPE_NETWORK_ID). */
  networkId?: string;
  /** Default ["card"]. */
  paymentMethodTypes?: string[];
  /** How long a challenge can be paid, in seconds (default 900). */
  expiresIn?: number;
}

export interface AgentPayments {
  amount: number;
  currency: string;
  networkId: string;
  paymentMethodTypes: string[];
  expiresIn: number;
}

/** What a 402 tells an agent about paying it (also in `PaymentRequiredDetails.agentPayment`). */
export interface AgentPaymentOffer {
  scheme: "Payment";
  method: "stripe";
  intent: "charge";
  /** Cents the top-up credits. */
  amount: number;
  currency: string;
  /** Expiry of the challenge in WWW-Authenticate. */
  expires: string;
  /** Send the credential here; keep the wallet's Bearer token in Authorization. */
  credentialHeader: string;
}

let warned = false;

/** The agent payments this Worker offers, or null (off, or configured only in part: logged once). */
export function agentPayments(env: StripeflareEnv, option: boolean | AgentPaymentOptions | undefined): AgentPayments | null {
  if (!option) return null;
  const o = option === true ? {} : option;
  const amount = o.amount ?? Number(env.TOP_UP_AMOUNT);
  const currency = (env.CURRENCY ?? "").trim().toLowerCase();
  const networkId = (o.networkId ?? env.STRIPE_NETWORK_ID ?? "").trim();
  const missing = [
    !networkId && "STRIPE_NETWORK_ID",
    !(isStripeAmount(amount) && amount > 0) && "TOP_UP_AMOUNT (whole cents, more than 0)",
    !/^[a-z]{3}$/.test(currency) && "CURRENCY",
    !env.STRIPE_SECRET && "STRIPE_SECRET",
  ].filter(Boolean);
  if (missing.length) {
    if (!warned) console.warn(`[stripeflare] agent payments are off: set ${missing.join(", ")}`);
    warned = true;
    return null;
  }
  return { amount, currency, networkId, paymentMethodTypes: o.paymentMethodTypes ?? ["card"], expiresIn: o.expiresIn ?? 900 };
}

/** The challenge (and what the body says of it) for a wallet that is `shortBy` cents short. */
export async function offerTopUp<U extends StripeUser>(
  env: StripeflareEnv,
  config: AgentPayments,
  url: URL,
  session: Session<U>,
  shortBy: number,
): Promise<{ header: string; offer: AgentPaymentOffer }> {
  // One payment always covers the price asked: the top-up, or the shortfall when larger.
  const amount = Math.min(Math.max(config.amount, shortBy), STRIPE_MAX_AMOUNT);
  const expires = new Date(Date.now() + config.expiresIn * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const challenge = await issueChallenge(env.DB_SECRET, {
    realm: url.host,
    method: "stripe",
    intent: "charge",
    request: {
      amount: String(amount),
      currency: config.currency,
      description: `Wallet top-up at ${url.host}`,
      methodDetails: { networkId: config.networkId, paymentMethodTypes: config.paymentMethodTypes },
    },
    description: `Top up your wallet at ${url.host} (${amount} ${config.currency} in cents)`,
    expires,
    header: CREDENTIAL_HEADER,
    opaque: session.clientReferenceId,
  });
  return {
    header: serializeChallenge(challenge),
    offer: { scheme: "Payment", method: "stripe", intent: "charge", amount, currency: config.currency, expires, credentialHeader: CREDENTIAL_HEADER },
  };
}

/** A refused credential: why, and the status to answer (402 with a fresh challenge, or 503). */
export interface Refusal {
  kind: ProblemKind;
  detail: string;
  status: 402 | 503;
}

export interface Settled {
  /** The token to serve the request with: the caller's own, or the new wallet's. */
  token: Token;
  /** A token minted for the caller (it had none): sent back in X-Access-Token. */
  issued: Token | null;
  receipt: string;
}

/**
 * Settles a credential for the caller of `session` (loaded without a charge): checks it is a
 * challenge this Worker issued to this caller and still payable, has Stripe take the payment,
 * credits it once. Never throws for what the caller sent.
 */
export async function settle<U extends StripeUser>(
  env: StripeflareEnv,
  config: AgentPayments,
  url: URL,
  session: Session<U>,
  presented: Token | null,
  credential: Credential,
  dbs: Databases,
): Promise<Settled | Refusal> {
  const refuse = (kind: ProblemKind, detail: string, status: 402 | 503 = 402): Refusal => {
    console.warn(`[stripeflare] agent payment refused (${kind}): ${detail}`);
    return { kind, detail, status };
  };
  const { challenge, payload } = credential;
  if (challenge.method !== "stripe" || challenge.intent !== "charge") return refuse("invalid-challenge", `this Worker takes method "stripe", intent "charge", not ${JSON.stringify(challenge.method)} / ${JSON.stringify(challenge.intent)}`);
  if (!(await isOurChallenge(env.DB_SECRET, challenge))) return refuse("invalid-challenge", "the challenge was not issued by this Worker, or was changed");
  if (challenge.realm !== url.host) return refuse("invalid-challenge", `the challenge is for ${challenge.realm}, not ${url.host}`);
  const expires = Date.parse(challenge.expires ?? "");
  if (!(expires > Date.now())) return refuse("payment-expired", `the challenge expired at ${challenge.expires}; pay the new one`);
  const request = challenge.request as { amount?: unknown; currency?: unknown };
  const amount = Number(request.amount);
  if (typeof request.amount !== "string" || !/^\d+$/.test(request.amount) || !isStripeAmount(amount) || amount === 0) return refuse("invalid-challenge", "the challenge has no valid amount");
  if (request.currency !== config.currency) return refuse("invalid-challenge", `the challenge is in ${JSON.stringify(request.currency)}, the wallet in ${config.currency}`);
  const spt = payload.spt;
  if (typeof spt !== "string" || !/^spt_[A-Za-z0-9_]{1,200}$/.test(spt)) return refuse("malformed-credential", "the payload has no Shared Payment Token (spt_…)");

  // Whose wallet: the one the challenge was issued to, and only for the caller it was issued to.
  const wallet = await decodeReference(env.DB_SECRET, challenge.opaque ?? "");
  if (!wallet) return refuse("invalid-challenge", "the challenge names no wallet of this Worker");
  let register: Token | null = null; // the token the payment registers when it creates the wallet
  let issued: Token | null = null;
  if (session.budget) return refuse("invalid-challenge", "a budget token cannot top up a wallet; the wallet's owner can");
  if (presented) {
    const own = session.hasRow ? session.account === wallet.account : presented.account === wallet.account && presented.hash === wallet.tokenHash;
    if (!own) return refuse("invalid-challenge", "the challenge was issued to another wallet than the token sent with it");
    if (!session.hasRow) register = presented;
  } else {
    if (!wallet.tokenHash) {
      return refuse("invalid-challenge", `the challenge tops up an existing wallet: send its token (Authorization: Bearer) with the credential in ${CREDENTIAL_HEADER}`);
    }
    issued = register = await mintToken(wallet.account);
  }

  let intent;
  try {
    intent = await createSptPaymentIntent(
      env,
      {
        amount: String(amount),
        currency: config.currency,
        confirm: "true",
        shared_payment_granted_token: spt,
        "automatic_payment_methods[enabled]": "true",
        "automatic_payment_methods[allow_redirects]": "never",
        "metadata[mpp_challenge_id]": challenge.id,
        "metadata[mpp_intent]": "charge",
        "metadata[stripeflare]": "agent top-up",
      },
      // One PaymentIntent per credential: a retry after a lost answer finds the same one.
      `stripeflare-mpp-${challenge.id}-${spt}`.slice(0, 255),
    );
  } catch (error) {
    if (error instanceof StripeRequestError) return refuse("verification-failed", `Stripe refused the payment: ${error.message}`);
    return refuse("verification-failed", `Stripe could not be reached (${error instanceof Error ? error.message : error}); retry with the same credential`, 503);
  }
  if (intent.status === "requires_action") return refuse("payment-action-required", `PaymentIntent ${intent.id} requires action by the payer`);
  if (intent.status !== "succeeded") return refuse("verification-failed", `PaymentIntent ${intent.id} is ${intent.status}, not succeeded`);
  if (intent.amount_received !== amount || intent.currency !== config.currency || intent.livemode !== liveKey(env.STRIPE_SECRET)) {
    return refuse("verification-failed", `PaymentIntent ${intent.id} is not the payment asked for (${intent.amount_received} ${intent.currency})`);
  }

  const chargeId = typeof intent.latest_charge === "string" ? intent.latest_charge : (intent.latest_charge?.id ?? null);
  const claim = await stub(env, dbs.index).claim(dbs.index, {
    reference: intent.id,
    visitor: wallet.account,
    amount,
    // An agent's card logs nobody in: login by payment is for the browser that paid.
    cardFingerprint: null,
    verifiedEmail: null,
    paidAt: intent.created,
    paymentIds: [intent.id, chargeId].filter((id): id is string => !!id),
  });
  const account = claim.account;
  const credit = await stub(env, dbs.account(account)).credit(dbs.account(account), {
    account,
    reference: intent.id,
    amount,
    currency: config.currency,
    email: null,
    name: null,
    cardFingerprint: null,
    verifiedEmail: null,
    tokenHash: claim.createdAccount ? (register?.hash ?? null) : null,
    clientReferenceId: await encodeReference(env.DB_SECRET, { account }),
    description: `Agent payment ${intent.id} (MPP)`,
  });
  if (credit.duplicate) return refuse("invalid-challenge", `this credential was used already: PaymentIntent ${intent.id} is credited; nothing was charged again`);
  console.log(`[stripeflare] agent payment ${intent.id}: credited ${amount} ${config.currency} to ${account} (balance ${credit.balance})`);
  if (issued && (!claim.createdAccount || account !== wallet.account)) {
    // The wallet had been created meanwhile (paid through its link, say): the money is there,
    // and its owner's tokens open it; this caller gets none.
    return refuse("invalid-challenge", `PaymentIntent ${intent.id} was credited to the wallet the challenge named, which has its own token now: send it`);
  }
  const receipt = serializeReceipt({ method: "stripe", reference: intent.id, status: "success", timestamp: new Date().toISOString() });
  return { token: issued ?? presented!, issued, receipt };
}

/** The 402 (or 503) of a refused credential: an RFC 9457 body and, on 402, a fresh challenge. */
export async function refusal<U extends StripeUser>(
  env: StripeflareEnv,
  config: AgentPayments,
  url: URL,
  session: Session<U>,
  refused: Refusal,
  price: number,
): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/problem+json", "Cache-Control": "private, no-store" };
  let extra: Record<string, unknown> = {};
  if (refused.status === 402 && !session.budget) {
    const { header, offer } = await offerTopUp(env, config, url, session, Math.max(0, price - Number(session.user.balance ?? 0)));
    headers["WWW-Authenticate"] = header;
    extra = { agentPayment: offer, paymentLink: session.paymentLink };
  } else if (refused.status === 503) headers["Retry-After"] = "5";
  const body = { ...problem(refused.kind, refused.detail), status: refused.status, ...extra };
  return new Response(JSON.stringify(body, null, 2) + "\n", { status: refused.status, headers });
}
