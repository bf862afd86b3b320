// The tokens that open an account's database (only SHA-256 hashes of them are stored), and
// the ways they change: rotation, sign-out of every other token, and the once-only trade of a
// merged account's token for one of the account it was merged into. Synchronous SQL, run by the
// DORM object inside `storage.transactionSync` like the ledger (./ledger.ts).

import { markRevokedBudgets } from "./budgets";
import { balanceOf, userRow } from "./ledger";

export function addToken(sql: SqlStorage, tokenHash: string): void {
  sql.exec(`INSERT OR IGNORE INTO stripeflare_tokens (token_hash) VALUES (?)`, tokenHash);
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
  auditTokens(sql, account, "access token rotated");
  return true;
}

/** Forgets a token (the visitor side of a rotation after login by payment). */
export function revokeToken(sql: SqlStorage, tokenHash: string): void {
  sql.exec(`DELETE FROM stripeflare_tokens WHERE token_hash = ?`, tokenHash);
}

/**
 * A browser traded this token for one of the account it now points at: it mints no more.
 * True the first time only.
 */
export function markUpgraded(sql: SqlStorage, tokenHash: string): boolean {
  return sql.exec(`INSERT OR IGNORE INTO stripeflare_upgraded_tokens (token_hash) VALUES (?) RETURNING 1`, tokenHash).toArray().length > 0;
}

/** A 0-cent ledger line saying what happened to the account's tokens (accounts only). */
function auditTokens(sql: SqlStorage, account: string, description: string): void {
  if (!userRow(sql, account)) return;
  sql.exec(
    `INSERT INTO stripeflare_transactions (kind, amount, balance_after, description) VALUES ('rotate', 0, ?, ?)`,
    balanceOf(sql, account),
    description,
  );
}

/**
 * Signs out every token of the account but `keepHash`; returns how many were removed and the
 * accounts merged into this one, whose databases still hold tokens that lead here.
 */
export function signOutOthers(sql: SqlStorage, account: string, keepHash: string): { removed: number; merged: string[] } {
  const removed = sql.exec(`DELETE FROM stripeflare_tokens WHERE token_hash != ? RETURNING 1`, keepHash).toArray().length;
  addToken(sql, keepHash);
  markRevokedBudgets(sql);
  auditTokens(sql, account, "signed out every other token");
  const merged = sql.exec<{ account: string }>(`SELECT account FROM stripeflare_merged_accounts`).toArray().map((row) => row.account);
  return { removed, merged };
}

/** Forgets every token of this database (a merged account, when its target signs out everywhere else). */
export function revokeAllTokens(sql: SqlStorage): number {
  return sql.exec(`DELETE FROM stripeflare_tokens RETURNING 1`).toArray().length;
}
