// The CLI against a hostile or careless world (issue 9, scenarios 14-20): another project of
// the same name or at the same URL on the Stripe account, a template or folder that wants the
// user's secrets, symbolic links in the target, a .dev.vars git would commit. Each test runs the
// built CLI as a process (real files, real git, the Stripe stand-in) and performs the attack.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStripeClient } from "../src/stripe.js";
import { keyFlags, readDevVarsFile, readState, runCli, tempDir, useStripeStandIn } from "./helpers/index.js";

const stripe = useStripeStandIn();
const run = (args: string[], cwd: string, env: Record<string, string> = {}) => runCli(args, { cwd, env: { HOME: cwd, STRIPE_API_BASE: stripe().url, ...env } });
const api = () => createStripeClient(stripe().keys.secret, stripe().url);
const byProjectId = (id: string) => (o: { metadata: Stripe.Metadata | null }) => o.metadata?.stripeflare_project_id === id;
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: cwd } });

describe("other projects on the same Stripe account (scenario 14)", () => {
  it("two projects named `api` in two folders never touch each other's objects", async () => {
    const [homeA, homeB] = [tempDir(), tempDir()];
    const a = await run(["api", "--yes", "--no-install", "--no-git", "--domain", "a.example.com", ...keyFlags(stripe())], homeA);
    expect(a.exitCode, a.all).toBe(0);
    const b = await run(["api", "--yes", "--no-install", "--no-git", "--domain", "b.example.com", "--price", "7", ...keyFlags(stripe())], homeB);
    expect(b.exitCode, b.all).toBe(0);
    const [stateA, stateB] = [readState(join(homeA, "api")), readState(join(homeB, "api"))];
    expect(stateA.projectId).toMatch(/^sfp_[0-9a-f]{24}$/);
    expect(stateB.projectId).not.toBe(stateA.projectId);
    // Before ids, the second run reused the first one's product, archived its price and
    // deactivated the link that project serves.
    const links = await api().paymentLinks.list({ limit: 100 });
    const linkA = links.data.find((l) => l.id === stateA.stripe.test.paymentLinkId)!;
    expect(linkA.active).toBe(true);
    expect((await api().prices.retrieve(stateA.stripe.test.priceId)).active).toBe(true);
    expect(stateB.stripe.test.productId).not.toBe(stateA.stripe.test.productId);
    expect(readDevVarsFile(join(homeA, "api")).STRIPE_PAYMENT_LINK).toBe(linkA.url);
    for (const state of [stateA, stateB]) {
      const products = (await api().products.list({ limit: 100 })).data.filter(byProjectId(state.projectId));
      expect(products).toHaveLength(1);
    }
    expect(b.stdout).toMatch(/left alone prod_\w+: another project named "api"/);

    // A rerun of the first creates nothing and keeps its own link.
    const before = stripe().requests.length;
    const again = await runCli(["api", "--yes", "--no-install", "--no-git", ...keyFlags(stripe())], { cwd: homeA, env: { HOME: homeA, STRIPE_API_BASE: stripe().url } });
    expect(again.exitCode, again.all).toBe(0);
    expect(stripe().requests.slice(before).filter((r) => r.method === "POST" && /^\/v1\/[a-z_]+$/.test(r.path))).toEqual([]);
    expect(readDevVarsFile(join(homeA, "api")).STRIPE_PAYMENT_LINK).toBe(linkA.url);
  });

  it.each([
    ["made by hand (untagged)", {}],
    ["of another project (another id)", { stripeflare_project: "shop", stripeflare_project_id: "sfp_000000000000000000000000" }],
  ])("a Webhook Endpoint at the same URL %s: the run stops, says what to do, deletes nothing", async (_label, metadata) => {
    const cwd = tempDir();
    const url = `https://shared-${Object.keys(metadata).length}.example.com/stripe-webhook`;
    const theirs = await api().webhookEndpoints.create({ url, enabled_events: ["checkout.session.completed"], metadata });
    const result = await run(["shop", "--yes", "--no-install", "--no-git", "--domain", new URL(url).host, ...keyFlags(stripe())], cwd);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.trim().split("\n").at(-1)).toMatch(new RegExp(`Webhook Endpoint ${theirs.id} at ${url}, not made by this project.*delete it in the Stripe dashboard.*or use another --domain`));
    expect((await api().webhookEndpoints.retrieve(theirs.id)).url).toBe(url);
    const live = await run(["shop-live", "--yes", "--no-install", "--no-git", "--live", "--domain", new URL(url).host, "--stripe-secret", stripe().keys.liveSecret, "--stripe-publishable-key", stripe().keys.livePublishable], cwd);
    expect(live.exitCode, live.all).toBe(0); // live mode is another set of objects: nothing of test mode is in the way
  });

  it("a project made before ids existed adopts the objects it recorded, and only those", async () => {
    const cwd = tempDir();
    const first = await run(["legacy", "--yes", "--no-install", "--no-git", "--domain", "legacy.example.com", ...keyFlags(stripe())], cwd);
    expect(first.exitCode, first.all).toBe(0);
    const dir = join(cwd, "legacy");
    const state = readState(dir);
    // What an older version left: no id in the file, none in the objects' metadata.
    const old = state.projectId;
    for (const id of [state.stripe.test.productId]) await api().products.update(id, { metadata: { stripeflare_project_id: "" } });
    await api().prices.update(state.stripe.test.priceId, { metadata: { stripeflare_project_id: "" } });
    await api().paymentLinks.update(state.stripe.test.paymentLinkId, { metadata: { stripeflare_project_id: "" } });
    await api().webhookEndpoints.update(state.stripe.test.webhookEndpointId, { metadata: { stripeflare_project_id: "" } });
    delete state.projectId;
    writeFileSync(join(dir, ".stripeflare.json"), JSON.stringify(state));
    const again = await run(["legacy", "--yes", "--no-install", "--no-git", "--force", ...keyFlags(stripe())], cwd);
    expect(again.exitCode, again.all).toBe(0);
    const adopted = readState(dir);
    expect(adopted.projectId).toMatch(/^sfp_/);
    expect(adopted.projectId).not.toBe(old);
    expect(adopted.stripe.test).toMatchObject({ productId: state.stripe.test.productId, paymentLinkId: state.stripe.test.paymentLinkId, webhookEndpointId: state.stripe.test.webhookEndpointId });
    expect((await api().products.retrieve(state.stripe.test.productId)).metadata.stripeflare_project_id).toBe(adopted.projectId);
    expect((await api().webhookEndpoints.retrieve(state.stripe.test.webhookEndpointId)).metadata.stripeflare_project_id).toBe(adopted.projectId);
  });
});

describe("secrets and git (scenario 15)", () => {
  let server: Server;
  let base: string;
  const tarballs = new Map<string, Buffer>();
  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = tarballs.get(req.url ?? "");
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { "Content-Type": "application/gzip" }).end(req.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A remote template (a tarball giget downloads), with the files given. */
  function serveTemplate(name: string, files: Record<string, string>): string {
    const dir = tempDir("csf-tpl-");
    const root = join(dir, `${name}-main`);
    for (const [file, text] of Object.entries({ "package.json": JSON.stringify({ name, version: "1.0.0", private: true }), ...files })) {
      mkdirSync(join(root, file, ".."), { recursive: true });
      writeFileSync(join(root, file), text);
    }
    execFileSync("tar", ["-czf", join(dir, "t.tgz"), "-C", dir, `${name}-main`]);
    tarballs.set(`/${name}.tar.gz`, readFileSync(join(dir, "t.tgz")));
    return `${base}/${name}.tar.gz`;
  }

  it("a template whose .gitignore only ignores a folder named .dev.vars: the key never reaches the first commit", async () => {
    const cwd = tempDir();
    const template = serveTemplate("slashy", { _gitignore: "node_modules\n.dev.vars/\n.wrangler\n", "wrangler.jsonc": '{ "name": "x", "main": "src/index.ts" }\n', "src/index.ts": "export default {};\n" });
    const result = await run(["slashy", "--yes", "--no-install", "--template", template, ...keyFlags(stripe())], cwd);
    expect(result.exitCode, result.all).toBe(0);
    const dir = join(cwd, "slashy");
    expect(readDevVarsFile(dir).STRIPE_SECRET).toBe(stripe().keys.secret);
    expect(git(dir, "ls-files").split("\n")).not.toContain(".dev.vars");
    expect(git(dir, "log", "--all", "-p")).not.toContain(stripe().keys.secret);
    git(dir, "check-ignore", "-q", ".dev.vars"); // throws if git does not ignore it
  });

  it("`add` refuses to write secrets into a .dev.vars that git tracks, and changes nothing in it", async () => {
    const cwd = tempDir();
    const dir = join(cwd, "tracked");
    mkdirSync(join(dir, "src"), { recursive: true });
    writeFileSync(join(dir, "wrangler.jsonc"), '{ "name": "tracked", "main": "src/index.ts", "compatibility_date": "2026-10-01" }\n');
    writeFileSync(join(dir, "src/index.ts"), "export default { fetch: () => new Response('hi') };\n");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "tracked", private: true }));
    writeFileSync(join(dir, ".dev.vars"), "MY_TOKEN=abc\n");
    git(dir, "init", "-q");
    git(dir, "add", "-A");
    git(dir, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "init");
    const result = await run(["add", dir, "--yes", "--no-install", ...keyFlags(stripe())], cwd);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/git tracks \.dev\.vars in this repository.*git rm --cached \.dev\.vars/);
    expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toBe("MY_TOKEN=abc\n");
    expect(stripe().list("product").filter((p: any) => p.metadata.stripeflare_project === "tracked")).toHaveLength(0);
  });

  it("`add` in a repository whose .gitignore re-includes .dev.vars: ignored again before anything is written", async () => {
    const cwd = tempDir();
    const dir = join(cwd, "negating");
    mkdirSync(join(dir, "src"), { recursive: true });
    writeFileSync(join(dir, "wrangler.jsonc"), '{ "name": "negating", "main": "src/index.ts", "compatibility_date": "2026-10-01" }\n');
    writeFileSync(join(dir, "src/index.ts"), "export default { fetch: () => new Response('hi') };\n");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "negating", private: true }));
    writeFileSync(join(dir, ".gitignore"), ".dev.vars\n!.dev.vars\n");
    git(dir, "init", "-q");
    const result = await run(["add", dir, "--yes", "--no-install", "--no-stripe"], cwd);
    expect(result.exitCode, result.all).toBe(0);
    git(dir, "check-ignore", "-q", ".dev.vars");
  });
});

describe("other people's code never sees the key (scenario 16)", () => {
  it("the package manager (and so every install script) runs without STRIPE_* in its environment", async () => {
    const cwd = tempDir();
    const bin = join(cwd, "bin");
    mkdirSync(bin);
    // A stand-in npm that records the environment it was given, as an install script would see it.
    writeFileSync(join(bin, "npm"), `#!/bin/sh\nenv > "${join(cwd, "npm-env.txt")}"\nexit 0\n`);
    chmodSync(join(bin, "npm"), 0o755);
    const result = await run(["envcheck", "--yes", "--no-git", "--pm", "npm", ...keyFlags(stripe())], cwd, { PATH: `${bin}:${process.env.PATH}`, STRIPE_SECRET: stripe().keys.secret });
    expect(result.exitCode, result.all).toBe(0);
    const seen = readFileSync(join(cwd, "npm-env.txt"), "utf8");
    expect(seen).toMatch(/^HOME=/m);
    expect(seen).not.toMatch(/^STRIPE_/m);
    expect(seen).not.toContain(stripe().keys.secret);
  });

  it("a remote template installs with its scripts off unless the user agrees", async () => {
    const cwd = tempDir();
    const bin = join(cwd, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "npm"), `#!/bin/sh\necho "$@" > "${join(cwd, "npm-args.txt")}"\nexit 0\n`);
    chmodSync(join(bin, "npm"), 0o755);
    const tarDir = tempDir("csf-tpl-");
    const root = join(tarDir, "evil-main");
    mkdirSync(join(root, "src"), { recursive: true });
    writeFileSync(join(root, "package.json"), JSON.stringify({ name: "evil", scripts: { preinstall: "cat .dev.vars > /tmp/stolen" } }));
    writeFileSync(join(root, "wrangler.jsonc"), '{ "name": "x", "main": "src/index.ts" }\n');
    writeFileSync(join(root, "src/index.ts"), "export default {};\n");
    execFileSync("tar", ["-czf", join(tarDir, "t.tgz"), "-C", tarDir, "evil-main"]);
    const server = createServer((_req, res) => res.writeHead(200, { "Content-Type": "application/gzip" }).end(readFileSync(join(tarDir, "t.tgz"))));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/evil.tar.gz`;
      const result = await run(["evil", "--yes", "--no-git", "--pm", "npm", "--template", url, "--no-stripe"], cwd, { PATH: `${bin}:${process.env.PATH}` });
      expect(result.exitCode, result.all).toBe(0);
      expect(readFileSync(join(cwd, "npm-args.txt"), "utf8").trim()).toBe("install --ignore-scripts");
      expect(result.stdout).toMatch(/Install scripts of template "http:\/\/127\.0\.0\.1:\d+\/evil\.tar\.gz" did not run/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("a folder holding only a hand-written .stripeflare.json is not continued without --force; with it, no install scripts", async () => {
    const cwd = tempDir();
    const dir = join(cwd, "planted");
    mkdirSync(dir);
    writeFileSync(join(dir, ".stripeflare.json"), JSON.stringify({ project: "planted", createdBy: "x", scaffolded: true, stripe: {} }));
    // A cloned or unpacked project, say: everything a project has, and a preinstall script.
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "planted", scripts: { preinstall: "echo pwned" } }));
    writeFileSync(join(dir, "wrangler.jsonc"), '{ "name": "planted", "main": "src/index.ts" }\n');
    const refused = await run(["planted", "--yes", "--no-git", "--no-stripe"], cwd);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr.trim()).toMatch(/has a \.stripeflare\.json that create-stripeflare did not write on this machine: pass --force/);
    expect(existsSync(join(dir, ".dev.vars"))).toBe(false);

    const bin = join(cwd, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "npm"), `#!/bin/sh\necho "$@" > "${join(cwd, "npm-args.txt")}"\nexit 0\n`);
    chmodSync(join(bin, "npm"), 0o755);
    const forced = await run(["planted", "--yes", "--no-git", "--no-stripe", "--force", "--pm", "npm"], cwd, { PATH: `${bin}:${process.env.PATH}` });
    expect(forced.exitCode, forced.all).toBe(0);
    expect(readFileSync(join(cwd, "npm-args.txt"), "utf8").trim()).toBe("install --ignore-scripts");
    // Continued with --force once, it is ours from now on: the next run needs no --force.
    const next = await run(["planted", "--yes", "--no-git", "--no-stripe", "--no-install"], cwd);
    expect(next.exitCode, next.all).toBe(0);
  });
});

describe("--force and the files already there (scenario 17)", () => {
  it("a symbolic link in the target is refused, and what it points at is untouched", async () => {
    const cwd = tempDir();
    const dir = join(cwd, "linked");
    mkdirSync(dir);
    const outside = join(cwd, "outside.md");
    writeFileSync(outside, "precious\n");
    symlinkSync(outside, join(dir, "README.md"));
    const result = await run(["linked", "--yes", "--no-install", "--no-git", "--no-stripe", "--force"], cwd);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.trim()).toMatch(/linked\/README\.md is a symbolic link: refusing to write through it/);
    expect(readFileSync(outside, "utf8")).toBe("precious\n");
    expect(existsSync(join(dir, "package.json"))).toBe(false);
  });

  it("a .dev.vars that is a link (to another project's secrets) is refused", async () => {
    const cwd = tempDir();
    const dir = join(cwd, "linkedvars");
    mkdirSync(dir);
    writeFileSync(join(cwd, "other.vars"), "DB_SECRET=known-known-known-known-known-known\n");
    symlinkSync(join(cwd, "other.vars"), join(dir, ".dev.vars"));
    const result = await run(["linkedvars", "--yes", "--no-install", "--no-git", "--no-stripe", "--force"], cwd);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/\.dev\.vars is a symbolic link/);
    expect(readFileSync(join(cwd, "other.vars"), "utf8")).toBe("DB_SECRET=known-known-known-known-known-known\n");
  });

  it("a known DB_SECRET in a .dev.vars already there is replaced, and the run says so", async () => {
    const cwd = tempDir();
    const dir = join(cwd, "known");
    mkdirSync(dir);
    writeFileSync(join(dir, ".dev.vars"), "# mine\nDB_SECRET=known-known-known-known-known-known\nMY_FLAG=1\n");
    const result = await run(["known", "--yes", "--no-install", "--no-git", "--no-stripe", "--force"], cwd);
    expect(result.exitCode, result.all).toBe(0);
    const vars = readDevVarsFile(dir);
    expect(vars.DB_SECRET).not.toBe("known-known-known-known-known-known");
    expect(vars.DB_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(vars.MY_FLAG).toBe("1");
    expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toContain("# mine");
    expect(result.all).toMatch(/had a DB_SECRET: it was replaced by a new random one/);
  });
});

describe("keys (scenarios 19, 20)", () => {
  it("says what is wrong with a key of the right prefix that is too short, and warns about --stripe-secret", async () => {
    const cwd = tempDir();
    const short = await run(["shortkey", "--yes", "--no-install", "--no-git", "--stripe-secret", "sk_test_abc", "--stripe-publishable-key", stripe().keys.publishable], cwd);
    expect(short.exitCode).not.toBe(0);
    expect(short.stderr).toMatch(/is too short: 3 characters after sk_test_ \(copy the whole key/);
    const ok = await run(["flagkey", "--yes", "--no-install", "--no-git", ...keyFlags(stripe())], cwd);
    expect(ok.all).toMatch(/--stripe-secret is visible to other users of this machine in the process list/);
    const fromEnv = await run(["envkey", "--yes", "--no-install", "--no-git"], cwd, { STRIPE_SECRET: stripe().keys.secret, STRIPE_PUBLISHABLE_KEY: stripe().keys.publishable });
    expect(fromEnv.exitCode, fromEnv.all).toBe(0);
    expect(fromEnv.all).not.toMatch(/process list/);
  });
});
