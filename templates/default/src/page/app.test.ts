// The page through the real Worker (src/index.ts behind withStripeflare, real Durable
// Objects): one visitor seen by a browser, a program and an agent, before and after paying.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DORM } from "../stripeflare";
import { accountDb, app, books, newVisitor, pay, request, type Visitor } from "../../test/helpers";

/** A request to `path` by `visitor`, asking for `accept`. */
function get(path: string, accept: string, visitor: Visitor, init: RequestInit = {}) {
  // redirect: "manual", as a browser sees the 303 (the entrypoint would otherwise follow it).
  return app(request(path, visitor, { redirect: "manual", ...init, headers: { Accept: accept } }));
}

describe("the home page, for people, programs and agents", () => {
  it("tells an agent, as JSON, how to cap, retry and get a budget; an agent that follows it spends within its budget", async () => {
    const ownerVisitor = await newVisitor(app);
    await pay(app, { reference: ownerVisitor.reference, amount: 100 });
    const { agents, paid_routes: [route] } = (await (await get("/", "application/json", ownerVisitor)).json()) as Record<string, any>;
    expect(agents).toMatchObject({ max_price_header: "X-Max-Price", idempotency_header: "Idempotency-Key", budget_tokens: { mint: "POST /me/tokens" } });
    // The owner mints as the discovery says; the agent then calls the paid route with its token.
    const [method, path] = agents.budget_tokens.mint.split(" ");
    const minted = (await (await app(request(path, ownerVisitor, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ cap: 2, label: "agent" }) }))).json()) as { access_token: string };
    const agent = { token: minted.access_token, bearer: true };
    const call = (cap: string, key: string) =>
      app(request(route.path, agent, { method: route.method, headers: { Accept: "application/json", [agents.max_price_header]: cap, [agents.idempotency_header]: key } }));
    expect((await call("0", "a")).status).toBe(402); // its cap is below the price
    expect((await call(String(route.price), "b")).status).toBe(200);
    expect((await call(String(route.price), "b")).headers.get("Idempotent-Replayed")).toBe("true"); // a retry: not charged again
    expect((await call(String(route.price), "c")).status).toBe(200);
    expect((await call(String(route.price), "d")).status).toBe(402); // its budget (2) is spent
    const markdown = await (await get("/", "text/markdown", ownerVisitor)).text();
    expect(markdown).toContain("X-Max-Price");
    expect(markdown).toContain("POST /me/tokens");
  });

  it("shows the same wallet as HTML, JSON and Markdown, never cacheable", async () => {
    const visitor = await newVisitor(app);
    const json = await get("/", "application/json", visitor);
    expect(json.status).toBe(200);
    const body = (await json.json()) as Record<string, any>;
    expect(body).toMatchObject({ balance: 0, registered: false, client_reference_id: visitor.reference });
    expect(body.paymentLink).toBe(json.headers.get("X-PaymentLink"));
    expect(body.paymentLink).toContain(`client_reference_id=${visitor.reference}`);
    expect(body.paid_routes).toEqual([{ method: "POST", path: "/charge", price: 1, description: expect.any(String) }]);

    const html = await get("/", "text/html,application/xhtml+xml,*/*;q=0.8", visitor);
    expect(html.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    const page = await html.text();
    expect(page).toContain('data-cents="0"');
    expect(page).toContain(`client_reference_id=${visitor.reference}`);
    expect(page).toContain('action="/charge"');

    const markdown = await get("/", "text/markdown", visitor);
    expect(markdown.headers.get("Content-Type")).toBe("text/markdown; charset=utf-8");
    expect(await markdown.text()).toContain("- Balance: **$0.00**");

    for (const response of [json, html, markdown]) {
      expect(response.headers.get("Cache-Control")).toBe("private, no-store");
      expect(response.headers.get("X-Balance")).toBe("0");
    }
  });

  it("answers a paid route with how to pay while the wallet is empty, in each format", async () => {
    const visitor = await newVisitor(app);
    for (const accept of ["application/json", "text/markdown", "text/html"]) {
      const refused = await get("/charge", accept, visitor, { method: "POST" });
      expect(refused.status).toBe(402);
      const link = refused.headers.get("X-PaymentLink")!;
      expect(link).toContain(`client_reference_id=${visitor.reference}`);
      expect(refused.headers.get("X-Price")).toBeNull();
      expect(refused.headers.get("Cache-Control")).toBe("private, no-store");
      const text = await refused.text();
      expect(text).toContain(accept === "text/html" ? link.replaceAll("&", "&amp;") : link);
      expect(text).toMatch(/\$0\.01/);
      expect(text).toMatch(/\$0\.00/);
    }
    // Nothing was charged: the visitor still has no account at all.
    expect((await books("1", visitor.account))?.rows ?? 0).toBe(0);
  });

  it("spends one cent from a browser form and shows the new balance after the redirect", async () => {
    const visitor = await newVisitor(app);
    await pay(app, { reference: visitor.reference, amount: 3, paymentMethod: "pm_card_amex" });

    const spent = await get("/charge", "text/html", visitor, { method: "POST" });
    expect(spent.status, `${[...spent.headers]} ${await spent.clone().text()}`).toBe(303);
    expect(spent.headers.get("Location")).toBe("/?spent=1");
    expect(spent.headers.get("X-Price")).toBe("1");
    expect(spent.headers.get("X-Balance")).toBe("2");

    const page = await (await get("/?spent=1", "text/html", visitor)).text();
    expect(page).toContain('<span id="balance" data-cents="2">$0.02</span>');
    expect(page).toContain("Spent $0.01.");
    expect(page).toContain("Signed in by payment");

    const agent = await get("/charge", "text/markdown", { ...visitor, bearer: true }, { method: "POST" });
    expect(agent.status).toBe(200);
    expect(await agent.text()).toContain("- Balance: **$0.01**");
    expect(await books("1", visitor.account)).toEqual({ balance: 1, ledger: 1, rows: 3 });
  });

  it("links the caller's statement, where the paid route's description shows", async () => {
    const visitor = await newVisitor(app);
    await pay(app, { reference: visitor.reference, amount: 5 });
    expect((await get("/charge", "application/json", visitor, { method: "POST" })).status).toBe(200);

    const json = (await (await get("/", "application/json", visitor)).json()) as { statement: string };
    expect(json.statement).toBe("/me/transactions");
    expect(await (await get("/", "text/html", visitor)).text()).toContain('href="/me/transactions"');
    expect(await (await get("/", "text/markdown", visitor)).text()).toContain("<https://app.example/me/transactions>");

    const statement = await get(json.statement, "application/json", visitor);
    expect(statement.status).toBe(200);
    const { data } = (await statement.json()) as { data: { kind: string; amount: number; description: string; reference: string }[] };
    expect(data[0]).toMatchObject({ kind: "charge", amount: -1, description: "The example paid route", reference: "POST /charge" });
    expect(data[1]).toMatchObject({ kind: "topup", amount: 5 });
  });

  it("renders the wallet's own 402 (two requests racing for the last cent) like its own", async () => {
    const visitor = await newVisitor(app);
    await pay(app, { reference: visitor.reference, amount: 1 });
    // Hold the account's object so that every request loads the balance (1 cent, enough
    // for the handler's own check) before any of them charges: all but one are then
    // refused by the wallet at X-Price time, and the app's paymentRequired renders them.
    const hold = runInDurableObject(accountDb("1", visitor.account), (_: DORM, state) =>
      state.blockConcurrencyWhile(() => new Promise((resolve) => setTimeout(resolve, 200))),
    );
    const racing = Array.from({ length: 4 }, () => get("/charge", "text/markdown", { ...visitor, bearer: true }, { method: "POST" }));
    const responses = await Promise.all(racing);
    await hold;
    expect(responses.map((r) => r.status).sort()).toEqual([200, 402, 402, 402]);
    for (const refused of responses.filter((r) => r.status === 402)) {
      expect(refused.headers.get("Content-Type")).toBe("text/markdown; charset=utf-8");
      const text = await refused.text();
      expect(text).toContain("# Payment required");
      expect(text).toContain("- Price: **$0.01**");
      expect(text).toContain("- Balance: **$0.00**");
      expect(text).toContain(`<${refused.headers.get("X-PaymentLink")}>`);
      expect(refused.headers.get("X-Balance")).toBe("0");
    }
    expect(await books("1", visitor.account)).toEqual({ balance: 0, ledger: 0, rows: 2 });
  });

  it("shows the local payment command only when served on localhost", async () => {
    const local = await app(new Request("http://localhost:8787/", { headers: { Accept: "text/html" } }));
    const html = await local.text();
    const reference = /client_reference_id=([A-Za-z0-9_-]+)/.exec(local.headers.get("X-PaymentLink")!)![1];
    expect(html).toContain(`<code id="local-pay">npm run pay -- ${reference}</code>`);
    const remote = await (await get("/", "text/html", {})).text();
    expect(remote).not.toContain("npm run pay");
  });
});
