// The interactive flow in a real pseudo-terminal (util-linux `script`), answering the prompts as a
// person would type them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { fileMode, ours, readDevVarsFile, readJson, readState, readWranglerConfig, runInTerminal, tempDir, useStripeStandIn } from "./helpers/index.js";

const stripe = useStripeStandIn();

describe("interactive", () => {
  it("asks for what is missing and builds the project from the answers", async () => {
    const cwd = tempDir();
    const result = await runInTerminal(
      ["--no-install", "--no-git"],
      [
        { expect: /Project folder/, type: "shop-app\r" },
        { expect: /Template/, type: "\r" },
        { expect: /Top-up price in USD/, type: "7.5\r" },
        { expect: /Custom domain/, type: "shop.example.com\r" },
        { expect: /Product name/, type: "The Shop\r" },
        { expect: /Let AI agents pay by themselves/, type: "profile with space\r" },
        { expect: /A Stripe profile id such as profile_/, type: `${"\x7f".repeat(18)}profile_theshop\r` },
        { expect: /Stripe secret key/, type: `${stripe().keys.secret}\r` },
        { expect: /publishable key, pk_test_/, type: `${stripe().keys.publishable}\r` },
        { expect: /Deploy to Cloudflare now/, type: "n" },
      ],
      { cwd, env: { STRIPE_API_BASE: stripe().url } },
    );
    expect(result.answered).toBe(10);
    expect(result.exitCode, result.screen).toBe(0);
    expect(result.screen).toMatch(/shop-app is ready/);
    // The secret key was typed into a password prompt: it never shows on screen.
    expect(result.screen).not.toContain(stripe().keys.secret);
    const dir = join(cwd, "shop-app");
    expect(readJson(join(dir, "package.json")).name).toBe("shop-app");
    expect(readWranglerConfig(dir).config.routes).toEqual([{ pattern: "shop.example.com", custom_domain: true }]);
    // Agent payments on, with the price as the agents' top-up.
    expect(readWranglerConfig(dir).config.vars).toEqual({ CURRENCY: "usd", TOP_UP_AMOUNT: "750", STRIPE_NETWORK_ID: "profile_theshop" });
    const [product] = stripe().list<Stripe.Product>("product").filter(ours("shop-app"));
    expect(product.name).toBe("The Shop");
    const [price] = stripe().list<Stripe.Price>("price").filter(ours("shop-app"));
    expect(price.unit_amount).toBe(750);
    const vars = readDevVarsFile(dir);
    expect(vars.STRIPE_SECRET).toBe(stripe().keys.secret);
    const [endpoint] = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("shop-app"));
    expect(vars.STRIPE_WEBHOOK_SIGNING_SECRET).toBe(stripe().webhookSecret(endpoint.id));
    expect(fileMode(join(dir, ".dev.vars"))).toBe(0o600);
  });

  it("re-asks on an invalid answer instead of failing", async () => {
    const cwd = tempDir();
    const result = await runInTerminal(
      ["--no-install", "--no-git", "--no-stripe", "--no-deploy", "--price", "5", "--title", "T", "--template", "default"],
      [
        { expect: /Project folder/, type: "Bad Name\r" },
        { expect: /invalid project name "Bad Name".*try "bad-name"/, type: `${"\x7f".repeat(8)}good-name\r` },
        { expect: /Custom domain/, type: "\r" },
      ],
      { cwd },
    );
    expect(result.exitCode, result.screen).toBe(0);
    expect(existsSync(join(cwd, "good-name", "package.json"))).toBe(true);
    expect(existsSync(join(cwd, "Bad Name"))).toBe(false);
  });

  // Issue 10, interactive: an invalid name is offered its fixed form; "no" to a non-empty folder
  // asks for another one instead of exiting.
  it("offers the fixed name for an invalid folder argument, and asks for another folder when told not to copy into a full one", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "full"));
    writeFileSync(join(cwd, "full", "notes.txt"), "mine\n");
    const fixed = await runInTerminal(
      ["My Shop!", "--no-install", "--no-git", "--no-stripe", "--no-deploy", "--price", "5", "--title", "T", "--domain", "shop.example.com", "--template", "default"],
      [{ expect: /"My Shop!" cannot be a Worker name .* Use "my-shop" instead\?/, type: "y" }],
      { cwd },
    );
    expect(fixed.exitCode, fixed.screen).toBe(0);
    expect(existsSync(join(cwd, "my-shop", "package.json"))).toBe(true);

    const other = await runInTerminal(
      ["full", "--no-install", "--no-git", "--no-stripe", "--no-deploy", "--price", "5", "--title", "T", "--domain", "full.example.com", "--template", "default"],
      [
        { expect: /full is not empty\. Copy the template into it anyway/, type: "n" },
        { expect: /Another project folder/, type: "empty-one\r" },
      ],
      { cwd },
    );
    expect(other.exitCode, other.screen).toBe(0);
    expect(existsSync(join(cwd, "empty-one", "package.json"))).toBe(true);
    expect(readFileSync(join(cwd, "full", "notes.txt"), "utf8")).toBe("mine\n");
    expect(existsSync(join(cwd, "full", "package.json"))).toBe(false);
  });

  it("asks which template, create-vite style: the MCP server is one arrow down", async () => {
    const cwd = tempDir();
    const result = await runInTerminal(
      ["tools-app", "--no-install", "--no-git", "--no-stripe", "--no-deploy", "--price", "5", "--title", "T", "--domain", "tools.example.com"],
      [{ expect: /Template[\s\S]*default[\s\S]*mcp/, type: "\x1b[B\r" }],
      { cwd },
    );
    expect(result.exitCode, result.screen).toBe(0);
    expect(result.answered).toBe(1);
    const dir = join(cwd, "tools-app");
    expect(existsSync(join(dir, "src", "paid-tool.ts"))).toBe(true);
    expect(readState(dir).template).toBe("mcp");
    expect(result.screen).toMatch(/npm run client/);
    expect(result.screen).toMatch(/claude mcp add --transport http tools-app http:\/\/localhost:8787\/mcp/);
  });

  it("asks before using a live key, and stops cleanly on no", async () => {
    const cwd = tempDir();
    const mark = stripe().requests.length;
    const result = await runInTerminal(
      ["live-shop", "--no-install", "--no-git", "--price", "5", "--title", "Live", "--domain", "live.example.com", "--template", "default"],
      [
        { expect: /Let AI agents pay by themselves/, type: "\r" },
        { expect: /Stripe secret key/, type: `${stripe().keys.liveSecret}\r` },
        { expect: /publishable key, pk_live_/, type: `${stripe().keys.livePublishable}\r` },
        { expect: /LIVE Stripe key/, type: "n" },
      ],
      { cwd, env: { STRIPE_API_BASE: stripe().url } },
    );
    expect(result.answered).toBe(4);
    expect(result.exitCode).not.toBe(0);
    expect(result.screen).toMatch(/stopped before using the live key/);
    expect(existsSync(join(cwd, "live-shop"))).toBe(false);
    expect(stripe().requests.slice(mark).filter((r) => r.method === "POST")).toEqual([]);
  });

  it("Ctrl-C at a prompt cancels without creating anything", async () => {
    const cwd = tempDir();
    const result = await runInTerminal(["--no-install"], [{ expect: /Project folder/, type: "\x03" }], { cwd });
    expect(result.exitCode).not.toBe(0);
    expect(result.screen).toMatch(/cancelled/);
    expect(result.screen).toMatch(/Nothing was changed/);
  });
});
