// The CLI's pure helpers, in-process: money, names, flags, .dev.vars, JSONC edits, masking.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseArgs } from "../src/args.js";
import { formatDevVars, generateDbSecret, mergeDevVars } from "../src/dev-vars.js";
import { maskSecret, redactSecrets, secretKeyMode } from "../src/keys.js";
import { rerunHint } from "../src/rerun.js";
import { PAYMENT_RETURN_PATH, WEBHOOK_EVENTS } from "../src/stripe.js";
import { workerWebhookEvents } from "./helpers/template-source.js";
import { currencyExponent, formatMinorUnits, toMinorUnits } from "../src/money.js";
import { detectPackageManager } from "../src/package-manager.js";
import { isValidProjectName, normalizeDomain, suggestProjectName } from "../src/project-name.js";
import { editWranglerConfig, parseJsonc } from "../src/wrangler-config.js";
import { copyTemplateDir, ensureGitignore, isEmptyDir, writableProblem } from "../src/template.js";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";

describe("money", () => {
  it("converts major units with the currency's exponent, exactly", () => {
    expect(toMinorUnits("5", "usd")).toBe(500);
    expect(toMinorUnits("19.99", "usd")).toBe(1999);
    expect(toMinorUnits("0.5", "eur")).toBe(50);
    expect(() => toMinorUnits("0.1", "eur")).toThrow(/Stripe charges from 0\.50 EUR \(its minimum\)/);
    expect(toMinorUnits("999999.99", "usd")).toBe(99_999_999);
    expect(() => toMinorUnits("1000000", "usd")).toThrow(/to 999999\.99 USD \(its maximum\)/);
    expect(toMinorUnits("0.01", "kes")).toBe(1); // no stated minimum: Stripe converts 0.50 USD that day
    expect(toMinorUnits("500", "jpy")).toBe(500);
    expect(toMinorUnits("1.5", "kwd")).toBe(1500);
    expect(() => toMinorUnits("5.5", "jpy")).toThrow(/no minor unit/);
    expect(() => toMinorUnits("1.999", "usd")).toThrow(/2 decimals/);
    expect(() => toMinorUnits("1.005", "kwd")).toThrow(/rounded/);
    for (const bad of ["0", "-5", "5,00", "", "1e3", "abc"]) expect(() => toMinorUnits(bad, "usd"), bad).toThrow();
  });

  it("round-trips every amount in cents (no float error)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 50, max: 99_999_999 }), (cents) => {
        const text = formatMinorUnits(cents, "usd").split(" ")[0];
        return toMinorUnits(text, "usd") === cents;
      }),
    );
    expect(currencyExponent("JPY")).toBe(0);
  });
});

describe("project names", () => {
  it("accepts npm + Worker safe names and suggests a fix for others", () => {
    for (const good of ["my-api", "a", "api2", "x".repeat(63)]) expect(isValidProjectName(good), good).toBe(true);
    for (const bad of ["My-Api", "-api", "api-", "my_api", "my api", "x".repeat(64), "", "café"]) expect(isValidProjectName(bad), bad).toBe(false);
    expect(suggestProjectName("My Shop!")).toBe("my-shop");
    expect(suggestProjectName("Café__Bar")).toBe("cafe-bar");
    expect(suggestProjectName("!!!")).toBeUndefined();
    fc.assert(fc.property(fc.string(), (name) => {
      const suggestion = suggestProjectName(name);
      return suggestion === undefined || isValidProjectName(suggestion);
    }));
  });

  it("normalises domains and refuses paths and ports", () => {
    expect(normalizeDomain("https://API.example.com/")).toBe("api.example.com");
    for (const bad of ["example", "api.example.com/x", "api.example.com:8080", "http://", "-a.example.com"]) expect(() => normalizeDomain(bad), bad).toThrow();
  });
});

describe("flags", () => {
  it("parses the contract's flags", () => {
    const flags = parseArgs(["my-api", "--no-install", "--no-git", "--deploy", "-y", "--pm", "pnpm", "--price", "19.99", "-t", "gh:a/b"]);
    expect(flags).toMatchObject({ directory: "my-api", install: false, git: false, deploy: true, yes: true, pm: "pnpm", price: "19.99", template: "gh:a/b", stripe: true });
    expect(parseArgs([]).deploy).toBeUndefined();
    expect(parseArgs(["--no-deploy"]).deploy).toBe(false);
    expect(parseArgs(["--no-stripe"]).stripe).toBe(false);
    expect(() => parseArgs(["a", "b"])).toThrow(/one directory/);
    expect(() => parseArgs(["--price"])).toThrow(/needs a value/);
    expect(() => parseArgs(["--nope"])).toThrow(/unknown option --nope/);
  });

  it("detects the package manager that launched it, npm otherwise", () => {
    expect(detectPackageManager("pnpm/9.1.0 npm/? node/v22.12.0 linux x64")).toBe("pnpm");
    expect(detectPackageManager("bun/1.1.0")).toBe("bun");
    expect(detectPackageManager("yarn/4.0.0 npm/? node/v22")).toBe("yarn");
    expect(detectPackageManager(undefined)).toBe("npm");
  });
});

describe(".dev.vars", () => {
  it("keeps DB_SECRET and hand-added keys, and reads back what it wrote", () => {
    const first = mergeDevVars({}, { STRIPE_SECRET: "sk_test_x" });
    expect(first.DB_SECRET.length).toBeGreaterThanOrEqual(32);
    const second = mergeDevVars({ ...first, MY_KEY: "a b#c" }, { STRIPE_PAYMENT_LINK: "https://buy.stripe.com/test_1" });
    expect(second.DB_SECRET).toBe(first.DB_SECRET);
    expect(parseDotenv(formatDevVars(second))).toEqual(second);
    expect(mergeDevVars({ DB_SECRET: "short" }, {}).DB_SECRET).not.toBe("short");
    expect(new Set(Array.from({ length: 50 }, generateDbSecret)).size).toBe(50);
  });
});

describe("wrangler.jsonc", () => {
  const template = `// top comment\n{\n  "name": "old", // trailing\n  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["DORM"] }]\n  // closing comment\n}\n`;
  it("sets the name and adds one route per domain, keeping comments and layout", () => {
    const once = editWranglerConfig(template, "new-name", "api.example.com");
    expect(once).toContain("// top comment");
    expect(once).toContain("// trailing");
    expect(once).toContain("// closing comment");
    expect(once).toContain(`"migrations": [{ "tag": "v1", "new_sqlite_classes": ["DORM"] }]`);
    const config = parseJsonc<{ name: string; routes: unknown[] }>(once, "x");
    expect(config.name).toBe("new-name");
    expect(config.routes).toEqual([{ pattern: "api.example.com", custom_domain: true }]);
    expect(editWranglerConfig(once, "new-name", "api.example.com")).toBe(once);
    const twice = parseJsonc<{ routes: unknown[] }>(editWranglerConfig(once, "new-name", "b.example.com"), "x");
    expect(twice.routes).toHaveLength(2);
    expect(() => editWranglerConfig("{ nope", "n")).toThrow(/not valid JSONC/);
    // The page's currency, where the template declares one; a config without it gains none.
    const real = readFileSync(join(import.meta.dirname, "../templates/default/wrangler.jsonc"), "utf8");
    const eur = editWranglerConfig(real, "n", undefined, "eur");
    expect(parseJsonc<{ vars: Record<string, string> }>(eur, "x").vars).toEqual({ CURRENCY: "eur", TOP_UP_AMOUNT: "500", STRIPE_NETWORK_ID: "" });
    expect(eur.replace('"CURRENCY": "eur"', '"CURRENCY": "usd"').replace('"name": "n"', '"name": "stripeflare-app"')).toBe(real);
    expect(editWranglerConfig('{ "name": "a" }', "n", undefined, "eur")).not.toContain("CURRENCY");
    // Agent payments: the top-up where declared, the profile id always (added to a config without it).
    const agents = editWranglerConfig(real, "n", undefined, { CURRENCY: "jpy", TOP_UP_AMOUNT: "700", STRIPE_NETWORK_ID: "profile_x1" });
    expect(parseJsonc<{ vars: Record<string, string> }>(agents, "x").vars).toEqual({ CURRENCY: "jpy", TOP_UP_AMOUNT: "700", STRIPE_NETWORK_ID: "profile_x1" });
    expect(agents).toContain("// STRIPE_NETWORK_ID: set it"); // the template's comments stay
    const bare = editWranglerConfig('{ "name": "a" }', "n", undefined, { TOP_UP_AMOUNT: "700", STRIPE_NETWORK_ID: "profile_x1" });
    expect(parseJsonc<{ vars: Record<string, string> }>(bare, "x").vars).toEqual({ STRIPE_NETWORK_ID: "profile_x1" });
  });
});

describe("secrets on screen", () => {
  it("masks keys to prefix and last four", () => {
    expect(maskSecret("sk_test_51Habcdefghijklmnop1234")).toBe("sk_test_…1234");
    expect(maskSecret("whsec_abcdefghijklmnop")).toBe("whsec_…mnop");
    expect(maskSecret("short")).toBe("…");
    expect(secretKeyMode("rk_live_abcdefghij")).toBe("live");
    expect(() => secretKeyMode("pk_test_abcdefghij")).toThrow(/publishable/);
  });

  it("redacts every secret key and signing secret in a text, leaving publishable keys", () => {
    const text = "Invalid API Key provided: sk_live_51Habcdefgh9876; rk_test_abcdefghijkl4321, whsec_abcdefghijklmnop and pk_test_abcdefghij1111";
    expect(redactSecrets(text)).toBe("Invalid API Key provided: sk_live_…9876; rk_test_…4321, whsec_…mnop and pk_test_abcdefghij1111");
    expect(redactSecrets(redactSecrets(text))).toBe(redactSecrets(text));
  });

  it("rerun hint: keys the project holds are left out, others masked (both flag forms), odd words quoted", () => {
    const secret = "sk_test_51Habcdefghijklmnop1234";
    const publishable = "pk_test_abcdefghij5678";
    const argv = ["my api", "--yes", "--stripe-secret", secret, `--stripe-publishable-key=${publishable}`, "--title", "Bob's API"];
    const none = rerunHint(argv, () => false);
    expect(none.command).toBe(`npx create-stripeflare 'my api' --yes --stripe-secret sk_test_…1234 --stripe-publishable-key ${publishable} --title 'Bob'\\''s API'`);
    expect(none.maskedSecret).toBe("sk_test_…1234");
    const held = rerunHint(argv, (name, value) => (name === "STRIPE_SECRET" ? value === secret : value === publishable));
    expect(held).toEqual({ command: "npx create-stripeflare 'my api' --yes --title 'Bob'\\''s API'", maskedSecret: undefined });
    expect(rerunHint([`--stripe-secret=${secret}`], () => false).command).toBe("npx create-stripeflare --stripe-secret sk_test_…1234");
    // A key passed where it does not belong is masked all the same.
    expect(rerunHint(["--title", secret], () => true).command).toBe("npx create-stripeflare --title sk_test_…1234");
  });
});

describe("prompt messages", () => {
  it("name the answer, not the flag", async () => {
    const { promptMessage } = await import("../src/prompts.js");
    expect(promptMessage("--price must be a positive amount in major units such as 5 or 19.99 (got \"x\")")).toBe('The price must be a positive amount in major units such as 5 or 19.99 (got "x")');
    expect(promptMessage("--domain must be a hostname")).toBe("The domain must be a hostname");
    expect(promptMessage("a message without a flag")).toBe("a message without a flag");
  });
});

describe("webhook events", () => {
  it("the CLI subscribes the endpoint to exactly the events the bundled Worker handles", () => {
    const worker = workerWebhookEvents();
    expect(worker).toContain("checkout.session.completed"); // CONTRACT §1
    expect(new Set(worker).size).toBe(worker.length);
    expect([...WEBHOOK_EVENTS].sort()).toEqual([...worker].sort());
  });

  it("the Payment Link returns the paying browser to the route the bundled Worker serves for it", () => {
    const source = readFileSync(join(import.meta.dirname, "..", "templates", "default", "src", "stripeflare", "payment-return.ts"), "utf8");
    const route = /export const PAYMENT_RETURN_PATH = "([^"]+)"/.exec(source)?.[1];
    expect(route).toBe("/me/paid");
    expect(PAYMENT_RETURN_PATH).toBe(`${route}?session_id={CHECKOUT_SESSION_ID}`);
  });
});

describe("template copy", () => {
  it("skips local state and secrets, renames _gitignore, and completes .gitignore", () => {
    const dir = mkdtempSync(join(tmpdir(), "csf-copy-"));
    try {
      const from = join(dir, "from");
      for (const sub of ["node_modules/x", ".wrangler/state", "test-results", "src", ".git"]) mkdirSync(join(from, sub), { recursive: true });
      writeFileSync(join(from, "package.json"), "{}");
      writeFileSync(join(from, "src/index.ts"), "export {}");
      writeFileSync(join(from, ".dev.vars"), "DB_SECRET=someone-elses");
      writeFileSync(join(from, ".dev.vars.example"), "DB_SECRET=");
      writeFileSync(join(from, "node_modules/x/index.js"), "");
      writeFileSync(join(from, "_gitignore"), "dist\n");
      const copied = copyTemplateDir(from, join(dir, "to"));
      expect(copied.sort()).toEqual([".dev.vars.example", ".gitignore", "package.json", "src/index.ts"]);
      expect(readdirSync(join(dir, "to")).sort()).toEqual([".dev.vars.example", ".gitignore", "package.json", "src"]);
      ensureGitignore(join(dir, "to"));
      const lines = readFileSync(join(dir, "to/.gitignore"), "utf8").split("\n");
      for (const entry of ["dist", "node_modules", ".dev.vars", ".wrangler"]) expect(lines).toContain(entry);
      mkdirSync(join(dir, "only-git/.git"), { recursive: true });
      expect(isEmptyDir(join(dir, "only-git"))).toBe(true);
      expect(isEmptyDir(join(dir, "to"))).toBe(false);
      expect(isEmptyDir(join(dir, "missing"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("tells whether the target can be written, from its nearest existing folder (read-only mounts: reliability-cli)", () => {
    const dir = mkdtempSync(join(tmpdir(), "csf-writable-"));
    try {
      expect(writableProblem(join(dir, "new/deeper"), dir)).toBeUndefined();
      writeFileSync(join(dir, "file"), "");
      expect(writableProblem(join(dir, "file/project"), dir)).toBe("cannot create file/project: file is a file, not a folder");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
