// Identity: tokens, cookies, Bearer, client_reference_id, /me, and changing DB_SECRET.
import { describe, expect, it } from "vitest";
import { decodeReference, encodeReference, mintToken } from "../src/stripeflare/identity";
import { accountDb, cookieToken, deliver, fixture, me, newVisitor, pay, request, sqlIn, testEnv, userRow, books } from "./helpers";

describe("new visitors", () => {
  it("get a token cookie and a client_reference_id at once, without any database being created", async () => {
    const worker = fixture();
    const response = await worker(request("/me"));
    const cookie = response.headers.get("Set-Cookie")!;
    expect(cookie).toMatch(/^access_token=[\w-]{22}\.[\w-]{43}; HttpOnly; Secure; SameSite=Lax; Path=\/; Max-Age=\d+$/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      ["balance", "card_fingerprint", "client_reference_id", "email", "name", "paymentLink", "registered", "verified_email"].sort(),
    );
    expect(body).toMatchObject({ balance: 0, registered: false, name: null });
    expect(body.client_reference_id).toMatch(/^[A-Za-z0-9_-]{1,200}$/);
    expect(body.paymentLink).toBe(`${testEnv.STRIPE_PAYMENT_LINK}?client_reference_id=${body.client_reference_id}`);
    expect(response.headers.get("X-PaymentLink")).toBe(body.paymentLink);
    // No token anywhere in the answer body.
    expect(JSON.stringify(body)).not.toContain(cookieToken(response)!.split(".")[1]);
    // Visiting wrote nothing: the account database does not exist yet.
    const account = cookieToken(response)!.split(".")[0]!;
    expect(await sqlIn(accountDb(worker.version, account), `SELECT name FROM sqlite_schema`)).toEqual([]);
  });

  // Issue 10: /me said "" where the page's JSON said null for the same missing link.
  it("see paymentLink null on /me while STRIPE_PAYMENT_LINK is not set, as on the page", async () => {
    const worker = fixture({}, { STRIPE_PAYMENT_LINK: "" });
    expect((await me(worker, {})).body.paymentLink).toBeNull();
  });

  it("keep their token (and payment link) across requests, by cookie or Bearer", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    const again = await me(worker, visitor);
    expect(again.body.client_reference_id).toBe(visitor.reference);
    const agent = await me(worker, { token: visitor.token, bearer: true });
    expect(agent.body.client_reference_id).toBe(visitor.reference);
    expect(agent.response.headers.get("Set-Cookie")).toBeNull();
  });
});

describe("bad identity input", () => {
  it.each([
    ["garbage", "garbage"],
    ["two dots", "a.b"],
    ["500 characters", "x".repeat(500)],
    ["a non-canonical account id", "AAAAAAAAAAAAAAAAAAAAAB.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["percent escapes", "%00%ff"],
    ["empty", ""],
  ])("a malformed cookie (%s) gets a new identity, not an error", async (_label, value) => {
    const worker = fixture();
    const response = await worker(request("/me", {}, { headers: { Cookie: `access_token=${value}` } }));
    expect(response.status).toBe(200);
    expect(cookieToken(response)).toMatch(/^[\w-]{22}\.[\w-]{43}$/);
    expect(await response.json()).toMatchObject({ balance: 0, registered: false });
  });

  it.each([
    ["garbage", "garbage"],
    ["empty", ""],
    ["three parts", "a.b.c"],
    ["5000 characters", "x".repeat(5000)],
  ])("a malformed Bearer token (%s) gets 401 with a clear message", async (_label, value) => {
    const worker = fixture();
    const response = await worker(request("/me", {}, { headers: { Authorization: `Bearer ${value}` } }));
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: "Malformed Bearer token: expected the access_token this Worker issued" });
  });

  it("a well-formed token nobody issued is a new visitor with that token, until someone else owns the account", async () => {
    const worker = fixture();
    const forged = (await mintToken()).token;
    const { body } = await me(worker, { token: forged, bearer: true });
    expect(body).toMatchObject({ balance: 0, registered: false });
    // A token with a paid account's id but another secret opens nothing.
    const owner = await newVisitor(worker);
    await pay(worker, { reference: owner.reference });
    const guess = `${owner.account}.${"A".repeat(43)}`;
    const response = await worker(request("/me", { token: guess }));
    expect(await response.json()).toMatchObject({ balance: 0, registered: false });
    expect(cookieToken(response)!.split(".")[0]).not.toBe(owner.account);
  });

  it("reports a missing or short DB_SECRET clearly", async () => {
    for (const DB_SECRET of ["", "too-short"]) {
      const response = await fixture({}, { DB_SECRET })(request("/"));
      expect(response.status).toBe(500);
      expect(((await response.json()) as { error: string }).error).toMatch(/^Stripeflare is not configured: DB_SECRET/);
    }
  });
});

describe("client_reference_id", () => {
  it("opens only with the DB_SECRET that sealed it, is deterministic and fits Stripe's limits", async () => {
    const secret = testEnv.DB_SECRET;
    const token = await mintToken();
    const visitorRef = await encodeReference(secret, { account: token.account, tokenHash: token.hash });
    const accountRef = await encodeReference(secret, { account: token.account });
    for (const ref of [visitorRef, accountRef]) expect(ref).toMatch(/^[A-Za-z0-9_-]{1,200}$/);
    expect(await encodeReference(secret, { account: token.account })).toBe(accountRef);
    // Sealed ids are remembered per isolate, per secret: another secret gets its own id.
    const other = "another-secret-0123456789abcdef0123456789";
    const otherRef = await encodeReference(other, { account: token.account });
    expect(otherRef).not.toBe(accountRef);
    expect(await decodeReference(other, otherRef)).toEqual({ account: token.account });
    expect(await encodeReference(secret, { account: token.account })).toBe(accountRef);
    expect(await decodeReference(secret, visitorRef)).toEqual({ account: token.account, tokenHash: token.hash });
    expect(await decodeReference(secret, accountRef)).toEqual({ account: token.account });
    expect(await decodeReference("another-secret-0123456789abcdef0123456789", accountRef)).toBeNull();
    // Any changed character breaks it.
    const flipped = accountRef.slice(0, 20) + (accountRef[20] === "A" ? "B" : "A") + accountRef.slice(21);
    expect(await decodeReference(secret, flipped)).toBeNull();
    expect(await decodeReference(secret, accountRef.slice(0, -1))).toBeNull();
    // It does not contain the token or its secret half in any readable form.
    expect(visitorRef).not.toContain(token.account);
  });
});

describe("DB_SECRET change", () => {
  it("keeps accounts reachable, refreshes their stored client_reference_id, and ignores payments sealed with the old secret", async () => {
    const before = fixture();
    const visitor = await newVisitor(before);
    await pay(before, { reference: visitor.reference, amount: 400, paymentMethod: "pm_card_visa" });
    const oldReference = (await me(before, visitor)).body.client_reference_id as string;
    expect((await userRow(before.version, visitor.account)).client_reference_id).toBe(oldReference);

    const after = fixture({ version: before.version }, { DB_SECRET: "rotated-db-secret-abcdefghijklmnopqrstuvwxyz" });
    const { body } = await me(after, visitor);
    expect(body).toMatchObject({ balance: 400, registered: true });
    expect(body.client_reference_id).not.toBe(oldReference);
    expect((await userRow(before.version, visitor.account)).client_reference_id).toBe(body.client_reference_id);

    // A payment link made with the old secret is "not for this Worker" now...
    const stale = await pay(after, { reference: oldReference, amount: 100 });
    expect(stale.response.status).toBe(200);
    expect(await stale.response.text()).toContain("not for this Worker");
    // ...and the new one credits the same account.
    await pay(after, { reference: body.client_reference_id, amount: 100 });
    expect(await books(before.version, visitor.account)).toEqual({ balance: 500, ledger: 500, rows: 2 });
  });
});

describe("no plaintext tokens at rest", () => {
  it("stores only the account id and a hash of the token", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference });
    const secretHalf = visitor.token.split(".")[1]!;
    const dump = await sqlIn(accountDb(worker.version, visitor.account), `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\_cf\_%' ESCAPE '\\'`);
    for (const { name } of dump) {
      const rows = await sqlIn(accountDb(worker.version, visitor.account), `SELECT * FROM "${name}"`);
      expect(JSON.stringify(rows)).not.toContain(secretHalf);
    }
    expect((await userRow(worker.version, visitor.account)).access_token).toBe(visitor.account);
  });
});

it("the webhook, /me and /rotate-token answer wrong methods with 405", async () => {
  const worker = fixture();
  expect((await worker(request("/stripe-webhook"))).status).toBe(405);
  expect((await worker(request("/me", {}, { method: "POST" }))).status).toBe(405);
  expect((await deliver(worker, "not json")).status).toBe(400);
});
