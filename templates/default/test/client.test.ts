// ctx.client and custom migrations: the app's own queries on the visitor's database.
import { describe, expect, it } from "vitest";
import { CUSTOM_MIGRATIONS } from "./fixtures/worker";
import { accountDb, books, fixture, me, newVisitor, pay, request, sqlIn } from "./helpers";

describe("ctx.client", () => {
  it("runs custom queries keyed by ctx.user.access_token on the visitor's database", async () => {
    const worker = fixture({ customMigrations: CUSTOM_MIGRATIONS });
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 100 });
    const response = await worker(request("/nickname?set=neo", visitor));
    expect(await response.json()).toEqual({ nickname: "neo", plan: "free" });
    expect((await me(worker, visitor)).body.balance).toBe(100);
  });

  it("a visitor's first write creates their database and keeps their identity; their payment then lands there", async () => {
    const worker = fixture({ customMigrations: CUSTOM_MIGRATIONS });
    const visitor = await newVisitor(worker);
    // No account yet: the UPDATE matches no row, but the database now exists with the token.
    await worker(request("/nickname?set=early", visitor));
    expect(await sqlIn(accountDb(worker.version, visitor.account), `SELECT count(*) AS n FROM stripeflare_tokens`)).toEqual([{ n: 1 }]);
    const again = await me(worker, visitor);
    expect(again.body).toMatchObject({ balance: 0, registered: false, client_reference_id: visitor.reference });
    await pay(worker, { reference: visitor.reference, amount: 250 });
    expect((await me(worker, visitor)).body).toMatchObject({ balance: 250, registered: true });
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 250, ledger: 250, rows: 1 });
  });

  it("applies new migrations just in time to existing databases", async () => {
    const first = fixture({ customMigrations: { 1: CUSTOM_MIGRATIONS[1]! } });
    const visitor = await newVisitor(first);
    await pay(first, { reference: visitor.reference, amount: 10 });
    const columns = () => sqlIn(accountDb(first.version, visitor.account), `SELECT name FROM pragma_table_info('users')`);
    expect((await columns()).map((c) => c.name)).not.toContain("plan");
    const upgraded = fixture({ version: first.version, customMigrations: CUSTOM_MIGRATIONS });
    expect(await (await upgraded(request("/nickname?set=x", visitor))).json()).toEqual({ nickname: "x", plan: "free" });
    expect((await columns()).map((c) => c.name)).toContain("plan");
  });
});
