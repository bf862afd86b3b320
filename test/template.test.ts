// The bundled template as the Deploy to Cloudflare button sees it: the folder
// templates/default exactly as committed, deployed with no step of ours in between.
// Each requirement from Cloudflare's Deploy button documentation and CONTRACT.md §2 is
// checked on the real files.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parse as parseJsonc, type ParseError } from "jsonc-parser";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const template = join(root, "templates/default");
const REPOSITORY = "https://github.com/create-stripeflare/create-stripeflare";
const DEPLOY_URL = `https://deploy.workers.cloudflare.com/?url=${REPOSITORY}/tree/main/templates/default`;

/** What production needs (CONTRACT.md §2): exactly these secrets. */
const PRODUCTION_SECRETS = [
  "STRIPE_SECRET",
  "STRIPE_PUBLISHABLE_KEY",
  "STRIPE_WEBHOOK_SIGNING_SECRET",
  "STRIPE_PAYMENT_LINK",
  "DB_SECRET",
];
/** Read by the Worker in local development only; must never be a production secret. */
const DEV_ONLY_VARS = ["STRIPE_API_BASE"];

const read = (path: string) => readFileSync(join(template, path), "utf8");
const packageJson = () => JSON.parse(read("package.json"));

function readJsonc(path: string) {
  const errors: ParseError[] = [];
  const value = parseJsonc(read(path), errors, { allowTrailingComma: true });
  expect(errors, `${path} parses as JSONC`).toEqual([]);
  return value;
}

/** The files the button would deploy: what git tracks or would track under templates/default. */
function templateFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "."], {
    cwd: template,
    encoding: "utf8",
  });
  return [...new Set(out.split("\0").filter(Boolean))].filter((file) => existsSync(join(template, file)));
}

/** Keys of a dotenv file, each with the comment lines directly above it. */
function parseDotenvWithComments(text: string) {
  const entries: { key: string; value: string; comment: string[] }[] = [];
  let comment: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") comment = [];
    else if (line.startsWith("#")) comment.push(line.replace(/^#\s*/, ""));
    else {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
      expect(match, `.dev.vars.example line is KEY=value: ${line}`).not.toBeNull();
      entries.push({ key: match![1], value: match![2], comment });
      comment = [];
    }
  }
  return entries;
}

describe("templates/default is deployable by the Deploy to Cloudflare button", () => {
  it("is self-contained: its own package.json and a committed npm lockfile in sync with it", () => {
    const pkg = packageJson();
    const lock = JSON.parse(read("package-lock.json"));
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(3);
    const locked = lock.packages[""];
    expect(locked.dependencies ?? {}).toEqual(pkg.dependencies ?? {});
    expect(locked.devDependencies ?? {}).toEqual(pkg.devDependencies ?? {});
    // Every declared dependency is resolved in the lockfile, so `npm ci` installs offline-free.
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
      expect(lock.packages[`node_modules/${name}`]?.version, `${name} is locked`).toMatch(/^\d+\.\d+\.\d+/);
    }
    // Committed, not merely present in this working tree.
    const tracked = execFileSync("git", ["ls-files", "--", "package.json", "package-lock.json"], {
      cwd: template,
      encoding: "utf8",
    });
    expect(tracked.split("\n").filter(Boolean).sort()).toEqual(["package-lock.json", "package.json"]);
    // No workspace or parent-folder references: the folder is cloned on its own.
    expect(pkg.workspaces).toBeUndefined();
    const specs = Object.values({ ...pkg.dependencies, ...pkg.devDependencies }) as string[];
    for (const spec of specs) expect(spec).not.toMatch(/^(file:|link:|workspace:|\.\.?\/)/);
  });

  it("declares every package its code imports", () => {
    const pkg = packageJson();
    const declared = new Set(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }));
    const missing = new Set<string>();
    // Declaration files (worker-configuration.d.ts from `wrangler types`) declare modules, not imports.
    for (const file of templateFiles().filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !f.endsWith(".d.ts"))) {
      const source = readFileSync(join(template, file), "utf8");
      for (const [, spec] of source.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"'./][^"']*)["']/g)) {
        if (spec.startsWith("node:") || spec.startsWith("cloudflare:")) continue;
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
        if (!declared.has(name)) missing.add(`${name} (in ${file})`);
      }
    }
    expect([...missing]).toEqual([]);
  });

  it("has wrangler.jsonc at its root with the DORM Durable Object binding and a new_sqlite_classes migration", () => {
    const config = readJsonc("wrangler.jsonc");
    expect(config.name).toMatch(/^[a-z0-9][a-z0-9-]{0,62}$/);
    expect(existsSync(join(template, config.main)), `main ${config.main} exists`).toBe(true);
    expect(config.compatibility_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // The pinned workerd supports dates up to 2026-11-01.
    expect(config.compatibility_date <= "2026-11-01").toBe(true);
    expect(config.durable_objects?.bindings).toContainEqual(
      expect.objectContaining({ name: "DORM_NAMESPACE", class_name: "DORM" }),
    );
    expect(config.migrations).toContainEqual(expect.objectContaining({ tag: "v1", new_sqlite_classes: ["DORM"] }));
    // The button deploys into the deployer's account: nothing here may pin ours.
    expect(config.account_id).toBeUndefined();
    // Dev-only settings and secrets never live in the deployed configuration.
    for (const name of [...DEV_ONLY_VARS, ...PRODUCTION_SECRETS]) expect(config.vars?.[name]).toBeUndefined();
  });

  it("has no unfilled placeholder in any file", () => {
    const placeholders = [
      /\{\{\s*[\w.-]+\s*\}\}/, // {{name}}
      /<%[=-]?[^%]*%>/, // <%= name %>
      /<(?:PACKAGE|PROJECT|WORKER|APP|YOUR|ACCOUNT|DOMAIN)[A-Z_]*>/, // <PACKAGE_NAME>
      /<your[\w -]*>/i, // <your-domain>
      /\b__[A-Z][A-Z0-9_]*__\b/, // __NAME__
      /\b(?:REPLACE_?ME|CHANGE_?ME|TODO|FIXME)\b/,
    ];
    // In configuration and docs, YOUR_… is a value left to fill in; in code it can be quoted
    // text (the Stripe stand-in repeats Stripe's own error message, "Bearer YOUR_SECRET_KEY").
    const configPlaceholders = [...placeholders, /\bYOUR_[A-Z_]+\b/];
    const hits: string[] = [];
    const files = templateFiles();
    expect(files).toContain("wrangler.jsonc");
    for (const file of files) {
      const text = readFileSync(join(template, file), "utf8");
      const patterns = /\.(ts|js|mjs)$/.test(file) ? placeholders : configPlaceholders;
      text.split("\n").forEach((line, index) => {
        for (const pattern of patterns) {
          if (pattern.test(line)) hits.push(`${file}:${index + 1}: ${line.trim().slice(0, 120)}`);
        }
      });
    }
    expect(hits).toEqual([]);
  });

  it("lists exactly the production secrets in .dev.vars.example, empty and each commented", () => {
    const entries = parseDotenvWithComments(read(".dev.vars.example"));
    expect(entries.map((e) => e.key).sort()).toEqual([...PRODUCTION_SECRETS].sort());
    for (const entry of entries) {
      // The button pre-fills each prompt with the example value: it must be empty.
      expect(entry.value, `${entry.key} has no example value`).toBe("");
      expect(entry.comment.join(" ").length, `${entry.key} has a comment`).toBeGreaterThan(20);
    }
  });

  it("reads no secret from env that .dev.vars.example does not list", () => {
    const config = readJsonc("wrangler.jsonc");
    const bindings = new Set<string>([
      ...(config.durable_objects?.bindings ?? []).map((b: { name: string }) => b.name),
      ...Object.keys(config.vars ?? {}),
    ]);
    const allowed = new Set([...PRODUCTION_SECRETS, ...DEV_ONLY_VARS, ...bindings]);
    const used = new Set<string>();
    for (const file of templateFiles().filter((f) => f.startsWith("src/") && f.endsWith(".ts") && !f.includes(".test."))) {
      const source = readFileSync(join(template, file), "utf8");
      for (const [, name] of source.matchAll(/\benv\??\.([A-Z][A-Z0-9_]+)\b/g)) used.add(name);
    }
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((name) => !allowed.has(name))).toEqual([]);
    // Each listed secret is really needed, except the publishable key: the contract keeps it
    // beside the others for client-side Stripe.js, and the Worker itself need not read it.
    for (const secret of PRODUCTION_SECRETS.filter((s) => s !== "STRIPE_PUBLISHABLE_KEY")) {
      expect(used, `the Worker reads ${secret}`).toContain(secret);
    }
  });

  it("describes each secret in package.json cloudflare.bindings (and the vars a deployer sets)", () => {
    const bindings = packageJson().cloudflare?.bindings ?? {};
    // Every production secret, plus the wrangler.jsonc vars a deployer may want to set (the
    // top-up amount, agent payments' profile id); nothing that is neither.
    const vars = Object.keys(readJsonc("wrangler.jsonc").vars ?? {});
    expect(Object.keys(bindings).filter((name) => !vars.includes(name)).sort()).toEqual([...PRODUCTION_SECRETS].sort());
    expect(Object.keys(bindings).filter((name) => vars.includes(name)).sort()).toEqual(["STRIPE_NETWORK_ID", "TOP_UP_AMOUNT"]);
    for (const [name, binding] of Object.entries<{ description?: unknown }>(bindings)) {
      expect(typeof binding.description, `${name} description`).toBe("string");
      expect((binding.description as string).length, `${name} description`).toBeGreaterThan(30);
    }
  });

  it("has dev, deploy, test, types and pay scripts, engines and packageManager", () => {
    const pkg = packageJson();
    // Each script first refuses a Node its tools cannot run on, in one line (scripts/node-check.mjs).
    for (const script of ["dev", "deploy", "test", "types", "pay", "stripe-local"]) {
      expect(pkg.scripts[script], script).toMatch(/^node scripts\/node-check\.mjs && /);
    }
    expect(pkg.scripts.deploy).toBe("node scripts/node-check.mjs && wrangler deploy");
    // wrangler dev, plus the local-only STRIPE_API_BASE (wrangler.jsonc's secrets.required keeps it out).
    expect(pkg.scripts.dev).toBe("node scripts/node-check.mjs && node scripts/dev.mjs");
    expect(readFileSync(join(template, "scripts/dev.mjs"), "utf8")).toMatch(/\["dev", \.\.\.passed/);
    // vitest, through the runner that leaves out the fault tests' expected noise.
    expect(pkg.scripts.test).toBe("node scripts/node-check.mjs && node scripts/test.mjs");
    expect(readFileSync(join(template, "scripts/test.mjs"), "utf8")).toMatch(/node_modules\/vitest\/vitest\.mjs", "run"/);
    expect(pkg.scripts.types).toMatch(/\bwrangler types\b/);
    expect(pkg.scripts.pay).toMatch(/scripts\/pay\.ts/);
    expect(existsSync(join(template, "scripts/pay.ts"))).toBe(true);
    // wrangler 4 needs Node 22.12 or newer.
    expect(pkg.engines?.node).toMatch(/^>=\s*22\.12(\.0)?$/);
    // The lockfile is npm's, so the package manager is npm, pinned to a version.
    expect(pkg.packageManager).toMatch(/^npm@\d+\.\d+\.\d+$/);
    expect(existsSync(join(template, "pnpm-lock.yaml")) || existsSync(join(template, "yarn.lock"))).toBe(false);
    // wrangler pinned exactly, so there is one workerd install (see the brief).
    expect(pkg.devDependencies.wrangler).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("ignores secrets and local state in git, both as .gitignore and as npm-safe _gitignore", () => {
    const gitignore = read(".gitignore");
    // npm never publishes files named .gitignore; the CLI renames _gitignore back.
    expect(read("_gitignore")).toBe(gitignore);
    const lines = gitignore.split(/\r?\n/).map((l) => l.trim());
    for (const entry of ["node_modules", ".dev.vars", ".wrangler"]) expect(lines).toContain(entry);
    const isIgnored = (path: string) => {
      try {
        execFileSync("git", ["check-ignore", "-q", "--no-index", path], { cwd: template });
        return true;
      } catch {
        return false;
      }
    };
    for (const path of [".dev.vars", "node_modules/x", ".wrangler/state"]) expect(isIgnored(path), path).toBe(true);
    for (const path of [".dev.vars.example", "package-lock.json", "wrangler.jsonc", "src/index.ts"]) {
      expect(isIgnored(path), path).toBe(false);
    }
  });

  it("carries the Deploy to Cloudflare button in the template README and the root README", () => {
    const button = `[![Deploy to Cloudflare](https://deploy.workers.cloudflare.com/button)](${DEPLOY_URL})`;
    expect(read("README.md")).toContain(button);
    expect(readFileSync(join(root, "README.md"), "utf8")).toContain(DEPLOY_URL);
    // The button's URL names this very folder of this repository.
    expect(relative(root, template)).toBe("templates/default");
  });

  it("has a README that walks through dev, test, Stripe setup, a local payment and deploy", () => {
    const readme = read("README.md");
    for (const command of ["npm run dev", "npm test", "npm run pay", "npm run deploy", "wrangler secret"]) {
      expect(readme).toContain(command);
    }
    expect(readme).toMatch(/stripe-webhook/);
    expect(readme).toContain("src/stripeflare/README.md");
    expect(existsSync(join(template, "src/stripeflare/README.md"))).toBe(true);
  });
});
