// An account's database: the `users` row, the tokens that open it, and the ledger.
// Every function here is synchronous SQL run by the DORM object inside
// `storage.transactionSync`, so each balance change and its ledger row commit together or
// not at all, and concurrent calls are serialized by the object itself.
//
// Ledger (`stripeflare_transactions`), one row per balance change:
//   kind          'credit' (a paid checkout session; "topup" in the statement), 'charge' (a
//                 request's price), 'refund' (a Stripe refund), 'refund_reversed' (a refund
//                 that failed or was canceled: the money comes back), 'refund_failed' (0 cents:
//                 a refund that failed before it was ever debited, so a late "succeeded"
//                 snapshot of it cannot debit), 'dispute' (the amount a dispute holds),
//                 'dispute_won' (the hold released), 'dispute_lost' (0 cents: the hold stays),
//                 'rotate' (token rotation or sign-out: 0 cents, an audit line), 'reversed'
//                 (a paid request that ended in a server error gives its price back),
//                 'merge_out' / 'merge_in' (login by payment moved this account's balance into
//                 the account the card belongs to; reference: the checkout session).
//   amount        signed cents: +credit, -charge
//   balance_after users.balance right after this row
//   reference     what the row is about: the Stripe object (cs_… of a credit, re_… of a
//                 refund, dp_… of a dispute) or the request that charged ("GET /charge").
//                 (kind, reference) is unique for Stripe kinds, so a redelivered event, even
//                 days later, cannot apply twice.
//   description, currency, created_at (ISO 8601 UTC, millisecond precision)
// Invariant: users.balance = SUM(amount) for the account. Only /db/* (admin) can break it.

import { BUDGET_SCHEMA, budgetOf, budgetRefusal, presentedToken, spendBudget } from "./budgets";
import { conflictMessage, forgetIdempotentCharge, IDEMPOTENCY_SCHEMA, idempotencyState, recordIdempotentCharge, replayMessage, type Idempotency } from "./idempotency";
import { addToken, markUpgraded } from "./tokens";
import type {
  ChargeRequest,
  ChargeResult,
  CreditRequest,
  CreditResult,
  DisputeRequest,
  RefundRequest,
  ReversalResult,
  SessionResult,
  StatementEntry,
} from "./types";

type Row = Record<string, SqlStorageValue>;

/** The rows the (kind, reference) unique index covers: Stripe movements, not charges or rotations. */
const STRIPE_KEYED = "reference IS NOT NULL AND kind NOT IN ('charge', 'rotate')";

// `id` is the rowid: rows are never deleted, so new ids only grow (the statement's cursor
// relies on that) without AUTOINCREMENT, which wrote a `sqlite_sequence` row on every insert
// (rows written are billed). Databases made before 1.2.0 keep their AUTOINCREMENT table: a
// rebuild would write every ledger row once to save one row per later charge.
const LEDGER_TABLE = `CREATE TABLE IF NOT EXISTS stripeflare_transactions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    amount INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    currency TEXT,
    reference TEXT,
    description TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    token_id TEXT
  )`;

export const ACCOUNT_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS stripeflare_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`,
  // Tokens of a merged account that a browser already traded for a token of the account it
  // was merged into: shown again, they still open it, but mint nothing more.
  `CREATE TABLE IF NOT EXISTS stripeflare_upgraded_tokens (token_hash TEXT PRIMARY KEY)`,
  // Accounts merged into this one (login by payment): signing out everywhere else reaches
  // the tokens they still hold.
  `CREATE TABLE IF NOT EXISTS stripeflare_merged_accounts (account TEXT PRIMARY KEY)`,
  LEDGER_TABLE,
  // Exactly once per Stripe object and outcome (a dispute has a hold and a release, both
  // about the same dp_…). Charges and rotations share references ("GET /charge") freely.
  `CREATE UNIQUE INDEX IF NOT EXISTS stripeflare_transactions_stripe ON stripeflare_transactions(kind, reference)
    WHERE ${STRIPE_KEYED}`,
  // Earlier versions also indexed `kind` alone, which every charge paid for with one more
  // written row (and page). The lookups by kind are all for Stripe kinds and use the index
  // above (see LEDGER_ROW_SQL), so the plain one goes.
  `DROP INDEX IF EXISTS stripeflare_transactions_kind`,
  ...IDEMPOTENCY_SCHEMA,
  ...BUDGET_SCHEMA,
];

/**
 * A Stripe movement of one kind, by its Stripe id. The partial unique index above answers it
 * only when the query repeats the index's condition (SQLite matches it term by term), hence
 * the redundant-looking tail; charges and rotations never need this lookup.
 */
export const LEDGER_ROW_SQL = `SELECT amount FROM stripeflare_transactions WHERE kind = ? AND reference = ? AND ${STRIPE_KEYED}`;
/** Whether the account was ever topped up (`ctx.registered`); a credit always names its cs_…. */
export const REGISTERED_SQL = `SELECT 1 FROM stripeflare_transactions WHERE kind = 'credit' AND ${STRIPE_KEYED} LIMIT 1`;

/**
 * Databases written before refunds existed declared `reference TEXT UNIQUE` (one row per
 * reference), which a dispute's hold and release cannot share. SQLite cannot drop a column
 * constraint, so the table is rebuilt once, ids and rows unchanged. Runs before ACCOUNT_SCHEMA.
 */
export function upgradeLedger(sql: SqlStorage): void {
  const table = sql
    .exec<{ sql: string }>(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'stripeflare_transactions'`)
    .toArray()[0];
  if (!table || !/reference\s+TEXT\s+UNIQUE/i.test(table.sql)) return;
  const columns = "id, kind, amount, balance_after, currency, reference, description, created_at";
  sql.exec(LEDGER_TABLE.replace("IF NOT EXISTS stripeflare_transactions", "stripeflare_transactions_upgrade"));
  sql.exec(`INSERT INTO stripeflare_transactions_upgrade (${columns}) SELECT ${columns} FROM stripeflare_transactions`);
  sql.exec(`DROP TABLE stripeflare_transactions`);
  sql.exec(`ALTER TABLE stripeflare_transactions_upgrade RENAME TO stripeflare_transactions`);
}

/** Charges `amount` cents in one statement; with allowNegativeBalance false it cannot overdraw. */
export function chargeAccount(sql: SqlStorage, account: string, req: ChargeRequest): ChargeResult {
  const problem = invalidAmount(req.amount);
  if (problem) return { charged: false, message: problem };
  if (req.idempotency) {
    const state = idempotencyState(sql, req.idempotency);
    if (state === "conflict") return { charged: false, conflict: true, message: conflictMessage };
    if (state === "replay") return { charged: true, replayed: true, message: replayMessage, balance: balanceOf(sql, account) };
  }
  // A budget token spends at most its cap, counted in this same transaction.
  const budget = budgetOf(sql, req.budgetTokenHash ?? null);
  const refused = budget && budgetRefusal(budget, req.amount);
  if (refused) return { charged: false, message: refused, balance: balanceOf(sql, account) };
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
    `INSERT INTO stripeflare_transactions (kind, amount, balance_after, reference, description, token_id) VALUES ('charge', ?, ?, ?, ?, ?)`,
    -req.amount,
    row.balance,
    req.reference ?? null,
    req.description ?? null,
    budget?.id ?? null,
  );
  if (budget) spendBudget(sql, budget.tokenHash, req.amount);
  if (req.idempotency) recordIdempotentCharge(sql, req.idempotency, req.amount);
  return { charged: true, message: "Successfully charged", balance: Number(row.balance) };
}

export function invalidAmount(amount: unknown): string | null {
  return typeof amount === "number" && Number.isSafeInteger(amount) && amount > 0
    ? null
    : `Invalid amount ${JSON.stringify(amount)}: must be a positive whole number of cents`;
}

/**
 * Credits a paid checkout session at most once: its (credit, cs_…) ledger key is checked and
 * written in the same transaction as the balance.
 */
export function creditAccount(sql: SqlStorage, req: CreditRequest): CreditResult {
  if (ledgerRow(sql, "credit", req.reference)) {
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
  idempotency?: Idempotency,
): SessionResult {
  // A database holds an account's row only together with the tokens that open it (the credit
  // that creates it, or the app's first write through ctx.client, registers the token), so a
  // token that is not listed opens nothing here: rotated away, revoked, or forged.
  const presented = tokenHash === null ? undefined : presentedToken(sql, tokenHash);
  const known = tokenHash === null || presented !== undefined;
  const user = userRow(sql, account);
  if (!known && (user || sql.exec(`SELECT 1 FROM stripeflare_tokens LIMIT 1`).toArray().length > 0)) {
    return { kind: "unknown-token" };
  }
  if (!user) return { kind: "visitor" };
  // A budget token opens nothing once expired or revoked, nor after its wallet was merged into
  // another (login by payment): its budget lives here, not where the money went.
  const budget = presented?.budget ?? null;
  const target = user.verified_user_access_token;
  if (budget && (budget.revoked || budget.expiresAt <= Date.now() || (typeof target === "string" && target !== account))) {
    return { kind: "unknown-token" };
  }
  if (typeof target === "string" && target !== account) {
    // Each token is traded for a token of the target once: a browser that keeps sending the
    // old cookie (a stale tab, a lost Set-Cookie) does not pile up tokens.
    return { kind: "alias", account: target, upgrade: tokenHash !== null && markUpgraded(sql, tokenHash) };
  }

  const registered = sql.exec(REGISTERED_SQL).toArray().length > 0;
  // The id is always derived from the account: a row the app wrote before the first payment
  // has none, and after a DB_SECRET change the stored one no longer opens. Store the one this
  // secret reads, so the payment link, admin queries and the webhook agree.
  if (user.client_reference_id !== clientReferenceId) {
    sql.exec(`UPDATE users SET client_reference_id = ? WHERE access_token = ?`, clientReferenceId, account);
    user.client_reference_id = clientReferenceId;
  }
  const session = { kind: "user" as const, user, registered, budget: budget ?? undefined };
  // What an Idempotency-Key means (a retry already charged, or another request's key) is known
  // now, before the handler runs: from the declared price's charge, or asked on its own.
  if (!charge) return { ...session, idempotency: idempotency && idempotencyState(sql, idempotency) };
  const result = chargeAccount(sql, account, { ...charge, idempotency, budgetTokenHash: budget?.tokenHash });
  if (result.charged) user.balance = result.balance!;
  if (session.budget && result.charged && !result.replayed) session.budget.spent += charge.amount;
  const state = !idempotency ? undefined : result.conflict ? "conflict" : result.replayed ? "replay" : "new";
  return { ...session, charge: result, idempotency: state };
}

/**
 * Login by payment moves this account's whole balance into `target` (the account the card
 * belongs to) and points the account there. Once per checkout session: a repeat answers the
 * amount moved the first time.
 */
export function mergeOut(sql: SqlStorage, account: string, reference: string, target: string): number {
  const done = ledgerRow(sql, "merge_out", reference);
  if (done) return -done.amount;
  const balance = balanceOf(sql, account);
  move(sql, account, "merge_out", -balance, reference, null, `Moved to account ${target} (login by payment)`);
  sql.exec(`UPDATE users SET verified_user_access_token = ? WHERE access_token = ?`, target, account);
  return balance;
}

/** The other half of mergeOut, in the target account; once per checkout session. */
export function mergeIn(sql: SqlStorage, account: string, reference: string, from: string, amount: number): void {
  sql.exec(`INSERT OR IGNORE INTO stripeflare_merged_accounts (account) VALUES (?)`, from);
  if (ledgerRow(sql, "merge_in", reference)) return;
  move(sql, account, "merge_in", amount, reference, null, `Moved from account ${from} (login by payment)`);
}

/** Gives back the price of a paid request that ended in a server error (no reference: never unique). */
export function reverseCharge(sql: SqlStorage, account: string, amount: number, requestLine: string, idempotency?: Idempotency, budgetTokenHash?: string): number {
  if (idempotency) forgetIdempotentCharge(sql, idempotency);
  const budget = budgetOf(sql, budgetTokenHash ?? null);
  if (budget) spendBudget(sql, budget.tokenHash, -amount);
  const [row] = sql
    .exec<{ balance: number }>(`UPDATE users SET balance = coalesce(balance, 0) + ? WHERE access_token = ? RETURNING balance`, amount, account)
    .toArray();
  if (!row) return 0;
  sql.exec(
    `INSERT INTO stripeflare_transactions (kind, amount, balance_after, description, token_id) VALUES ('reversed', ?, ?, ?, ?)`,
    amount,
    row.balance,
    `${requestLine} failed with a server error: price given back`,
    budget?.id ?? null,
  );
  return Number(row.balance);
}

// ---- money that goes back to the payer ------------------------------------------------

/**
 * Applies the refunds of one Stripe charge: each refund once (kind 'refund', reference re_…),
 * and a refund that later failed or was canceled is given back once ('refund_reversed').
 * The balance may go negative: the money has left already.
 */
export function applyRefunds(sql: SqlStorage, req: RefundRequest): ReversalResult {
  const applied: string[] = [];
  for (const refund of req.refunds) {
    const debit = ledgerRow(sql, "refund", refund.id);
    // failed and canceled are final at Stripe: once seen, no later "succeeded" (a snapshot
    // delivered late) debits this refund again.
    const ended = ledgerRow(sql, "refund_reversed", refund.id) ?? ledgerRow(sql, "refund_failed", refund.id);
    if (refund.active && !debit && !ended && refund.amount > 0) {
      move(sql, req.account, "refund", -refund.amount, refund.id, refund.currency, `Refund of ${req.charge}`);
      applied.push(`refund ${refund.id} -${refund.amount}`);
    } else if (!refund.active && debit && !ended) {
      move(sql, req.account, "refund_reversed", -debit.amount, refund.id, refund.currency, `Refund of ${req.charge} ${refund.status ?? "reversed"}`);
      applied.push(`refund ${refund.id} reversed +${-debit.amount}`);
    } else if (!refund.active && !debit && !ended) {
      move(sql, req.account, "refund_failed", 0, refund.id, refund.currency, `Refund of ${req.charge} ${refund.status ?? "failed"} before it was debited`);
      applied.push(`refund ${refund.id} ${refund.status ?? "failed"}`);
    }
  }
  return { applied, balance: balanceOf(sql, req.account) };
}

/**
 * A dispute holds its amount ('dispute', reference dp_…) until it closes: won (or an inquiry
 * closed without a chargeback) gives the hold back ('dispute_won'), lost keeps it (a 0-cent
 * 'dispute_lost' line says so). A close that arrives before the creation applies the hold
 * first, so the order of deliveries does not matter.
 */
export function applyDispute(sql: SqlStorage, req: DisputeRequest): ReversalResult {
  const applied: string[] = [];
  let hold = ledgerRow(sql, "dispute", req.id);
  if (!hold) {
    if (req.amount <= 0) return { applied, balance: balanceOf(sql, req.account) };
    move(sql, req.account, "dispute", -req.amount, req.id, req.currency, `Dispute of ${req.charge} (${req.reason ?? "no reason given"})`);
    applied.push(`dispute ${req.id} held ${req.amount}`);
    hold = ledgerRow(sql, "dispute", req.id)!;
  }
  if (req.outcome === "won" && !ledgerRow(sql, "dispute_won", req.id)) {
    move(sql, req.account, "dispute_won", -hold.amount, req.id, req.currency, `Dispute of ${req.charge} won: hold released`);
    applied.push(`dispute ${req.id} released ${-hold.amount}`);
  }
  if (req.outcome === "lost" && !ledgerRow(sql, "dispute_lost", req.id)) {
    move(sql, req.account, "dispute_lost", 0, req.id, req.currency, `Dispute of ${req.charge} lost: the hold stays`);
    applied.push(`dispute ${req.id} lost`);
  }
  return { applied, balance: balanceOf(sql, req.account) };
}

/**
 * One balance change and its ledger row. Creates the account's row if a refund or dispute
 * arrives before its credit (a crash between claim and credit): the credit adds to it later.
 */
function move(
  sql: SqlStorage,
  account: string,
  kind: string,
  amount: number,
  reference: string,
  currency: string | null,
  description: string,
): void {
  const [row] = sql
    .exec<{ balance: number }>(
      `INSERT INTO users (access_token, balance) VALUES (?, ?)
       ON CONFLICT (access_token) DO UPDATE SET balance = coalesce(balance, 0) + excluded.balance
       RETURNING balance`,
      account,
      amount,
    )
    .toArray();
  sql.exec(
    `INSERT INTO stripeflare_transactions (kind, amount, balance_after, currency, reference, description) VALUES (?, ?, ?, ?, ?, ?)`,
    kind,
    amount,
    row!.balance,
    currency,
    reference,
    description,
  );
}

function ledgerRow(sql: SqlStorage, kind: string, reference: string): { amount: number } | undefined {
  return sql
    .exec<{ amount: number }>(LEDGER_ROW_SQL, kind, reference)
    .toArray()[0];
}

// ---- the statement ---------------------------------------------------------------------

/**
 * Up to `limit` ledger rows older than row `before` (null: the newest), newest first;
 * `onlyToken`: a budget token's own rows only.
 */
export function statementRows(sql: SqlStorage, before: number | null, limit: number, onlyToken: string | null = null): StatementEntry[] {
  return sql
    .exec<StatementEntry & Record<string, SqlStorageValue>>(
      // A charge row carries no currency of its own: it is in the account's (its top-ups').
      `SELECT id, kind, amount, balance_after,
              coalesce(currency, (SELECT currency FROM stripeflare_transactions WHERE currency IS NOT NULL ORDER BY id DESC LIMIT 1)) AS currency,
              reference, description, created_at, token_id
       FROM stripeflare_transactions WHERE id < ? AND (? IS NULL OR token_id = ?) ORDER BY id DESC LIMIT ?`,
      before ?? Number.MAX_SAFE_INTEGER,
      onlyToken,
      onlyToken,
      limit,
    )
    .toArray()
    .map((row) => ({ ...row }));
}

export function userRow(sql: SqlStorage, account: string): Row | undefined {
  return sql.exec<Row>(`SELECT * FROM users WHERE access_token = ?`, account).toArray()[0];
}

export function balanceOf(sql: SqlStorage, account: string): number {
  const row = sql.exec<{ balance: number }>(`SELECT balance FROM users WHERE access_token = ?`, account).toArray()[0];
  return Number(row?.balance ?? 0);
}
