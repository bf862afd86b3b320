// Login by payment: the browser that paid, coming back through the Payment Link's redirect
// (/me/paid?session_id=…), becomes the account its card (or Link email) belongs to. Whoever
// owns a payment link (its client_reference_id) is paid what is paid on it, and never gains
// another account because someone else paid it (issue 9, scenarios 4 and 5).
import { describe, expect, it } from "vitest";
import { books, cookieToken, deliver, fixture, ledger, me, newVisitor, pay, request, returnFrom, sqlIn, accountDb, type Worker } from "./helpers";

/** A visitor who paid with `card` and came back through the redirect: the card now opens their account. */
async function customer(worker: Worker, card: string, amount = 500, extra: { email?: string; name?: string } = {}) {
  const visitor = await newVisitor(worker);
  const { sessionId } = await pay(worker, { reference: visitor.reference, amount, paymentMethod: card, ...extra });
  const back = await returnFrom(worker, visitor, sessionId);
  expect(back.response.status).toBe(303);
  expect(back.token).toBeNull(); // their own account already: no new token
  return visitor;
}

const tokenCount = async (version: string, account: string) =>
  (await sqlIn(accountDb(version, account), "SELECT count(*) AS n FROM stripeflare_tokens"))[0]?.n as number;

describe("login by payment, through the Payment Link's redirect", () => {
  it("a second device pays its own link with the same card, comes back, and sees the one account with the new money", async () => {
    const worker = fixture();
    const owner = await customer(worker, "pm_card_visa", 500, { email: "ann@example.com", name: "Ann" });

    const laptop = await newVisitor(worker);
    const { sessionId } = await pay(worker, { reference: laptop.reference, amount: 300, paymentMethod: "pm_card_visa", email: "ann@example.com", name: "Ann" });
    // Before coming back, the laptop has its own 300 (the webhook logs nobody in).
    expect((await me(worker, laptop)).body).toMatchObject({ balance: 300 });

    const back = await returnFrom(worker, laptop, sessionId);
    expect(back.response.status).toBe(303);
    expect(back.response.headers.get("Location")).toBe("/");
    expect(back.response.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(back.token!.split(".")[0]).toBe(owner.account);

    expect(await books(worker.version, owner.account)).toEqual({ balance: 800, ledger: 800, rows: 2 });
    expect((await ledger(worker.version, owner.account)).map((r) => [r.kind, r.amount])).toEqual([["credit", 500], ["merge_in", 300]]);
    expect(await books(worker.version, laptop.account)).toEqual({ balance: 0, ledger: 0, rows: 2 });
    expect((await me(worker, { token: back.token! })).body).toMatchObject({ balance: 800, name: "Ann", registered: true });
    // Both devices share one balance; the laptop's old cookie still leads to the account.
    await worker(request("/price?value=5", { token: back.token! }));
    expect((await me(worker, owner)).body.balance).toBe(795);
    expect((await me(worker, laptop)).body.balance).toBe(795);
  });

  it("Link: a verified email tied to an account logs the paying browser in", async () => {
    const worker = fixture();
    const owner = await customer(worker, "pm_link", 500, { email: "Lin@Example.com" });
    const phone = await newVisitor(worker);
    const { sessionId } = await pay(worker, { reference: phone.reference, amount: 200, paymentMethod: "pm_link", email: "lin@example.com" });
    const back = await returnFrom(worker, phone, sessionId);
    expect(back.token!.split(".")[0]).toBe(owner.account);
    expect((await me(worker, { token: back.token! })).body).toMatchObject({ balance: 700, verified_email: "lin@example.com" });
  });

  it("an email typed at checkout (not Link) logs nobody in", async () => {
    const worker = fixture();
    await customer(worker, "pm_link", 500, { email: "kim@example.com" });
    const stranger = await newVisitor(worker);
    const { sessionId } = await pay(worker, { reference: stranger.reference, paymentMethod: "pm_card_discover", email: "kim@example.com" });
    expect((await returnFrom(worker, stranger, sessionId)).token).toBeNull();
    expect((await me(worker, stranger)).body.balance).toBe(500);
  });

  it("without the redirect nobody is logged in anywhere: the payer's own account is credited", async () => {
    const worker = fixture();
    const owner = await customer(worker, "pm_card_amex");
    const agent = await newVisitor(worker);
    await pay(worker, { reference: agent.reference, amount: 100, paymentMethod: "pm_card_amex" });
    expect(await books(worker.version, owner.account)).toMatchObject({ balance: 500, rows: 1 });
    expect((await me(worker, { token: agent.token, bearer: true })).body).toMatchObject({ balance: 100 });
    expect((await me(worker, agent)).body.balance).toBe(100);
  });

  it("an account paying again with another account's card stays itself until its browser comes back", async () => {
    const worker = fixture();
    const a = await customer(worker, "pm_card_mastercard");
    const b = await customer(worker, "pm_card_visa_debit");
    const { sessionId } = await pay(worker, { reference: (await me(worker, b)).body.client_reference_id, amount: 100, paymentMethod: "pm_card_mastercard" });
    expect(await books(worker.version, b.account)).toMatchObject({ balance: 600, rows: 2 });
    expect(await books(worker.version, a.account)).toMatchObject({ balance: 500, rows: 1 });
    // b's browser comes back: it paid with a's card, so it becomes a, bringing its 600.
    const back = await returnFrom(worker, b, sessionId);
    expect(back.token!.split(".")[0]).toBe(a.account);
    expect(await books(worker.version, a.account)).toMatchObject({ balance: 1100 });
  });

  it("redeliveries and a concurrent return credit once; the return before the webhook credits at once", async () => {
    const worker = fixture();
    const owner = await customer(worker, "pm_card_visa");
    const laptop = await newVisitor(worker);
    const { event, sessionId } = await pay(worker, { reference: laptop.reference, amount: 150, paymentMethod: "pm_card_visa" });
    const results = await Promise.all([...Array.from({ length: 10 }, () => deliver(worker, event)), returnFrom(worker, laptop, sessionId)]);
    expect(results.slice(0, 10).every((r) => (r as Response).status === 200)).toBe(true);
    expect(await books(worker.version, owner.account)).toEqual({ balance: 650, ledger: 650, rows: 2 });
    await deliver(worker, event);
    expect(await books(worker.version, owner.account)).toEqual({ balance: 650, ledger: 650, rows: 2 });
    expect(await books(worker.version, laptop.account)).toEqual({ balance: 0, ledger: 0, rows: 2 });
  });

  it("a return that comes before the webhook credits the payment itself, once", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const { checkoutEvent } = await import("./helpers");
    const event = await checkoutEvent({ reference: visitor.reference, amount: 250, paymentMethod: "pm_card_new" });
    const sessionId = (event.data.object as { id: string }).id;
    await returnFrom(worker, visitor, sessionId);
    expect((await me(worker, visitor)).body.balance).toBe(250);
    await deliver(worker, event);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 250, ledger: 250, rows: 1 });
  });

  it("answers anything else with a plain 303 to / and changes nothing", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    for (const id of ["", "not-a-session", "cs_test_doesnotexist0000", `cs_test_${"a".repeat(300)}`, "cs_test_a%0Ab"]) {
      const back = await returnFrom(worker, visitor, id);
      expect(back.response.status, id).toBe(303);
      expect(back.token, id).toBeNull();
    }
    const post = await worker(request("/me/paid?session_id=cs_test_x", visitor, { method: "POST" }));
    expect(post.status).toBe(405);
    expect((await me(worker, visitor)).body.balance).toBe(0);
  });
});

describe("takeover attempts (issue 9, scenario 4)", () => {
  it("a victim paying the attacker's link: the attacker gets the money paid, never the victim's account", async () => {
    const worker = fixture();
    const victim = await customer(worker, "pm_card_visa", 2000, { email: "vic@example.com", name: "Victim" });
    const attacker = await newVisitor(worker);

    // "Top me up": the victim pays the attacker's link with their usual card.
    const { sessionId } = await pay(worker, { reference: attacker.reference, amount: 300, paymentMethod: "pm_card_visa", email: "vic@example.com", name: "Victim" });
    const attackerView = await me(worker, attacker);
    expect(attackerView.body).toMatchObject({ balance: 300 });
    expect(await books(worker.version, victim.account)).toMatchObject({ balance: 2000, rows: 1 });
    // The attacker's browser keeps being the attacker, however often it asks.
    for (let i = 0; i < 3; i++) expect((await me(worker, attacker)).body.balance).toBe(300);

    // The attacker's statement never shows the session id that would log a browser in.
    const statement = await (await worker(request("/me/transactions", attacker, { headers: { Accept: "application/json" } }))).text();
    expect(statement).not.toContain(sessionId);

    // The victim's browser comes back through the redirect: it stays the victim's account.
    const victimBack = await returnFrom(worker, victim, sessionId);
    expect(victimBack.token).toBeNull();
    // The id is spent: presented again (by anyone), it logs nobody in.
    const fresh = await returnFrom(worker, {}, sessionId);
    expect(fresh.token).toBeNull();
    const again = await returnFrom(worker, attacker, sessionId);
    expect(again.token).toBeNull();
    expect((await me(worker, attacker)).body.balance).toBe(300);

    // The victim rotates: the attacker still holds nothing of theirs.
    const rotated = cookieToken(await worker(request("/rotate-token", victim, { method: "POST" })))!;
    expect((await me(worker, { token: rotated })).body.balance).toBe(2000);
    expect((await me(worker, attacker)).body).toMatchObject({ balance: 300, name: "Victim" });
    expect((await me(worker, attacker)).body.email).not.toBeNull(); // the payer's own contact, on the account they paid
    expect(await books(worker.version, victim.account)).toMatchObject({ balance: 2000 });
  });

  it("a new card paid on someone else's link is tied to nobody: later it logs its owner in to their own account", async () => {
    const worker = fixture();
    const attacker = await newVisitor(worker);
    const victim = await newVisitor(worker);
    const first = await pay(worker, { reference: attacker.reference, amount: 100, paymentMethod: "pm_card_discover" });
    // The victim's browser returns from paying the attacker's link: nothing is tied to the attacker.
    expect((await returnFrom(worker, victim, first.sessionId)).token).toBeNull();
    // The victim pays their own link with that card and comes back: it is theirs now.
    const own = await pay(worker, { reference: victim.reference, amount: 400, paymentMethod: "pm_card_discover" });
    expect((await returnFrom(worker, victim, own.sessionId)).token).toBeNull();
    // A third device of the victim pays with it: it becomes the victim, not the attacker.
    const tablet = await newVisitor(worker);
    const third = await pay(worker, { reference: tablet.reference, amount: 50, paymentMethod: "pm_card_discover" });
    const back = await returnFrom(worker, tablet, third.sessionId);
    expect(back.token!.split(".")[0]).toBe(victim.account);
    expect((await me(worker, attacker)).body.balance).toBe(100);
    expect((await me(worker, { token: back.token! })).body.balance).toBe(450);
  });
});

describe("tokens after login by payment (issue 9, scenario 5)", () => {
  it("the old cookie, sent 30 more times, mints no token: one upgrade, then the same token", async () => {
    const worker = fixture();
    const owner = await customer(worker, "pm_card_visa");
    const laptop = await newVisitor(worker);
    const { sessionId } = await pay(worker, { reference: laptop.reference, amount: 100, paymentMethod: "pm_card_visa" });
    const before = await tokenCount(worker.version, owner.account);
    const back = await returnFrom(worker, laptop, sessionId);
    expect(await tokenCount(worker.version, owner.account)).toBe(before + 1);
    for (let i = 0; i < 30; i++) {
      const response = await worker(request("/me", laptop));
      expect(response.headers.get("Set-Cookie")).toBeNull();
      expect(((await response.json()) as { balance: number }).balance).toBe(600);
    }
    expect(await tokenCount(worker.version, owner.account)).toBe(before + 1);
    expect((await me(worker, { token: back.token! })).response.headers.get("Set-Cookie")).toContain(back.token!);
  });

  it("sign out everywhere else: other devices, old cookies and Bearer tokens stop opening the account", async () => {
    const worker = fixture();
    const owner = await customer(worker, "pm_card_visa");
    const laptop = await newVisitor(worker);
    const { sessionId } = await pay(worker, { reference: laptop.reference, amount: 100, paymentMethod: "pm_card_visa" });
    const laptopToken = (await returnFrom(worker, laptop, sessionId)).token!;

    const response = await worker(request("/me/sign-out-others", owner, { method: "POST" }));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ signedOut: 2 }); // the laptop's new token and its old one
    expect((await me(worker, owner)).body.balance).toBe(600);
    expect((await me(worker, { token: laptopToken })).body.balance).toBe(0);
    expect((await me(worker, laptop)).body.balance).toBe(0);
    expect((await worker(request("/me", { token: laptopToken, bearer: true }))).status).toBe(401);
    expect((await worker(request("/me/sign-out-others", owner))).status).toBe(405);
    expect((await worker(request("/me/sign-out-others", await newVisitor(worker), { method: "POST" }))).status).toBe(409);
  });
});
