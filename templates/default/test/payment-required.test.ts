// options.paymentRequired: the app renders the wallet's own 402 (an X-Price or a declared
// price the balance cannot cover), with the facts the wallet has; without it, the default.
import { describe, expect, it } from "vitest";
import type { PaymentRequiredDetails } from "../src/stripeflare";
import type { FixtureUser } from "./fixtures/worker";
import { books, cookieToken, fixture, newVisitor, pay, request } from "./helpers";

/** A fixture whose paymentRequired answers JSON with what it was given, and records each call. */
function rendering() {
  const calls: PaymentRequiredDetails<FixtureUser>[] = [];
  const worker = fixture({
    prices: { "/paid": 4 },
    paymentRequired: (req, details) => {
      calls.push(details);
      return Response.json({ rendered: new URL(req.url).pathname, ...details, user: undefined }, { status: 402 });
    },
  });
  return { worker, calls };
}

describe("options.paymentRequired", () => {
  it("renders a refused X-Price with price, balance, payment link and message; nothing is charged", async () => {
    const { worker, calls } = rendering();
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 3 });
    const response = await worker(request("/price?value=5&describe=Big", visitor));
    expect(response.status).toBe(402);
    const body = await response.json();
    expect(body).toEqual({
      rendered: "/price",
      price: 5,
      balance: 3,
      paymentLink: response.headers.get("X-PaymentLink"),
      message: "User balance too low",
      registered: true,
    });
    expect(calls[0]!.user).toMatchObject({ access_token: visitor.account, balance: 3 });
    // The wallet's headers still go on the app's answer; the refused price does not.
    expect(response.headers.get("X-Balance")).toBe("3");
    expect(response.headers.get("X-Price")).toBeNull();
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 3, ledger: 3, rows: 1 });
  });

  it("renders a refused declared price, without running the handler", async () => {
    const { worker, calls } = rendering();
    const visitor = await newVisitor(worker);
    await pay(worker, { reference: visitor.reference, amount: 3 });
    const response = await worker(request("/paid", visitor));
    expect(response.status).toBe(402);
    expect(await response.json()).toMatchObject({ rendered: "/paid", price: 4, balance: 3, registered: true });
    expect(calls).toHaveLength(1);
    const again = await worker(request("/paid", visitor, { method: "POST" })); // "/paid" prices every method
    expect(again.status).toBe(402);
    expect(calls).toHaveLength(2);
    await pay(worker, { reference: visitor.reference, amount: 1 });
    const ok = await worker(request("/paid", visitor));
    expect(await ok.text()).toBe("paid content");
    expect(calls).toHaveLength(2); // not called for a price that was paid
    expect(await books(worker.version, visitor.account)).toEqual({ balance: 0, ledger: 0, rows: 3 });
  });

  it("tells a new visitor (no account yet) how to pay, and still sets their cookie", async () => {
    const { worker } = rendering();
    const response = await worker(request("/price?value=1"));
    expect(response.status).toBe(402);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ price: 1, balance: 0, registered: false, message: expect.stringContaining("not signed up") });
    expect(body.paymentLink).toMatch(/client_reference_id=[\w-]+$/);
    expect(cookieToken(response)).toBeTruthy();
  });

  it("falls back to the default 402 when the app's renderer throws", async () => {
    const worker = fixture({
      paymentRequired: () => {
        throw new Error("template missing");
      },
    });
    const visitor = await newVisitor(worker);
    const response = await worker(request("/price?value=2", visitor, { headers: { Accept: "application/json" } }));
    expect(response.status).toBe(402);
    expect(await response.json()).toMatchObject({ error: "Payment required", paymentLink: response.headers.get("X-PaymentLink") });
  });
});
