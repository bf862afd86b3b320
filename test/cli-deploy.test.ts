// --deploy: the order of wrangler calls and what they receive. Cloudflare is out of reach, so a
// recording stand-in plays wrangler (test/fixtures/fake-wrangler.mjs, found on PATH); what is
// under test is our orchestration: login check first, secrets from .dev.vars over stdin, deploy,
// and the webhook pointed at the deployed URL when there is no --domain.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { keyFlags, ours, readDevVarsFile, readState, ROOT, runCli, tempDir, useStripeStandIn } from "./helpers/index.js";

const stripe = useStripeStandIn();

function fakeWrangler() {
  const bin = tempDir("csf-bin-");
  copyFileSync(join(ROOT, "test/fixtures/fake-wrangler.mjs"), join(bin, "wrangler"));
  chmodSync(join(bin, "wrangler"), 0o755);
  const log = join(bin, "calls.jsonl");
  const calls = () =>
    existsSync(log)
      ? readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { args: string[]; stdin: string; secretsFile?: string })
      : [];
  return { env: { PATH: `${bin}${delimiter}${process.env.PATH}`, FAKE_WRANGLER_LOG: log }, calls };
}
const readJsonFile = (file: string) => JSON.parse(readFileSync(file, "utf8"));
/** A call as a line, with the temporary secrets file's path left out. */
const shown = (call: { args: string[] }) => call.args.join(" ").replace(/--secrets-file \S+/, "--secrets-file <file>");

describe("--deploy", () => {
  it("with --domain: the five secrets go up with the deploy (wrangler.jsonc requires them), first and next time", async () => {
    const cwd = tempDir();
    const wrangler = fakeWrangler();
    const args = ["dep", "--yes", "--no-install", "--no-git", "--deploy", "--domain", "dep.example.com", ...keyFlags(stripe())];
    const env = { STRIPE_API_BASE: stripe().url, ...wrangler.env };
    const result = await runCli(args, { cwd, env });
    expect(result.exitCode, result.all).toBe(0);
    expect(wrangler.calls().map(shown)).toEqual(["whoami", "deploy --secrets-file <file>"]);
    expect(JSON.parse(wrangler.calls()[1].secretsFile!)).toEqual(readDevVarsFile(join(cwd, "dep")));
    // The file is gone once wrangler returned.
    expect(existsSync(wrangler.calls()[1].args.at(-1)!)).toBe(false);
    expect(result.stdout).toMatch(/deployed https:\/\/dep\.example\.com/);
    expect(result.all).not.toContain(stripe().keys.secret);

    const again = await runCli(args, { cwd, env });
    expect(again.exitCode, again.all).toBe(0);
    expect(wrangler.calls().slice(2).map(shown)).toEqual(["whoami", "deploy --secrets-file <file>"]);
    expect(stripe().list("webhook_endpoint").filter(ours("dep") as never)).toHaveLength(1);
  });

  it("without --domain: deploys first, then points the webhook and the link at the workers.dev URL", async () => {
    const cwd = tempDir();
    const wrangler = fakeWrangler();
    const result = await runCli(["nodomain", "--yes", "--no-install", "--no-git", "--deploy", ...keyFlags(stripe())], {
      cwd,
      env: { STRIPE_API_BASE: stripe().url, ...wrangler.env },
    });
    expect(result.exitCode, result.all).toBe(0);
    // The webhook's secret exists only once its endpoint has the URL: a placeholder goes up
    // with the first deploy (wrangler refuses it without), the real one right after.
    expect(wrangler.calls().map(shown)).toEqual(["whoami", "deploy --secrets-file <file>", "secret bulk"]);
    const first = JSON.parse(wrangler.calls()[1].secretsFile!);
    expect(first.STRIPE_WEBHOOK_SIGNING_SECRET).toMatch(/^whsec_placeholder_[\w-]{32}$/);
    const url = "https://nodomain.test-account.workers.dev";
    const endpoints = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("nodomain"));
    expect(endpoints.map((e) => e.url)).toEqual([`${url}/stripe-webhook`]);
    const links = stripe().list<Stripe.PaymentLink>("payment_link").filter(ours("nodomain"));
    expect(links).toHaveLength(1);
    expect(links[0].after_completion.redirect?.url).toBe(`${url}/me/paid?session_id={CHECKOUT_SESSION_ID}`);
    const vars = readDevVarsFile(join(cwd, "nodomain"));
    expect(vars.STRIPE_WEBHOOK_SIGNING_SECRET).toBe(stripe().webhookSecret(endpoints[0].id));
    expect(JSON.parse(wrangler.calls()[2].stdin)).toEqual(vars);
    expect(readState(join(cwd, "nodomain")).deployedUrl).toBe(url);
  });

  it("the summary's next step, `create-stripeflare . --deploy` inside the project, deploys with the project's keys", async () => {
    const cwd = tempDir();
    const first = await runCli(["later-deploy", "--yes", "--no-install", "--no-git", "--domain", "ld.example.com", ...keyFlags(stripe())], {
      cwd,
      env: { STRIPE_API_BASE: stripe().url },
    });
    expect(first.exitCode, first.all).toBe(0);
    expect(first.stdout).toContain("npx create-stripeflare . --deploy");
    const project = join(cwd, "later-deploy");
    const original = readFileSync(join(project, ".dev.vars"), "utf8");
    const wrangler = fakeWrangler();
    // The same user (same HOME) runs it from inside the project.
    const deployAgain = () => runCli([".", "--yes", "--no-install", "--deploy"], { cwd: project, env: { HOME: cwd, STRIPE_API_BASE: stripe().url, ...wrangler.env } });

    // Local-only values (as `npm run pay -- --setup` writes them) are refused, before anything runs.
    writeFileSync(join(project, ".dev.vars"), original + "STRIPE_API_BASE=http://127.0.0.1:12111\n");
    const withBase = await deployAgain();
    expect(withBase.exitCode).not.toBe(0);
    expect(withBase.stderr.trim().split("\n")).toEqual([expect.stringMatching(/not deploying local-only values: in \.dev\.vars STRIPE_API_BASE is set .*put your real Stripe keys/i)]);
    writeFileSync(join(project, ".dev.vars"), original.replace(/^STRIPE_SECRET=.*$/m, "STRIPE_SECRET=sk_test_stripeflare_local_stand_in"));
    const withStandInKey = await deployAgain();
    expect(withStandInKey.exitCode).not.toBe(0);
    expect(withStandInKey.stderr.trim().split("\n")).toEqual([expect.stringMatching(/STRIPE_SECRET is the local stand-in key/)]);
    expect(wrangler.calls()).toEqual([]);
    expect(withStandInKey.stderr).not.toContain(stripe().keys.secret);

    // With the real keys back, the same command deploys and uploads exactly the five keys.
    writeFileSync(join(project, ".dev.vars"), original + "# a key of the user's own, never uploaded\nMY_LOCAL_FLAG=1\n");
    const second = await deployAgain();
    expect(second.exitCode, second.all).toBe(0);
    const calls = wrangler.calls();
    expect(calls.map(shown)).toEqual(["whoami", "deploy --secrets-file <file>"]);
    const uploaded = JSON.parse(calls[1].secretsFile!);
    expect(Object.keys(uploaded).sort()).toEqual(["DB_SECRET", "STRIPE_PAYMENT_LINK", "STRIPE_PUBLISHABLE_KEY", "STRIPE_SECRET", "STRIPE_WEBHOOK_SIGNING_SECRET"]);
    expect(uploaded.STRIPE_SECRET).toBe(stripe().keys.secret);
    expect(stripe().list("webhook_endpoint").filter(ours("later-deploy") as never)).toHaveLength(1);
  });

  it("not logged in: clear advice, nothing deployed", async () => {
    const cwd = tempDir();
    const wrangler = fakeWrangler();
    const result = await runCli(["nologin", "--yes", "--no-install", "--no-git", "--deploy", "--no-stripe"], {
      cwd,
      env: { ...wrangler.env, FAKE_WRANGLER_LOGGED_IN: "0" },
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.trim().split("\n")).toEqual([expect.stringMatching(/not logged in to Cloudflare: run `npx wrangler login`/)]);
    expect(wrangler.calls().map((c) => c.args.join(" "))).toEqual(["whoami"]);
  });

  it("--deploy with --no-install and no wrangler anywhere is refused before anything happens", async () => {
    const cwd = tempDir();
    const emptyBin = tempDir("csf-nobin-");
    mkdirSync(join(emptyBin, "x"));
    const nodeDir = join(ROOT, "node_modules", "node", "bin");
    const result = await runCli(["nowrangler", "--yes", "--no-install", "--deploy", "--no-stripe"], {
      cwd,
      env: { PATH: [emptyBin, nodeDir, "/usr/bin", "/bin"].join(delimiter) },
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/--deploy needs wrangler/);
    expect(existsSync(join(cwd, "nowrangler"))).toBe(false);
  });
});

describe("install", () => {
  it("--pm yarn: packageManager from `yarn --version`, or removed when that manager cannot tell", async () => {
    const cwd = tempDir();
    const yarn = fakePackageManager("yarn");
    writeFileSync(join(yarn.bin, "yarn"), `#!/bin/sh\nif [ "$1" = "--version" ]; then echo 4.5.1; exit 0; fi\nexit 0\n`);
    const result = await runCli(["viayarn", "--yes", "--no-git", "--no-stripe", "--pm", "yarn"], { cwd, env: yarn.env });
    expect(result.exitCode, result.all).toBe(0);
    expect(JSON.parse(readFileSync(join(cwd, "viayarn", "package.json"), "utf8")).packageManager).toBe("yarn@4.5.1");
    expect(result.stdout).toMatch(/yarn dev/);

    // bun is not installed here and did not launch us: the field (naming npm) is removed.
    const nobun = await runCli(["viabun", "--yes", "--no-git", "--no-stripe", "--no-install", "--pm", "bun"], { cwd, env: { PATH: `${join(ROOT, "node_modules", "node", "bin")}${delimiter}/usr/bin${delimiter}/bin` } });
    expect(nobun.exitCode, nobun.all).toBe(0);
    const pkg = JSON.parse(readFileSync(join(cwd, "viabun", "package.json"), "utf8"));
    expect(pkg).not.toHaveProperty("packageManager");
    expect(existsSync(join(cwd, "viabun", "package-lock.json"))).toBe(false);

    // npm keeps the template's pin and lockfile.
    const npm = await runCli(["vianpm", "--yes", "--no-git", "--no-stripe", "--no-install", "--pm", "npm"], { cwd });
    expect(npm.exitCode, npm.all).toBe(0);
    expect(JSON.parse(readFileSync(join(cwd, "vianpm", "package.json"), "utf8")).packageManager).toBe(readJsonFile(join(ROOT, "templates", "default", "package.json")).packageManager);
    expect(existsSync(join(cwd, "vianpm", "package-lock.json"))).toBe(true);
  });

  function fakePackageManager(name: string, exitCode = 0) {
    const bin = tempDir("csf-pm-");
    const log = join(bin, "calls.jsonl");
    writeFileSync(
      join(bin, name),
      `#!/bin/sh\necho "{\\"pm\\":\\"${name}\\",\\"args\\":\\"$*\\",\\"cwd\\":\\"$PWD\\"}" >> "${log}"\necho "${name} install output"\nexit ${exitCode}\n`,
    );
    chmodSync(join(bin, name), 0o755);
    const calls = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : []);
    return { bin, env: { PATH: `${bin}${delimiter}${process.env.PATH}` }, calls };
  }

  it("installs with the package manager that launched it (npm_config_user_agent), in the project", async () => {
    const cwd = tempDir();
    const pnpm = fakePackageManager("pnpm");
    const result = await runCli(["viapnpm", "--yes", "--no-git", "--no-stripe"], {
      cwd,
      env: { ...pnpm.env, npm_config_user_agent: "pnpm/9.12.0 npm/? node/v22.12.0 linux x64" },
    });
    expect(result.exitCode, result.all).toBe(0);
    expect(pnpm.calls()).toEqual([{ pm: "pnpm", args: "install", cwd: join(cwd, "viapnpm") }]);
    expect(result.stdout).toMatch(/pnpm dev/);
    // The template's packageManager names npm (Corepack would refuse pnpm); its npm lockfile goes.
    expect(JSON.parse(readFileSync(join(cwd, "viapnpm", "package.json"), "utf8")).packageManager).toBe("pnpm@9.12.0");
    expect(existsSync(join(cwd, "viapnpm", "package-lock.json"))).toBe(false);
  });

  it("a failing install is reported in one line, after the scaffold is in place", async () => {
    const cwd = tempDir();
    const npm = fakePackageManager("npm", 1);
    const result = await runCli(["badinstall", "--yes", "--no-git", "--no-stripe", "--pm", "npm"], { cwd, env: npm.env });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.trim().split("\n").at(-1)).toMatch(/npm install failed \(exit 1\)/);
    expect(result.stdout).toMatch(/Done before stopping:[\s\S]*wrote \.dev\.vars/);
    expect(existsSync(join(cwd, "badinstall", "package.json"))).toBe(true);
  });
});
