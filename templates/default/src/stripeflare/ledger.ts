// An account's database: the `users` row, the tokens that open it, and the ledger.
// Every function here is synchronous SQL run by the DORM object inside
// `storage.transactionSync`, so each balance change and its ledger row commit together or
// not at all, and concurrent calls are serialized by the object itself.
//
// Ledger (`stripeflare_transactions`), one row per balance change:
//   kind          'credit' (a paid checkout session), 'charge' (a request's price),
//                 'rotate' (token rotation: 0 cents, an audit line; the balance stays put
//                 because the account id does not change). Reserved for later issues:
//                 'refund', 'dispute', 'adjustment'.
//   amount        signed cents: +credit, -charge
//   balance_after users.balance right after this row
//   reference     unique when present: the Stripe checkout session id of a credit (so a
//                 redelivered event, even days later, cannot credit twice), later a
//                 refund/dispute id
//   description, currency, created_at (ISO 8601 UTC, millisecond precision)
// Invariant: users.balance = SUM(amount) for the account. Only /db/* (admin) can break it.

import type { ChargeRequest, ChargeResult, CreditRequest, CreditResult, SessionResult } from "./types";

type Row = Record<string, SqlStorageValue>;

export const ACCOUNT_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS stripeflare_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`,
  `CREATE TABLE IF NOT EXISTS stripeflare_transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    amount INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    currency TEXT,
    reference TEXT UNIQUE,
    description TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`,
  `CREATE INDEX IF NOT EXISTS stripeflare_transactions_kind ON stripeflare_transactions(kind)`,
];

/** Charges `amount` cents in one statement; with allowNegativeBalance false it cannot overdraw. */
export function chargeAccount(sql: SqlStorage, account: string, req: ChargeRequest): ChargeResult {
  const problem = invalidAmount(req.amount);
  if (problem) return { charged: false, message: problem };
  // The balance check is part of the UPDATE, and RETURNING tells whether a row changed
  // (rowsWritten would also count index writes).
  const [row] = sql
    .exec<{ balance: number }>(
      `UPDATE users SET balance = coalesce(balance, 0) - ? WHERE access_token = ? AND (? OR coalesce(balance, 0) >= ?) RETURNING balance`,
      req.amount,
      account,
      req.allowNegativeBalance ? 1 : 0,
      req.amount,
    )
    .toArray();
  if (!row) {
    const user = sql.exec<{ balance: number }>(`SELECT balance FROM users WHERE access_token = ?`, account).toArray()[0];
    return user
      ? { charged: false, message: "User balance too low", balance: Number(user.balance) }
      : { charged: false, message: "User is not signed up yet and cannot be charged" };
  }
  sql.exec(
    `INSERT INTO stripeflare_transactions (kind, amount, balance_after, description) VALUES ('charge', ?, ?, ?)`,
    -req.amount,
    row.balance,
    req.description ?? null,
  );
  return { charged: true, message: "Successfully charged", balance: Number(row.balance) };
}

export function invalidAmount(amount: unknown): string | null {
  return typeof amount === "number" && Number.isSafeInteger(amount) && amount > 0
    ? null
    : `Invalid amount ${JSON.stringify(amount)}: must be a positive whole number of cents`;
}

/**
 * Credits a paid checkout session at most once: the ledger's unique reference is checked and
 * written in the same transaction as the balance.
 */
export function creditAccount(sql: SqlStorage, req: CreditRequest): CreditResult {
  const seen = sql.exec(`SELECT 1 FROM stripeflare_transactions WHERE reference = ?`, req.reference).toArray();
  if (seen.length > 0) {
    return { credited: false, duplicate: true, balance: balanceOf(sql, req.account) };
  }
  // Creates the account's row on its first payment; later payments add to it. Contact
  // details follow the latest payment; a card fingerprint / verified email, once known,
  // stays (it is what login by payment matches on). A visitor row that pointed elsewhere
  // (verified_user_access_token) becomes an account of its own.
  const [row] = sql
    .exec<{ balance: number }>(
      `INSERT INTO users (access_token, balance, email, name, card_fingerprint, verified_email, client_reference_id)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (access_token) DO UPDATE SET
         balance = coalesce(balance, 0) + excluded.balance,
         email = coalesce(excluded.email, email),
         name = coalesce(excluded.name, name),
         card_fingerprint = coalesce(card_fingerprint, excluded.card_fingerprint),
         verified_email = coalesce(verified_email, excluded.verified_email),
         verified_user_access_token = NULL,
         client_reference_id = excluded.client_reference_id
       RETURNING balance`,
      req.account,
      req.amount,
      req.email,
      req.name,
      req.cardFingerprint,
      req.verifiedEmail,
      req.clientReferenceId,
    )
    .toArray();
  sql.exec(
    `INSERT INTO stripeflare_transactions (kind, amount, balance_after, currency, reference, description)
     VALUES ('credit', ?, ?, ?, ?, ?)`,
    req.amount,
    row!.balance,
    req.currency,
    req.reference,
    req.description,
  );
  if (req.tokenHash) addToken(sql, req.tokenHash);
  return { credited: true, duplicate: false, balance: Number(row!.balance) };
}

/**
 * Loads the session of a token that names this database. `tokenHash` null means the caller
 * already authenticated the visitor elsewhere (the hop after login by payment).
 */
export function readSession(
  sql: SqlStorage,
  account: string,
  tokenHash: string | null,
  clientReferenceId: string,
  charge?: ChargeRequest,
): SessionResult {
  // A database holds an account's row only together with the tokens that open it (the credit
  // that creates it, or the app's first write through ctx.client, registers the token), so a
  // token that is not listed opens nothing here: rotated away, revoked, or forged.
  const known =
    tokenHash === null ||
    sql.exec(`SELECT 1 FROM stripeflare_tokens WHERE token_hash = ?`, tokenHash).toArray().length > 0;
  const user = userRow(sql, account);
  if (!known && (user || sql.exec(`SELECT 1 FROM stripeflare_tokens LIMIT 1`).toArray().length > 0)) {
    return { kind: "unknown-token" };
  }
  if (!user) return { kind: "visitor" };
  const target = user.verified_user_access_token;
  if (typeof target === "string" && target !== account) return { kind: "alias", account: target };

  const registered = sql.exec(`SELECT 1 FROM stripeflare_transactions WHERE kind = 'credit' LIMIT 1`).toArray().length > 0;
  // DB_SECRET changed since the row was written: store the id this secret can read, so
  // admin queries and the payment link agree again.
  if (registered && user.client_reference_id !== clientReferenceId) {
    sql.exec(`UPDATE users SET client_reference_id = ? WHERE access_token = ?`, clientReferenceId, account);
    user.client_reference_id = clientReferenceId;
  }
  if (!charge) return { kind: "user", user, registered };
  const result = chargeAccount(sql, account, charge);
  if (result.charged) user.balance = result.balance!;
  return { kind: "user", user, registered, charge: result };
}

/** Login by payment: this visitor's row now points at the account that was credited. */
export function linkVisitor(sql: SqlStorage, visitor: string, target: string, tokenHash: string | null): void {
  sql.exec(
    `INSERT INTO users (access_token, verified_user_access_token) VALUES (?, ?)
     ON CONFLICT (access_token) DO UPDATE SET verified_user_access_token = excluded.verified_user_access_token
     WHERE users.verified_user_access_token IS NOT excluded.verified_user_access_token`,
    visitor,
    target,
  );
  if (tokenHash) addToken(sql, tokenHash);
}

/**
 * Replaces one token of the account with another. The old one must be a current token;
 * afterwards it opens nothing. `oldHash` null: the old token
 * lives in another database (login by payment) and is revoked there.
 */
export function rotateToken(sql: SqlStorage, account: string, oldHash: string | null, newHash: string): boolean {
  if (oldHash !== null) {
    const removed = sql.exec(`DELETE FROM stripeflare_tokens WHERE token_hash = ? RETURNING 1`, oldHash).toArray().length;
    if (removed === 0) return false;
  }
  addToken(sql, newHash);
  if (userRow(sql, account)) {
    sql.exec(
      `INSERT INTO stripeflare_transactions (kind, amount, balance_after, description)
       VALUES ('rotate', 0, ?, 'access token rotated')`,
      balanceOf(sql, account),
    );
  }
  return true;
}

/** Forgets a token (the visitor side of a rotation after login by payment). */
export function revokeToken(sql: SqlStorage, tokenHash: string): void {
  sql.exec(`DELETE FROM stripeflare_tokens WHERE token_hash = ?`, tokenHash);
}

export function addToken(sql: SqlStorage, tokenHash: string): void {
  sql.exec(`INSERT OR IGNORE INTO stripeflare_tokens (token_hash) VALUES (?)`, tokenHash);
}

function userRow(sql: SqlStorage, account: string): Row | undefined {
  return sql.exec<Row>(`SELECT * FROM users WHERE access_token = ?`, account).toArray()[0];
}

function balanceOf(sql: SqlStorage, account: string): number {
  const row = sql.exec<{ balance: number }>(`SELECT balance FROM users WHERE access_token = ?`, account).toArray()[0];
  return Number(row?.balance ?? 0);
}
