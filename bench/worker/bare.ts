// The floor: the same Durable Object SQL a careful developer would write by hand, with no
// wallet around it. One SQLite Durable Object per user, named from an HMAC of the token
// (never the token itself), a users table and a ledger row written in the same transaction
// as the balance. It exists only so the wallet can be measured against it side by side.
import { countStorage } from "./count";
import { DurableObject } from "cloudflare:workers";

type UserRow = { token_hash: string; balance: number };

export class BareWallet extends DurableObject {
  private sql: SqlStorage;

  constructor(state: DurableObjectState, env: unknown) {
    countStorage(state, "bare");
    super(state, env as never);
    this.sql = state.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS users (token_hash TEXT PRIMARY KEY, balance INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL, amount INTEGER NOT NULL, at INTEGER NOT NULL);
    `);
  }

  seed(tokenHash: string, balance: number): UserRow {
    return this.ctx.storage.transactionSync(() => {
      const row = this.sql
        .exec<UserRow>(
          `INSERT INTO users (token_hash, balance) VALUES (?, ?)
           ON CONFLICT (token_hash) DO UPDATE SET balance = balance + excluded.balance RETURNING *`,
          tokenHash,
          balance,
        )
        .one();
      this.sql.exec("INSERT INTO ledger (token_hash, amount, at) VALUES (?, ?, ?)", tokenHash, balance, Date.now());
      return row;
    });
  }

  getUser(tokenHash: string): UserRow | null {
    return this.sql.exec<UserRow>("SELECT * FROM users WHERE token_hash = ?", tokenHash).toArray()[0] ?? null;
  }

  /** Charge and return the row after it, or null when the balance does not cover the price. */
  charge(tokenHash: string, cents: number): UserRow | null {
    return this.ctx.storage.transactionSync(() => {
      const row = this.sql
        .exec<UserRow>(
          "UPDATE users SET balance = balance - ? WHERE token_hash = ? AND balance >= ? RETURNING *",
          cents,
          tokenHash,
          cents,
        )
        .toArray()[0];
      if (!row) return null;
      this.sql.exec("INSERT INTO ledger (token_hash, amount, at) VALUES (?, ?, ?)", tokenHash, -cents, Date.now());
      return row;
    });
  }
}

type BareEnv = { BARE: DurableObjectNamespace<BareWallet>; DB_SECRET: string };

// The HMAC key is imported once per isolate, as any hand-written Worker would.
let keyPromise: Promise<CryptoKey> | undefined;
function hmacKey(secret: string) {
  keyPromise ??= crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return keyPromise;
}

export async function tokenHash(token: string, secret: string) {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(token));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The same trivial app handler the wallet benchmark runs: a greeting priced at 1 cent. */
export function appHandler(): Response {
  return new Response("hello, paid request\n", { headers: { "content-type": "text/plain", "X-Price": "1" } });
}

/**
 * Routes under /bare:
 *   POST /bare/seed?balance=N   credit the caller (Bearer token) N cents
 *   GET  /bare/me               { balance } of the caller
 *   GET  /bare/1rt              price known up front: one round trip (charge, RETURNING the row)
 *   GET  /bare/2rt              price from X-Price after the handler: read the user, run the handler, charge
 */
export async function bareFetch(request: Request, env: BareEnv): Promise<Response> {
  const url = new URL(request.url);
  const token = request.headers.get("authorization")?.match(/^Bearer ([A-Za-z0-9_.-]{16,200})$/)?.[1];
  if (!token) return new Response("missing bearer token\n", { status: 401 });
  const hash = await tokenHash(token, env.DB_SECRET);
  const stub = env.BARE.get(env.BARE.idFromName(`bare:${hash}`));

  if (url.pathname === "/bare/seed" && request.method === "POST") {
    const row = await stub.seed(hash, Number(url.searchParams.get("balance") ?? "0"));
    return Response.json(row);
  }
  if (url.pathname === "/bare/me") {
    return Response.json({ balance: (await stub.getUser(hash))?.balance ?? null });
  }
  if (url.pathname === "/bare/1rt") {
    const row = await stub.charge(hash, 1);
    if (!row) return new Response("payment required\n", { status: 402 });
    const response = appHandler();
    return withBalance(response, row.balance);
  }
  if (url.pathname === "/bare/2rt") {
    const user = await stub.getUser(hash);
    if (!user) return new Response("payment required\n", { status: 402 });
    const response = appHandler();
    const price = Number(response.headers.get("X-Price") ?? "0");
    const row = price > 0 ? await stub.charge(hash, price) : user;
    if (!row) return new Response("payment required\n", { status: 402 });
    return withBalance(response, row.balance);
  }
  return new Response("not found\n", { status: 404 });
}

function withBalance(response: Response, balance: number) {
  const headers = new Headers(response.headers);
  headers.set("X-Balance", String(balance));
  return new Response(response.body, { status: response.status, headers });
}
