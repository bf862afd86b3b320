// `create-stripeflare add` on real projects made by create-cloudflare (test/fixtures/existing,
// see its README for where each came from): the built CLI against the Stripe stand-in, every file
// it touches checked, a rerun that changes nothing, then the project's own `npm install` and
// `wrangler deploy --dry-run` before (refused: DORM not exported) and after the three-line
// change the CLI printed.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { execa } from "execa";
import { parse as parseJsonc, type ParseError } from "jsonc-parser";
import { parse as parseToml } from "smol-toml";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { applyPrintedChange, fileMode, keyFlags, ours, readDevVarsFile, readJson, readState, ROOT, runCli, tempDir, useStripeStandIn } from "./helpers/index.js";

const FIXTURES = join(ROOT, "test", "fixtures", "existing");
const TEMPLATE = join(ROOT, "templates", "default");
const NODE_22_BIN = join(ROOT, "node_modules", ".bin");

const stripe = useStripeStandIn();

const stripeObjects = (project: string) =>
  Object.fromEntries((["product", "price", "payment_link", "webhook_endpoint"] as const).map((kind) => [kind, stripe().list(kind).filter(ours(project) as never).length]));

export function copyFixture(name: string): string {
  const dir = join(tempDir("csf-add-"), name);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

function readConfig(dir: string): { file: string; text: string; config: Record<string, any> } {
  for (const file of ["wrangler.jsonc", "wrangler.toml"]) {
    if (!existsSync(join(dir, file))) continue;
    const text = readFileSync(join(dir, file), "utf8");
    if (file.endsWith(".toml")) return { file, text, config: parseToml(text) as Record<string, any> };
    const errors: ParseError[] = [];
    const config = parseJsonc(text, errors, { allowTrailingComma: true });
    expect(errors).toEqual([]);
    return { file, text, config };
  }
  throw new Error(`no wrangler config in ${dir}`);
}

const commentLines = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("#") || l.startsWith("//") || l.startsWith("*") || l.startsWith("/*"));
const gitIgnores = (dir: string, path: string) => {
  if (!existsSync(join(dir, ".git"))) execFileSync("git", ["init", "-q"], { cwd: dir });
  try {
    execFileSync("git", ["check-ignore", "-q", path], { cwd: dir });
    return true;
  } catch {
    return false;
  }
};

async function installAndDryRun(dir: string) {
  const env = { ...process.env, PATH: `${NODE_22_BIN}${delimiter}${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", CI: "1" };
  const install = await execa("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: dir, env, reject: false, all: true, timeout: 240_000 });
  expect(install.exitCode, install.all).toBe(0);
  const dryRun = () => execa("npx", ["wrangler", "deploy", "--dry-run", "--outdir", "dist-dry-run"], { cwd: dir, env, reject: false, all: true, timeout: 120_000 });
  return { dryRun };
}

interface Case {
  fixture: string;
  /** The Worker name in the fixture's config (the Stripe metadata tag). */
  name: string;
  stripe: boolean;
  domain?: string;
  /** Bindings and migrations the fixture already has, which must survive. */
  existingBinding?: string;
  expectedTag: string;
}

const CASES: Case[] = [
  { fixture: "hello-world-jsonc", name: "hello-jsonc", stripe: true, domain: "pay.example.com", expectedTag: "v1" },
  { fixture: "durable-object-jsonc", name: "hello-do", stripe: true, existingBinding: "MY_DURABLE_OBJECT", expectedTag: "v2" },
  { fixture: "scheduled-toml", name: "hello-toml", stripe: false, expectedTag: "v1" },
  { fixture: "durable-object-toml", name: "hello-do-toml", stripe: true, domain: "do.example.com", existingBinding: "MY_DURABLE_OBJECT", expectedTag: "v2" },
];

describe.each(CASES)("add into $fixture", (c) => {
  let dir: string;
  let before: ReturnType<typeof readConfig>;
  let first: Awaited<ReturnType<typeof runCli>>;
  const args = () => ["add", "--yes", "--no-install", ...(c.stripe ? keyFlags(stripe()) : ["--no-stripe"]), ...(c.domain ? ["--domain", c.domain] : [])];

  beforeAll(async () => {
    dir = copyFixture(c.fixture);
    before = readConfig(dir);
    // A .dev.vars of the user's own, readable by others: its line and comment must survive.
    writeFileSync(join(dir, ".dev.vars"), "# my own\nMY_API_KEY=keep-me\n", { mode: 0o644 });
    chmodSync(join(dir, ".dev.vars"), 0o644);
    first = await runCli(args(), { cwd: dir, env: { STRIPE_API_BASE: stripe().url } });
  });

  it("succeeds and prints the three-line change", () => {
    expect(first.exitCode, first.all).toBe(0);
    expect(first.stderr).toBe("");
    expect(first.stdout).toContain('import { withStripeflare, DORM } from "./stripeflare";');
    expect(first.stdout).toContain("export { DORM };");
    expect(first.all).not.toContain(stripe().keys.secret);
  });

  it("copies the wallet module next to the Worker's main module", () => {
    const source = readdirSync(join(TEMPLATE, "src", "stripeflare")).sort();
    expect(readdirSync(join(dir, "src", "stripeflare")).sort()).toEqual(source);
    expect(readFileSync(join(dir, "src", "stripeflare", "index.ts"), "utf8")).toContain("withStripeflare");
  });

  it("adds the binding and a migration with a fresh tag, keeping comments, bindings and migrations", () => {
    const after = readConfig(dir);
    const bindings = after.config.durable_objects.bindings as { name: string; class_name: string }[];
    expect(bindings.filter((b) => b.name === "DORM_NAMESPACE")).toEqual([{ name: "DORM_NAMESPACE", class_name: "DORM" }]);
    expect(bindings.slice(0, -1)).toEqual(before.config.durable_objects?.bindings ?? []);
    const migrations = after.config.migrations as { tag: string; new_sqlite_classes?: string[] }[];
    expect(migrations.slice(0, -1)).toEqual(before.config.migrations ?? []);
    expect(migrations.at(-1)).toEqual({ tag: c.expectedTag, new_sqlite_classes: ["DORM"] });
    expect(new Set(migrations.map((m) => m.tag)).size).toBe(migrations.length);
    for (const line of commentLines(before.text)) expect(after.text).toContain(line);
    if (c.existingBinding) expect(bindings.map((b) => b.name)).toContain(c.existingBinding);
    // Everything else is as it was.
    const { durable_objects: _a, migrations: _b, routes, ...rest } = after.config;
    const { durable_objects: _c, migrations: _d, ...restBefore } = before.config;
    expect(rest).toEqual(restBefore);
    if (c.domain) expect(routes).toEqual([{ pattern: c.domain, custom_domain: true }]);
    else expect(routes).toBeUndefined();
    if (after.file.endsWith(".toml")) expect(after.text.startsWith(before.text.trimEnd())).toBe(true);
  });

  it("adds the wallet's dependencies at the template's versions", () => {
    const template = readJson(join(TEMPLATE, "package.json"));
    const pkg = readJson(join(dir, "package.json"));
    const original = readJson(join(FIXTURES, c.fixture, "package.json"));
    expect(pkg.dependencies.dormroom).toBe(template.dependencies.dormroom);
    expect(pkg.devDependencies).toMatchObject(original.devDependencies);
    expect(pkg.scripts).toEqual(original.scripts);
  });

  it("adds the five keys to .dev.vars (0600) and .dev.vars.example, keeping the user's lines; git ignores .dev.vars and .wrangler", () => {
    const text = readFileSync(join(dir, ".dev.vars"), "utf8");
    expect(text.startsWith("# my own\nMY_API_KEY=keep-me\n")).toBe(true);
    expect(fileMode(join(dir, ".dev.vars"))).toBe(0o600);
    const vars = readDevVarsFile(dir);
    for (const key of ["STRIPE_SECRET", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SIGNING_SECRET", "STRIPE_PAYMENT_LINK", "DB_SECRET"]) expect(vars).toHaveProperty(key);
    expect(vars.MY_API_KEY).toBe("keep-me");
    expect(vars.DB_SECRET.length).toBeGreaterThanOrEqual(32);
    const example = parseDotenv(readFileSync(join(dir, ".dev.vars.example"), "utf8"));
    expect(Object.values(example).every((v) => v === "")).toBe(true);
    expect(Object.keys(example)).toEqual(expect.arrayContaining(["STRIPE_SECRET", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SIGNING_SECRET", "STRIPE_PAYMENT_LINK", "DB_SECRET"]));
    expect(gitIgnores(dir, ".dev.vars")).toBe(true);
    expect(gitIgnores(dir, ".wrangler/state/v3/do")).toBe(true);
    expect(gitIgnores(dir, ".dev.vars.example")).toBe(false);
  });

  it(c.stripe ? "creates the Stripe objects, tagged with the Worker's name, and fills .dev.vars" : "--no-stripe: no Stripe calls, Stripe values empty", () => {
    const vars = readDevVarsFile(dir);
    if (!c.stripe) {
      expect(stripeObjects(c.name)).toEqual({ product: 0, price: 0, payment_link: 0, webhook_endpoint: 0 });
      expect([vars.STRIPE_SECRET, vars.STRIPE_PAYMENT_LINK, vars.STRIPE_WEBHOOK_SIGNING_SECRET]).toEqual(["", "", ""]);
      return;
    }
    expect(stripeObjects(c.name)).toEqual({ product: 1, price: 1, payment_link: 1, webhook_endpoint: c.domain ? 1 : 0 });
    const link = stripe().list<Stripe.PaymentLink>("payment_link").find(ours(c.name))!;
    expect(vars.STRIPE_PAYMENT_LINK).toBe(link.url);
    expect(vars.STRIPE_SECRET).toBe(stripe().keys.secret);
    expect(vars.STRIPE_PUBLISHABLE_KEY).toBe(stripe().keys.publishable);
    if (c.domain) {
      const endpoint = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").find(ours(c.name))!;
      expect(endpoint.url).toBe(`https://${c.domain}/stripe-webhook`);
      expect(vars.STRIPE_WEBHOOK_SIGNING_SECRET).toBe(stripe().webhookSecret(endpoint.id));
    } else expect(first.stdout).toMatch(/skipped the webhook endpoint/);
    expect(readState(dir)).toMatchObject({ project: c.name, scaffolded: false });
  });

  it("a rerun changes nothing and creates nothing", async () => {
    const files = ["package.json", before.file, ".dev.vars", ".dev.vars.example", ".gitignore", "tsconfig.json"];
    const snapshot = files.map((f) => readFileSync(join(dir, f), "utf8"));
    const objects = stripeObjects(c.name);
    const again = await runCli(args(), { cwd: dir, env: { STRIPE_API_BASE: stripe().url } });
    expect(again.exitCode, again.all).toBe(0);
    expect(files.map((f) => readFileSync(join(dir, f), "utf8"))).toEqual(snapshot);
    expect(stripeObjects(c.name)).toEqual(objects);
    expect(again.stdout).toMatch(/already has the DORM binding and migration/);
  });

  it("installs, and wrangler deploy --dry-run refuses until the printed change is made, then passes", { timeout: 420_000 }, async () => {
    const { dryRun } = await installAndDryRun(dir);
    const refused = await dryRun();
    expect(refused.exitCode).not.toBe(0);
    expect(refused.all).toMatch(/not exported in your entrypoint file: DORM/);
    applyPrintedChange(dir, first.stdout);
    const passed = await dryRun();
    expect(passed.exitCode, passed.all).toBe(0);
    expect(passed.all).toMatch(/env\.DORM_NAMESPACE \(DORM\)\s+Durable Object/);
    if (c.existingBinding) expect(passed.all).toContain(`env.${c.existingBinding}`);
  });
});
