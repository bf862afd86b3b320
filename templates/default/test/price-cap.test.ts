// X-Max-Price: a caller's cap on what one request may cost it (issue 12, item 4). A declared
// price above it: 402, the handler does not run. An X-Price or ctx.charge that would pass it:
// nothing charged (what the request had charged goes back), 402 with the price, no body.
import { describe, expect, it } from "vitest";
import { books, fixture, ledger, newVisitor, pay, request, type Worker } from "./helpers";

async function fundedVisitor(worker: Worker, amount: number) {
  const visitor = await newVisitor(worker);
  await pay(worker, { reference: visitor.reference, amount });
  return visitor;
}

const capped = (cap: string, init: RequestInit = {}) => ({ ...init, headers: { Accept: "application/json", "X-Max-Price": cap, ...init.headers } });

describe("X-Max-Price", () => {
  it("a declared price above the cap: 402 with the price, the handler does not run, nothing charged", async () => {
    const worker = fixture({ prices: { "/paid": 5 } });
    const visitor = await fundedVisitor(worker, 100);
    const refused = await worker(request("/paid", visitor, capped("4")));
    expect(refused.status).toBe(402);
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ price: 5, balance: 100 });
    expect(String(body.message)).toMatch(/costs 5 cents, more than the X-Max-Price of 4 you sent; nothing was charged/);
    expect(refused.headers.get("X-Balance")).toBe("100");
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 100, ledger: 100, rows: 1 });
    // At the cap (and without one) it is charged as usual.
    const paid = await worker(request("/paid", visitor, capped("5")));
    expect([paid.status, await paid.text()]).toEqual([200, "paid content"]);
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 95, ledger: 95, rows: 2 });
  });

  it("an X-Price above the cap: 402 instead of the body, nothing charged", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 100);
    const refused = await worker(request("/price?value=7", visitor, capped("6")));
    expect(refused.status).toBe(402);
    const text = await refused.text();
    expect(text).not.toContain("priced content");
    expect(JSON.parse(text)).toMatchObject({ price: 7, balance: 100 });
    expect(refused.headers.get("X-Price")).toBeNull();
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 100, ledger: 100, rows: 1 });
    const fits = await worker(request("/price?value=6", visitor, capped("6")));
    expect([fits.status, fits.headers.get("X-Price")]).toEqual([200, "6"]);
  });

  it("counts the whole request: a declared price plus an X-Price over the cap gives the declared charge back", async () => {
    const worker = fixture({ prices: (req) => (new URL(req.url).pathname === "/price" ? 2 : undefined) });
    const visitor = await fundedVisitor(worker, 100);
    const refused = await worker(request("/price?value=3", visitor, capped("4")));
    expect(refused.status).toBe(402);
    expect(String(((await refused.json()) as { message: string }).message)).toMatch(/costs 5 cents in all \(3 more\), more than the X-Max-Price of 4/);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 100, ledger: 100 });
    expect((await ledger(worker.version, visitor.account)).map((row) => [row.kind, row.amount])).toEqual([["credit", 100], ["charge", -2], ["reversed", 2]]);
    const ok = await worker(request("/price?value=3", visitor, capped("5")));
    expect(ok.status).toBe(200);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 95, ledger: 95 });
  });

  it("ctx.charge past the cap is refused in the handler, with the reason", async () => {
    const worker = fixture();
    const visitor = await fundedVisitor(worker, 100);
    const result = await (await worker(request("/ctx-charge?amount=9", visitor, capped("8")))).json();
    expect(result).toEqual({ charged: false, message: expect.stringMatching(/costs 9 cents, more than the X-Max-Price of 8/) });
    expect(await (await worker(request("/ctx-charge?amount=8", visitor, capped("8")))).json()).toMatchObject({ charged: true });
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 92, ledger: 92 });
  });

  it("0 refuses every priced request and lets free ones through", async () => {
    const worker = fixture({ prices: { "/paid": 1 } });
    const visitor = await fundedVisitor(worker, 10);
    expect((await worker(request("/paid", visitor, capped("0")))).status).toBe(402);
    expect((await worker(request("/price?value=1", visitor, capped("0")))).status).toBe(402);
    const free = await worker(request("/whoami", visitor, capped("0")));
    expect(free.status).toBe(200);
    expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 10, ledger: 10 });
  });

  it.each([["-5"], ["abc"], ["1.5"], [""], ["1e3"], ["5 cents"], ["99999999999999999999"]])(
    "refuses X-Max-Price %j with 400, before anything runs or is charged",
    async (value) => {
      const worker = fixture({ prices: { "/paid": 1 } });
      const visitor = await fundedVisitor(worker, 10);
      const response = await worker(request("/paid", visitor, capped(value)));
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ param: "X-Max-Price", error: expect.stringMatching(/X-Max-Price (must be a whole number of cents|is too large).*nothing was charged/) });
      expect(await books(worker.version, visitor.account)).toMatchObject({ balance: 10, ledger: 10, rows: 1 });
    },
  );
});
