// templates/mcp as the Deploy to Cloudflare button sees it: the folder as committed, on its own.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseJsonc, type ParseError } from "jsonc-parser";
import { describe, expect, it } from "vitest";

const template = join(import.meta.dirname, "..", "templates/mcp");
const read = (path: string) => readFileSync(join(template, path), "utf8");
const PRODUCTION_SECRETS = ["STRIPE_SECRET", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SIGNING_SECRET", "STRIPE_PAYMENT_LINK", "DB_SECRET"];

function jsonc(path: string) {
  const errors: ParseError[] = [];
  const value = parseJsonc(read(path), errors, { allowTrailingComma: true });
  expect(errors).toEqual([]);
  return value;
}

describe("templates/mcp is deployable by the Deploy to Cloudflare button", () => {
  it("declares what it binds: the DORM Durable Object with its SQLite migration, the OAuth KV namespace, the compatibility flags", () => {
    const config = jsonc("wrangler.jsonc");
    expect(existsSync(join(template, config.main))).toBe(true);
    expect(config.compatibility_date <= "2026-11-01").toBe(true);
    expect(config.compatibility_flags).toEqual(expect.arrayContaining(["nodejs_compat", "global_fetch_strictly_public"]));
    expect(config.durable_objects.bindings).toContainEqual({ name: "DORM_NAMESPACE", class_name: "DORM" });
    expect(config.migrations).toContainEqual({ tag: "v1", new_sqlite_classes: ["DORM"] });
    // No namespace id of ours: wrangler provisions one in the deployer's account.
    expect(config.kv_namespaces).toEqual([{ binding: "OAUTH_KV" }]);
    expect(config.account_id).toBeUndefined();
    expect(config.secrets.required.sort()).toEqual([...PRODUCTION_SECRETS].sort());
  });

  it("describes each secret for the button, and carries the button for its own folder", () => {
    const bindings = JSON.parse(read("package.json")).cloudflare.bindings;
    for (const name of PRODUCTION_SECRETS) expect(bindings[name]?.description?.length, name).toBeGreaterThan(30);
    expect(read("README.md")).toContain("https://deploy.workers.cloudflare.com/?url=https://github.com/create-stripeflare/create-stripeflare/tree/main/templates/mcp");
  });

  it("has no unfilled placeholder and no file outside itself (no symlink)", () => {
    const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "."], { cwd: template, encoding: "utf8" }).split("\0").filter(Boolean);
    expect(files).toContain("src/stripeflare/index.ts");
    const hits: string[] = [];
    for (const file of files) {
      if (!existsSync(join(template, file)) || /package-lock\.json$/.test(file)) continue;
      const text = read(file);
      if (/\{\{\s*[\w.-]+\s*\}\}|<%[=-]?[^%]*%>|\b(?:REPLACE_?ME|CHANGE_?ME|TODO|FIXME)\b/.test(text)) hits.push(file);
    }
    expect(hits).toEqual([]);
    const links = execFileSync("find", [".", "-path", "./node_modules", "-prune", "-o", "-type", "l", "-print"], { cwd: template, encoding: "utf8" }).trim();
    expect(links).toBe("");
  });
});
