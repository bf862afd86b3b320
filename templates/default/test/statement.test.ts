// GET /me/transactions: the caller's ledger, newest first, paginated, JSON or Markdown; and
// the descriptions (ctx.charge, X-Price-Description, chargeUser) that land in it.
import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chargeUser, type StatementEntry } from "../src/stripeflare";
import { encodeCursor } from "../src/stripeflare/statement";
import { accountDb, deliver, fixture, ledger, newVisitor, pay, payAndReturn, refundCheckout, request, sqlIn, testEnv, type Visitor, type Worker } from "./helpers";

interface Page {
  object: "list";
  balance: number;
  data: StatementEntry[];
  has_more: boolean;
  next_cursor: string | null;
}

async function statement(worker: Worker, visitor: Visitor, query = "", headers: Record<string, string> = {}) {
  const response = await worker(request(`/me/transactions${query}`, visitor, { headers }));
  return { response, body: (await response.json()) as Page & { error?: string; param?: string } };
}

async function funded(worker: Worker, amount: number) {
  const visitor = await newVisitor(worker);
  const payment = await payAndReturn(worker, visitor, { amount, paymentMethod: "pm_card_visa" });
  return { ...visitor, payment };
}

describe("GET /me/transactions", () => {
  it("lists the caller's own movements newest first, each with amount, balance after, kind, time, reference, description", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 500);
    // Someone else's ledger (another card, so no login by payment) stays out of it.
    const other = await newVisitor(worker);
    await pay(worker, { reference: other.reference, amount: 900, paymentMethod: "pm_card_mastercard" });
    await worker(request("/price?value=3&describe=Thumbnail%201", visitor));
    await worker(request("/ctx-charge?amount=7&description=Render%20job", visitor));
    const { refund, event } = await refundCheckout(visitor.payment.event, 100);
    await deliver(worker, event);

    const { response, body } = await statement(worker, visitor);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(response.headers.get("Cache-Control")).toBe("private, no-store");
    expect(body).toMatchObject({ object: "list", balance: 390, has_more: false, next_cursor: null });
    expect(body.data).toMatchObject([
      { kind: "refund", amount: -100, balance_after: 390, reference: refund.id, currency: "usd" },
      // Charges are in the account's currency too (issue 10: they said null).
      { kind: "charge", amount: -7, balance_after: 490, reference: "GET /ctx-charge", description: "Render job", currency: "usd" },
      { kind: "charge", amount: -3, balance_after: 497, reference: "GET /price", description: "Thumbnail 1", currency: "usd" },
      // The checkout session id logs a paying browser in: the statement shows only its start.
      { kind: "topup", amount: 500, balance_after: 500, reference: `${visitor.payment.sessionId.slice(0, 14)}…`, currency: "usd" },
    ]);
    const ids = body.data.map((row) => row.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    for (const row of body.data) expect(row.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect((await statement(worker, other)).body.data).toMatchObject([{ kind: "topup", amount: 900 }]);
  });

  it("pages through 41 rows with no duplicate and no gap, even while new charges arrive between pages", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 1000);
    for (let i = 0; i < 40; i++) await worker(request(`/price?value=1&describe=item%20${i}`, visitor));
    const all = (await ledger(worker.version, visitor.account)).map((row) => row.id as number).reverse();
    expect(all).toHaveLength(41);

    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { body } = await statement(worker, visitor, `?limit=7${cursor ? `&cursor=${cursor}` : ""}`);
      expect(body.data.length).toBeLessThanOrEqual(7);
      seen.push(...body.data.map((row) => row.id));
      expect(body.has_more).toBe(body.next_cursor !== null);
      cursor = body.next_cursor;
      pages++;
      // A charge between page reads lands above the first page, never inside later ones.
      if (pages === 2) await worker(request("/price?value=2", visitor));
    } while (cursor);
    expect(pages).toBe(6);
    expect(seen).toEqual(all);
  });

  it("uses a default limit of 25 and accepts up to 100", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 200);
    for (let i = 0; i < 30; i++) await worker(request("/price?value=1", visitor));
    const page = (await statement(worker, visitor)).body;
    expect(page.data).toHaveLength(25);
    expect(page.has_more).toBe(true);
    const max = (await statement(worker, visitor, "?limit=100")).body;
    expect(max.data).toHaveLength(31);
    expect(max.has_more).toBe(false);
  });

  it("answers Markdown for Accept: text/markdown, escaped, with a link to the next page", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 500);
    await worker(request(`/price?value=4&describe=${encodeURIComponent("a | b <script> *bold*")}`, visitor));
    await worker(request("/price?value=1", visitor));

    const response = await worker(request("/me/transactions?limit=2", visitor, { headers: { Accept: "text/markdown" } }));
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("text/markdown; charset=utf-8");
    expect(response.headers.get("Cache-Control")).toBe("private, no-store");
    const text = await response.text();
    expect(text).toContain("# Transactions");
    expect(text).toContain("Balance: 495");
    expect(text).toContain("| Time (UTC) | Kind | Amount | Balance after | Reference | Description |");
    expect(text).toMatch(/\| charge \| -1 \| 495 \| GET \/price \| GET \/price \|/);
    expect(text).toContain("| charge | -4 | 496 | GET /price | a \\| b \\<script\\> \\*bold\\* |");
    const next = /More: \[older transactions\]\((\/me\/transactions\?limit=2&cursor=[\w-]+)\)/.exec(text)?.[1];
    expect(next).toBeDefined();
    const older = await worker(request(next!, visitor, { headers: { Accept: "text/markdown" } }));
    const olderText = await older.text();
    expect(olderText).toMatch(/\| topup \| \+500 \| 500 \| cs_test_\w{6}… \|/);
    expect(olderText).not.toContain("More:");
    // JSON stays the default, also for browsers' Accept headers.
    const browser = await worker(request("/me/transactions", visitor, { headers: { Accept: "text/html,*/*;q=0.8" } }));
    expect(browser.headers.get("Content-Type")).toMatch(/^application\/json/);
  });

  it("an empty statement for a visitor without an account, without creating a database", async () => {
    const worker = fixture();
    const first = await worker(request("/me/transactions"));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ object: "list", balance: 0, data: [], has_more: false, next_cursor: null });
    const visitor = await newVisitor(worker);
    expect((await statement(worker, { token: visitor.token, bearer: true })).body.data).toEqual([]);
    const markdown = await worker(request("/me/transactions", visitor, { headers: { Accept: "text/markdown" } }));
    expect(await markdown.text()).toContain("No transactions yet.");
    expect(await sqlIn(accountDb(worker.version, visitor.account), "SELECT name FROM sqlite_schema")).toEqual([]);
  });

  it("after login by payment, the paying device sees the account's statement", async () => {
    const worker = fixture();
    const owner = await funded(worker, 500);
    const laptop = await newVisitor(worker);
    await payAndReturn(worker, laptop, { amount: 300, paymentMethod: "pm_card_visa" });
    const { body } = await statement(worker, { token: laptop.token, bearer: true });
    expect(body.data.map((row) => [row.kind, row.amount])).toEqual([
      ["merge_in", 300],
      ["topup", 500],
    ]);
    expect(body.balance).toBe(800);
    expect((await statement(worker, owner)).body.data).toEqual(body.data);
  });

  it.each([
    ["?limit=0", "limit"],
    ["?limit=101", "limit"],
    ["?limit=abc", "limit"],
    ["?limit=1.5", "limit"],
    ["?limit=-3", "limit"],
    ["?limit=", "limit"],
    ["?cursor=garbage!", "cursor"],
    ["?cursor=dHg6MA", "cursor"], // "tx:0"
    [`?cursor=${btoa("tx:abc").replace(/=+$/, "")}`, "cursor"],
    [`?cursor=${btoa("id:5").replace(/=+$/, "")}`, "cursor"],
  ])("%s answers 400 with a clear JSON error", async (query, param) => {
    const worker = fixture();
    const visitor = await funded(worker, 100);
    const { response, body } = await statement(worker, visitor, query);
    expect(response.status).toBe(400);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(body.param).toBe(param);
    expect(body.error).toMatch(param === "limit" ? /^Invalid limit: use a whole number from 1 to 100/ : /^Invalid cursor: pass the next_cursor/);
  });

  it("a cursor past the oldest row is an empty last page; POST is 405", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 100);
    const { body } = await statement(worker, visitor, `?cursor=${encodeCursor(1)}`);
    expect(body).toMatchObject({ data: [], has_more: false, next_cursor: null });
    const post = await worker(request("/me/transactions", visitor, { method: "POST" }));
    expect(post.status).toBe(405);
    expect(post.headers.get("Allow")).toBe("GET, HEAD");
  });
});

describe("descriptions", () => {
  it("X-Price-Description is trimmed, cleaned of control characters, capped, and not sent to the visitor", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 500);
    const response = await worker(request(`/price?value=2&describe=${encodeURIComponent("  Page\t\x1b[31mred\x07 one  ")}`, visitor));
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Price-Description")).toBeNull();
    expect(response.headers.get("X-Price")).toBe("2");
    await worker(request(`/price?value=1&describe=${"x".repeat(300)}`, visitor));
    // A description with nothing left after cleaning falls back to the request.
    await worker(request(`/price?value=1&describe=${encodeURIComponent(" \t ")}`, visitor));
    const rows = (await ledger(worker.version, visitor.account)).slice(1);
    expect(rows.map((row) => row.description)).toEqual(["Page [31mred one", "x".repeat(200), "GET /price"]);
    // Free responses do not leak it either.
    const free = await worker(request("/price?value=0&describe=nothing", visitor));
    expect(free.headers.get("X-Price-Description")).toBeNull();
  });

  it("ctx.charge(amount, allowNegativeBalance, description): newlines and bidi overrides removed", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 5);
    const description = "Line one\r\n| kind | 999 |\u202Eevil";
    const result = await worker(request(`/ctx-charge?amount=9&negative=1&description=${encodeURIComponent(description)}`, visitor));
    expect(await result.json()).toMatchObject({ charged: true, balance: -4 });
    await worker(request("/ctx-charge?amount=1&negative=1", visitor));
    const rows = (await ledger(worker.version, visitor.account)).slice(1);
    expect(rows).toMatchObject([
      { kind: "charge", amount: -9, reference: "GET /ctx-charge", description: "Line one | kind | 999 | evil" },
      { kind: "charge", amount: -1, reference: "GET /ctx-charge", description: "ctx.charge" },
    ]);
  });

  it("chargeUser takes an optional description too", async () => {
    const worker = fixture();
    const visitor = await funded(worker, 50);
    const ctx = createExecutionContext();
    const result = await chargeUser(testEnv, ctx, visitor.token, undefined, worker.version, 10, false, "Nightly report");
    expect(result).toMatchObject({ charged: true, balance: 40 });
    await chargeUser(testEnv, ctx, visitor.token, undefined, worker.version, 5, false);
    const { body } = await statement(worker, visitor);
    expect(body.data.slice(0, 2)).toMatchObject([
      { kind: "charge", amount: -5, reference: "chargeUser", description: "chargeUser" },
      { kind: "charge", amount: -10, reference: "chargeUser", description: "Nightly report" },
    ]);
  });
});
