// GET /me/transactions: the caller's ledger, newest first, one page at a time.
//
//   ?limit=<1..100>  rows per page (default 25)
//   ?cursor=<next_cursor of the previous page>
//
// The cursor is an opaque token naming the last row shown; the next page starts strictly
// below it, so rows written between two page reads (a charge, a refund) never shift a page:
// no row is shown twice and none is skipped. JSON by default, Markdown for
// `Accept: text/markdown`. Never cached: it is one person's money.

import { stub } from "./databases";
import { json } from "./routes";
import type { Session } from "./session";
import type { StatementEntry, StripeflareEnv, StripeUser } from "./types";

export const STATEMENT_PATH = "/me/transactions";
export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 100;
/** Longest description kept in the ledger (code points). */
export const MAX_DESCRIPTION = 200;

export async function statement<U extends StripeUser>(request: Request, env: StripeflareEnv, session: Session<U>): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return json(405, { error: `Method not allowed: use GET ${STATEMENT_PATH}` }, { Allow: "GET, HEAD" });
  }
  const url = new URL(request.url);
  const limit = parseLimit(url.searchParams.get("limit"));
  if (limit === null) {
    return json(400, { error: `Invalid limit: use a whole number from 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})`, param: "limit" });
  }
  const cursor = url.searchParams.get("cursor");
  const before = cursor === null || cursor === "" ? null : decodeCursor(cursor);
  if (before === undefined) {
    return json(400, { error: "Invalid cursor: pass the next_cursor of a previous page, or no cursor for the newest rows", param: "cursor" });
  }

  // A visitor who never paid has no database, hence no rows: nothing to ask.
  const setup = session.dbs.account(session.account);
  // A budget token sees its own charges only; the wallet's owner sees every row, with token_id.
  const rows = session.hasRow ? await stub(env, setup).statement(setup, before, limit + 1, session.budget?.id ?? null) : [];
  const hasMore = rows.length > limit;
  const data = rows.slice(0, limit).map(entry);
  const nextCursor = hasMore ? encodeCursor(data[data.length - 1]!.id) : null;
  const headers = { Vary: "Accept, Authorization, Cookie" };

  if (prefersMarkdown(request.headers.get("Accept"))) {
    const next = nextCursor ? `${STATEMENT_PATH}?limit=${limit}&cursor=${nextCursor}` : null;
    return new Response(markdown(data, session.user.balance, next), {
      headers: { "Content-Type": "text/markdown; charset=utf-8", "Cache-Control": "private, no-store", ...headers },
    });
  }
  return json(200, { object: "list", balance: session.user.balance, data, has_more: hasMore, next_cursor: nextCursor }, headers);
}

/**
 * A description as it goes into the ledger: control and bidi-override characters removed
 * (they could forge lines in a statement or reorder its text), whitespace collapsed, trimmed,
 * at most MAX_DESCRIPTION code points. Empty or not a string: undefined.
 */
export function cleanDescription(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const cleaned = value
    .replace(/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (!cleaned) return undefined;
  return Array.from(cleaned).slice(0, MAX_DESCRIPTION).join("").trim();
}

function entry(row: StatementEntry): StatementEntry {
  return {
    id: Number(row.id),
    // The ledger calls a paid checkout a credit; people and agents know it as a top-up.
    kind: row.kind === "credit" ? "topup" : row.kind,
    amount: Number(row.amount),
    balance_after: Number(row.balance_after),
    currency: row.currency ?? null,
    reference: publicReference(row.reference ?? null),
    description: row.description ?? null,
    created_at: row.created_at,
    token_id: row.token_id ?? null,
  };
}

/**
 * A checkout session id proves "I paid" to the payment return (login by payment), so the
 * statement shows only its start: enough to tell payments apart, nothing to log in with.
 */
export function publicReference(reference: string | null): string | null {
  const match = reference === null ? null : /^(cs_(?:test|live)_)([A-Za-z0-9_]+)$/.exec(reference);
  return match ? `${match[1]}${match[2]!.slice(0, 6)}…` : reference;
}

function parseLimit(value: string | null): number | null {
  if (value === null) return DEFAULT_LIMIT;
  if (!/^\d{1,4}$/.test(value)) return null;
  const limit = Number(value);
  return limit >= 1 && limit <= MAX_LIMIT ? limit : null;
}

export function encodeCursor(id: number): string {
  return btoa(`tx:${id}`).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** The row id a cursor names, or undefined when it is not a cursor this route issued. */
export function decodeCursor(cursor: string): number | undefined {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(cursor)) return undefined;
  let decoded: string;
  try {
    decoded = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return undefined;
  }
  const match = /^tx:([1-9]\d{0,15})$/.exec(decoded);
  const id = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(id) ? id : undefined;
}

/** Markdown only when asked for it with a higher preference than JSON; JSON otherwise. */
function prefersMarkdown(accept: string | null): boolean {
  let markdown = 0;
  let other = 0;
  for (const part of (accept ?? "").split(",")) {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    const q = Number(params.map((p) => p.trim()).find((p) => p.startsWith("q="))?.slice(2) ?? 1);
    const weight = Number.isFinite(q) ? q : 0;
    if (type === "text/markdown") markdown = Math.max(markdown, weight);
    else if (type === "application/json" || type === "*/*") other = Math.max(other, weight);
  }
  return markdown > 0 && markdown >= other;
}

function markdown(rows: StatementEntry[], balance: number, next: string | null): string {
  const lines = ["# Transactions", "", `Balance: ${balance} (amounts in the currency's smallest unit, e.g. cents)`, ""];
  if (rows.length === 0) {
    lines.push("No transactions yet.");
  } else {
    lines.push("| Time (UTC) | Kind | Amount | Balance after | Reference | Description |", "| --- | --- | ---: | ---: | --- | --- |");
    for (const row of rows) {
      const amount = row.amount > 0 ? `+${row.amount}` : String(row.amount);
      const cells = [row.created_at, row.kind, amount, String(row.balance_after), row.reference ?? "", row.description ?? ""];
      lines.push(`| ${cells.map(escapeMarkdown).join(" | ")} |`);
    }
  }
  if (next) lines.push("", `More: [older transactions](${next})`);
  return lines.join("\n") + "\n";
}

/**
 * Text in a table cell: no emphasis, code, links or HTML, and no `|` that would split the cell.
 * `_` stays as is (intraword underscores, as in Stripe ids, are not emphasis in GFM), so ids
 * copied from the raw text are exact.
 */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*[\]<>|~]/g, (c) => `\\${c}`);
}
