// The CLI end to end: the built bin in a separate process, in temp folders, against the Stripe
// stand-in. Files are checked against CONTRACT §2, Stripe state against §1.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import {
  creates,
  fileMode,
  keyFlags,
  NODE_20,
  ours,
  readDevVarsFile,
  readJson,
  readState,
  readWranglerConfig,
  ROOT,
  runCli,
  tempDir,
  useStripeStandIn,
  workerWebhookEvents,
} from "./helpers/index.js";
import { createStripeClient } from "../src/stripe.js";

const stripe = useStripeStandIn();

const run = (args: string[], cwd: string, env: Record<string, string> = {}, node?: string) =>
  runCli(args, { cwd, env: { STRIPE_API_BASE: stripe().url, ...env }, node });
/** The commands under "Next steps:" in the CLI's summary, comments dropped. */
const nextSteps = (stdout: string) =>
  stdout.slice(stdout.indexOf("Next steps:")).split("\n").slice(1).map((line) => line.replace(/#.*/, "").trim()).filter(Boolean);
/** The commands of the template README's "Run it locally" block, in its order. */
function readmeLocalLoop(): string[] {
  const readme = readFileSync(join(ROOT, "templates", "default", "README.md"), "utf8");
  const block = /## Run it locally\s+```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
  return block.split("\n").map((line) => line.replace(/#.*/, "").trim()).filter(Boolean);
}

describe("non-interactive happy path", () => {
  let cwd: string;
  let dir: string;
  let output: string;
  const since = { requests: 0 };

  beforeAll(async () => {
    cwd = tempDir();
    dir = join(cwd, "my-api");
    since.requests = stripe().requests.length;
    const result = await run(["my-api", "--yes", "--no-install", "--domain", "api.example.com", "--price", "19.99", "--title", "My API", ...keyFlags(stripe())], cwd);
    output = result.all;
    expect(result.exitCode, output).toBe(0);
  });

  it("writes package.json and wrangler.jsonc per the contract, keeping comments", () => {
    const pkg = readJson(join(dir, "package.json"));
    expect(pkg.name).toBe("my-api");
    for (const script of ["dev", "deploy", "test", "types"]) expect(pkg.scripts[script]).toBeTruthy();
    const { text, config } = readWranglerConfig(dir);
    expect(config.name).toBe("my-api");
    expect(config.durable_objects.bindings).toContainEqual({ name: "DORM_NAMESPACE", class_name: "DORM" });
    expect(config.migrations).toContainEqual({ tag: "v1", new_sqlite_classes: ["DORM"] });
    expect(config.routes).toEqual([{ pattern: "api.example.com", custom_domain: true }]);
    const templateComments = readFileSync(join(ROOT, "templates/default/wrangler.jsonc"), "utf8").match(/^\s*\/\/.*$/gm) ?? [];
    expect(templateComments.length).toBeGreaterThan(0);
    for (const comment of templateComments) expect(text).toContain(comment.trim());
    expect(config.compatibility_date).toBe(readWranglerConfig(join(ROOT, "templates/default")).config.compatibility_date);
  });

  it("writes .dev.vars with all five keys, mode 0600, matching what Stripe holds", () => {
    const vars = readDevVarsFile(dir);
    expect(Object.keys(vars).sort()).toEqual(
      ["DB_SECRET", "STRIPE_PAYMENT_LINK", "STRIPE_PUBLISHABLE_KEY", "STRIPE_SECRET", "STRIPE_WEBHOOK_SIGNING_SECRET"].sort(),
    );
    expect(fileMode(join(dir, ".dev.vars"))).toBe(0o600);
    expect(vars.STRIPE_SECRET).toBe(stripe().keys.secret);
    expect(vars.STRIPE_PUBLISHABLE_KEY).toBe(stripe().keys.publishable);
    expect(vars.DB_SECRET.length).toBeGreaterThanOrEqual(32);
    const [link] = stripe().list<Stripe.PaymentLink>("payment_link").filter(ours("my-api"));
    expect(vars.STRIPE_PAYMENT_LINK).toBe(link.url);
    const [endpoint] = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("my-api"));
    expect(vars.STRIPE_WEBHOOK_SIGNING_SECRET).toBe(stripe().webhookSecret(endpoint.id));
  });

  it("writes .dev.vars.example, .gitignore and README.md; copies no local state", () => {
    const example = readFileSync(join(dir, ".dev.vars.example"), "utf8");
    for (const key of ["STRIPE_SECRET", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SIGNING_SECRET", "STRIPE_PAYMENT_LINK", "DB_SECRET"]) {
      expect(example).toMatch(new RegExp(`^${key}=\\s*$`, "m"));
    }
    expect(example).toMatch(/^#/m);
    const gitignore = readFileSync(join(dir, ".gitignore"), "utf8").split("\n").map((l) => l.trim());
    for (const entry of ["node_modules", ".dev.vars", ".wrangler"]) expect(gitignore).toContain(entry);
    expect(readFileSync(join(dir, "README.md"), "utf8")).toContain("deploy.workers.cloudflare.com");
    for (const absent of ["_gitignore", "node_modules", ".wrangler", "test-results"]) expect(existsSync(join(dir, absent)), absent).toBe(false);
  });

  it("creates Product, Price, Payment Link and Webhook Endpoint, tagged and idempotent", () => {
    const products = stripe().list<Stripe.Product>("product").filter(ours("my-api"));
    expect(products).toHaveLength(1);
    expect(products[0].name).toBe("My API");
    const prices = stripe().list<Stripe.Price>("price").filter(ours("my-api"));
    expect(prices.map((p) => [p.unit_amount, p.currency, p.product])).toEqual([[1999, "usd", products[0].id]]);
    const links = stripe().list<Stripe.PaymentLink>("payment_link").filter(ours("my-api"));
    expect(links).toHaveLength(1);
    expect(links[0].after_completion).toEqual({ type: "redirect", redirect: { url: "https://api.example.com/me/paid?session_id={CHECKOUT_SESSION_ID}" } });
    const endpoints = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("my-api"));
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0].url).toBe("https://api.example.com/stripe-webhook");
    // Every event the Worker handles, read from the template's wallet source, and nothing else.
    expect([...endpoints[0].enabled_events].sort()).toEqual(workerWebhookEvents().sort());
    const made = creates(stripe(), since.requests);
    expect(made.map((r) => r.path).sort()).toEqual(["/v1/payment_links", "/v1/prices", "/v1/products", "/v1/webhook_endpoints"]);
    for (const request of made) expect(request.idempotencyKey, request.path).toBeTruthy();
  });

  it("never prints a secret in full and summarises ids", () => {
    const vars = readDevVarsFile(dir);
    for (const secret of [vars.STRIPE_SECRET, vars.DB_SECRET, vars.STRIPE_WEBHOOK_SIGNING_SECRET]) expect(output).not.toContain(secret);
    expect(output).toContain(stripe().list<Stripe.Product>("product").filter(ours("my-api"))[0].id);
    expect(output).toContain("sk_test_…");
    expect(output).toMatch(/npm run dev/);
    // A key and a webhook secret in .dev.vars: nothing for `npm run pay -- --setup` to do.
    expect(nextSteps(output)).not.toContain("npm run pay -- --setup");
  });

  it("commits the project without .dev.vars", () => {
    const tracked = execFileSync("git", ["ls-files"], { cwd: dir, encoding: "utf8" }).split("\n");
    expect(tracked).toContain("package.json");
    expect(tracked).toContain(".gitignore");
    expect(tracked).not.toContain(".dev.vars");
    expect(tracked).not.toContain(".stripeflare.json");
    expect(execFileSync("git", ["log", "--oneline"], { cwd: dir, encoding: "utf8" })).toMatch(/create-stripeflare/);
  });

  it("reruns without duplicates, keeping DB_SECRET and the webhook secret", async () => {
    const before = readDevVarsFile(dir);
    const mark = stripe().requests.length;
    const result = await run(["my-api", "--yes", "--no-install", "--no-git", "--domain", "api.example.com", "--price", "19.99", ...keyFlags(stripe())], cwd);
    expect(result.exitCode, result.all).toBe(0);
    expect(creates(stripe(), mark)).toEqual([]);
    expect(stripe().list("product").filter(ours("my-api") as never)).toHaveLength(1);
    expect(stripe().list("webhook_endpoint").filter(ours("my-api") as never)).toHaveLength(1);
    expect(readDevVarsFile(dir)).toEqual(before);
    // A rerun does not overwrite the user's files.
    expect(readJson(join(dir, "package.json")).name).toBe("my-api");
  });

  it("a rerun subscribes an endpoint made by an older version to every event the Worker handles, keeping it and its secret", async () => {
    const [endpoint] = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("my-api"));
    const secret = readDevVarsFile(dir).STRIPE_WEBHOOK_SIGNING_SECRET;
    // What create-stripeflare 0.1 subscribed to, set through the API as that version did.
    const older = ["checkout.session.completed", "charge.refunded", "charge.dispute.created", "charge.dispute.closed"] as const;
    // The user also subscribed it to an event of their own by hand: that one stays.
    await createStripeClient(stripe().keys.secret, stripe().url).webhookEndpoints.update(endpoint.id, { enabled_events: [...older, "payment_intent.succeeded"] });
    const mark = stripe().requests.length;
    const result = await run(["my-api", "--yes", "--no-install", "--no-git", ...keyFlags(stripe())], cwd);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toContain(`updated Webhook Endpoint ${endpoint.id}`);
    expect(creates(stripe(), mark)).toEqual([]);
    const after = stripe().store.get<Stripe.WebhookEndpoint>("webhook_endpoint", endpoint.id, false);
    expect([...after.enabled_events].sort()).toEqual([...workerWebhookEvents(), "payment_intent.succeeded"].sort());
    expect(after.url).toBe("https://api.example.com/stripe-webhook");
    expect(readDevVarsFile(dir).STRIPE_WEBHOOK_SIGNING_SECRET).toBe(secret);
    // Up to date now: the next rerun leaves the endpoint alone.
    const again = stripe().requests.length;
    expect((await run(["my-api", "--yes", "--no-install", "--no-git", ...keyFlags(stripe())], cwd)).stdout).toContain(`reused Webhook Endpoint ${endpoint.id}`);
    expect(stripe().requests.slice(again).filter((r) => r.method === "POST" && r.path.startsWith("/v1/webhook_endpoints"))).toEqual([]);
  });

  it("a changed --price makes a new Price and Payment Link and deactivates the old link", async () => {
    const oldLink = stripe().list<Stripe.PaymentLink>("payment_link").filter(ours("my-api"))[0];
    const oldPrice = stripe().list<Stripe.Price>("price").filter(ours("my-api"))[0];
    const endpointBefore = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("my-api"))[0];
    const secretBefore = readDevVarsFile(dir).STRIPE_WEBHOOK_SIGNING_SECRET;
    const result = await run(["my-api", "--yes", "--no-install", "--no-git", "--price", "25", ...keyFlags(stripe())], cwd);
    expect(result.exitCode, result.all).toBe(0);
    const links = stripe().list<Stripe.PaymentLink>("payment_link").filter(ours("my-api"));
    expect(links).toHaveLength(2);
    const active = links.filter((l) => l.active);
    expect(active).toHaveLength(1);
    expect(active[0].id).not.toBe(oldLink.id);
    expect(stripe().store.get<Stripe.PaymentLink>("payment_link", oldLink.id, false).active).toBe(false);
    const prices = stripe().list<Stripe.Price>("price").filter(ours("my-api"));
    expect(prices.filter((p) => p.active).map((p) => p.unit_amount)).toEqual([2500]);
    expect(stripe().store.get<Stripe.Price>("price", oldPrice.id, false).active).toBe(false);
    expect(readDevVarsFile(dir).STRIPE_PAYMENT_LINK).toBe(active[0].url);
    // Agents top up by the new price too (TOP_UP_AMOUNT); agent payments stay off unless asked for.
    expect(readWranglerConfig(dir).config.vars).toEqual({ CURRENCY: "usd", TOP_UP_AMOUNT: "2500", STRIPE_NETWORK_ID: "" });
    const agents = await run(["my-api", "--yes", "--no-install", "--no-git", "--agent-payments", "profile_myapi", ...keyFlags(stripe())], cwd);
    expect(agents.exitCode, agents.all).toBe(0);
    expect(agents.stdout).toMatch(/agent payments on: vars\.STRIPE_NETWORK_ID = "profile_myapi".*allowed to create PaymentIntents/);
    expect(readWranglerConfig(dir).config.vars).toEqual({ CURRENCY: "usd", TOP_UP_AMOUNT: "2500", STRIPE_NETWORK_ID: "profile_myapi" });
    // A rerun without the flag keeps them on.
    expect((await run(["my-api", "--yes", "--no-install", "--no-git", ...keyFlags(stripe())], cwd)).exitCode).toBe(0);
    expect(readWranglerConfig(dir).config.vars.STRIPE_NETWORK_ID).toBe("profile_myapi");
    // The domain is remembered, so the link still returns to it and the endpoint is untouched.
    expect(active[0].after_completion.redirect?.url).toBe("https://api.example.com/me/paid?session_id={CHECKOUT_SESSION_ID}");
    expect(stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("my-api")).map((e) => e.id)).toEqual([endpointBefore.id]);
    expect(readDevVarsFile(dir).STRIPE_WEBHOOK_SIGNING_SECRET).toBe(secretBefore);
  });

  it("replaces the webhook endpoint when .dev.vars lost its secret, leaving none that does not match", async () => {
    const [old] = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("my-api"));
    const vars = readFileSync(join(dir, ".dev.vars"), "utf8").replace(/^STRIPE_WEBHOOK_SIGNING_SECRET=.*$/m, "STRIPE_WEBHOOK_SIGNING_SECRET=");
    writeFileSync(join(dir, ".dev.vars"), vars);
    const result = await run(["my-api", "--yes", "--no-install", "--no-git", "--price", "25", ...keyFlags(stripe())], cwd);
    expect(result.exitCode, result.all).toBe(0);
    const endpoints = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("my-api"));
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0].id).not.toBe(old.id);
    expect(readDevVarsFile(dir).STRIPE_WEBHOOK_SIGNING_SECRET).toBe(stripe().webhookSecret(endpoints[0].id));
    expect(fileMode(join(dir, ".dev.vars"))).toBe(0o600);
  });
});

describe("other paths", () => {
  // Issue 10, first run: the next steps, followed in order, work or say what they need.
  it("next steps: comments in one column; the deploy step says it needs real keys; a rerun says it continues", async () => {
    const cwd = tempDir();
    const first = await run(["steps", "--yes", "--no-install", "--no-stripe"], cwd, { HOME: cwd });
    expect(first.exitCode, first.all).toBe(0);
    const block = first.stdout.slice(first.stdout.indexOf("Next steps:")).split("\n").slice(1).filter((line) => line.includes("# "));
    expect(block.length).toBeGreaterThanOrEqual(3);
    expect(new Set(block.map((line) => line.indexOf("# "))).size).toBe(1);
    expect(block.find((line) => line.includes("create-stripeflare . --deploy"))).toMatch(/once you have Stripe keys/);
    const again = await run(["steps", "--yes", "--no-install", "--no-stripe"], cwd, { HOME: cwd });
    expect(again.exitCode, again.all).toBe(0);
    expect(again.stdout).toMatch(/^Continuing steps$/m);
    expect(again.stdout).not.toMatch(/Creating steps|Skipped git/);
    expect(again.stdout).toMatch(/git repository: already there/);
  });

  it("--no-stripe scaffolds only: empty Stripe values, a DB_SECRET, no Stripe calls", async () => {
    const cwd = tempDir();
    const mark = stripe().requests.length;
    const result = await run(["plain", "--yes", "--no-install", "--no-stripe", "--no-git"], cwd);
    expect(result.exitCode, result.all).toBe(0);
    const vars = readDevVarsFile(join(cwd, "plain"));
    expect(vars).toMatchObject({ STRIPE_SECRET: "", STRIPE_PUBLISHABLE_KEY: "", STRIPE_WEBHOOK_SIGNING_SECRET: "", STRIPE_PAYMENT_LINK: "" });
    expect(vars.DB_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(stripe().requests.length).toBe(mark);
    expect(existsSync(join(cwd, "plain", ".git"))).toBe(false);
    // No Stripe account: the template README's local loop, `--setup` before `dev` (wrangler reads
    // .dev.vars only when it starts), then a local payment.
    expect(readmeLocalLoop()).toEqual(["npm install", "npm run pay -- --setup", "npm run dev"]);
    expect(nextSteps(result.stdout).slice(0, 5)).toEqual(["cd plain", ...readmeLocalLoop(), "npm run pay -- <client_reference_id>"]);
  });

  it("without --domain skips the webhook and says so; a later --domain run completes it", async () => {
    const cwd = tempDir();
    const first = await run(["later", "--yes", "--no-install", "--no-git", "--currency", "jpy", "--price", "500", ...keyFlags(stripe())], cwd);
    expect(first.exitCode, first.all).toBe(0);
    expect(first.stdout).toMatch(/skipped the webhook endpoint/);
    expect(readDevVarsFile(join(cwd, "later")).STRIPE_WEBHOOK_SIGNING_SECRET).toBe("");
    // No webhook signing secret yet: a local payment needs `--setup` to make one, before `dev`.
    expect(nextSteps(first.stdout).slice(1, 4)).toEqual(["npm install", "npm run pay -- --setup", "npm run dev"]);
    const [price] = stripe().list<Stripe.Price>("price").filter(ours("later"));
    expect([price.unit_amount, price.currency]).toEqual([500, "jpy"]);
    // The page shows amounts in the link's currency (¥500, not "500 cents").
    expect(readWranglerConfig(join(cwd, "later")).config.vars).toEqual({ CURRENCY: "jpy", TOP_UP_AMOUNT: "500", STRIPE_NETWORK_ID: "" });
    expect(stripe().list<Stripe.PaymentLink>("payment_link").filter(ours("later"))[0].after_completion.type).toBe("hosted_confirmation");
    expect(stripe().list("webhook_endpoint").filter(ours("later") as never)).toHaveLength(0);

    // Only --domain this time: the price, the currency and the keys (from the project's .dev.vars)
    // of the first run are kept.
    const second = await run(["later", "--yes", "--no-install", "--no-git", "--domain", "later.example.com"], cwd);
    expect(second.exitCode, second.all).toBe(0);
    const endpoints = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("later"));
    expect(endpoints.map((e) => e.url)).toEqual(["https://later.example.com/stripe-webhook"]);
    expect(readDevVarsFile(join(cwd, "later")).STRIPE_WEBHOOK_SIGNING_SECRET).toBe(stripe().webhookSecret(endpoints[0].id));
    expect(nextSteps(second.stdout).slice(1, 3)).toEqual(["npm install", "npm run dev"]);
    const links = stripe().list<Stripe.PaymentLink>("payment_link").filter(ours("later"));
    expect(links).toHaveLength(1);
    expect(stripe().list<Stripe.Price>("price").filter(ours("later")).map((p) => [p.unit_amount, p.currency, p.active])).toEqual([[500, "jpy", true]]);
    expect(links[0].after_completion.redirect?.url).toBe("https://later.example.com/me/paid?session_id={CHECKOUT_SESSION_ID}");
    expect(readWranglerConfig(join(cwd, "later")).config.routes).toEqual([{ pattern: "later.example.com", custom_domain: true }]);
    expect(readWranglerConfig(join(cwd, "later")).config.vars).toEqual({ CURRENCY: "jpy", TOP_UP_AMOUNT: "500", STRIPE_NETWORK_ID: "" });
  });

  it("finds keys in the environment, then in ~/.stripeflare.dev.vars", async () => {
    const cwd = tempDir();
    const fromEnv = await run(["envkeys", "--yes", "--no-install", "--no-git"], cwd, {
      STRIPE_SECRET: stripe().keys.secret,
      STRIPE_PUBLISHABLE_KEY: stripe().keys.publishable,
    });
    expect(fromEnv.exitCode, fromEnv.all).toBe(0);
    expect(readDevVarsFile(join(cwd, "envkeys")).STRIPE_SECRET).toBe(stripe().keys.secret);

    const home = tempDir();
    writeFileSync(join(home, ".stripeflare.dev.vars"), `STRIPE_SECRET=${stripe().keys.restricted}\nSTRIPE_PUBLISHABLE_KEY="${stripe().keys.publishable}"\n`);
    const fromHome = await run(["homekeys", "--yes", "--no-install", "--no-git"], cwd, { HOME: home });
    expect(fromHome.exitCode, fromHome.all).toBe(0);
    expect(readDevVarsFile(join(cwd, "homekeys")).STRIPE_SECRET).toBe(stripe().keys.restricted);
  });

  it("scaffolds without install (time reported, not asserted)", async () => {
    const cwd = tempDir();
    const started = performance.now();
    const result = await run(["timed", "--yes", "--no-install", "--no-git", "--no-stripe"], cwd);
    const elapsed = performance.now() - started;
    expect(result.exitCode, result.all).toBe(0);
    expect(readJson(join(cwd, "timed", "package.json")).name).toBe("timed");
    console.info(`scaffold --no-install --no-stripe --no-git: ${elapsed.toFixed(0)} ms wall clock, Node start included`);
  });

  it("skips git with a note when no git identity is configured", async () => {
    const cwd = tempDir();
    const result = await run(["noident", "--yes", "--no-install", "--no-stripe"], cwd, {
      GIT_AUTHOR_NAME: undefined, GIT_AUTHOR_EMAIL: undefined, GIT_COMMITTER_NAME: undefined, GIT_COMMITTER_EMAIL: undefined,
    } as unknown as Record<string, string>);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toMatch(/Skipped git: git has no user\.name\/user\.email/);
    expect(existsSync(join(cwd, "noident", ".git"))).toBe(false);
  });

  it("accepts '.' as the directory", async () => {
    const cwd = join(tempDir(), "dot-project");
    mkdirSync(cwd);
    const result = await run([".", "--yes", "--no-install", "--no-stripe", "--no-git"], cwd);
    expect(result.exitCode, result.all).toBe(0);
    expect(readJson(join(cwd, "package.json")).name).toBe("dot-project");
    expect(readState(cwd).project).toBe("dot-project");
  });

  it("copies a giget source (gh:owner/repo/path#ref, served from 127.0.0.1), renaming _gitignore", async () => {
    // Laid out like a GitHub tarball: one top folder, the template in a subfolder of the repo.
    const staging = tempDir();
    execFileSync("tar", [
      "-czf", join(staging, "t.tar.gz"), "--exclude=node_modules", "--exclude=./templates/default/.gitignore",
      "--transform", "s,^\\.,acme-fork-0123abc,", "-C", ROOT, "./templates/default",
    ]);
    const tarball = readFileSync(join(staging, "t.tar.gz"));
    const asked: string[] = [];
    const server = createServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      if (req.url !== "/repos/acme/fork/tarball/v1") return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/x-gzip", "content-length": tarball.length });
      res.end(tarball);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const cwd = tempDir();
      const env = { GIGET_GITHUB_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
      const result = await run(["remote", "--yes", "--no-install", "--no-git", "--no-stripe", "--template", "gh:acme/fork/templates/default#v1"], cwd, env);
      expect(result.exitCode, result.all).toBe(0);
      expect(asked).toContain("GET /repos/acme/fork/tarball/v1");
      const dir = join(cwd, "remote");
      expect(readJson(join(dir, "package.json")).name).toBe("remote");
      expect(readWranglerConfig(dir).config.name).toBe("remote");
      // The template's own ignore list arrived (renamed from _gitignore), not only our fallback entries.
      expect(readFileSync(join(dir, ".gitignore"), "utf8")).toBe(readFileSync(join(ROOT, "templates/default/_gitignore"), "utf8"));
      expect(existsSync(join(dir, "_gitignore"))).toBe(false);
      // A source that does not exist fails cleanly and leaves no folder behind.
      const missing = await run(["nowhere", "--yes", "--no-install", "--no-stripe", "--template", "gh:acme/missing#v1"], cwd, env);
      expect(missing.exitCode).not.toBe(0);
      expect(missing.stderr).toMatch(/could not download template "gh:acme\/missing#v1"/);
      expect(existsSync(join(cwd, "nowhere"))).toBe(false);
    } finally {
      server.close();
    }
  });

  it("runs on Node 20 as well", async () => {
    const version = execFileSync(NODE_20, ["--version"], { encoding: "utf8" }).trim();
    expect(version).toMatch(/^v20\./);
    const cwd = tempDir();
    const result = await run(["node20", "--yes", "--no-install", "--no-git", "--domain", "n20.example.com", ...keyFlags(stripe())], cwd, {}, NODE_20);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toMatch(/needs Node 22\.12\+/);
    // The next steps start with it, not a line buried above the install's warnings.
    expect(result.stdout.slice(result.stdout.indexOf("Next steps:")).split("\n")[1]).toMatch(/first: Node 22\.12 or newer \(this is 20\.\d+\.\d+\)/);
    expect(readDevVarsFile(join(cwd, "node20")).STRIPE_WEBHOOK_SIGNING_SECRET).toMatch(/^whsec_/);
  });

  // Issue 9, scenario 19: a non-interactive run created live objects after one warning line.
  it("refuses a live key when nothing can be asked, unless --live says so", async () => {
    const cwd = tempDir();
    const args = ["livemode", "--yes", "--no-install", "--no-git", "--domain", "live.example.com", "--stripe-secret", stripe().keys.liveSecret, "--stripe-publishable-key", stripe().keys.livePublishable];
    const refused = await run(args, cwd);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/is a LIVE key: pass --live/);
    expect(refused.stderr).not.toContain(stripe().keys.liveSecret);
    expect(stripe().list("product", true).filter(ours("livemode") as never)).toHaveLength(0);
    const result = await run([...args, "--live"], cwd);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toMatch(/LIVE mode/);
    expect(stripe().list("product", true).filter(ours("livemode") as never)).toHaveLength(1);
    expect(stripe().list("product", false).filter(ours("livemode") as never)).toHaveLength(0);
    expect(readState(join(cwd, "livemode")).stripe.live.productId).toMatch(/^prod_/);
  });
});
