// Public types of the wallet (CONTRACT.md §3) and the shapes passed between the Worker and
// the DORM Durable Object over RPC.

import type { AgentPaymentOffer, AgentPaymentOptions } from "./agent-payments";
import type { DORM } from "./durable-object";
import type { Budget } from "./budgets";
import type { Idempotency } from "./idempotency";

/** What an Idempotency-Key means to a request: first use (or its own), a retry, another request. */
export type IdempotencyState = "new" | "replay" | "conflict";

/**
 * A row of the `users` table. Extend it with your own columns (and add them with
 * `customMigrations`).
 *
 * `access_token` holds the account id: the public half of the visitor's access token
 * (`<account>.<secret>`). The secret half is stored nowhere, only a hash of the whole token,
 * so `UPDATE users SET ... WHERE access_token = ?` with `ctx.user.access_token` keeps working
 * and stays stable across token rotation, while a database dump opens no account.
 */
export interface StripeUser {
  access_token: string;
  /** Cents (the currency's smallest unit). */
  balance: number;
  name: string | null;
  email: string | null;
  /** Email of a Link payment: proves ownership, so it can log the payer in later. */
  verified_email: string | null;
  /** On a visitor row that logged in by payment: the account id it now belongs to. */
  verified_user_access_token: string | null;
  card_fingerprint: string | null;
  client_reference_id: string | null;
}

/** `{ [version]: [sql, ...] }`, applied just in time, once, in order (dormroom's runMigrations). */
export type Migrations = Record<string | number, string[]>;

export interface StripeflareEnv {
  DORM_NAMESPACE: DurableObjectNamespace<DORM>;
  /** At least 32 characters. Seals client_reference_id; basic-auth password of /db/*. */
  DB_SECRET: string;
  STRIPE_SECRET?: string;
  STRIPE_PUBLISHABLE_KEY?: string;
  STRIPE_WEBHOOK_SIGNING_SECRET?: string;
  STRIPE_PAYMENT_LINK?: string;
  /** Sends the Worker's Stripe reads elsewhere (tests, scripts/stripe-local.ts). */
  STRIPE_API_BASE?: string;
  /** The wallet's currency (ISO 4217, lower case): the Payment Link price's. */
  CURRENCY?: string;
  /** Agent payments (`agentPayments`): cents one top-up credits, as the Payment Link's price. */
  TOP_UP_AMOUNT?: string;
  /** Agent payments: the Stripe profile that agents' Shared Payment Tokens are granted to. */
  STRIPE_NETWORK_ID?: string;
}

/**
 * Price of a request in cents, known before the handler runs. Declaring it lets the wallet
 * charge in the same Durable Object round trip that loads the user (one round trip per paid
 * request instead of two) and answer 402 without running the handler when the balance is short.
 * A map is keyed by pathname ("/charge") or "METHOD /pathname" ("POST /charge").
 */
export type PriceRule = Record<string, number> | ((request: Request) => number | null | undefined);

export interface StripeflareOptions<U extends StripeUser = StripeUser, E = unknown> {
  customMigrations?: Migrations;
  /** Prefixes every database name: a new version starts from empty databases. Default "1". */
  version?: string;
  prices?: PriceRule;
  /**
   * Renders the wallet's own 402: a declared price or an `X-Price` the balance cannot cover.
   * Return a 402 in your app's formats (page, JSON, Markdown); the wallet still adds
   * `X-Balance`, `X-PaymentLink` and any `Set-Cookie`. Without it (or if it throws) the
   * wallet answers plain text, or JSON for `Accept: application/json`. `env` is the Worker's.
   */
  paymentRequired?: (request: Request, details: PaymentRequiredDetails<U>, env: E) => Response | Promise<Response>;
  /**
   * Machine-payable 402s (MPP, ./agent-payments.ts): each 402 also carries a `WWW-Authenticate:
   * Payment` challenge for one top-up that an agent pays with a Stripe Shared Payment Token, and
   * the retried request is credited, served and answered with `Payment-Receipt`. Takes effect
   * once the Worker has STRIPE_NETWORK_ID, TOP_UP_AMOUNT and CURRENCY (off, logged, until then).
   */
  agentPayments?: boolean | AgentPaymentOptions;
}

/** What the wallet knows when it refuses a paid request (see `StripeflareOptions.paymentRequired`). */
export interface PaymentRequiredDetails<U extends StripeUser = StripeUser> {
  /** The price that was refused, in cents. */
  price: number;
  /** The balance in cents (unchanged: nothing was charged). */
  balance: number;
  /** The visitor's payment link (`ctx.paymentLink`). */
  paymentLink: string;
  /** Why, in the wallet's words ("User balance too low", ...). */
  message: string;
  /** The user row, as `ctx.user` would have been. */
  user: U;
  /** As `ctx.registered`: false until a first payment created the account. */
  registered: boolean;
  /**
   * With agent payments on: the top-up an agent can pay right away (the challenge is added to
   * your 402's WWW-Authenticate). Say so in your JSON and Markdown bodies.
   */
  agentPayment?: AgentPaymentOffer;
}

export interface ChargeResult {
  charged: boolean;
  message: string;
  /** Balance after the attempt (cents); absent when there is no account to charge. */
  balance?: number;
  /** Charged by an earlier attempt with the same Idempotency-Key: nothing charged now. */
  replayed?: boolean;
  /** The Idempotency-Key stands for another request: nothing charged. */
  conflict?: boolean;
}

export interface ExecResult<T = any> {
  columnNames: string[];
  rowsRead: number;
  rowsWritten: number;
  array: T[];
  one: T | undefined;
}

/** A pending `exec`: await it for the result, or call `.toArray()` / `.one()` (original style). */
export interface ExecQuery<T = any> extends PromiseLike<ExecResult<T>> {
  toArray(): Promise<T[]>;
  one(): Promise<T | undefined>;
}

/** The user's own database (DORM-style client). Writes to `users` reach the aggregate by the mirror. */
export interface DORMClient {
  /** The database's Durable Object name (`<version>:account:<account id>`). */
  name: string;
  exec<T = any>(sql: string, ...bindings: unknown[]): ExecQuery<T>;
  raw(sql: string, ...bindings: unknown[]): Promise<{ columnNames: string[]; rowsRead: number; rowsWritten: number; raw: unknown[][] }>;
  getSchema(): Promise<string>;
}

export interface StripeflareContext<U extends StripeUser = StripeUser> extends ExecutionContext {
  user: U;
  /** The visitor has an account: at least one payment was credited to it. */
  registered: boolean;
  /** STRIPE_PAYMENT_LINK?client_reference_id=<id of this visitor's account>. */
  paymentLink: string;
  client: DORMClient;
  /**
   * Charges the visitor. `description` (optional) is shown in their statement
   * (`GET /me/transactions`); it is trimmed, stripped of control characters and capped at
   * 200 characters.
   */
  charge(amountCents: number, allowNegativeBalance?: boolean, description?: string): Promise<ChargeResult>;
}

export type StripeflareHandler<E, U extends StripeUser> = (
  request: Request,
  env: E & StripeflareEnv,
  ctx: StripeflareContext<U>,
) => Response | Promise<Response>;

// ---------------------------------------------------------------------------------------
// RPC shapes (Worker -> DORM)

/** What a database is for, and the schema it needs (sent with every call: JIT migrations). */
export interface DatabaseSetup {
  role: "account" | "aggregate" | "index";
  /** Durable Object name of this database. */
  name: string;
  /** Name of the aggregate this account database mirrors to. */
  aggregate: string;
  migrations: Migrations;
  /** Stable fingerprint of `migrations`, so the object re-runs them only when they change. */
  migrationsKey: string;
}

export interface ChargeRequest {
  amount: number;
  allowNegativeBalance: boolean;
  /** What charged: the request ("GET /charge") or "chargeUser". */
  reference?: string;
  description?: string;
  /** The request's Idempotency-Key (./idempotency.ts): charged once per key. */
  idempotency?: Idempotency;
  /** Hash of the budget token that charges (./budgets.ts): at most its cap. */
  budgetTokenHash?: string;
}

export type SessionResult =
  /** No account behind this token (yet): a new visitor. */
  | { kind: "visitor" }
  /** The database has an account, but this token is not one of its tokens (rotated, forged). */
  | { kind: "unknown-token" }
  /**
   * The account was merged into `account` (login by payment). `upgrade`: a browser showing this
   * token for the first time since gets a token of `account` (once per token, never again).
   */
  | { kind: "alias"; account: string; upgrade: boolean }
  | { kind: "user"; user: Record<string, SqlStorageValue>; registered: boolean; charge?: ChargeResult; idempotency?: IdempotencyState; budget?: Budget };

export interface CreditRequest {
  account: string;
  /** Stripe checkout session id: the ledger's unique reference, so it credits at most once. */
  reference: string;
  amount: number;
  currency: string | null;
  email: string | null;
  name: string | null;
  cardFingerprint: string | null;
  verifiedEmail: string | null;
  /** Token hash to register when this credit creates the account. */
  tokenHash: string | null;
  clientReferenceId: string;
  description: string;
}

export interface CreditResult {
  credited: boolean;
  duplicate: boolean;
  balance: number;
}

export interface ClaimRequest {
  reference: string;
  visitor: string;
  amount: number;
  cardFingerprint: string | null;
  verifiedEmail: string | null;
  /** The session's PaymentIntent and Charge ids, so refunds and disputes find the account. */
  paymentIds?: string[];
  /** When it was paid (unix seconds: the charge's `created`), for the login window. */
  paidAt: number | null;
}

/** The browser that paid, back through the Payment Link's redirect. */
export interface LoginRequest {
  /** Checkout session id. */
  reference: string;
  /** The account the browser's token opens now, or null (no token, or one that opens nothing). */
  browser: string | null;
  /** Unix seconds. */
  now: number;
}

export type LoginDecision =
  | { kind: "none"; reason: string }
  /** The browser becomes `account`; `mergeFrom` (the browser's own account) is merged into it. */
  | { kind: "login"; account: string; mergeFrom: string | null };

/** A Stripe payment this Worker credited: the account it credited and its checkout session. */
export interface PaymentRecord {
  account: string;
  checkoutSession: string;
}

export interface RefundRequest {
  account: string;
  /** The Stripe charge (ch_…) refunded. */
  charge: string;
  refunds: { id: string; amount: number; currency: string | null; status: string | null; active: boolean }[];
}

export interface DisputeRequest {
  account: string;
  /** dp_… */
  id: string;
  charge: string;
  amount: number;
  currency: string | null;
  reason: string | null;
  /** "open" holds the amount; "won" holds then releases it; "lost" keeps the hold. */
  outcome: "open" | "won" | "lost";
}

export interface ReversalResult {
  /** What this call changed, one line per ledger row written (empty: a repeat). */
  applied: string[];
  balance: number;
}

/**
 * A ledger row as `GET /me/transactions` shows it. The ledger's own rows have the same shape,
 * except that they call a top-up `credit` (the statement renames it).
 */
export interface StatementEntry {
  id: number;
  /** topup, charge, refund, refund_reversed, dispute, dispute_won, dispute_lost, rotate */
  kind: string;
  /** Signed, in the currency's smallest unit: + money in, - money out. */
  amount: number;
  balance_after: number;
  currency: string | null;
  /** The Stripe object (cs_…, re_…, dp_…) or the request that charged ("POST /charge"). */
  reference: string | null;
  description: string | null;
  created_at: string;
  /** The budget token that made this charge (`POST /me/tokens`), null for the wallet's own tokens. */
  token_id?: string | null;
}

export interface ClaimResult {
  /** Account to credit. */
  account: string;
  /** That account was merged into this one since (login by payment): the credit moves on there. */
  mergedInto: string | null;
  /** This claim made `account` a new account (its first payment). */
  createdAccount: boolean;
  /** The session was claimed before (a redelivery). */
  duplicate: boolean;
}

export interface MirrorSnapshot {
  source: string;
  version: number;
  rows: Record<string, unknown>[];
  migrations: Migrations;
  migrationsKey: string;
}

export interface MirrorAck {
  applied: boolean;
  version: number;
  /** How long the sender should wait between two pushes while busy, in ms (the aggregate's load). */
  interval: number;
}
