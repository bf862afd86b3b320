// Idempotency-Key: a paid request retried with the same key (same method, URL and body) is
// charged once, as Stripe's API does it. The key lives in the account's own database, written in
// the same transaction as the charge, so a retry after a lost answer (a dropped connection, an
// object reset after the charge committed) finds it and is served without a second charge.
//
// Each attempt of a request carries a random id: charges of the same attempt (a declared price,
// then an X-Price or ctx.charge) add up under the key; another attempt with the key is a replay
// (nothing charged, the answer says `Idempotent-Replayed: true`), or, with another request
// behind the key, a conflict (422). A request that ends in a server error gives its charge back
// and forgets the key, so its retry is charged. Keys are kept 24 hours.

export const IDEMPOTENCY_HEADER = "Idempotency-Key";
const MAX_BODY_BYTES = 1024 * 1024;
const KEEP_MS = 24 * 60 * 60 * 1000;

export interface Idempotency {
  key: string;
  /** SHA-256 of the presenting token, method, URL path and query, and body: what the key stands for. */
  fingerprint: string;
  /** This attempt's random id. */
  attempt: string;
}

export const IDEMPOTENCY_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS stripeflare_idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    attempt TEXT NOT NULL,
    charged INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS stripeflare_idempotency_created ON stripeflare_idempotency(created_at)`,
];

/**
 * Reads the request's key (undefined: none) and fingerprints it with the token that presented
 * it: keys are per token, so another token of the same wallet (an agent's budget token) cannot
 * replay the owner's paid request for free. The body is read here, so the request handed on is
 * a copy with the same body. An error names what is wrong with the header.
 */
export async function readIdempotency(request: Request, tokenHash: string | null): Promise<{ idempotency?: Idempotency; request: Request } | { error: string; status: number }> {
  const key = request.headers.get(IDEMPOTENCY_HEADER);
  if (key === null) return { request };
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    return { status: 400, error: `${IDEMPOTENCY_HEADER} must be 1 to 255 visible ASCII characters (no spaces); nothing was charged` };
  }
  let body: ArrayBuffer | null = null;
  if (request.body) {
    if (Number(request.headers.get("Content-Length") ?? 0) > MAX_BODY_BYTES) {
      return { status: 413, error: `A request with an ${IDEMPOTENCY_HEADER} may carry at most ${MAX_BODY_BYTES} bytes; nothing was charged` };
    }
    body = await request.arrayBuffer();
    if (body.byteLength > MAX_BODY_BYTES) {
      return { status: 413, error: `A request with an ${IDEMPOTENCY_HEADER} may carry at most ${MAX_BODY_BYTES} bytes; nothing was charged` };
    }
  }
  const url = new URL(request.url);
  const head = new TextEncoder().encode(`${tokenHash ?? "-"}\n${request.method}\n${url.pathname}${url.search}\n`);
  const all = new Uint8Array(head.byteLength + (body?.byteLength ?? 0));
  all.set(head);
  if (body) all.set(new Uint8Array(body), head.byteLength);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  const fingerprint = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  return {
    idempotency: { key, fingerprint, attempt: crypto.randomUUID() },
    request: body === null ? request : new Request(request, { body }),
  };
}

/** What a key means to this attempt: its own (or unused), another attempt's (replay), another request's. */
export function idempotencyState(sql: SqlStorage, idem: Idempotency): "new" | "replay" | "conflict" {
  const row = sql
    .exec<{ fingerprint: string; attempt: string }>(`SELECT fingerprint, attempt FROM stripeflare_idempotency WHERE key = ?`, idem.key)
    .toArray()[0];
  if (!row) return "new";
  if (row.fingerprint !== idem.fingerprint) return "conflict";
  return row.attempt === idem.attempt ? "new" : "replay";
}

/** Records a charge of this attempt under its key (in the charge's transaction). */
export function recordIdempotentCharge(sql: SqlStorage, idem: Idempotency, amount: number, now = Date.now()): void {
  sql.exec(`DELETE FROM stripeflare_idempotency WHERE created_at < ?`, now - KEEP_MS);
  sql.exec(
    `INSERT INTO stripeflare_idempotency (key, fingerprint, attempt, charged, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET charged = charged + excluded.charged`,
    idem.key,
    idem.fingerprint,
    idem.attempt,
    amount,
    now,
  );
}

/** A server error gave this attempt's charge back: its retry must be charged. */
export function forgetIdempotentCharge(sql: SqlStorage, idem: Idempotency): void {
  sql.exec(`DELETE FROM stripeflare_idempotency WHERE key = ? AND attempt = ?`, idem.key, idem.attempt);
}

export const conflictMessage = `This ${IDEMPOTENCY_HEADER} was used for another request (another method, URL or body): use a new key; nothing was charged`;
export const replayMessage = `Already charged for this ${IDEMPOTENCY_HEADER}: nothing charged again`;
