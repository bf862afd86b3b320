// Budget tokens: a wallet's owner hands an agent a token of its own with a spending cap and an
// expiry. It opens the same wallet (balance, paid routes) but spends at most its cap; it cannot
// mint, list or revoke tokens, rotate, or sign others out, and its statement shows only its own
// charges. The cap is checked and counted in the charge's own SQL transaction, so it holds
// under any concurrency. Routes: POST /me/tokens (mint), GET /me/tokens (list), DELETE
// /me/tokens/<id> (revoke), for the owner's full token only, from this site or a script.
//
// Storage, in the account's database: stripeflare_budgets (one row per budget token, by its
// hash; the token itself is in stripeflare_tokens like any other), and the ledger's token_id
// column naming the budget token that made a charge.

export const TOKENS_PATH = "/me/tokens";
const MAX_EXPIRES_IN = 366 * 24 * 60 * 60;
const DEFAULT_EXPIRES_IN = 30 * 24 * 60 * 60;

export const BUDGET_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS stripeflare_budgets (
    token_hash TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    label TEXT,
    cap INTEGER NOT NULL,
    spent INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked INTEGER NOT NULL DEFAULT 0
  )`,
];

/** What a budget token may still spend, as the session carries it. */
export interface Budget {
  id: string;
  tokenHash: string;
  label: string | null;
  cap: number;
  spent: number;
  expiresAt: number;
}

export interface BudgetRequest {
  cap: number;
  expiresAt: number;
  label: string | null;
}

/**
 * Databases written before budgets had no token_id in the ledger: added once, just in time
 * (SQLite has no ADD COLUMN IF NOT EXISTS).
 */
export function upgradeLedgerForBudgets(sql: SqlStorage): void {
  const table = sql.exec<{ sql: string }>(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'stripeflare_transactions'`).toArray()[0];
  if (table && !/\btoken_id\b/.test(table.sql)) sql.exec(`ALTER TABLE stripeflare_transactions ADD COLUMN token_id TEXT`);
}

type BudgetRow = { id: string | null; label: string | null; cap: number; spent: number; expires_at: number; revoked: number };
const BUDGET_COLUMNS = "b.id, b.label, b.cap, b.spent, b.expires_at, b.revoked";

function toBudget(tokenHash: string, row: BudgetRow | undefined): (Budget & { revoked: boolean }) | null {
  if (!row?.id) return null;
  return { id: row.id, tokenHash, label: row.label, cap: Number(row.cap), spent: Number(row.spent), expiresAt: Number(row.expires_at), revoked: row.revoked === 1 };
}

/** The budget of a token; null for a full token. Expired or revoked budgets count too (the caller refuses them). */
export function budgetOf(sql: SqlStorage, tokenHash: string | null): (Budget & { revoked: boolean }) | null {
  if (!tokenHash) return null;
  return toBudget(tokenHash, sql.exec<BudgetRow>(`SELECT ${BUDGET_COLUMNS} FROM stripeflare_budgets b WHERE b.token_hash = ?`, tokenHash).toArray()[0]);
}

/**
 * A presented token, looked up once per request: undefined when it is not a token of this
 * database, else its budget (null for a full token). One statement, so a session read costs no
 * more than it did before budgets.
 */
export function presentedToken(sql: SqlStorage, tokenHash: string): { budget: (Budget & { revoked: boolean }) | null } | undefined {
  const row = sql
    .exec<BudgetRow>(`SELECT ${BUDGET_COLUMNS} FROM stripeflare_tokens t LEFT JOIN stripeflare_budgets b ON b.token_hash = t.token_hash WHERE t.token_hash = ?`, tokenHash)
    .toArray()[0];
  return row && { budget: toBudget(tokenHash, row) };
}

/** Why this budget cannot pay `amount` now, or null when it can. */
export function budgetRefusal(budget: Budget & { revoked?: boolean }, amount: number, now = Date.now()): string | null {
  if (budget.revoked) return "This budget token was revoked";
  if (budget.expiresAt <= now) return `This budget token expired at ${new Date(budget.expiresAt).toISOString()}`;
  if (budget.spent + amount > budget.cap) {
    return `Over this token's budget: ${amount} cents asked, ${budget.cap - budget.spent} of ${budget.cap} left; nothing was charged`;
  }
  return null;
}

export function spendBudget(sql: SqlStorage, tokenHash: string, amount: number): void {
  sql.exec(`UPDATE stripeflare_budgets SET spent = spent + ? WHERE token_hash = ?`, amount, tokenHash);
}

export function mintBudget(sql: SqlStorage, tokenHash: string, id: string, req: BudgetRequest): void {
  sql.exec(`INSERT INTO stripeflare_tokens (token_hash) VALUES (?)`, tokenHash);
  sql.exec(`INSERT INTO stripeflare_budgets (token_hash, id, label, cap, expires_at) VALUES (?, ?, ?, ?, ?)`, tokenHash, id, req.label, req.cap, req.expiresAt);
}

export function listBudgets(sql: SqlStorage) {
  return sql
    .exec<{ id: string; label: string | null; cap: number; spent: number; expires_at: number; created_at: string; revoked: number }>(
      `SELECT id, label, cap, spent, expires_at, created_at, revoked FROM stripeflare_budgets ORDER BY created_at DESC, id`,
    )
    .toArray()
    .map((row) => ({
      id: row.id,
      label: row.label,
      cap: Number(row.cap),
      spent: Number(row.spent),
      expires_at: new Date(Number(row.expires_at)).toISOString(),
      created_at: row.created_at,
      revoked: row.revoked === 1,
    }));
}

/** Revokes a budget token: it opens nothing from now on. False: no such token. */
export function revokeBudget(sql: SqlStorage, id: string): boolean {
  const row = sql.exec<{ token_hash: string }>(`UPDATE stripeflare_budgets SET revoked = 1 WHERE id = ? RETURNING token_hash`, id).toArray()[0];
  if (!row) return false;
  sql.exec(`DELETE FROM stripeflare_tokens WHERE token_hash = ?`, row.token_hash);
  return true;
}

/** Marks budgets whose tokens are gone (sign-out of every other token) as revoked. */
export function markRevokedBudgets(sql: SqlStorage): void {
  sql.exec(`UPDATE stripeflare_budgets SET revoked = 1 WHERE token_hash NOT IN (SELECT token_hash FROM stripeflare_tokens)`);
}

/** Reads and checks a mint request's JSON body; an error names the field. */
export function parseBudgetRequest(body: unknown, now = Date.now()): BudgetRequest | { error: string; param: string } {
  if (!body || typeof body !== "object" || Array.isArray(body)) return { error: "Send a JSON object: { \"cap\": <cents>, \"expires_in\": <seconds>, \"label\": \"...\" }", param: "body" };
  const { cap, expires_in: expiresIn = DEFAULT_EXPIRES_IN, label = null } = body as Record<string, unknown>;
  if (typeof cap !== "number" || !Number.isSafeInteger(cap) || cap <= 0) return { error: "cap must be a positive whole number of cents", param: "cap" };
  if (typeof expiresIn !== "number" || !Number.isSafeInteger(expiresIn) || expiresIn < 60 || expiresIn > MAX_EXPIRES_IN) {
    return { error: `expires_in must be a whole number of seconds from 60 to ${MAX_EXPIRES_IN}`, param: "expires_in" };
  }
  if (label !== null && (typeof label !== "string" || label.length > 100 || /[\u0000-\u001f\u007f]/.test(label))) {
    return { error: "label must be text of at most 100 characters, without control characters", param: "label" };
  }
  return { cap, expiresAt: now + expiresIn * 1000, label: label as string | null };
}
