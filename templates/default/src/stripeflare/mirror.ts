// The aggregate mirror: every account database's `users` rows, copied into one aggregate
// database for admin queries, without drift and off the request path.
//
// Outbox (account side): triggers on `users` bump `stripeflare_mirror.version` inside
// whatever transaction changed a row (a charge, a credit, a custom `ctx.client.exec`, an admin
// query), so "something changed" is recorded atomically with the change itself. An alarm
// then sends the *current* rows with that version (state, not the statements that produced
// it) and records the version once the aggregate acknowledges. A failed push is retried with
// exponential backoff, forever: the alarm stays scheduled until acked catches up.
//
// The version only needs a new number when the outbox is clean (`version = acked`): while a
// push is pending, the next snapshot carries every later change anyway. So the triggers bump
// only then, and the charges between two pushes write the outbox row once instead of once
// per charge (rows written are billed). What keeps a change from being lost is that no two
// different snapshots are ever sent with the same version:
//   - a change made while a push is in flight does not bump (the outbox is not clean), so the
//     acknowledgement compares the rows now with the rows it sent, and bumps if they differ;
//   - a failed push may have reached the aggregate, so a failure bumps;
//   - an object that starts afresh cannot know what its previous life sent, so its first push
//     bumps before taking its snapshot.
//
// Aggregate side: a snapshot replaces the source's rows only if its version is newer than the
// one stored for that source, so late, duplicated or reordered pushes cannot roll it back.
//
// Load: one aggregate object serves every account, so the accounts' push rate adapts to it.
// The aggregate counts the accounts that pushed recently (IntakeMeter) and answers each push
// with the interval its sender should keep between pushes while busy: at N busy accounts,
// max(MIRROR_BATCH_MS, N / MIRROR_TARGET_PUSHES_PER_SECOND), so 30 s up to 15,000 accounts.
// The intake then stays near the target whatever N is, so the aggregate keeps room for admin
// queries and never queues pushes without end; the admin copy's lag grows with N instead
// (BENCHMARKS.md, "The aggregate at scale").
//
// This deliberately does not use dormroom's multi-stub mirror, which replays every call
// (reads too) in ctx.waitUntil and only logs failures.

import type { MirrorSnapshot } from "./types";

/** Delay before the first push: coalesces a burst of charges into one aggregate write. */
export const MIRROR_DELAY_MS = 1_000;
/**
 * A busy account pushes at most once per this interval: after a push, the next one waits until
 * then, so an account charged every second writes to the aggregate every 30 s instead of every
 * second (each push writes rows, and rows written are billed). The admin copy is then at most
 * this much behind a busy account, and MIRROR_DELAY_MS behind a quiet one.
 */
export const MIRROR_BATCH_MS = 30_000;
/**
 * The intake the aggregate steers all accounts towards, in pushes per second: half of the
 * 1,000 requests a second Cloudflare documents as one object's soft limit (one aggregate object
 * absorbed about 2,600 a second locally, BENCHMARKS.md), leaving room for admin queries.
 */
export const MIRROR_TARGET_PUSHES_PER_SECOND = 500;
/** The longest interval the aggregate asks for (reached at 1.8 million busy accounts). */
export const MIRROR_MAX_INTERVAL_MS = 60 * 60_000;
const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Storage key (in the aggregate's own KV) that makes it refuse snapshots, for fault tests: any
 * value refuses them; "after-apply" applies each one and then fails the call.
 */
export const MIRROR_FAULT_KEY = "stripeflare:mirror-fault";

const OUTBOX_TABLE = `CREATE TABLE IF NOT EXISTS stripeflare_mirror (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL DEFAULT 0,
    acked INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    name TEXT,
    aggregate TEXT,
    migrations TEXT,
    migrations_key TEXT
  )`;

const EVENTS = ["insert", "update", "delete"] as const;

/**
 * Creates the outbox, or brings one made by an earlier wallet up to date: before 1.2.0 its
 * triggers (named without `_when_clean`) bumped the version on every change.
 */
export function ensureOutbox(sql: SqlStorage): void {
  sql.exec(OUTBOX_TABLE);
  sql.exec(`INSERT OR IGNORE INTO stripeflare_mirror (id) VALUES (1)`);
  for (const event of EVENTS) {
    sql.exec(`DROP TRIGGER IF EXISTS stripeflare_mirror_users_${event}`);
    sql.exec(`DROP TRIGGER IF EXISTS stripeflare_mirror_users_${event}_v2`); // a development build of 1.2.0
    sql.exec(`CREATE TRIGGER IF NOT EXISTS stripeflare_mirror_users_${event}_when_clean
      AFTER ${event.toUpperCase()} ON users
      BEGIN UPDATE stripeflare_mirror SET version = version + 1 WHERE id = 1 AND version = acked; END`);
  }
}

export const AGGREGATE_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS stripeflare_mirror_sources (
    source TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    access_tokens TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`,
];

interface OutboxRow {
  version: number;
  acked: number;
  attempts: number;
  name: string | null;
  aggregate: string | null;
  migrations: string | null;
  migrations_key: string | null;
}

export function outboxState(sql: SqlStorage): OutboxRow | undefined {
  return sql.exec<OutboxRow & Record<string, SqlStorageValue>>(`SELECT * FROM stripeflare_mirror WHERE id = 1`).toArray()[0];
}

/** Remembers where and with which schema this database mirrors (the alarm has no request). */
export function recordMirrorTarget(sql: SqlStorage, name: string, aggregate: string, migrations: string, key: string): void {
  sql.exec(
    `UPDATE stripeflare_mirror SET name = ?, aggregate = ?, migrations = ?, migrations_key = ?
     WHERE id = 1 AND (name IS NOT ? OR aggregate IS NOT ? OR migrations_key IS NOT ?)`,
    name,
    aggregate,
    migrations,
    key,
    name,
    aggregate,
    key,
  );
}

/**
 * The snapshot to push now, or null when the aggregate is up to date. `fresh`: this object has
 * not pushed since it started, so the version is bumped first (its previous life may have sent
 * a snapshot with the current version and died before hearing back).
 */
export function takeSnapshot(sql: SqlStorage, fresh = false): { snapshot: MirrorSnapshot; aggregate: string } | null {
  const state = outboxState(sql);
  if (!state || state.version <= state.acked || !state.name || !state.aggregate) return null;
  if (fresh) sql.exec(`UPDATE stripeflare_mirror SET version = version + 1 WHERE id = 1`);
  return {
    aggregate: state.aggregate,
    snapshot: {
      source: state.name,
      version: fresh ? state.version + 1 : state.version,
      rows: sql.exec(`SELECT * FROM users`).toArray(),
      migrations: JSON.parse(state.migrations ?? "{}"),
      migrationsKey: state.migrations_key ?? "",
    },
  };
}

/**
 * The aggregate has `snapshot`. If the rows changed while it was on its way (those changes did
 * not bump the version: a push was pending), the version moves past it, so they are pushed
 * next under a newer number.
 */
export function markAcked(sql: SqlStorage, snapshot: MirrorSnapshot): void {
  const changed = !sameRows(sql.exec(`SELECT * FROM users`).toArray(), snapshot.rows);
  sql.exec(
    `UPDATE stripeflare_mirror SET acked = max(acked, ?), version = version + ?, attempts = 0, last_error = NULL WHERE id = 1`,
    snapshot.version,
    changed ? 1 : 0,
  );
}

/**
 * Records a failed push; returns the delay before the next attempt. The push may have reached
 * the aggregate all the same, so the version moves on: the next snapshot must not share it.
 */
export function markFailed(sql: SqlStorage, error: string): number {
  const { attempts } = sql
    .exec<{ attempts: number }>(
      `UPDATE stripeflare_mirror SET version = version + 1, attempts = attempts + 1, last_error = ? WHERE id = 1 RETURNING attempts`,
      error.slice(0, 500),
    )
    .one();
  return Math.min(MAX_BACKOFF_MS, MIRROR_DELAY_MS * 2 ** Math.min(attempts, 20));
}

function sameRows(a: Record<string, unknown>[], b: Record<string, unknown>[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((row, i) => {
    const other = b[i]!;
    const keys = Object.keys(row);
    return keys.length === Object.keys(other).length && keys.every((key) => sameValue(row[key], other[key]));
  });
}

/** Aggregate side: applies a snapshot if it is newer than what this source last sent. */
export function applySnapshot(sql: SqlStorage, snapshot: MirrorSnapshot): { applied: boolean; version: number } {
  const current = sql
    .exec<{ version: number; access_tokens: string }>(
      `SELECT version, access_tokens FROM stripeflare_mirror_sources WHERE source = ?`,
      snapshot.source,
    )
    .toArray()[0];
  if (current && current.version >= snapshot.version) return { applied: false, version: current.version };

  const keys = snapshot.rows.map((row) => String(row.access_token));
  // Rows that left the source (deleted by a custom query) leave the aggregate too.
  for (const gone of current ? (JSON.parse(current.access_tokens) as string[]) : []) {
    if (!keys.includes(gone)) sql.exec(`DELETE FROM users WHERE access_token = ?`, gone);
  }
  for (const row of snapshot.rows) {
    // Only what changed is written: SQLite rewrites the index entries of every column an UPDATE
    // names, changed or not (and INSERT OR REPLACE deletes and re-inserts all of them), while
    // rows written are what SQLite-backed objects are billed by; reading the old row is ~1000×
    // cheaper than writing one.
    const columns = Object.keys(row);
    const existing = sql.exec(`SELECT * FROM users WHERE access_token = ?`, row.access_token as SqlStorageValue).toArray()[0];
    if (!existing) {
      sql.exec(
        `INSERT INTO users (${columns.map(quoteIdentifier).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
        ...columns.map((column) => row[column] as SqlStorageValue),
      );
      continue;
    }
    const changed = columns.filter((column) => column !== "access_token" && !sameValue(existing[column], row[column]));
    if (changed.length === 0) continue;
    sql.exec(
      `UPDATE users SET ${changed.map((column) => `${quoteIdentifier(column)} = ?`).join(", ")} WHERE access_token = ?`,
      ...changed.map((column) => row[column] as SqlStorageValue),
      row.access_token as SqlStorageValue,
    );
  }
  sql.exec(
    `INSERT INTO stripeflare_mirror_sources (source, version, access_tokens) VALUES (?, ?, ?)
     ON CONFLICT (source) DO UPDATE SET version = excluded.version, access_tokens = excluded.access_tokens,
       updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    snapshot.source,
    snapshot.version,
    JSON.stringify(keys),
  );
  return { applied: true, version: snapshot.version };
}

/**
 * The accounts that pushed recently (memory only): the aggregate's estimate of how many busy
 * accounts it serves. An account pushing every I ms is counted while it has pushed within the
 * last 2 × I, the interval the aggregate currently asks for. One account in SAMPLE is kept (by
 * a hash of its name) and the count scaled up, so memory stays small at a million accounts;
 * the estimate only matters beyond 15,000 accounts, where it is within a few percent.
 */
export class IntakeMeter {
  static readonly SAMPLE = 16;
  private readonly seen = new Map<number, number>();
  private window = 2 * MIRROR_BATCH_MS;
  private prunedAt = -Infinity;

  record(source: string, now: number): void {
    const key = fnv1a(source);
    if (key % IntakeMeter.SAMPLE !== 0) return;
    this.seen.delete(key); // re-inserted last: the map stays ordered by last push
    this.seen.set(key, now);
  }

  /** The interval to ask every sender for now: enough for all of them to fit the target rate. */
  interval(now: number): number {
    if (now - this.prunedAt > this.window / 4) {
      for (const [key, at] of this.seen) {
        if (at >= now - this.window) break; // ordered by last push: the rest are recent
        this.seen.delete(key);
      }
      this.prunedAt = now;
    }
    const interval = nextInterval(this.sources);
    this.window = 2 * interval;
    return interval;
  }

  /** Estimated accounts that pushed within the window. */
  get sources(): number {
    return this.seen.size * IntakeMeter.SAMPLE;
  }
}

/** 32-bit FNV-1a of a string (spreads account names evenly for sampling). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * The interval each of `busyAccounts` accounts should keep between pushes so that together
 * they push MIRROR_TARGET_PUSHES_PER_SECOND: N / target, within [MIRROR_BATCH_MS,
 * MIRROR_MAX_INTERVAL_MS]. It depends on the count only, not on a sender's own last interval,
 * so senders do not compound each other's corrections.
 */
export function nextInterval(busyAccounts: number): number {
  const interval = Math.ceil((busyAccounts * 1000) / MIRROR_TARGET_PUSHES_PER_SECOND);
  return Math.min(MIRROR_MAX_INTERVAL_MS, Math.max(MIRROR_BATCH_MS, interval));
}

/** Equal SQLite values (blobs compared byte by byte). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof ArrayBuffer && b instanceof ArrayBuffer) {
    if (a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a);
    const y = new Uint8Array(b);
    return x.every((byte, i) => byte === y[i]);
  }
  return a === b || (a === undefined && b === null) || (a === null && b === undefined);
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
