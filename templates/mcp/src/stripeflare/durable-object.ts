// DORM: the one Durable Object class behind DORM_NAMESPACE. Each instance is one SQLite
// database with one of three roles (named by the Worker, see ./databases.ts):
//   account    a visitor's account: users row, tokens, ledger, mirror outbox
//   aggregate  a copy of every users row, for admin queries
//   index      the payment index (login by payment, one claim per checkout session)
//
// It extends dormroom's QueryableObject, so dormroom clients (`exec`, `raw`, `getSchema`)
// keep working on it, and uses dormroom's runMigrations for just-in-time migrations: the
// Worker sends the migrations with each call and the object applies them once per change.
// Every wallet operation is one synchronous SQLite transaction inside the object, so the
// object's single thread plus `transactionSync` make balance changes atomic and serialized.

import { QueryableObject, runMigrations } from "dormroom";
import { listBudgets, mintBudget, revokeBudget, upgradeLedgerForBudgets, type BudgetRequest } from "./budgets";
import type { Idempotency } from "./idempotency";
import {
  ACCOUNT_SCHEMA,
  applyDispute,
  applyRefunds,
  chargeAccount,
  creditAccount,
  mergeIn,
  mergeOut,
  readSession,
  reverseCharge,
  statementRows,
  upgradeLedger,
} from "./ledger";
import { addToken, markUpgraded, revokeAllTokens, revokeToken, rotateToken, signOutOthers } from "./tokens";
import {
  AGGREGATE_SCHEMA,
  IntakeMeter,
  MIRROR_BATCH_MS,
  MIRROR_DELAY_MS,
  MIRROR_FAULT_KEY,
  applySnapshot,
  ensureOutbox,
  markAcked,
  markFailed,
  outboxState,
  recordMirrorTarget,
  takeSnapshot,
} from "./mirror";
import { INDEX_SCHEMA, beginLogin, claimPayment, findPayment, finishLogin, upgradeIndex } from "./payment-index";
import type {
  ChargeRequest,
  ChargeResult,
  ClaimRequest,
  ClaimResult,
  CreditRequest,
  CreditResult,
  DatabaseSetup,
  DisputeRequest,
  LoginDecision,
  LoginRequest,
  MirrorAck,
  MirrorSnapshot,
  PaymentRecord,
  RefundRequest,
  ReversalResult,
  SessionResult,
  StatementEntry,
  StripeflareEnv,
} from "./types";

export class MigrationError extends Error {}

interface QueryOptions {
  create: boolean;
  tokenHash?: string | null;
}

export class DORM extends QueryableObject<StripeflareEnv> {
  /** When this instance last pushed to the aggregate (in memory: a restart just pushes sooner). */
  private lastPushAt: number | undefined;
  /** The interval between pushes while busy, as the aggregate last asked (account role). */
  private pushInterval = MIRROR_BATCH_MS;
  /** The accounts that pushed recently, as the aggregate (created on its first push). */
  private intake: IntakeMeter | undefined;
  /** migrationsKey of the schema this instance has ensured; undefined until the first call. */
  private schemaKey: string | undefined;
  /** This instance has pushed to the aggregate (its first push bumps the version: see mirror.ts). */
  private pushedBefore = false;
  /** The outbox table exists (it is never dropped). */
  private outboxSeen = false;
  /** Whether an alarm is known to be scheduled (avoids a storage read per write). */
  private alarmScheduled: boolean | undefined;

  constructor(state: DurableObjectState, env: StripeflareEnv) {
    super(state, env);
    // If the object stopped between a write and scheduling its alarm, the outbox still says
    // "version > acked": re-arm on wake-up so the aggregate cannot miss it.
    state.blockConcurrencyWhile(() => this.scheduleMirror());
  }

  // ----- account role -------------------------------------------------------------------

  /** Loads (and optionally charges) the session of a token. Never creates a database. */
  async session(
    setup: DatabaseSetup,
    input: { account: string; tokenHash: string | null; clientReferenceId: string; charge?: ChargeRequest; addTokenHash?: string; idempotency?: Idempotency },
  ): Promise<SessionResult> {
    // A visitor who never paid has no database: answer without creating one, so anonymous
    // traffic writes nothing.
    if (!this.ensure(setup, false)) return { kind: "visitor" };
    return this.writeAndMirror((sql) => {
      const session = readSession(sql, input.account, input.tokenHash, input.clientReferenceId, input.charge, input.idempotency);
      if (input.addTokenHash && session.kind === "user") addToken(sql, input.addTokenHash);
      return session;
    });
  }

  async charge(setup: DatabaseSetup, account: string, request: ChargeRequest): Promise<ChargeResult> {
    if (!this.ensure(setup, false)) return { charged: false, message: "User is not signed up yet and cannot be charged" };
    return this.writeAndMirror((sql) => chargeAccount(sql, account, request));
  }

  async credit(setup: DatabaseSetup, request: CreditRequest): Promise<CreditResult> {
    this.ensure(setup, true);
    return this.writeAndMirror((sql) => creditAccount(sql, request));
  }

  async refund(setup: DatabaseSetup, request: RefundRequest): Promise<ReversalResult> {
    this.ensure(setup, true);
    return this.writeAndMirror((sql) => applyRefunds(sql, request));
  }

  async dispute(setup: DatabaseSetup, request: DisputeRequest): Promise<ReversalResult> {
    this.ensure(setup, true);
    return this.writeAndMirror((sql) => applyDispute(sql, request));
  }

  /** A page of the ledger, newest first. A visitor without a database has an empty one. */
  async statement(setup: DatabaseSetup, before: number | null, limit: number, onlyToken: string | null = null): Promise<StatementEntry[]> {
    if (!this.ensure(setup, false)) return [];
    return statementRows(this.storage.sql, before, limit, onlyToken);
  }

  // ----- budget tokens (./budgets.ts) -----------------------------------------------------

  async mintBudget(setup: DatabaseSetup, tokenHash: string, id: string, request: BudgetRequest): Promise<void> {
    if (!this.ensure(setup, false)) throw new Error("no account to mint a budget token for");
    this.transaction(() => mintBudget(this.storage.sql, tokenHash, id, request));
  }

  async listBudgets(setup: DatabaseSetup) {
    if (!this.ensure(setup, false)) return [];
    return listBudgets(this.storage.sql);
  }

  async revokeBudget(setup: DatabaseSetup, id: string): Promise<boolean> {
    if (!this.ensure(setup, false)) return false;
    return this.transaction(() => revokeBudget(this.storage.sql, id));
  }

  async rotate(setup: DatabaseSetup, account: string, oldHash: string | null, newHash: string): Promise<boolean> {
    this.ensure(setup, true);
    return this.writeAndMirror((sql) => rotateToken(sql, account, oldHash, newHash));
  }

  async revoke(setup: DatabaseSetup, tokenHash: string): Promise<void> {
    if (!this.ensure(setup, false)) return;
    this.transaction(() => revokeToken(this.storage.sql, tokenHash));
  }

  async markUpgraded(setup: DatabaseSetup, tokenHash: string): Promise<void> {
    if (!this.ensure(setup, false)) return;
    this.transaction(() => void markUpgraded(this.storage.sql, tokenHash));
  }

  async signOutOthers(setup: DatabaseSetup, account: string, keepHash: string): Promise<{ removed: number; merged: string[] }> {
    this.ensure(setup, true);
    return this.writeAndMirror((sql) => signOutOthers(sql, account, keepHash));
  }

  async revokeAll(setup: DatabaseSetup): Promise<number> {
    if (!this.ensure(setup, false)) return 0;
    return this.transaction(() => revokeAllTokens(this.storage.sql));
  }

  async mergeOut(setup: DatabaseSetup, account: string, reference: string, target: string): Promise<number> {
    this.ensure(setup, true);
    return this.writeAndMirror((sql) => mergeOut(sql, account, reference, target));
  }

  /** Login by payment, on the account the browser becomes: the merged balance (if any) and the browser's new token (if any). */
  async acceptLogin(setup: DatabaseSetup, account: string, reference: string, from: string | null, amount: number, tokenHash: string | null): Promise<void> {
    this.ensure(setup, true);
    await this.writeAndMirror((sql) => {
      if (from !== null) mergeIn(sql, account, reference, from, amount);
      if (tokenHash !== null) addToken(sql, tokenHash);
    });
  }

  async reverseCharge(setup: DatabaseSetup, account: string, amount: number, requestLine: string, idempotency?: Idempotency, budgetTokenHash?: string): Promise<number> {
    if (!this.ensure(setup, false)) return 0;
    return this.writeAndMirror((sql) => reverseCharge(sql, account, amount, requestLine, idempotency, budgetTokenHash));
  }

  /**
   * Runs one statement for `ctx.client` / the admin API. `create` false answers "no such
   * database" rather than creating one; `tokenHash` (the session's own token) is registered
   * when the app's query is the first write of a visitor's database, so the visitor keeps it.
   */
  async query(setup: DatabaseSetup, sql: string, bindings: unknown[], options: QueryOptions) {
    this.prepareQuery(setup, options);
    try {
      return this.exec(sql, ...bindings);
    } finally {
      await this.scheduleMirror();
    }
  }

  /** Like query, in dormroom's raw (column arrays) shape, for the studio. */
  async queryRaw(setup: DatabaseSetup, sql: string, bindings: unknown[], options: QueryOptions) {
    this.prepareQuery(setup, options);
    try {
      return this.raw(sql, ...bindings);
    } finally {
      await this.scheduleMirror();
    }
  }

  private prepareQuery(setup: DatabaseSetup, options: QueryOptions): void {
    if (!this.ensure(setup, options.create)) throw new Error(`Database ${setup.name} does not exist`);
    if (options.tokenHash && setup.role === "account") addToken(this.storage.sql, options.tokenHash);
  }

  async schema(setup: DatabaseSetup): Promise<string> {
    this.ensure(setup, true);
    return this.getSchema();
  }

  /** Pushes the outbox to the aggregate; reschedules itself until acknowledged. */
  async alarm(): Promise<void> {
    this.alarmScheduled = false;
    const pending = this.hasOutbox() ? takeSnapshot(this.storage.sql, !this.pushedBefore) : null;
    if (!pending) return;
    this.pushedBefore = true;
    try {
      const aggregate = this.env.DORM_NAMESPACE.get(this.env.DORM_NAMESPACE.idFromName(pending.aggregate));
      const ack = await aggregate.mirror(pending.snapshot);
      markAcked(this.storage.sql, pending.snapshot);
      this.lastPushAt = Date.now();
      this.pushInterval = ack.interval;
      await this.scheduleMirror();
    } catch (error) {
      const delay = markFailed(this.storage.sql, String(error));
      console.warn(`[stripeflare] mirror of ${pending.snapshot.source} failed, retrying in ${delay} ms: ${error}`);
      await this.storage.setAlarm(Date.now() + delay);
      this.alarmScheduled = true;
    }
  }

  // ----- aggregate role -----------------------------------------------------------------

  async mirror(snapshot: MirrorSnapshot): Promise<MirrorAck> {
    // Fault injection for tests, stored in this object's own storage so a test can make the
    // real aggregate fail (and recover) without mocks.
    // "after-apply": the snapshot is applied and the answer lost, as a call cut on its way back.
    const fault = this.storage.kv.get(MIRROR_FAULT_KEY);
    if (fault && fault !== "after-apply") throw new Error("aggregate unavailable (fault injected)");
    this.ensure(
      { role: "aggregate", name: "", aggregate: "", migrations: snapshot.migrations, migrationsKey: snapshot.migrationsKey },
      true,
    );
    const now = Date.now();
    (this.intake ??= new IntakeMeter()).record(snapshot.source, now);
    const result = this.transaction(() => applySnapshot(this.storage.sql, snapshot));
    if (fault === "after-apply") throw new Error("aggregate answer lost (fault injected)");
    return { ...result, interval: this.intake.interval(now) };
  }

  // ----- index role ---------------------------------------------------------------------

  async claim(setup: DatabaseSetup, request: ClaimRequest): Promise<ClaimResult> {
    this.ensure(setup, true);
    return this.transaction(() => claimPayment(this.storage.sql, request));
  }

  async beginLogin(setup: DatabaseSetup, request: LoginRequest): Promise<LoginDecision> {
    this.ensure(setup, true);
    return this.transaction(() => beginLogin(this.storage.sql, request));
  }

  async finishLogin(setup: DatabaseSetup, reference: string): Promise<void> {
    this.ensure(setup, true);
    this.transaction(() => finishLogin(this.storage.sql, reference));
  }

  async payment(setup: DatabaseSetup, paymentIds: string[], checkoutSessions: string[] = []): Promise<PaymentRecord | null> {
    this.ensure(setup, true);
    return this.transaction(() => findPayment(this.storage.sql, paymentIds, checkoutSessions));
  }

  // ----- internals ----------------------------------------------------------------------

  private get storage(): DurableObjectStorage {
    return this.ctx.storage;
  }

  private transaction<T>(fn: () => T): T {
    return this.storage.transactionSync(fn);
  }

  /** One transaction on this account's database, then the mirror push scheduled for what it changed. */
  private async writeAndMirror<T>(fn: (sql: SqlStorage) => T): Promise<T> {
    const result = this.transaction(() => fn(this.storage.sql));
    await this.scheduleMirror();
    return result;
  }

  /** Whether this database has an outbox (an account's); remembered once seen (a schema lookup scans). */
  private hasOutbox(): boolean {
    return (this.outboxSeen ||= this.hasTable("stripeflare_mirror"));
  }

  private hasTable(name: string): boolean {
    return this.storage.sql.exec(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).toArray().length > 0;
  }

  /**
   * Applies the app's migrations and the wallet's own tables, once per instance and schema.
   * Returns false (and writes nothing) when `create` is false and the database is empty.
   */
  private ensure(setup: DatabaseSetup, create: boolean): boolean {
    if (this.schemaKey === setup.migrationsKey) return true;
    const fresh = !this.hasTable(setup.role === "index" ? "claims" : "users");
    if (fresh && !create) return false;
    this.transaction(() => {
      if (setup.role !== "index") {
        const error = runMigrations(this.storage.sql.exec.bind(this.storage.sql), setup.migrations);
        if (error) {
          console.error(`[stripeflare] migrations failed in ${setup.name || setup.role}: ${error}`);
          throw new MigrationError(error);
        }
      }
      const schema =
        setup.role === "account" ? ACCOUNT_SCHEMA : setup.role === "aggregate" ? AGGREGATE_SCHEMA : INDEX_SCHEMA;
      if (setup.role === "account") upgradeLedger(this.storage.sql);
      for (const statement of schema) this.storage.sql.exec(statement);
      if (setup.role === "account") {
        ensureOutbox(this.storage.sql);
        upgradeLedgerForBudgets(this.storage.sql);
        recordMirrorTarget(this.storage.sql, setup.name, setup.aggregate, JSON.stringify(setup.migrations), setup.migrationsKey);
      }
      if (setup.role === "index") upgradeIndex(this.storage.sql, fresh);
    });
    this.schemaKey = setup.migrationsKey;
    return true;
  }

  /** Schedules the mirror push if a write bumped the outbox version past the acked one. */
  private async scheduleMirror(): Promise<void> {
    if (this.alarmScheduled) return;
    const state = this.hasOutbox() ? outboxState(this.storage.sql) : undefined;
    if (!state || state.version <= state.acked) return;
    if ((await this.storage.getAlarm()) === null) {
      // Quiet account: soon. Busy one (it pushed less than pushInterval ago): not before then.
      const at = Math.max(Date.now() + MIRROR_DELAY_MS, (this.lastPushAt ?? -Infinity) + this.pushInterval);
      await this.storage.setAlarm(at);
    }
    this.alarmScheduled = true;
  }
}
