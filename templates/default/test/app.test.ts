// The example app (src/index.ts) through the real Worker entry: /charge costs one cent.
// Only the wallet's side is checked here (status, X-Price, X-Balance, X-PaymentLink, the
// books); the pages' wording is the app's own business and tested next to it.
import { describe, expect, it } from "vitest";
// The import line of CONTRACT.md §3, word for word: it must keep compiling (tsc checks test/).
import { withStripeflare, chargeUser, DORM, type StripeUser } from "../src/stripeflare";
import * as main from "../src/index";
import { app, books, me, newVisitor, pay, request, testEnv } from "./helpers";

// The real app's databases (version "1") are shared with other test files, so payments here
// use a Link email of their own: a test card could log this visitor into another test's account.
const uniquePayer = () => ({ paymentMethod: "pm_link", email: `app-${crypto.randomUUID()}@example.com` });
const post = { method: "POST" };

describe("example app", () => {
  it("/charge answers 402 with the payment link until the visitor pays, then charges 1 cent per request", async () => {
    const visitor = await newVisitor(app);
    const refused = await app(request("/charge", visitor, post));
    expect(refused.status).toBe(402);
    const paymentLink = refused.headers.get("X-PaymentLink")!;
    expect(paymentLink).toContain(`client_reference_id=${visitor.reference}`);

    await pay(app, { reference: visitor.reference, amount: 2, ...uniquePayer(), name: "Example Payer" });
    const first = await app(request("/charge", visitor, post));
    expect(first.status).toBe(200);
    expect(first.headers.get("X-Price")).toBe("1");
    expect(first.headers.get("X-Balance")).toBe("1");
    expect((await app(request("/charge", visitor, post))).headers.get("X-Balance")).toBe("0");
    expect((await app(request("/charge", visitor, post))).status).toBe(402);
    expect(await books("1", visitor.account)).toEqual({ balance: 0, ledger: 0, rows: 3 });
    expect((await me(app, visitor)).body).toMatchObject({ balance: 0, name: "Example Payer", registered: true });
  });

  it("/charge never overdraws under concurrency", async () => {
    const visitor = await newVisitor(app);
    await pay(app, { reference: visitor.reference, amount: 30, ...uniquePayer() });
    const statuses = (await Promise.all(Array.from({ length: 50 }, () => app(request("/charge", visitor, post))))).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(30);
    expect(await books("1", visitor.account)).toEqual({ balance: 0, ledger: 0, rows: 31 });
  });

  // Issue 9, scenario 8: the route is POST, but GET and HEAD charged too (a link, a prefetch).
  it("/charge spends only on POST: GET, HEAD and others answer 405 and cost nothing", async () => {
    const visitor = await newVisitor(app);
    await pay(app, { reference: visitor.reference, amount: 5, ...uniquePayer() });
    for (const method of ["GET", "HEAD", "PUT", "DELETE"]) {
      const response = await app(request("/charge", visitor, { method }));
      expect(response.status, method).toBe(405);
      expect(response.headers.get("Allow")).toBe("POST");
      expect(response.headers.get("X-Price"), method).toBeNull();
    }
    expect(await books("1", visitor.account)).toEqual({ balance: 5, ledger: 5, rows: 1 });
    // A link on another site that makes the browser POST here (a form) is not charged either.
    const crossSite = await app(request("/charge", visitor, { method: "POST", headers: { "Sec-Fetch-Site": "cross-site", Origin: "https://evil.example" } }));
    expect(crossSite.status).toBe(403);
    expect(await books("1", visitor.account)).toEqual({ balance: 5, ledger: 5, rows: 1 });
  });

  it("exports what CONTRACT.md §3 names, with chargeUser's documented signature", () => {
    expect(main.DORM).toBe(DORM);
    expect(typeof main.default.fetch).toBe("function");
    expect(typeof withStripeflare(async () => new Response())).toBe("function");
    // chargeUser(env, ctx, accessToken, migrations, version, amountCents, allowNegativeBalance)
    const contract: (
      env: typeof testEnv,
      ctx: ExecutionContext,
      accessToken: string,
      migrations: undefined,
      version: string,
      amountCents: number,
      allowNegativeBalance: boolean,
    ) => Promise<{ charged: boolean; message: string }> = chargeUser;
    expect(contract).toBe(chargeUser);
    const user: Pick<StripeUser, "access_token" | "balance"> = { access_token: "a", balance: 0 };
    expect(user.balance).toBe(0);
  });

  it("answers other paths through the wallet, with its headers", async () => {
    const response = await app(request("/"));
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Balance")).toBe("0");
    expect(response.headers.get("X-PaymentLink")).toMatch(/client_reference_id=/);
  });
});
