// The payment index: one small global database (per version) that decides, once per checkout
// session, which account a payment credits. It is only on the webhook path, and webhooks are
// rare, so a single object is plenty.
//
// - accounts:     every account id that has been credited (accounts are born by payment).
// - fingerprints: card fingerprint -> the first account that paid with that card.
// - emails:       verified (Link) email -> the first account that paid with it.
// - claims:       checkout session id -> the account it credits. Written once; a redelivery
//                 (concurrent or days later) gets the same answer, so the credit that follows
//                 always targets the same account, whose ledger then refuses the duplicate.
// - payments:     PaymentIntent / Charge id -> the account its checkout session credited, so
//                 a refund or dispute (which names only the charge) debits that same account,
//                 login by payment included. Claims made before this table existed have no
//                 rows here; the webhook then asks Stripe for the charge's checkout session
//                 and finds its claim (see findPayment).

import type { ClaimRequest, ClaimResult, PaymentRecord } from "./types";

export const INDEX_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS accounts (
    account TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`,
  `CREATE TABLE IF NOT EXISTS fingerprints (card_fingerprint TEXT PRIMARY KEY, account TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS emails (verified_email TEXT PRIMARY KEY, account TEXT NOT NULL)`,
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
    recordPaymentIds(sql, req.paymentIds, previous.account, req.reference);
    return { account: previous.account, createdAccount: previous.created_account === 1, duplicate: true };
  }

  // A visitor who already has an account is credited as themselves, whatever card they used.
  // A visitor without one is logged in by payment when the card or Link email is known.
  const isAccount = sql.exec(`SELECT 1 FROM accounts WHERE account = ?`, req.visitor).toArray().length > 0;
  const known = isAccount ? undefined : (findByFingerprint(sql, req.cardFingerprint) ?? findByEmail(sql, req.verifiedEmail));
  const account = known ?? req.visitor;
  const createdAccount = !isAccount && !known;

  if (createdAccount) sql.exec(`INSERT INTO accounts (account) VALUES (?)`, account);
  if (req.cardFingerprint) {
    sql.exec(`INSERT OR IGNORE INTO fingerprints (card_fingerprint, account) VALUES (?, ?)`, req.cardFingerprint, account);
  }
  if (req.verifiedEmail) {
    sql.exec(`INSERT OR IGNORE INTO emails (verified_email, account) VALUES (?, ?)`, req.verifiedEmail, account);
  }
  sql.exec(
    `INSERT INTO claims (reference, visitor, account, created_account, amount) VALUES (?, ?, ?, ?, ?)`,
    req.reference,
    req.visitor,
    account,
    createdAccount ? 1 : 0,
    req.amount,
  );
  recordPaymentIds(sql, req.paymentIds, account, req.reference);
  return { account, createdAccount, duplicate: false };
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
