// The page's three faces and the 402 answer, as pure functions of the view model. The same
// responses through the real Worker (wallet, cookies, X-Price) are tested in ./app.test.ts.
import { describe, expect, it } from "vitest";
import {
  formatMoney,
  homeResponse,
  negotiate,
  pageOptions,
  paidResponse,
  paymentRequiredResponse,
  spentNotice,
  walletView,
  type WalletView,
} from "../page";
import { escapeHtml } from "./html";
import { escapeMarkdown } from "./markdown";

const LINK = "https://buy.stripe.com/test_abc?client_reference_id=cri_123";
const view: WalletView = {
  balance: 42,
  currency: "usd",
  paymentLink: LINK,
  clientReferenceId: "cri_123",
  registered: true,
  name: "Ada <script>alert(1)</script>",
  email: "ada@example.com",
};
const paidRoute = { method: "POST" as const, path: "/charge", price: 1, description: "The example paid route" };

function request(accept: string | null, url = "https://app.example.com/") {
  return new Request(url, { headers: accept === null ? {} : { Accept: accept } });
}

describe("negotiate", () => {
  it.each([
    [null, "json"],
    ["*/*", "json"],
    ["application/json", "json"],
    ["text/markdown", "markdown"],
    ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"], // Chromium
    ["text/markdown, text/html;q=0.9, */*;q=0.1", "markdown"],
    ["text/html;q=0.5, application/json;q=0.9", "json"],
    ["text/*", "html"],
    ["text/markdown;q=0, */*", "json"],
    ["application/json;q=0, text/*", "html"],
    ["image/png", "json"],
    ["garbage;;,/,", "json"],
    ["TEXT/MARKDOWN", "markdown"],
  ])("Accept %j answers %s", (accept, format) => {
    expect(negotiate(accept)).toBe(format);
  });
});

describe("home page", () => {
  const options = pageOptions(request(null), "My API", paidRoute);

  it("is JSON by default, with the same facts as the page", async () => {
    const response = homeResponse(request("application/json"), view, options);
    expect(response.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
    expect(await response.json()).toMatchObject({
      balance: 42,
      currency: "usd",
      registered: true,
      name: view.name,
      email: "ada@example.com",
      client_reference_id: "cri_123",
      paymentLink: LINK,
      paid_routes: [{ method: "POST", path: "/charge", price: 1 }],
      statement: "/me/transactions",
    });
  });

  it("is Markdown for Accept: text/markdown", async () => {
    const response = homeResponse(request("text/markdown"), view, options);
    expect(response.headers.get("Content-Type")).toBe("text/markdown; charset=utf-8");
    const text = await response.text();
    expect(text).toContain("Balance: **$0.42**");
    expect(text).toContain(`<${LINK}>`);
    expect(text).toContain("| POST | `/charge` | $0.01 |");
    expect(text).toContain("- Statement: <https://app.example.com/me/transactions>");
    expect(text).toMatch(/Login by payment/);
    // A user-controlled name cannot inject markup.
    expect(text).toContain("Ada \\<script\\>alert\\(1\\)\\</script\\>");
  });

  it("is HTML for browsers, with escaped user data", async () => {
    const response = homeResponse(request("text/html"), view, options);
    expect(response.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    const html = await response.text();
    expect(html).toContain('<span id="balance" data-cents="42">$0.42</span>');
    expect(html).toContain(`<a id="pay" class="button" href="${escapeHtml(LINK)}">`);
    expect(html).toContain('<form method="post" action="/charge">');
    expect(html).toContain("Spend $0.01");
    expect(html).toContain('<a id="statement" href="/me/transactions">');
    expect(html).not.toContain("<script>");
    expect(html).toContain("Ada &lt;script&gt;");
  });

  it("is never cacheable by shared caches and varies with identity and format", () => {
    for (const accept of ["text/html", "application/json", "text/markdown"]) {
      const response = homeResponse(request(accept), view, options);
      expect(response.headers.get("Cache-Control")).toBe("private, no-store");
      expect(response.headers.get("Vary")).toBe("Accept, Cookie, Authorization");
    }
  });

  it("shows the local payment command only on localhost", async () => {
    const local = pageOptions(request(null, "http://localhost:8787/"), "My API", paidRoute);
    expect(local.local).toBe(true);
    const html = await homeResponse(request("text/html"), view, local).text();
    expect(html).toContain('<code id="local-pay">npm run pay -- cri_123</code>');
    // Issue 10: the 100-character command wraps instead of scrolling out of sight, with a copy button.
    expect(html).toContain('<pre class="command"><code id="local-pay">');
    expect(html).toMatch(/pre\.command \{ white-space: pre-wrap; overflow-wrap: anywhere; \}/);
    expect(html).toMatch(/<button type="button" id="copy-pay" onclick="navigator\.clipboard\.writeText\(document\.getElementById\('local-pay'\)\.textContent\.trim\(\)\)/);
    const remote = await homeResponse(request("text/html"), view, options).text();
    expect(remote).not.toContain("npm run pay");
    for (const url of ["http://127.0.0.1:8787/", "http://[::1]:8787/"]) {
      expect(pageOptions(request(null, url), "t", paidRoute).local).toBe(true);
    }
    for (const url of ["https://localhost.example.com/", "https://127.0.0.1.nip.io/"]) {
      expect(pageOptions(request(null, url), "t", paidRoute).local).toBe(false);
    }
  });

  it("does not offer a payment button without a configured payment link", async () => {
    const unconfigured = { ...view, paymentLink: "?client_reference_id=cri_123" };
    const html = await homeResponse(request("text/html"), unconfigured, options).text();
    expect(html).not.toContain('id="pay"');
    expect(html).toContain("STRIPE_PAYMENT_LINK");
    const json = await homeResponse(request("application/json"), unconfigured, options).json();
    expect(json).toMatchObject({ paymentLink: null });
  });
});

describe("402 payment required", () => {
  const options = pageOptions(request(null), "My API", paidRoute);
  const broke = { ...view, balance: 0 };

  it("tells a program how to pay: link in body and X-PaymentLink, price, balance; never X-Price", async () => {
    const response = paymentRequiredResponse(request("application/json"), broke, 1, options);
    expect(response.status).toBe(402);
    expect(response.headers.get("X-PaymentLink")).toBe(LINK);
    expect(response.headers.get("X-Price")).toBeNull();
    expect(response.headers.get("Cache-Control")).toBe("private, no-store");
    expect(await response.json()).toEqual({
      error: "payment_required",
      message: `This request costs $0.01; your balance is $0.00. Top up at ${LINK} and retry.`,
      price: 1,
      balance: 0,
      currency: "usd",
      paymentLink: LINK,
    });
  });

  it("tells an agent in Markdown and a person in HTML", async () => {
    const md = await paymentRequiredResponse(request("text/markdown"), broke, 1, options).text();
    expect(md).toContain("# Payment required");
    expect(md).toContain("- Price: **$0.01**");
    expect(md).toContain("- Balance: **$0.00**");
    expect(md).toContain(`<${LINK}>`);
    const html = paymentRequiredResponse(request("text/html"), broke, 1, options);
    expect(html.status).toBe(402);
    const body = await html.text();
    expect(body).toContain("Payment required");
    expect(body).toContain(`href="${escapeHtml(LINK)}"`);
    expect(body).toContain('data-cents="0"');
  });
});

describe("paid response", () => {
  it("charges through X-Price and redirects a browser back to the page", () => {
    const response = paidResponse(request("text/html", "https://app.example.com/charge"), view, paidRoute, "ok");
    expect(response.status).toBe(303);
    expect(response.headers.get("Location")).toBe("/?spent=1");
    expect(response.headers.get("X-Price")).toBe("1");
    expect(response.headers.get("X-Price-Description")).toBe("The example paid route");
    expect(response.headers.get("Cache-Control")).toBe("private, no-store");
  });

  it("gives a program the result and the balance after the charge", async () => {
    const response = paidResponse(request("application/json"), view, { price: 2, description: "Two cents' worth" }, "the answer");
    expect(response.headers.get("X-Price")).toBe("2");
    expect(response.headers.get("X-Price-Description")).toBe("Two cents' worth");
    expect(await response.json()).toEqual({ result: "the answer", charged: 2, balance: 40, currency: "usd" });
  });

  it("shows amounts in the wallet's currency; JSON keeps the smallest unit and names the currency", async () => {
    expect(formatMoney(499, "usd")).toBe("$4.99");
    expect(formatMoney(-3, "eur")).toBe("-€0.03");
    expect(formatMoney(500, "jpy")).toBe("¥500"); // zero-decimal: 500 is ¥500, not ¥5.00
    expect(formatMoney(1234, "kwd")).toBe("KWD\u00a01.234"); // three decimals
    expect(formatMoney(499, "xyz")).toBe("XYZ\u00a04.99"); // well-formed but unknown: Intl's default of two
    expect(formatMoney(499, "not a code")).toBe("499 (smallest unit of not a code)");
    const options = pageOptions(request(null), "My API", paidRoute);
    const yen = walletView({ user: { balance: 300 }, registered: false, paymentLink: LINK }, "JPY");
    expect(yen.currency).toBe("jpy");
    const md = await homeResponse(request("text/markdown"), yen, options).text();
    expect(md).toContain("- Balance: **¥300**");
    expect(md).toContain("| POST | `/charge` | ¥1 |");
    expect(await paymentRequiredResponse(request("application/json"), yen, 400, options).json()).toMatchObject({
      price: 400,
      balance: 300,
      currency: "jpy",
      message: expect.stringMatching(/^This request costs ¥400; your balance is ¥300\./),
    });
    expect(spentNotice(new URL("https://a.example/?spent=7"), "jpy")).toBe("Spent ¥7.");
    expect(walletView({ user: { balance: 1 }, registered: false, paymentLink: LINK }, "").currency).toBe("usd");
  });

  it("turns ?spent= into a notice, ignoring anything but a small number", () => {
    expect(spentNotice(new URL("https://a.example/?spent=1"))).toBe("Spent $0.01.");
    expect(spentNotice(new URL("https://a.example/?spent=<b>"))).toBeUndefined();
    expect(spentNotice(new URL("https://a.example/"))).toBeUndefined();
  });
});

describe("view model", () => {
  it("reads the handler context, falling back to the payment link for the reference id", () => {
    expect(
      walletView({
        user: { balance: null, name: null, email: null },
        registered: false,
        paymentLink: "https://buy.stripe.com/x?client_reference_id=abc-_1",
      }),
    ).toEqual({
      balance: 0,
      currency: "usd",
      paymentLink: "https://buy.stripe.com/x?client_reference_id=abc-_1",
      clientReferenceId: "abc-_1",
      registered: false,
      name: null,
      email: null,
    });
  });

  it("escapes", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    expect(escapeMarkdown("*bold* [x](y)\nnext")).toBe("\\*bold\\* \\[x\\]\\(y\\) next");
  });
});
