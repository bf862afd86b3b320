// POST /rotate-token: a new token opens the same account; the old one opens nothing.
import { describe, expect, it } from "vitest";
import { CUSTOM_MIGRATIONS } from "./fixtures/worker";
import { books, cookieToken, fixture, ledger, me, newVisitor, pay, payAndReturn, request } from "./helpers";

describe("token rotation", () => {
  it("moves balance, ledger and custom columns to the new token; the old one becomes a new visitor", async () => {
    const worker = fixture({ customMigrations: CUSTOM_MIGRATIONS });
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 900, name: "Rae" });
    await worker(request("/nickname?set=rae", visitor));
    await worker(request("/price?value=100", visitor));

    const response = await worker(request("/rotate-token", visitor, { method: "POST" }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ rotated: true });
    expect(body).not.toHaveProperty("access_token"); // browsers get an HttpOnly cookie only
    const fresh = cookieToken(response)!;
    expect(fresh).not.toBe(visitor.token);

    expect((await me(worker, { token: fresh })).body).toMatchObject({ balance: 800, name: "Rae", registered: true });
    expect(await (await worker(request("/nickname?set=rae", { token: fresh }))).json()).toEqual({ nickname: "rae", plan: "free" });
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 800, ledger: 800, rows: 3 });
    expect((await ledger(worker.version, visitor.account)).map((row) => row.kind)).toEqual(["credit", "charge", "rotate"]);

    // The old token: a new visitor with a new token and no balance.
    const old = await worker(request("/me", visitor));
    expect(await old.json()).toMatchObject({ balance: 0, registered: false, name: null });
    expect(cookieToken(old)).not.toBe(visitor.token);
    expect((await worker(request("/price?value=1", visitor))).status).toBe(402);
  });

  it("gives Bearer clients the new token in the body", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference });
    const response = await worker(request("/rotate-token", { token: visitor.token, bearer: true }, { method: "POST" }));
    const { access_token } = (await response.json()) as { access_token: string };
    expect((await me(worker, { token: access_token, bearer: true })).body.balance).toBe(500);
    // Issue 9, scenario 6: the old Bearer token is refused, not silently given a new empty identity.
    const old = await worker(request("/me", { token: visitor.token, bearer: true }));
    expect(old.status).toBe(401);
    expect(old.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
    expect(old.headers.get("Set-Cookie")).toBeNull();
    const spend = await worker(request("/price?value=1", { token: visitor.token, bearer: true }));
    expect(spend.status).toBe(401);
  });

  it("after login by payment, rotating revokes the old token that led to the account, and keeps the account", async () => {
    const worker = fixture();
    const owner = await newVisitor(worker);
    await payAndReturn(worker, owner, { paymentMethod: "pm_card_visa" });
    const laptop = await newVisitor(worker);
    await payAndReturn(worker, laptop, { amount: 100, paymentMethod: "pm_card_visa" });
    // An agent on the laptop still holds the laptop's first token, which leads to the account.
    const response = await worker(request("/rotate-token", { token: laptop.token, bearer: true }, { method: "POST" }));
    const { access_token } = (await response.json()) as { access_token: string };
    expect(access_token.split(".")[0]).toBe(owner.account);
    expect((await me(worker, { token: access_token, bearer: true })).body.balance).toBe(600);
    expect((await worker(request("/me", { token: laptop.token, bearer: true }))).status).toBe(401);
    expect((await me(worker, owner)).body.balance).toBe(600);
  });

  it("a visitor without account gets a fresh identity; GET is refused", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const get = await worker(request("/rotate-token", visitor));
    expect(get.status).toBe(405);
    const response = await worker(request("/rotate-token", visitor, { method: "POST" }));
    expect(response.status).toBe(200);
    const fresh = cookieToken(response)!;
    expect(fresh.split(".")[0]).not.toBe(visitor.account);
  });
});
