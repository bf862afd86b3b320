// Naming and setup of the wallet's databases, and the DORM client handed to the app.
//
// Names (Durable Object names, `version` first so a new version starts from empty databases):
//   <version>:account:<account id>   one per account (the public half of its tokens)
//   <version>:aggregate              the admin copy of every users row
//   <version>:index                  the payment index
// None depends on DB_SECRET, so changing the secret keeps every account reachable, and none
// contains a token.

import type { DORM } from "./durable-object";
import type { DatabaseSetup, DORMClient, ExecQuery, ExecResult, Migrations, StripeflareEnv } from "./types";

export const DEFAULT_MIGRATIONS: Migrations = {
  1: [
    `CREATE TABLE users (
      access_token TEXT PRIMARY KEY,
      balance INTEGER DEFAULT 0,
      name TEXT,
      email TEXT,
      verified_email TEXT,
      verified_user_access_token TEXT,
      card_fingerprint TEXT,
      client_reference_id TEXT
    )`,
    `CREATE INDEX idx_users_name ON users(name)`,
    `CREATE INDEX idx_users_email ON users(email)`,
    `CREATE INDEX idx_users_verified_email ON users(verified_email)`,
    `CREATE INDEX idx_users_card_fingerprint ON users(card_fingerprint)`,
    `CREATE INDEX idx_users_client_reference_id ON users(client_reference_id)`,
  ],
  // The original schema indexed users(balance). Nothing queries by it, and every charge paid
  // for it: one more row written (SQLite Durable Objects bill rows written), in the account's
  // database and again in the aggregate. Databases made before 1.2.0 drop it once; an app that
  // sorts the admin copy by balance adds it back in its customMigrations.
  2: [`DROP INDEX IF EXISTS idx_users_balance`],
};

export interface Databases {
  version: string;
  account(account: string): DatabaseSetup;
  aggregate: DatabaseSetup;
  index: DatabaseSetup;
}

const cache = new WeakMap<Migrations, Map<string, Databases>>();

/** The databases of one (migrations, version) pair; computed once per isolate. */
export function databases(migrations: Migrations | undefined, version: string | undefined): Databases {
  const schema = migrations ?? DEFAULT_MIGRATIONS;
  const v = version ?? "1";
  let byVersion = cache.get(schema);
  if (!byVersion) cache.set(schema, (byVersion = new Map()));
  let found = byVersion.get(v);
  if (!found) {
    const migrationsKey = fingerprint(JSON.stringify(schema));
    const aggregateName = `${v}:aggregate`;
    const setup = (role: DatabaseSetup["role"], name: string): DatabaseSetup => ({
      role,
      name,
      aggregate: aggregateName,
      migrations: role === "index" ? {} : schema,
      migrationsKey: role === "index" ? "index" : migrationsKey,
    });
    found = {
      version: v,
      account: (account) => setup("account", `${v}:account:${account}`),
      aggregate: setup("aggregate", aggregateName),
      index: setup("index", `${v}:index`),
    };
    byVersion.set(v, found);
  }
  return found;
}

export function stub(env: StripeflareEnv, setup: DatabaseSetup): DurableObjectStub<DORM> {
  return env.DORM_NAMESPACE.get(env.DORM_NAMESPACE.idFromName(setup.name));
}

/**
 * A DORM-style client for one database. `exec` returns something you can await (the result)
 * or call `.toArray()` / `.one()` on, so both dormroom's and the original Stripeflare's
 * examples work.
 */
export function createClient(
  env: StripeflareEnv,
  setup: DatabaseSetup,
  options: { create: boolean; tokenHash?: string | null } = { create: true },
): DORMClient {
  // Every request's handler gets a client, most never use it: the stub is made on first use.
  let stubOf: DurableObjectStub<DORM> | undefined;
  const db = () => (stubOf ??= stub(env, setup));
  const exec = <T>(sql: string, ...bindings: unknown[]): ExecQuery<T> => {
    // Sent at once (like a DORM client), whether or not the caller awaits it.
    const pending = db().query(setup, sql, bindings, options) as unknown as Promise<ExecResult<T>>;
    // A caller that never awaits still hears about a failed statement, in the log.
    pending.catch((error) => console.warn(`[stripeflare] query on ${setup.name} failed: ${error}`));
    return {
      then: (onfulfilled, onrejected) => pending.then(onfulfilled, onrejected),
      toArray: () => pending.then((result) => result.array),
      one: () => pending.then((result) => result.one),
    };
  };
  return {
    name: setup.name,
    exec,
    raw: (sql, ...bindings) => db().queryRaw(setup, sql, bindings, options) as never,
    getSchema: () => db().schema(setup),
  };
}

/** FNV-1a (32 bit) plus length: a cheap, stable key telling migration sets apart. */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `${(hash >>> 0).toString(16)}-${text.length}`;
}
