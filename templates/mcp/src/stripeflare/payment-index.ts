// The payment index: one small global database (per version) that decides, once per checkout
// session, which account a payment credits, and whether the browser that paid may log in. It
// is only on the webhook and payment-return paths, which are rare, so one object is plenty.
//
// - accounts:     every account id that has been credited (accounts are born by payment).
// - aliases:      account -> the account it was merged into (login by payment, see beginLogin).
// - claims:       checkout session id -> the account it credits: always the account named by
//                 the session's client_reference_id (the link's owner), or what that account
//                 had been merged into when it was claimed. Written once; a redelivery gets
//                 the same answer (and, if that account was merged since, where it went).
// - payers:       checkout session id -> how it was paid (card fingerprint, Link email) and when.
// - fingerprints: card fingerprint -> the account that card logs in to.
// - emails:       verified (Link) email -> the account that email logs in to.
//                 Both are written only when the browser that paid comes back through the
//                 Payment Link's redirect holding the link owner's token (beginLogin), never by
//                 a webhook: whoever pays someone else's link ties nothing to that link's owner.
// - logins:       checkout session id -> the one login by payment it allowed.
// - payments:     PaymentIntent / Charge id -> the account its checkout session credited, so
//                 a refund or dispute (which names only the charge) debits that same account.
//                 Claims made before this table existed have no rows here; the webhook then
//                 asks Stripe for the charge's checkout session and finds its claim.

import type { ClaimRequest, ClaimResult, LoginDecision, LoginRequest, PaymentRecord } from "./types";

/** How long after paying the browser that paid may still log in through the redirect. */
export const LOGIN_WINDOW_SECONDS = 60 * 60;

export const INDEX_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS accounts (
    account TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`,
  `CREATE TABLE IF NOT EXISTS fingerprints (card_fingerprint TEXT PRIMARY KEY, account TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS emails (verified_email TEXT PRIMARY KEY, account TEXT NOT NULL)`,
  // Facts about this database's data, for just-in-time upgrades (see upgradeIndex).
  `CREATE TABLE IF NOT EXISTS index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS claims (
    reference TEXT PRIMARY KEY,
    visitor TEXT NOT NULL,
    account TEXT NOT NULL,
    created_account INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`,
  `CREATE TABLE IF NOT EXISTS payments (
    stripe_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    checkout_session TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS aliases (account TEXT PRIMARY KEY, target TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS payers (
    reference TEXT PRIMARY KEY,
    card_fingerprint TEXT,
    verified_email TEXT,
    paid_at INTEGER
  )`,
  `CREATE TABLE IF NOT EXISTS logins (
    reference TEXT PRIMARY KEY,
    decision TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`,
];

export function claimPayment(sql: SqlStorage, req: ClaimRequest): ClaimResult {
  const previous = sql
    .exec<{ account: string; created_account: number }>(
      `SELECT account, created_account FROM claims WHERE reference = ?`,
      req.reference,
    )
    .toArray()[0];
  if (previous) {
    // A redelivery may carry ids the first delivery could not read (Stripe was down then).
    const now = resolve(sql, previous.account);
    recordPaymentIds(sql, req.paymentIds, now, req.reference);
    recordPayer(sql, req);
    return { account: previous.account, mergedInto: now === previous.account ? null : now, createdAccount: previous.created_account === 1, duplicate: true };
  }

  // The link's owner receives what was paid on it, whatever card paid: a payment never moves
  // anyone into another account (that happens only in the browser that paid, beginLogin).
  const account = resolve(sql, req.visitor);
  const createdAccount = !isAccount(sql, account);
  if (createdAccount) sql.exec(`INSERT INTO accounts (account) VALUES (?)`, account);
  sql.exec(
    `INSERT INTO claims (reference, visitor, account, created_account, amount) VALUES (?, ?, ?, ?, ?)`,
    req.reference,
    req.visitor,
    account,
    createdAccount ? 1 : 0,
    req.amount,
  );
  recordPayer(sql, req);
  recordPaymentIds(sql, req.paymentIds, account, req.reference);
  return { account, mergedInto: null, createdAccount, duplicate: false };
}

/**
 * Login by payment, decided once per checkout session when the browser that paid comes back
 * through the Payment Link's redirect (`browser`: the account its token opens, or null):
 *
 * - the card (or Link email) belongs to another account: the browser becomes that account,
 *   and the account the browser held so far (if it has one) is merged into it;
 * - the card belongs to nobody yet and the browser is the link's owner: the card (and email)
 *   now log in to the owner's account;
 * - anything else (someone else's link, a late or second visit): nothing.
 *
 * A repeat of a login that has not finished (the merge failed midway) answers the same
 * decision, so it can be completed; a finished one answers "none".
 */
export function beginLogin(sql: SqlStorage, req: LoginRequest): LoginDecision {
  const previous = sql.exec<{ decision: string; done: number }>(`SELECT decision, done FROM logins WHERE reference = ?`, req.reference).toArray()[0];
  if (previous) return previous.done ? { kind: "none", reason: "this payment was already used to log in" } : JSON.parse(previous.decision);

  const claim = sql.exec<{ account: string }>(`SELECT account FROM claims WHERE reference = ?`, req.reference).toArray()[0];
  if (!claim) return { kind: "none", reason: "the payment is not credited yet" };
  const payer = sql
    .exec<{ card_fingerprint: string | null; verified_email: string | null; paid_at: number | null }>(
      `SELECT card_fingerprint, verified_email, paid_at FROM payers WHERE reference = ?`,
      req.reference,
    )
    .toArray()[0];
  let decision: LoginDecision;
  if (!payer || (!payer.card_fingerprint && !payer.verified_email)) {
    decision = { kind: "none", reason: "the payment carries no card fingerprint or Link email" };
  } else if (payer.paid_at === null || req.now - payer.paid_at > LOGIN_WINDOW_SECONDS) {
    decision = { kind: "none", reason: `the payment is older than ${LOGIN_WINDOW_SECONDS} s` };
  } else {
    const owner = resolve(sql, claim.account);
    const browser = req.browser === null ? null : resolve(sql, req.browser);
    const known = findByFingerprint(sql, payer.card_fingerprint) ?? findByEmail(sql, payer.verified_email);
    const tied = known === undefined ? undefined : resolve(sql, known);
    if (tied !== undefined && tied !== browser) {
      const mergeFrom = browser !== null && isAccount(sql, browser) ? browser : null;
      if (mergeFrom) mergeInto(sql, mergeFrom, tied);
      decision = { kind: "login", account: tied, mergeFrom };
    } else if (tied === undefined && browser === owner) {
      tie(sql, payer.card_fingerprint, payer.verified_email, owner);
      decision = { kind: "none", reason: "the card now logs in to this account" };
    } else {
      decision = { kind: "none", reason: tied === undefined ? "the card belongs to no account" : "already this account" };
    }
  }
  sql.exec(
    `INSERT INTO logins (reference, decision, done) VALUES (?, ?, ?)`,
    req.reference,
    JSON.stringify(decision),
    decision.kind === "none" ? 1 : 0,
  );
  return decision;
}

/**
 * Wallets before 1.1.0 tied a card (or email) to the first account it paid into, from the
 * webhook alone: whoever paid someone else's link was tied to that link's owner and could log
 * in to their wallet by paying again. Those ties cannot be told from honest ones, so an index
 * written by such a wallet forgets them, once, the first time a 1.1.0 wallet opens it; a card
 * ties again when its owner's browser next comes back through the redirect. A new index is
 * marked at creation. Runs once per object start (the schema check), one SELECT.
 */
export function upgradeIndex(sql: SqlStorage, fresh: boolean): void {
  if (sql.exec(`SELECT 1 FROM index_meta WHERE key = 'ties'`).toArray().length) return;
  if (!fresh) {
    const [{ ties }] = sql.exec<{ ties: number }>(`SELECT (SELECT count(*) FROM fingerprints) + (SELECT count(*) FROM emails) AS ties`).toArray() as [{ ties: number }];
    sql.exec(`DELETE FROM fingerprints`);
    sql.exec(`DELETE FROM emails`);
    console.log(`[stripeflare] payment index from before 1.1.0: forgot ${ties} card/email ties made by webhooks alone`);
  }
  sql.exec(`INSERT INTO index_meta (key, value) VALUES ('ties', 'browser-return')`);
}

export function finishLogin(sql: SqlStorage, reference: string): void {
  sql.exec(`UPDATE logins SET done = 1 WHERE reference = ?`, reference);
}

/**
 * From now on everything that named `from` names `into`: payments (a refund debits where the
 * money is now), cards, emails, aliases. Claims keep the account they credited: that
 * account's ledger holds the session's unique credit row, so a redelivery stays a no-op there
 * (and creditSession forwards what a late first delivery credits).
 */
function mergeInto(sql: SqlStorage, from: string, into: string): void {
  sql.exec(`INSERT INTO aliases (account, target) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET target = excluded.target`, from, into);
  sql.exec(`UPDATE aliases SET target = ? WHERE target = ?`, into, from);
  for (const table of ["payments", "fingerprints", "emails"]) {
    sql.exec(`UPDATE ${table} SET account = ? WHERE account = ?`, into, from);
  }
}

function tie(sql: SqlStorage, fingerprint: string | null, email: string | null, account: string): void {
  if (fingerprint) sql.exec(`INSERT OR IGNORE INTO fingerprints (card_fingerprint, account) VALUES (?, ?)`, fingerprint, account);
  if (email) sql.exec(`INSERT OR IGNORE INTO emails (verified_email, account) VALUES (?, ?)`, email, account);
}

/** The account an account id stands for now (itself, or what it was merged into). */
function resolve(sql: SqlStorage, account: string): string {
  return sql.exec<{ target: string }>(`SELECT target FROM aliases WHERE account = ?`, account).toArray()[0]?.target ?? account;
}

function isAccount(sql: SqlStorage, account: string): boolean {
  return sql.exec(`SELECT 1 FROM accounts WHERE account = ?`, account).toArray().length > 0;
}

function recordPayer(sql: SqlStorage, req: ClaimRequest): void {
  sql.exec(
    `INSERT INTO payers (reference, card_fingerprint, verified_email, paid_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (reference) DO UPDATE SET
       card_fingerprint = coalesce(card_fingerprint, excluded.card_fingerprint),
       verified_email = coalesce(verified_email, excluded.verified_email),
       paid_at = coalesce(paid_at, excluded.paid_at)`,
    req.reference,
    req.cardFingerprint,
    req.verifiedEmail,
    req.paidAt,
  );
}

/**
 * The account a Stripe payment credited, by its PaymentIntent / Charge ids or (for claims
 * older than the payments table) by its checkout session ids. Found by session: the ids are
 * recorded, so the next event about this payment is one lookup. Null: not a payment of this
 * Worker.
 */
export function findPayment(sql: SqlStorage, paymentIds: string[], checkoutSessions: string[] = []): PaymentRecord | null {
  for (const id of paymentIds) {
    const row = sql
      .exec<{ account: string; checkout_session: string }>(`SELECT account, checkout_session FROM payments WHERE stripe_id = ?`, id)
      .toArray()[0];
    if (row) return { account: row.account, checkoutSession: row.checkout_session };
  }
  for (const session of checkoutSessions) {
    const claim = sql.exec<{ account: string }>(`SELECT account FROM claims WHERE reference = ?`, session).toArray()[0];
    if (claim) {
      recordPaymentIds(sql, paymentIds, claim.account, session);
      return { account: claim.account, checkoutSession: session };
    }
  }
  return null;
}

function recordPaymentIds(sql: SqlStorage, ids: string[] | undefined, account: string, session: string): void {
  for (const id of ids ?? []) {
    sql.exec(`INSERT OR IGNORE INTO payments (stripe_id, account, checkout_session) VALUES (?, ?, ?)`, id, account, session);
  }
}

function findByFingerprint(sql: SqlStorage, fingerprint: string | null): string | undefined {
  if (!fingerprint) return undefined;
  return sql.exec<{ account: string }>(`SELECT account FROM fingerprints WHERE card_fingerprint = ?`, fingerprint).toArray()[0]?.account;
}

function findByEmail(sql: SqlStorage, email: string | null): string | undefined {
  if (!email) return undefined;
  return sql.exec<{ account: string }>(`SELECT account FROM emails WHERE verified_email = ?`, email).toArray()[0]?.account;
}
