// The page through the real Worker (src/index.ts behind withStripeflare, real Durable
// Objects): one visitor seen by a browser, a program and an agent, before and after paying.
import { describe, expect, it } from "vitest";
import { app, books, newVisitor, pay, request, type Visitor } from "../../test/helpers";

/** A request to `path` by `visitor`, asking for `accept`. */
function get(path: string, accept: string, visitor: Visitor, init: RequestInit = {}) {
  // redirect: "manual", as a browser sees the 303 (the entrypoint would otherwise follow it).
  return app(request(path, visitor, { redirect: "manual", ...init, headers: { Accept: accept } }));
}

describe("the home page, for people, programs and agents", () => {
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
    expect(await markdown.text()).toContain("- Balance: **0 cents**");

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
      expect(text).toMatch(/1 cent/);
      expect(text).toMatch(/0 cents/);
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
    expect(page).toContain('<span id="balance" data-cents="2">2 cents</span>');
    expect(page).toContain("Spent 1 cent.");
    expect(page).toContain("Signed in by payment");

    const agent = await get("/charge", "text/markdown", { ...visitor, bearer: true }, { method: "POST" });
    expect(agent.status).toBe(200);
    expect(await agent.text()).toContain("- Balance: **1 cent**");
    expect(await books("1", visitor.account)).toEqual({ balance: 1, ledger: 1, rows: 3 });
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
