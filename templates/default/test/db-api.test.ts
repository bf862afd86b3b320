// /db/*: dormroom's query API and studio, admin only.
import { describe, expect, it } from "vitest";
import { CUSTOM_MIGRATIONS } from "./fixtures/worker";
import { fixture, newVisitor, pay, request, runMirror, testEnv } from "./helpers";

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
    expect(studio.headers.get("Content-Type")).toBe("text/html");

    const missing = await worker(request("/db/not-an-account", {}, { headers: admin() }));
    expect(missing.status).toBe(404);
  });

  it("answers a malformed query request with 400, and an SQL error as dormroom does", async () => {
    const worker = fixture();
    const bad = await worker(request("/db/aggregate", {}, { method: "POST", headers: admin(), body: "{not json" }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: expect.stringMatching(/^Bad query request/) });
    const sqlError = await worker(request("/db/aggregate", {}, query("SELEKT 1")));
    expect(await sqlError.json()).toMatchObject({ error: expect.stringMatching(/syntax error/) });
  });
});
