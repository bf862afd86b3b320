// /db/*: dormroom's query API and studio, admin only.
import { describe, expect, it } from "vitest";
import { CUSTOM_MIGRATIONS } from "./fixtures/worker";
import { fixture, me, newVisitor, pay, request, runMirror, testEnv } from "./helpers";

const admin = (secret = testEnv.DB_SECRET) => ({ Authorization: `Basic ${btoa(`admin:${secret}`)}` });
const query = (statement: string) => ({
  method: "POST",
  headers: { ...admin(), "Content-Type": "application/json" },
  body: JSON.stringify({ type: "query", id: "q1", statement }),
});

describe("/db admin API", () => {
  it.each([
    ["no credentials", {}],
    ["a wrong password", admin("wrong")],
    ["another user", { Authorization: `Basic ${btoa(`root:${testEnv.DB_SECRET}`)}` }],
    ["garbled base64", { Authorization: "Basic %%%not-base64" }],
    ["a Bearer token", { Authorization: "Bearer abc" }],
  ])("refuses %s with 401", async (_label, headers) => {
    const worker = fixture();
    for (const path of ["/db", "/db/aggregate", "/db/index"]) {
      const response = await worker(request(path, {}, { headers: headers as Record<string, string> }));
      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toMatch(/^Basic/);
    }
  });

  it("lets the admin query the aggregate, the index and one account's database", async () => {
    const worker = fixture({ customMigrations: CUSTOM_MIGRATIONS });
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 1234, paymentMethod: "pm_card_visa" });
    await runMirror(worker.version, visitor.account);

    const list = await worker(request("/db", {}, { headers: admin() }));
    expect(await list.json()).toMatchObject({ databases: { aggregate: "/db/aggregate" } });

    const aggregate = await worker(request("/db/aggregate", {}, query("SELECT access_token, balance, plan FROM users")));
    expect(await aggregate.json()).toMatchObject({ result: { rows: [{ access_token: visitor.account, balance: 1234, plan: "free" }] } });

    const account = await worker(request(`/db/${visitor.account}`, {}, query("SELECT kind, amount FROM stripeflare_transactions")));
    expect(await account.json()).toMatchObject({ result: { rows: [{ kind: "credit", amount: 1234 }] } });

    const index = await worker(request("/db/index", {}, query("SELECT account FROM claims")));
    expect(await index.json()).toMatchObject({ result: { rows: [{ account: visitor.account }] } });

    const studio = await worker(request("/db/aggregate", {}, { headers: admin() }));
    expect(studio.headers.get("Content-Type")).toBe("text/html; charset=utf-8");

    const missing = await worker(request("/db/not-an-account", {}, { headers: admin() }));
    expect(missing.status).toBe(404);
  });

  it("answers a malformed query request with 400, and an SQL error as dormroom does", async () => {
    const worker = fixture();
    const bad = await worker(request("/db/aggregate", {}, { method: "POST", headers: { ...admin(), "Content-Type": "application/json" }, body: "{not json" }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: expect.stringMatching(/^Bad query request/) });
    const sqlError = await worker(request("/db/aggregate", {}, query("SELEKT 1")));
    expect(await sqlError.json()).toMatchObject({ error: expect.stringMatching(/syntax error/) });
  });
});

// Issue 9, scenario 7: a browser holding the admin's basic-auth credentials sends them with any
// request, also one another site makes it send. Before the fix, a cross-site
// <form enctype="text/plain"> POST rewrote a balance (bypassing the ledger).
describe("/db from another site (CSRF)", () => {
  const rewrite = (account: string) => JSON.stringify({ type: "query", id: "x", statement: `UPDATE users SET balance = 999999 WHERE access_token = '${account}'` });

  it.each([
    ["a cross-site form (text/plain)", { "Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site", Origin: "https://evil.example" }, 403],
    ["a cross-site fetch claiming JSON", { "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site", Origin: "https://evil.example" }, 403],
    ["a sibling subdomain (same-site)", { "Content-Type": "application/json", "Sec-Fetch-Site": "same-site", Origin: "https://evil.app.example" }, 403],
    ["an old browser: another Origin, no Fetch Metadata", { "Content-Type": "application/json", Origin: "https://evil.example" }, 403],
    ["a same-origin form (text/plain)", { "Content-Type": "text/plain", "Sec-Fetch-Site": "same-origin", Origin: "https://app.example" }, 415],
    ["no Content-Type", { "Sec-Fetch-Site": "same-origin" }, 415],
  ])("refuses %s, and the balance is unchanged", async (_label, headers, status) => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 100 });
    const response = await worker(request(`/db/${visitor.account}`, {}, { method: "POST", headers: { ...admin(), ...headers }, body: rewrite(visitor.account) }));
    expect(response.status).toBe(status);
    expect((await me(worker, visitor)).body.balance).toBe(100);
  });

  it("still answers the admin's own requests: same-origin JSON, a script (no Fetch Metadata), a typed URL", async () => {
    const worker = fixture();
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 100 });
    const json = { ...admin(), "Content-Type": "application/json" };
    for (const extra of [{ "Sec-Fetch-Site": "same-origin", Origin: "https://app.example" }, {}] as Record<string, string>[]) {
      const response = await worker(request(`/db/${visitor.account}`, {}, { method: "POST", headers: { ...json, ...extra }, body: rewrite(visitor.account) }));
      expect(response.status).toBe(200);
    }
    expect((await me(worker, visitor)).body.balance).toBe(999999);
    const typed = await worker(request("/db/aggregate", {}, { headers: { ...admin(), "Sec-Fetch-Site": "none" } }));
    expect(typed.status).toBe(200);
  });

  it("serves a studio page that cannot be framed and forwards only the Outerbase frame's messages, as JSON", async () => {
    const worker = fixture();
    const studio = await worker(request("/db/aggregate", {}, { headers: admin() }));
    expect(studio.headers.get("Content-Security-Policy")).toBe("frame-ancestors 'none'");
    expect(studio.headers.get("X-Frame-Options")).toBe("DENY");
    const html = await studio.text();
    expect(html).toContain('event.origin !== "https://studio.outerbase.com"');
    expect(html).toContain("event.source !== editor.contentWindow");
    expect(html).toContain('"Content-Type": "application/json"');
    expect(html).not.toMatch(/postMessage\([^)]*"\*"\)/);
  });
});

// Issue 9, scenario 21: basic auth carries UTF-8 bytes; a DB_SECRET with non-ASCII characters
// could never log in before (it was compared as Latin-1).
describe("/db with a non-ASCII DB_SECRET", () => {
  it("logs in with the UTF-8 credentials a browser or curl sends, and refuses others", async () => {
    const secret = "pässwört-ünïcødé-0123456789-abcdefghijkl-✓";
    const worker = fixture({}, { DB_SECRET: secret });
    const utf8Basic = (text: string) => `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(text)))}`;
    const ok = await worker(request("/db", {}, { headers: { Authorization: utf8Basic(`admin:${secret}`) } }));
    expect(ok.status).toBe(200);
    const wrong = await worker(request("/db", {}, { headers: { Authorization: utf8Basic(`admin:${secret.replace("✓", "x")}`) } }));
    expect(wrong.status).toBe(401);
  });
});
