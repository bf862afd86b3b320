// Bad input loses nothing: the built CLI refuses a bad key, name, price, folder or flag with one
// line on stderr (no stack trace, no secret), before anything is created in Stripe or on disk.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { creates, readJson, ROOT, runCli, tempDir, useStripeStandIn } from "./helpers/index.js";

const stripe = useStripeStandIn();
const run = (args: string[], cwd: string) => runCli(args, { cwd, env: { STRIPE_API_BASE: stripe().url } });

describe("input checks lose nothing", () => {
  it("rejects a bad key before creating anything, without printing it", async () => {
    const cwd = tempDir();
    const badKey = "sk_test_thisKeyDoesNotExist1234";
    const mark = stripe().requests.length;
    const result = await run(["shop", "--yes", "--no-install", "--stripe-secret", badKey, "--stripe-publishable-key", stripe().keys.publishable], cwd);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/rejected the secret key sk_test_…1234/);
    expect(result.all).not.toContain(badKey);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(cwd, "shop"))).toBe(false);
    expect(creates(stripe(), mark)).toEqual([]);
  });

  it("refuses a malformed key and a mode mismatch", async () => {
    const cwd = tempDir();
    const malformed = await run(["shop", "--yes", "--no-install", "--stripe-secret", stripe().keys.publishable], cwd);
    expect(malformed.exitCode).not.toBe(0);
    expect(malformed.stderr).toMatch(/is not one: it should start with sk_test_.*\(that is the publishable key\)/);
    const mismatch = await run(["shop", "--yes", "--no-install", "--stripe-secret", stripe().keys.secret, "--stripe-publishable-key", stripe().keys.livePublishable], cwd);
    expect(mismatch.exitCode).not.toBe(0);
    expect(mismatch.stderr).toMatch(/test mode but the publishable key pk_live_…\w{4} is live mode/);
    expect(existsSync(join(cwd, "shop"))).toBe(false);
  });

  it("refuses a non-empty folder unless --force, keeping its files", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "busy"));
    writeFileSync(join(cwd, "busy", "notes.txt"), "mine");
    const refused = await run(["busy", "--yes", "--no-install", "--no-stripe"], cwd);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/busy is not empty.*--force/);
    expect(existsSync(join(cwd, "busy", "package.json"))).toBe(false);
    const forced = await run(["busy", "--yes", "--no-install", "--no-stripe", "--force"], cwd);
    expect(forced.exitCode, forced.all).toBe(0);
    expect(readFileSync(join(cwd, "busy", "notes.txt"), "utf8")).toBe("mine");
    expect(readJson(join(cwd, "busy", "package.json")).name).toBe("busy");
  });

  it("treats a folder holding only .git as empty and then skips git init", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "repo"));
    execFileSync("git", ["init", "-q"], { cwd: join(cwd, "repo") });
    const result = await run(["repo", "--yes", "--no-install", "--no-stripe"], cwd);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toMatch(/Skipped git: the folder is already inside a git repository/);
  });

  it("refuses an invalid name with a suggestion", async () => {
    const cwd = tempDir();
    const result = await run(["My Shop!", "--yes", "--no-install", "--no-stripe"], cwd);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/invalid project name "My Shop!".*try "my-shop"/);
    expect(existsSync(join(cwd, "My Shop!"))).toBe(false);
  });

  it("refuses a bad price, currency and domain with the flag named", async () => {
    const cwd = tempDir();
    for (const [args, message] of [
      [["--price", "abc"], /--price must be a positive amount/],
      [["--price", "5.5", "--currency", "jpy"], /jpy has no minor unit/],
      [["--currency", "dollars"], /--currency must be a three-letter/],
      // Issue 10, input checks: only currencies Stripe charges in, with a near miss suggested;
      // amounts within Stripe's minimum and maximum charge, both named; a negative price said so.
      [["--currency", "xyz"], /^✖ --currency xyz is not a currency Stripe charges in; see https:\/\/docs\.stripe\.com\/currencies$/],
      [["--currency", "eru"], /--currency eru is not a currency Stripe charges in \(did you mean eur\?\)/],
      [["--price", "1000000"], /^✖ --price 1000000: Stripe charges from 0\.50 USD \(its minimum\) to 999999\.99 USD \(its maximum\) in USD$/],
      [["--price", "0.10"], /--price 0\.10: Stripe charges from 0\.50 USD \(its minimum\)/],
      [["--price", "10", "--currency", "jpy"], /--price 10: Stripe charges from 50 JPY/],
      [["--price", "-5"], /^✖ --price must be a positive amount such as 5 or 19\.99 \(got "-5"\)$/],
      [["--price=-5"], /--price must be a positive amount/],
      [["--domain", "https://example.com/path"], /--domain must be a hostname/],
      [["--pm", "pip"], /--pm must be one of/],
      // Issue 12: the profile id lands in wrangler.jsonc and in every challenge: plain ids only.
      [["--agent-payments", 'x", "evil": "1'], /^✖ --agent-payments needs the Stripe profile id agents' tokens are granted to, such as profile_…/],
      [["--agent-payments"], /--agent-payments needs a value/],
    ] as const) {
      const result = await run(["shop", "--yes", "--no-install", "--no-stripe", ...args], cwd);
      expect(result.exitCode, args.join(" ")).not.toBe(0);
      expect(result.stderr.trim(), args.join(" ")).toMatch(message);
    }
    expect(existsSync(join(cwd, "shop"))).toBe(false);
  });

  it("without a TTY, exits non-zero naming the flag for missing input", async () => {
    const cwd = tempDir();
    const noDir = await run(["--no-install"], cwd);
    expect(noDir.exitCode).not.toBe(0);
    expect(noDir.stderr).toMatch(/missing project directory: pass it as the first argument/);
    const noKey = await run(["shop", "--no-install"], cwd);
    expect(noKey.exitCode).not.toBe(0);
    expect(noKey.stderr).toMatch(/--stripe-secret.*--no-stripe/);
    const noPk = await run(["shop", "--no-install", "--stripe-secret", stripe().keys.secret], cwd);
    expect(noPk.exitCode).not.toBe(0);
    expect(noPk.stderr).toMatch(/--stripe-publishable-key/);
    expect(existsSync(join(cwd, "shop"))).toBe(false);
  });

  it("prints help, version, and refuses unknown options", async () => {
    const cwd = tempDir();
    const help = await run(["--help"], cwd);
    expect(help.exitCode).toBe(0);
    for (const flag of ["--template", "--title", "--domain", "--price", "--currency", "--stripe-secret", "--stripe-publishable-key", "--no-stripe", "--no-install", "--no-git", "--no-deploy", "--pm", "--yes", "--force", "--version"]) {
      expect(help.stdout).toContain(flag);
    }
    const version = await run(["-v"], cwd);
    expect(version.stdout.trim()).toBe(readJson(join(ROOT, "package.json")).version);
    const unknown = await run(["shop", "--colour"], cwd);
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown option --colour/);
  });

  // Issue 10, first run: `npm create stripeflare@latest my-app --no-stripe --price 5` without
  // `--` gives the options to npm (npm_config_*) and their values to us as folder names.
  it("notices options npm kept for itself and says to put -- before them", async () => {
    const cwd = tempDir();
    const swallowed = await runCli(["my-app", "5", "--yes"], {
      cwd,
      env: { npm_command: "exec", npm_config_stripe: "", npm_config_price: "true", npm_config_yes: "true" },
    });
    expect(swallowed.exitCode).toBe(2);
    expect(swallowed.stderr.trim()).toBe("✖ npm kept --price, --stripe for itself: put `--` before the options, e.g. npm create stripeflare@latest my-app -- --no-stripe --yes");
    expect(existsSync(join(cwd, "my-app"))).toBe(false);
    // npx (and npm create with `--`) passes them on: no false alarm from npm's own --yes.
    const fine = await runCli(["my-app", "--no-stripe", "--yes", "--no-install", "--no-git"], { cwd, env: { npm_command: "exec", npm_config_yes: "true" } });
    expect(fine.exitCode, fine.all).toBe(0);
  });

  it("run from a clone before `npm install`: one line, no stack trace", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin", "create-stripeflare.js"), readFileSync(join(ROOT, "bin", "create-stripeflare.js")));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    let stderr = "";
    try {
      execFileSync(process.execPath, [join(dir, "bin", "create-stripeflare.js"), "x"], { encoding: "utf8", stdio: "pipe" });
    } catch (error) {
      stderr = (error as { stderr: string }).stderr;
    }
    expect(stderr.trim()).toBe("create-stripeflare is not built yet: run `npm install` in this folder first (it builds dist/), then run this again.");
  });
});
