// Reliability of the CLI under failure: an invalid key, the Stripe stand-in dropping
// connections at every step, an existing folder, a read-only folder. Each failure must give a
// clear one-line error (no stack trace, no secret), leave .dev.vars absent or whole (never
// half-written, no temp files), and a rerun must complete without duplicate Stripe objects.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type Stripe from "stripe";
import { afterAll, describe, expect, it } from "vitest";
import { fileMode, keyFlags, ours, readDevVarsFile, ROOT, runCli, tempDir, useStripeStandIn, type Failure } from "./helpers/index.js";

const stripe = useStripeStandIn({ clearFailures: true });
// Runs before the stand-in's afterAll (hooks run in stack order): the mounts go before their folders.
afterAll(() => {
  for (const dir of mounted.splice(0)) unmount(dir);
});

type Result = Awaited<ReturnType<typeof runCli>>;
const KINDS = ["product", "price", "payment_link", "webhook_endpoint"] as const;

const args = (name: string, key = stripe().keys.secret, extra: string[] = []) => [
  name, "--yes", "--no-install", "--no-git", "--domain", `${name}.example.com`,
  "--stripe-secret", key, "--stripe-publishable-key", stripe().keys.publishable, ...extra,
];
const run = (name: string, cwd: string, key?: string, extra?: string[]) => runCli(args(name, key, extra), { cwd, env: { STRIPE_API_BASE: stripe().url } });

/** Our Stripe objects of one project, per kind (active payment links only: an old link may be deactivated). */
function stripeCounts(project: string): number[] {
  const owned = ours(project);
  return KINDS.map((kind) => stripe().list<{ metadata: Stripe.Metadata; active?: boolean }>(kind).filter((o) => owned(o) && o.active !== false).length);
}

/** A failure as a user should see it: non-zero exit, one line on stderr, no trace, no secret in it. */
function expectCleanFailure(result: Result, pattern: RegExp) {
  expect(result.exitCode, result.all).not.toBe(0);
  const lines = result.stderr.trim().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(result.all).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(result.stderr).not.toContain(stripe().keys.secret);
}

/** .dev.vars is absent, or whole: all five keys, a real DB_SECRET, mode 0600; no temp file left beside it. */
function expectDevVarsAbsentOrWhole(dir: string): "absent" | "whole" {
  if (existsSync(dir)) expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  if (!existsSync(join(dir, ".dev.vars"))) return "absent";
  const vars = readDevVarsFile(dir);
  for (const key of ["STRIPE_SECRET", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SIGNING_SECRET", "STRIPE_PAYMENT_LINK", "DB_SECRET"]) expect(vars).toHaveProperty(key);
  expect(vars.DB_SECRET.length).toBeGreaterThanOrEqual(32);
  expect(fileMode(join(dir, ".dev.vars"))).toBe(0o600);
  return "whole";
}

/** A completed project: exit 0, one of each Stripe object, .dev.vars filled in and matching Stripe. */
function expectComplete(result: Result, cwd: string, name: string) {
  expect(result.exitCode, result.all).toBe(0);
  expect(stripeCounts(name)).toEqual([1, 1, 1, 1]);
  const dir = join(cwd, name);
  expect(expectDevVarsAbsentOrWhole(dir)).toBe("whole");
  const vars = readDevVarsFile(dir);
  const endpoint = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").find((e) => e.metadata.stripeflare_project === name)!;
  expect(vars.STRIPE_WEBHOOK_SIGNING_SECRET).toBe(stripe().webhookSecret(endpoint.id));
  const link = stripe().list<Stripe.PaymentLink>("payment_link").find((l) => l.metadata.stripeflare_project === name && l.active)!;
  expect(vars.STRIPE_PAYMENT_LINK).toBe(link.url);
}

describe("an invalid key", () => {
  it("unknown key on a fresh folder: one line, nothing created anywhere; the rerun with the right key completes", async () => {
    const cwd = tempDir();
    const mark = stripe().requests.length;
    const failed = await run("badkey", cwd, "sk_test_0000000000000000000000000000wxyz");
    expectCleanFailure(failed, /rejected the secret key sk_test_…wxyz/);
    expect(existsSync(join(cwd, "badkey"))).toBe(false);
    expect(stripe().requests.slice(mark).filter((r) => r.method === "POST")).toEqual([]);
    expectComplete(await run("badkey", cwd), cwd, "badkey");
  });

  it("unknown key on a half-done project: .dev.vars is left byte-for-byte as it was", async () => {
    const cwd = tempDir();
    stripe().fail({ method: "POST", path: "/v1/payment_links", kind: "error", status: 500, message: "Injected outage" });
    expectCleanFailure(await run("halfkey", cwd), /Injected outage/);
    const before = readFileSync(join(cwd, "halfkey", ".dev.vars"), "utf8");
    expectCleanFailure(await run("halfkey", cwd, "sk_test_revokedrevokedrevoked9876"), /rejected the secret key/);
    expect(readFileSync(join(cwd, "halfkey", ".dev.vars"), "utf8")).toBe(before);
    expectComplete(await run("halfkey", cwd), cwd, "halfkey");
  });
});

describe("secrets in failure output", () => {
  it("never prints the secret key in full, even in the rerun hint after a failure (CONTRACT §1)", async () => {
    const cwd = tempDir();
    stripe().fail({ method: "POST", path: "/v1/prices", kind: "drop-before", times: 10 });
    const failed = await run("hint", cwd);
    expectCleanFailure(failed, /could not reach the Stripe API/);
    expect(failed.stdout).toMatch(/again to finish/);
    expect(failed.all).not.toContain(stripe().keys.secret);
    // .dev.vars holds both keys by now, so the hint leaves them out and runs as printed.
    const hint = /Run npx create-stripeflare (.+) again to finish/.exec(failed.stdout)![1];
    expect(hint).not.toMatch(/--stripe-secret|--stripe-publishable-key|sk_test_|pk_test_/);
    expect(hint).toContain("--domain hint.example.com");
    stripe().clearFailures();
    expectComplete(await runCli(hint.split(" "), { cwd, env: { STRIPE_API_BASE: stripe().url } }), cwd, "hint");
  });

  it("a key the project does not hold is masked in the hint (--stripe-secret=… too), with a word on putting it back", async () => {
    const cwd = tempDir();
    stripe().fail({ method: "POST", path: "/v1/prices", kind: "drop-before", times: 10 });
    // A different key in the environment would win over .dev.vars on a bare rerun: the flag must stay.
    const other = "sk_test_otherotherotherother4321";
    const argv = ["masked", "--yes", "--no-install", "--no-git", "--domain", "masked.example.com", `--stripe-secret=${stripe().keys.secret}`, "--stripe-publishable-key", stripe().keys.publishable];
    const failed = await runCli(argv, { cwd, env: { STRIPE_API_BASE: stripe().url, STRIPE_SECRET: other } });
    expectCleanFailure(failed, /could not reach the Stripe API/);
    expect(failed.all).not.toContain(stripe().keys.secret);
    // The publishable key is in .dev.vars and nothing overrides it: left out.
    expect(failed.stdout).toContain(`--domain masked.example.com --stripe-secret sk_test_…${stripe().keys.secret.slice(-4)} again to finish`);
    expect(failed.stdout).toMatch(/Put your full secret key where it shows sk_test_…/);
  });
});

describe("the Stripe stand-in dropping connections midway", () => {
  // Every attempt (the SDK retries twice) is cut: before Stripe acts, or after it committed.
  const cases: [string, Failure][] = [];
  for (const [label, method, path] of [
    ["listing products", "GET", "/v1/products"],
    ["creating the product", "POST", "/v1/products"],
    ["creating the price", "POST", "/v1/prices"],
    ["creating the payment link", "POST", "/v1/payment_links"],
    ["creating the webhook endpoint", "POST", "/v1/webhook_endpoints"],
  ] as const) {
    cases.push([`${label}, before Stripe acts`, { method, path, kind: "drop-before", times: 10 }]);
    if (method === "POST") cases.push([`${label}, after Stripe committed it`, { method, path, kind: "drop-after", times: 10 }]);
  }

  it.each(cases)("%s: one line, .dev.vars whole or absent, rerun completes without duplicates", async (_label, failure) => {
    const cwd = tempDir();
    const name = `drop${cases.findIndex(([, f]) => f === failure)}`;
    stripe().fail(failure);
    const failed = await run(name, cwd);
    stripe().clearFailures();
    expectCleanFailure(failed, /could not reach the Stripe API/);
    expectDevVarsAbsentOrWhole(join(cwd, name));
    // Whatever Stripe committed before the cut exists at most once.
    expect(stripeCounts(name).every((n) => n <= 1)).toBe(true);
    const rerun = await run(name, cwd);
    expectComplete(rerun, cwd, name);
    // A second rerun changes nothing at Stripe.
    const posts = stripe().requests.length;
    expectComplete(await run(name, cwd), cwd, name);
    expect(stripe().requests.slice(posts).filter((r) => r.method === "POST" && !r.path.startsWith("/v1/webhook_endpoints/"))).toEqual([]);
  });
});

describe("an existing folder", () => {
  it("non-empty: refused with one line and every file untouched; with --force it completes and keeps the user's files and .dev.vars keys", async () => {
    const cwd = tempDir();
    const dir = join(cwd, "occupied");
    mkdirSync(join(dir, "src"), { recursive: true });
    writeFileSync(join(dir, "src", "index.ts"), "// my own worker\n");
    writeFileSync(join(dir, ".dev.vars"), "MY_OWN_KEY=keep-me\nDB_SECRET=short\n");
    const tree = () => readdirSync(dir, { recursive: true }).map(String).sort().map((f) => [f, existsSync(join(dir, f)) && !f.endsWith("src") ? readFileSync(join(dir, f), "utf8") : ""]);
    const before = tree();
    const mark = stripe().requests.length;

    expectCleanFailure(await run("occupied", cwd), /occupied is not empty.*--force/);
    expect(tree()).toEqual(before);
    expect(stripe().requests.slice(mark).filter((r) => r.method === "POST")).toEqual([]);

    const forced = await run("occupied", cwd, undefined, ["--force"]);
    expectComplete(forced, cwd, "occupied");
    const vars = readDevVarsFile(dir);
    expect(vars.MY_OWN_KEY).toBe("keep-me");
    expect(vars.DB_SECRET).not.toBe("short"); // too short to be a secret: replaced
    expect(readFileSync(join(dir, "src", "index.ts"), "utf8")).not.toBe(""); // the template's, copied over (that is what --force means)
    // The project is now ours: a plain rerun continues there, without duplicates.
    expectComplete(await run("occupied", cwd), cwd, "occupied");
  });
});

// ---- read-only folders -------------------------------------------------------------------
// As root (this machine), chmod does not stop writes; a tmpfs remounted read-only does, for
// root too. As any other user (CI runners), a folder without write permission is the honest
// equivalent, and chmod is enough.
const mounted: string[] = [];
const asRoot = process.getuid?.() === 0;
/** Creates `dir` as a folder that can later be made read-only and writable again. */
function prepare(dir: string) {
  mkdirSync(dir, { recursive: true });
  if (!asRoot) return;
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", dir]);
  mounted.push(dir);
}
function remount(dir: string, mode: "ro" | "rw") {
  if (asRoot) execFileSync("mount", ["-o", `remount,${mode}`, dir]);
  else chmodSync(dir, mode === "ro" ? 0o555 : 0o755);
}
function unmount(dir: string) {
  try {
    execFileSync("umount", [dir]);
  } catch {
    // already gone
  }
}
/** Why read-only folders cannot be made here, or null when they can (checked with a probe write). */
function readOnlyUnavailable(): string | null {
  if (process.platform !== "linux") return "read-only folders are made with Linux mounts or permissions";
  const probe = join(tempDir("csf-ro-probe-"), "probe");
  try {
    prepare(probe);
    remount(probe, "ro");
    try {
      writeFileSync(join(probe, "x"), "x");
      return "a folder made read-only still accepted a write";
    } catch {
      return null;
    }
  } catch (error) {
    return `cannot make a read-only folder here (${(error as Error).message.split("\n")[0]}); as root this needs CAP_SYS_ADMIN for a tmpfs`;
  } finally {
    if (asRoot) {
      unmount(probe);
      mounted.splice(mounted.indexOf(probe), 1);
    } else chmodSync(probe, 0o755);
  }
}
const cannotMount = readOnlyUnavailable();
if (cannotMount) console.warn(`[reliability-cli] read-only folder tests skipped: ${cannotMount}`);

describe.skipIf(cannotMount !== null)(`a read-only folder (${asRoot ? "tmpfs remounted read-only: root ignores chmod" : "no write permission"})`, () => {
  it("the target folder is read-only: one line naming the problem, nothing created at Stripe; writable again, the rerun completes", async () => {
    const cwd = tempDir();
    const dir = join(cwd, "locked");
    prepare(dir);
    remount(dir, "ro");
    const mark = stripe().requests.length;
    const failed = await run("locked", cwd);
    expectCleanFailure(failed, /read-only file system|permission denied/i);
    expect(readdirSync(dir)).toEqual([]);
    expect(stripe().requests.slice(mark).filter((r) => r.method === "POST")).toEqual([]);
    remount(dir, "rw");
    expectComplete(await run("locked", cwd), cwd, "locked");
  });

  it("the parent folder is read-only (the target cannot be created): one line, nothing created", async () => {
    const parent = join(tempDir(), "parent");
    prepare(parent);
    remount(parent, "ro");
    const mark = stripe().requests.length;
    const failed = await run("child", parent);
    // Node's recursive mkdir reports EROFS as ENOENT ("no such file or directory"): the
    // message must still say what is wrong with the folder.
    expectCleanFailure(failed, /read-only|not writable|cannot write|permission denied/i);
    expect(failed.stderr).toMatch(/cannot create child in \.: (read-only file system|permission denied)/);
    expect(readdirSync(parent)).toEqual([]);
    // Found in the validation phase: Stripe was not even asked about the key.
    expect(stripe().requests.slice(mark)).toEqual([]);
    remount(parent, "rw");
    expectComplete(await run("child", parent), parent, "child");
  });

  it("`add` into a read-only Worker project: one line, no file changed, nothing asked of Stripe", async () => {
    const dir = join(tempDir(), "worker");
    prepare(dir);
    cpSync(join(ROOT, "test", "fixtures", "existing", "hello-world-jsonc"), dir, { recursive: true });
    const before = readFileSync(join(dir, "wrangler.jsonc"), "utf8");
    remount(dir, "ro");
    const mark = stripe().requests.length;
    const failed = await runCli(["add", ".", "--yes", "--no-install", ...keyFlags(stripe())], {
      cwd: dir,
      env: { STRIPE_API_BASE: stripe().url },
    });
    expectCleanFailure(failed, /cannot write to \.: (read-only file system|permission denied)/);
    expect(readFileSync(join(dir, "wrangler.jsonc"), "utf8")).toBe(before);
    expect(existsSync(join(dir, ".dev.vars"))).toBe(false);
    expect(stripe().requests.slice(mark)).toEqual([]);
    remount(dir, "rw");
  });

  it("read-only midway (after a partial run): one line, .dev.vars byte-for-byte unchanged; writable again, the rerun completes without duplicates", async () => {
    const cwd = tempDir();
    const dir = join(cwd, "midway");
    prepare(dir);
    stripe().fail({ method: "POST", path: "/v1/payment_links", kind: "error", status: 500, message: "Injected outage" });
    expectCleanFailure(await run("midway", cwd), /Injected outage/);
    stripe().clearFailures();
    expect(stripeCounts("midway")).toEqual([1, 1, 0, 0]);
    const before = readFileSync(join(dir, ".dev.vars"), "utf8");

    remount(dir, "ro");
    const failed = await run("midway", cwd);
    expectCleanFailure(failed, /read-only file system|permission denied/i);
    expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toBe(before);
    expectDevVarsAbsentOrWhole(dir);
    expect(stripeCounts("midway")).toEqual([1, 1, 0, 0]); // stopped before creating anything more

    remount(dir, "rw");
    expectComplete(await run("midway", cwd), cwd, "midway");
  });
});
