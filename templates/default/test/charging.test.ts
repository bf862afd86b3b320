// Charging: X-Price, ctx.charge, declared prices, chargeUser; never overdrawn; ledger = balance.
import { createExecutionContext, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chargeUser, type DORM } from "../src/stripeflare";
import { LEDGER_ROW_SQL, REGISTERED_SQL } from "../src/stripeflare/ledger";
import { accountDb, books, fixture, ledger, me, newVisitor, pay, request, rowsWrittenBy, runMirror, sqlIn, testEnv, type Worker } from "./helpers";

async function fundedVisitor(worker: Worker, amount: number) {
  const visitor = await newVisitor(worker);
  await pay(worker, { reference: visitor.reference, amount });
  return visitor;
}

describe("X-Price", () => {
  it("charges the handler's price and reports the balance after it", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 10);
    const response = await worker(request("/price?value=3", visitor));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("priced content");
    expect(response.headers.get("X-Price")).toBe("3");
    expect(response.headers.get("X-Balance")).toBe("7");
    expect(response.headers.get("X-PaymentLink")).toMatch(/^https:\/\/buy\.stripe\.com\/test_stripeflare\?client_reference_id=[\w-]+$/);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 7, ledger: 7, rows: 2 });
    expect((await ledger(worker.version, visitor.account))[1]).toMatchObject({ kind: "charge", amount: -3, balance_after: 7, description: "GET /price" });
  });

  it("answers 402 instead of the content when the balance cannot cover the price", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 2);
    const response = await worker(request("/price?value=3", visitor));
    expect(response.status).toBe(402);
    expect(await response.text()).toMatch(/^Payment required: User balance too low\. Top up at https:\/\/buy\.stripe\.com/);
    expect(response.headers.get("X-Balance")).toBe("2");
    expect(response.headers.get("X-Price")).toBeNull();
    const json = await worker(request("/price?value=3", visitor, { headers: { Accept: "application/json" } }));
    expect(await json.json()).toMatchObject({ error: "Payment required", balance: 2 });
    // A visitor without account gets the same answer, with their payment link.
    const stranger = await worker(request("/price?value=1"));
    expect(stranger.status).toBe(402);
    expect(await stranger.text()).toContain("not signed up yet");
  });

  it.each(["abc", "-1", "1.5", "1e20", "99999999999999999999", " ", "0x10", "NaN"])(
    "refuses X-Price %j from the app with a clear 500, charging nothing",
    async (value) => {
      const worker = fixture();
      const visitor = await fundedVisitor(worker, 100);
      const response = await worker(request(`/price?value=${encodeURIComponent(value)}`, visitor));
      expect(response.status).toBe(500);
      const body = (await response.json()) as { error: string };
      expect(body.error).toMatch(/invalid X-Price header .* positive whole number of cents\. Nothing was charged\./);
      expect(JSON.stringify(body)).not.toMatch(/\n\s+at /);
      expect(await books(worker.version, visitor.account)).toEqual({ balance: 100, ledger: 100, rows: 1 });
    },
  );

  it("treats X-Price 0 as free", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 5);
    const response = await worker(request("/price?value=0", visitor));
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Price")).toBeNull();
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 5, ledger: 5, rows: 1 });
  });
});

describe("never overdrawn", () => {
  it("200 concurrent 1-cent requests on a 150-cent balance: exactly 150 succeed, balance 0", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 150);
    const responses = await Promise.all(Array.from({ length: 200 }, () => worker(request("/price?value=1", visitor))));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(150);
    expect(statuses.filter((s) => s === 402)).toHaveLength(50);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 0, ledger: 0, rows: 151 });
  });

  it("ctx.charge: refuses to overdraw unless allowNegativeBalance, and rejects bad amounts", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 5);
    const charge = async (query: string) => (await worker(request(`/ctx-charge?${query}`, visitor))).json();
    expect(await charge("amount=6")).toEqual({ charged: false, message: "User balance too low", balance: 5 });
    expect(await charge("amount=6&negative=1")).toEqual({ charged: true, message: "Successfully charged", balance: -1 });
    for (const bad of ["0", "-2", "2.5", "NaN", "1e20"]) {
      expect(await charge(`amount=${bad}`)).toMatchObject({ charged: false, message: expect.stringMatching(/^Invalid amount/) });
    }
    expect(await books(worker.version, visitor.account)).toEqual({ balance: -1, ledger: -1, rows: 2 });
  });

  it("concurrent ctx.charge calls from many requests keep ledger and balance equal", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 40);
    const results = (await Promise.all(
      Array.from({ length: 60 }, (_, i) => worker(request(`/ctx-charge?amount=${1 + (i % 3)}`, visitor)).then((r) => r.json())),
    )) as { charged: boolean }[];
    const { balance, ledger: sum } = await books(worker.version, visitor.account);
    expect(balance).toBe(sum);
    expect(balance).toBeGreaterThanOrEqual(0);
    expect(balance).toBeLessThan(3);
    expect(results.some((r) => !r.charged)).toBe(true);
  });
});

describe("declared prices", () => {
  it("charges before the handler runs and answers 402 without running it when short", async () => {
    const worker = fixture({ prices: { "/paid": 4, "POST /ctx-charge": 1 } });
    const visitor = await fundedVisitor(worker, 10);
    const first = await worker(request("/paid", visitor));
    expect([first.status, await first.text(), first.headers.get("X-Price"), first.headers.get("X-Balance")]).toEqual([200, "paid content", "4", "6"]);
    await worker(request("/paid", visitor));
    const third = await worker(request("/paid", visitor));
    expect(third.status).toBe(402);
    expect(third.headers.get("X-Balance")).toBe("2");
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 2, ledger: 2, rows: 3 });
    // Method-qualified keys only apply to that method.
    const get = await worker(request("/ctx-charge?amount=1", visitor));
    expect(get.headers.get("X-Balance")).toBe("1");
  });

  it("charges a declared price plus the handler's X-Price, and reports the total", async () => {
    const worker = fixture({ prices: (req) => (new URL(req.url).pathname === "/price" ? 2 : undefined) });
    const visitor = await fundedVisitor(worker, 10);
    const response = await worker(request("/price?value=3", visitor));
    expect(response.headers.get("X-Price")).toBe("5");
    expect(response.headers.get("X-Balance")).toBe("5");
  });

  it("reports a misconfigured declared price clearly", async () => {
    const worker = fixture({ prices: { "/paid": 1.5 } });
    const response = await worker(request("/paid"));
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: expect.stringMatching(/price configured for this route is invalid/) });
  });
});

describe("chargeUser", () => {
  it("charges by access token from outside a fetch handler", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 3);
    const ctx = createExecutionContext();
    const charge = (amount: number, token = visitor.token, negative = false) =>
      chargeUser(testEnv, ctx, token, undefined, worker.version, amount, negative);
    expect(await charge(2)).toEqual({ charged: true, message: "Successfully charged", balance: 1 });
    expect(await charge(2)).toEqual({ charged: false, message: "User balance too low", balance: 1 });
    expect(await charge(2, visitor.token, true)).toMatchObject({ charged: true, balance: -1 });
    expect(await charge(1, "garbage")).toEqual({ charged: false, message: "Malformed access token" });
    expect(await charge(Number.NaN)).toMatchObject({ charged: false, message: expect.stringMatching(/^Invalid amount/) });
    const stranger = await newVisitor(worker);
    expect(await charge(1, stranger.token)).toMatchObject({ charged: false, message: expect.stringMatching(/not signed up/) });
    expect((await me(worker, visitor)).body.balance).toBe(-1);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: -1, ledger: -1, rows: 3 });
  });
});

describe("ledger indexes", () => {
  const ledgerIndexes = (db: DurableObjectStub<DORM>) =>
    sqlIn(db, `SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'stripeflare_transactions' ORDER BY name`);

  it("a charge's ledger row updates no index; Stripe lookups and `registered` still use one", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 10);
    expect((await worker(request("/price?value=3", visitor))).status).toBe(200);
    const db = accountDb(worker.version, visitor.account);
    // The only index is the partial (kind, reference) one, which leaves charges out.
    const indexes = await ledgerIndexes(db);
    expect(indexes.map((index) => index.name)).toEqual(["stripeflare_transactions_stripe"]);
    expect(indexes[0]!.sql).toContain("kind NOT IN ('charge', 'rotate')");
    // Without an index on kind alone, these must be answered by that index, not a scan.
    for (const [query, ...bindings] of [[LEDGER_ROW_SQL, "credit", "cs_test"], [REGISTERED_SQL]] as const) {
      const plan = await sqlIn(db, `EXPLAIN QUERY PLAN ${query}`, ...bindings);
      expect(plan.map((step) => step.detail).join("\n")).toMatch(/^SEARCH stripeflare_transactions USING (COVERING )?INDEX stripeflare_transactions_stripe \(kind=\?/);
    }
    expect(await me(worker, visitor)).toMatchObject({ body: { registered: true, balance: 7 } });
  });

  it("drops the index on kind alone that earlier versions created, on the object's next start", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 10);
    const db = accountDb(worker.version, visitor.account);
    await runInDurableObject(db, (instance: DORM, state) => {
      state.storage.sql.exec(`CREATE INDEX stripeflare_transactions_kind ON stripeflare_transactions(kind)`);
      (instance as unknown as { schemaKey: string | undefined }).schemaKey = undefined;
    });
    expect((await ledgerIndexes(db)).map((index) => index.name)).toContain("stripeflare_transactions_kind");
    expect((await worker(request("/price?value=3", visitor))).status).toBe(200);
    expect((await ledgerIndexes(db)).map((index) => index.name)).toEqual(["stripeflare_transactions_stripe"]);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 7, ledger: 7, rows: 2 });
  });
});

describe("what a charge writes (rows written are billed)", () => {
  it("a charge writes 2 rows, the balance and the ledger row, plus the outbox's version once per push (no balance index, no AUTOINCREMENT sequence)", async () => {
    const { chargeAccount } = await import("../src/stripeflare/ledger");
    const worker = fixture({ prices: { "/paid": 1 } });
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 100 });
    expect((await worker(request("/paid", visitor))).status).toBe(200); // the object has run its migrations
    const charge = (state: DurableObjectState) => () =>
      chargeAccount(state.storage.sql, visitor.account, { amount: 1, allowNegativeBalance: false, reference: "GET /paid", description: "GET /paid" });
    // A push is pending (its snapshot not taken yet): later charges ride on it.
    const pending = await runInDurableObject(accountDb(worker.version, visitor.account), (_i: DORM, state) =>
      [1, 2, 3].map(() => rowsWrittenBy(state.storage.sql, charge(state))),
    );
    expect(pending).toEqual([2, 2, 2]);
    // Once the aggregate has everything, the first charge also bumps the outbox's version; the next ones do not.
    expect(await runMirror(worker.version, visitor.account)).toBe(true);
    const afterPush = await runInDurableObject(accountDb(worker.version, visitor.account), (_i: DORM, state) =>
      [1, 2, 3].map(() => rowsWrittenBy(state.storage.sql, charge(state))),
    );
    expect(afterPush).toEqual([3, 2, 2]);
  });

  it("a database made before 1.2.0 drops its users.balance index once, on its next request", async () => {
    const worker = fixture({ prices: { "/paid": 1 } });
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 100 });
    const stub = accountDb(worker.version, visitor.account);
    const hasIndex = () => runInDurableObject(stub, (_i: DORM, state) => state.storage.sql.exec(`SELECT 1 FROM sqlite_master WHERE name = 'idx_users_balance'`).toArray().length);
    expect(await hasIndex()).toBe(0);
    // As 1.1.0 left it: the index exists and migration 2 never ran.
    await runInDurableObject(stub, (instance: DORM, state) => {
      state.storage.sql.exec(`CREATE INDEX idx_users_balance ON users(balance)`);
      state.storage.sql.exec(`DELETE FROM _migrations WHERE version = '2'`);
      (instance as unknown as { schemaKey?: string }).schemaKey = undefined;
    });
    expect(await hasIndex()).toBe(1);
    expect((await worker(request("/paid", visitor))).status).toBe(200);
    expect(await hasIndex()).toBe(0);
  });
});
