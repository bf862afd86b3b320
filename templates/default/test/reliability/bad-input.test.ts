// Bad input: each case gets a clear status, and every database involved (the payment index,
// the aggregate, the target account) is byte-for-byte unchanged afterwards.
import { describe, expect, it } from "vitest";
import Stripe from "stripe";
import { encodeReference } from "../../src/stripeflare/identity";
import { WEBHOOK_BODY_LIMIT } from "../../src/stripeflare/webhook";
import { CUSTOM_MIGRATIONS } from "../fixtures/worker";
import { books, checkoutEvent, cookieToken, deliver, fixture, ledger, newVisitor, pay, request, runMirror, sqlIn, testEnv, userRow, type Worker } from "../helpers";
import { database, fundedVisitor, snapshot } from "./support";


const signer = new Stripe(testEnv.STRIPE_SECRET!);
const sign = (payload: string, options: { secret?: string; timestamp?: number } = {}) =>
  signer.webhooks.generateTestHeaderStringAsync({ payload, secret: options.secret ?? testEnv.STRIPE_WEBHOOK_SIGNING_SECRET!, timestamp: options.timestamp });

/** A world with one funded account and one new visitor; the mirror is settled so nothing moves by itself. */
async function world(options: Parameters<typeof fixture>[0] = {}) {
  const worker = fixture(options) as Worker & { version: string };
  const owner = await fundedVisitor(worker, 1_000, "pm_card_visa");
  const visitor = await newVisitor(worker);
  await runMirror(worker.version, owner.account);
  const accounts = [owner.account, visitor.account];
  const before = await snapshot(worker.version, accounts);
  const unchanged = async () => expect(await snapshot(worker.version, accounts)).toEqual(before);
  return { worker, owner, visitor, unchanged };
}

describe("webhook signatures", () => {
  it("missing, empty, wrong, tampered, stale and malformed signatures: 400, nothing written", async () => {
    const { worker, visitor, unchanged } = await world();
    const event = await checkoutEvent({ reference: visitor.reference, amount: 900, paymentMethod: "pm_card_mastercard" });
    const body = JSON.stringify(event);
    const good = await sign(body);
    const now = Math.floor(Date.now() / 1000);
    const flip = (header: string) => header.replace(/v1=(.)/, (_m, c: string) => `v1=${c === "a" ? "b" : "a"}`);
    const cases: [string, string | null, string][] = [
      ["missing", null, body],
      ["empty", "", body],
      ["garbage", "definitely not a signature", body],
      ["other secret", await sign(body, { secret: "whsec_someone_else" }), body],
      ["tampered signature", flip(good), body],
      ["tampered body (amount)", good, body.replace('"amount_total":900', '"amount_total":900000')],
      ["tampered body (whitespace)", good, body + " "],
      ["stale (301 s)", await sign(body, { timestamp: now - 301 }), body],
      ["stale (a day)", await sign(body, { timestamp: now - 86_400 }), body],
      ["v0 scheme only", good.replace("v1=", "v0="), body],
      ["no timestamp", good.replace(/t=\d+,/, ""), body],
      ["non-numeric timestamp", good.replace(/t=\d+/, "t=soon"), body],
      ["10,000 signatures", `t=${now},` + Array.from({ length: 10_000 }, () => `v1=${"0".repeat(64)}`).join(","), body],
    ];
    for (const [label, header, payload] of cases) {
      const response = await deliver(worker, payload, { header });
      expect(response.status, label).toBe(400);
      expect(await response.text(), label).toMatch(/^Webhook signature verification failed: \w/);
    }
    await unchanged();
    // Control: the same event, properly signed, does credit (so "unchanged" could have failed).
    expect((await deliver(worker, event)).status).toBe(200);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 900, ledger: 900, rows: 1 });
  });

  it("a signed body that is not JSON: 400, nothing written", async () => {
    const { worker, unchanged } = await world();
    for (const payload of ["not json", "{\"type\":", "\u0000\u0001", ""]) {
      const response = await deliver(worker, payload, { header: await sign(payload) });
      expect(response.status, JSON.stringify(payload)).toBe(400);
    }
    await unchanged();
  });

  it("signed JSON that is not an event object (null, [], 42, \"text\"): 400; an object without a usable event: 200 ignored; nothing written", async () => {
    const { worker, unchanged } = await world();
    for (const payload of ["null", "[]", "42", "\"text\"", "true"]) {
      const response = await deliver(worker, payload, { header: await sign(payload) });
      expect(response.status, payload).toBe(400);
      expect(await response.text()).toMatch(/not a JSON object/);
    }
    for (const payload of ["{}", "{\"type\":null}", "{\"type\":\"checkout.session.completed\",\"data\":null}", "{\"type\":\"charge.refunded\",\"data\":{\"object\":null}}", "{\"type\":\"charge.dispute.created\",\"data\":null}"]) {
      const response = await deliver(worker, payload, { header: await sign(payload) });
      expect(response.status, payload).toBe(200);
      expect(await response.text(), payload).toMatch(/^Ignored/);
    }
    await unchanged();
  });

  it(`an oversized body (over ${WEBHOOK_BODY_LIMIT} bytes), signed or not: 413, nothing written`, async () => {
    const { worker, visitor, unchanged } = await world();
    const event = await checkoutEvent({ reference: visitor.reference, amount: 700 });
    const big = { ...event, padding: "x".repeat(WEBHOOK_BODY_LIMIT) };
    for (const header of [undefined, "t=1,v1=00"]) {
      const response = await deliver(worker, big, header === undefined ? {} : { header });
      expect(response.status).toBe(413);
      expect(await response.text()).toMatch(/too large/i);
    }
    await unchanged();
    // Just under the limit is still read and credited.
    const fits = { ...event, padding: "x".repeat(WEBHOOK_BODY_LIMIT - JSON.stringify(event).length - 20) };
    expect((await deliver(worker, fits)).status).toBe(200);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 700, ledger: 700, rows: 1 });
  });
});

describe("events that are not for this Worker", () => {
  it("forged, foreign and garbled client_reference_ids, even for a known account and card: 200 ignored, nothing written", async () => {
    const { worker, owner, unchanged } = await world();
    const random = (n: number) => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(n)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const references = [
      random(45), // the length of a real account reference
      random(77), // the length of a real visitor reference
      await encodeReference("another-apps-db-secret-0123456789abcdef", { account: owner.account }),
      owner.account, // an account id is not a reference
      owner.token,
      "A".repeat(200),
      "A".repeat(201),
      "'; DROP TABLE users; --",
      "",
    ];
    for (const reference of references) {
      const { response } = await pay(worker, { reference, amount: 5_000, paymentMethod: "pm_card_visa" }); // owner's card
      expect(response.status, reference).toBe(200);
      expect(await response.text(), reference).toMatch(/^Ignored: .*not for this Worker/);
    }
    await unchanged();
  });

  it("unknown event types: 200 ignored, nothing written", async () => {
    const { worker, visitor, unchanged } = await world();
    for (const type of ["customer.created", "invoice.paid", "checkout.session.expired", "payment_intent.created", "", "x".repeat(2_000)]) {
      const { response } = await pay(worker, { reference: visitor.reference, amount: 300, type });
      expect(response.status, type).toBe(200);
      expect(await response.text()).toMatch(/^Ignored event type/);
    }
    await unchanged();
  });
});

describe("X-Price from the app", () => {
  it.each(["NaN", "-1", "1.5", "1e20", "Infinity", "0x10", "1,000", "", "9".repeat(400)])("X-Price %j: 500 with a clear message, nothing charged or written", async (value) => {
    const { worker, owner, unchanged } = await world();
    const response = await worker(request(`/price?value=${encodeURIComponent(value)}`, owner));
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: string }).error).toMatch(/invalid X-Price header .*Nothing was charged/);
    expect(response.headers.get("X-Balance")).toBe("1000");
    await unchanged();
  });
});

describe("malformed identities", () => {
  it("malformed cookies: a new identity, and nothing written to any account", async () => {
    const { worker, owner, unchanged } = await world();
    const [account, secret] = owner.token.split(".") as [string, string];
    const cookies = [
      "access_token=garbage",
      `access_token=${account}`,
      `access_token=${account}.`,
      `access_token=${owner.token}x`,
      `access_token=${owner.token.slice(0, -1)}`,
      `access_token=${account}.${"A".repeat(43)}`, // well-formed, wrong secret
      `access_token=${secret}.${account}`,
      `access_token="${owner.token}"`,
      `access_token=${encodeURIComponent(owner.token + "\u0000")}`,
      `access_token=${"x".repeat(8_000)}`,
      "access_token=",
      "access_token",
      ";;;;=;=",
      `access_token=' OR 1=1; --`,
    ];
    for (const cookie of cookies) {
      const response = await worker(request("/price?value=5", {}, { headers: { Cookie: cookie } }));
      expect(response.status, cookie).toBe(402); // a new visitor cannot pay for anything
      expect(cookieToken(response), cookie).not.toBe(owner.token);
      expect(response.headers.get("X-Balance")).toBe("0");
    }
    await unchanged();
  });

  it("malformed Bearer tokens: 401 with a clear message, nothing written", async () => {
    const { worker, owner, unchanged } = await world();
    const bearers = ["garbage", "", " ", `${owner.token}x`, owner.token.split(".")[0]!, `${owner.token}.extra`, "' OR 1=1; --", "x".repeat(8_000), `${owner.token} ${owner.token}`];
    for (const bearer of bearers) {
      const response = await worker(request("/price?value=5", {}, { headers: { Authorization: `Bearer ${bearer}` } }));
      expect(response.status, bearer).toBe(401);
      expect(await response.json()).toEqual({ error: "Malformed Bearer token: expected the access_token this Worker issued" });
    }
    // Well-formed but not issued (wrong secret for a real account): refused, never the account.
    const guessed = await worker(request("/price?value=5", { token: `${owner.account}.${"B".repeat(43)}`, bearer: true }));
    expect(guessed.status).toBe(401);
    expect(guessed.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
    await unchanged();
  });
});

describe("SQL in every user-supplied string", () => {
  const INJECTIONS = ["Robert'); DROP TABLE users; --", "\" OR 1=1 --", "x'; UPDATE users SET balance = 1000000; --", "%27%3B DELETE FROM stripeflare_transactions"];

  it("is stored verbatim where it belongs and never executed: names, emails, currency, descriptions, custom columns", async () => {
    const worker = fixture({ customMigrations: CUSTOM_MIGRATIONS, prices: (req) => (new URL(req.url).pathname.startsWith("/sql/") ? 1 : undefined) });
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 4 * 99 });
    const schemaBefore = await schemaOf(worker.version, visitor.account);
    for (const [i, text] of INJECTIONS.entries()) {
      // A currency that is not the wallet's is refused outright (never stored, never credited).
      const odd = await pay(worker, { reference: visitor.reference, amount: 100, session: { currency: text } });
      expect(await odd.response.text()).toMatch(/^Ignored: .* not in the wallet's currency usd/);
      await pay(worker, { reference: visitor.reference, amount: 100, name: text, email: `${text}@example.com` });
      const path = `/sql/${encodeURIComponent(text)}`;
      expect((await worker(request(path, visitor))).status).toBe(200);
      const nickname = await worker(request(`/nickname?set=${encodeURIComponent(text)}`, visitor));
      expect(await nickname.json()).toEqual({ nickname: text, plan: "free" });
      const row = await userRow(worker.version, visitor.account);
      expect(row).toMatchObject({ name: text, email: `${text}@example.com`, nickname: text, balance: 4 * 99 + (i + 1) * 99 });
    }
    const history = await ledger(worker.version, visitor.account);
    expect(history.filter((r) => r.kind === "credit").map((r) => r.currency)).toEqual(["usd", ...INJECTIONS.map(() => "usd")]);
    expect(history.filter((r) => r.kind === "charge").map((r) => r.description)).toEqual(INJECTIONS.map((t) => `GET /sql/${encodeURIComponent(t)}`));
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 8 * 99, ledger: 8 * 99, rows: 9 });
    // No table, index or trigger was dropped or added by any of it.
    expect(await schemaOf(worker.version, visitor.account)).toEqual(schemaBefore);
    expect(schemaBefore.map((s) => s.name)).toContain("users");
  });

  it("in cookies, Bearer tokens, references and /db paths: refused or ignored, nothing written", async () => {
    const { worker, unchanged } = await world();
    for (const text of INJECTIONS) {
      expect((await worker(request("/me", {}, { headers: { Cookie: `access_token=${encodeURIComponent(text)}` } }))).status).toBe(200);
      expect((await worker(request("/me", {}, { headers: { Authorization: `Bearer ${text}` } }))).status).toBe(401);
      const { response } = await pay(worker, { reference: text });
      expect(await response.text()).toMatch(/not for this Worker/);
      const admin = { Authorization: `Basic ${btoa(`admin:${testEnv.DB_SECRET}`)}` };
      expect((await worker(request(`/db/${encodeURIComponent(text)}`, {}, { headers: admin }))).status).toBe(404);
      expect((await worker(request(`/db/${encodeURIComponent(text)}`))).status).toBe(401);
    }
    await unchanged();
  });
});

describe("/db/* credentials", () => {
  it("no, wrong or malformed credentials: 401 for reads and writes, and the write does not happen", async () => {
    const { worker, owner, unchanged } = await world();
    const basic = (text: string) => `Basic ${btoa(text)}`;
    const secret = testEnv.DB_SECRET;
    const authorizations: (string | undefined)[] = [
      undefined,
      "",
      basic(`admin:${secret.slice(0, -1)}`),
      basic(`admin:${secret}x`),
      basic(`Admin:${secret}`),
      basic(`root:${secret}`),
      basic(`admin:`),
      basic(secret),
      basic(`:${secret}`),
      `Bearer ${secret}`,
      `Basic ${secret}`,
      "Basic",
      "Basic !!!",
      `Digest username="admin"`,
      basic(`admin:${secret}`).toLowerCase(),
    ];
    const write = JSON.stringify({ type: "query", id: "w", statement: "UPDATE users SET balance = 1000000" });
    for (const path of ["/db", "/db/aggregate", "/db/index", `/db/${owner.account}`, `/db/${owner.account}/`]) {
      for (const authorization of authorizations) {
        const headers: Record<string, string> = { "Content-Type": "application/json" };
        if (authorization !== undefined) headers.Authorization = authorization;
        const read = await worker(request(path, {}, { headers }));
        const posted = await worker(request(path, {}, { method: "POST", headers, body: write }));
        expect([read.status, posted.status], `${path} ${authorization}`).toEqual([401, 401]);
      }
    }
    // Credentials in the URL do not count either.
    const inUrl = await worker(new Request(`https://admin:${secret}@app.example/db/${owner.account}`, { method: "POST", body: write }));
    expect(inUrl.status).toBe(401);
    await unchanged();
    // Control: with the right credentials the same write goes through (so the checks above could fail).
    const ok = await worker(request(`/db/${owner.account}`, {}, { method: "POST", headers: { Authorization: basic(`admin:${secret}`), "Content-Type": "application/json" }, body: write }));
    expect(ok.status).toBe(200);
    expect((await userRow(worker.version, owner.account)).balance).toBe(1_000_000);
  });
});

function schemaOf(version: string, account: string) {
  return sqlIn(database(version, `account:${account}`), `SELECT type, name, sql FROM sqlite_schema ORDER BY name`);
}
