// Login by payment: a visitor without an account who pays with a card (or Link email) that
// already belongs to an account credits that account and becomes it.
import { describe, expect, it } from "vitest";
import { books, cookieToken, fixture, ledger, me, newVisitor, pay, request, userRow } from "./helpers";

describe("login by payment", () => {
  it("card: credits the card's account and the visitor's browser becomes that account", async () => {
    const worker = fixture();
    const owner = await newVisitor(worker);
    await pay(worker, { reference: owner.reference, amount: 500, paymentMethod: "pm_card_visa", email: "ann@example.com", name: "Ann" });

    // Same card, new device: a new visitor pays 300.
    const laptop = await newVisitor(worker);
    const { sessionId } = await pay(worker, { reference: laptop.reference, amount: 300, paymentMethod: "pm_card_visa", email: "ann@example.com", name: "Ann" });

    expect(await books(worker.version, owner.account)).toEqual({ balance: 800, ledger: 800, rows: 2 });
    expect((await ledger(worker.version, owner.account))[1]).toMatchObject({ kind: "credit", amount: 300, reference: sessionId });
    // Nothing was credited to the visitor's own database; it now points at the account.
    expect(await userRow(worker.version, laptop.account)).toMatchObject({ balance: 0, verified_user_access_token: owner.account });

    // The laptop's next request is the account, and the browser gets a token of it.
    const response = await worker(request("/me", laptop));
    expect(await response.json()).toMatchObject({ balance: 800, name: "Ann", registered: true });
    const upgraded = cookieToken(response)!;
    expect(upgraded.split(".")[0]).toBe(owner.account);
    expect((await me(worker, { token: upgraded })).body.balance).toBe(800);
    // Both devices keep working and share one balance.
    await worker(request("/price?value=5", { token: upgraded }));
    expect((await me(worker, owner)).body.balance).toBe(795);
    expect((await me(worker, laptop)).body.balance).toBe(795);
  });

  it("Link: a verified email already tied to an account logs the payer in", async () => {
    const worker = fixture();
    const owner = await newVisitor(worker);
    await pay(worker, { reference: owner.reference, amount: 500, paymentMethod: "pm_link", email: "Lin@Example.com" });
    expect(await userRow(worker.version, owner.account)).toMatchObject({ verified_email: "lin@example.com", card_fingerprint: null });

    const phone = await newVisitor(worker);
    await pay(worker, { reference: phone.reference, amount: 200, paymentMethod: "pm_link", email: "lin@example.com" });
    expect(await books(worker.version, owner.account)).toEqual({ balance: 700, ledger: 700, rows: 2 });

    // An agent (Bearer) keeps its own token, which now opens the account.
    const agent = await worker(request("/me", { token: phone.token, bearer: true }));
    expect(await agent.json()).toMatchObject({ balance: 700, verified_email: "lin@example.com" });
    expect(agent.headers.get("Set-Cookie")).toBeNull();
  });

  it("an email typed at checkout (not Link) logs nobody in", async () => {
    const worker = fixture();
    const owner = await newVisitor(worker);
    await pay(worker, { reference: owner.reference, paymentMethod: "pm_link", email: "kim@example.com" });
    const stranger = await newVisitor(worker);
    await pay(worker, { reference: stranger.reference, paymentMethod: "pm_card_discover", email: "kim@example.com" });
    expect(await books(worker.version, owner.account)).toMatchObject({ balance: 500, rows: 1 });
    expect(await books(worker.version, stranger.account)).toMatchObject({ balance: 500, rows: 1 });
  });

  it("a visitor who already has an account is credited as themselves, whatever card they use", async () => {
    const worker = fixture();
    const a = await newVisitor(worker);
    const b = await newVisitor(worker);
    await pay(worker, { reference: a.reference, paymentMethod: "pm_card_amex" });
    await pay(worker, { reference: b.reference, paymentMethod: "pm_card_mastercard" });
    await pay(worker, { reference: (await me(worker, b)).body.client_reference_id, amount: 100, paymentMethod: "pm_card_amex" });
    expect(await books(worker.version, a.account)).toMatchObject({ balance: 500, rows: 1 });
    expect(await books(worker.version, b.account)).toMatchObject({ balance: 600, rows: 2 });
  });

  it("redelivered login-by-payment events credit the account once and keep pointing the visitor there", async () => {
    const worker = fixture();
    const owner = await newVisitor(worker);
    await pay(worker, { reference: owner.reference, paymentMethod: "pm_card_visa_debit" });
    const visitor = await newVisitor(worker);
    const { event } = await pay(worker, { reference: visitor.reference, amount: 150, paymentMethod: "pm_card_visa_debit" });
    const { deliver } = await import("./helpers");
    await Promise.all(Array.from({ length: 10 }, () => deliver(worker, event)));
    expect(await books(worker.version, owner.account)).toEqual({ balance: 650, ledger: 650, rows: 2 });
    expect((await me(worker, { token: visitor.token, bearer: true })).body.balance).toBe(650);
  });
});
