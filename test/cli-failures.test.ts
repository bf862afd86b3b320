// Failures midway: Stripe erroring or the connection dropping after Stripe committed a write.
// The CLI must say what was done, exit non-zero with one line on stderr, and a rerun must finish
// the job without duplicates.
import { join } from "node:path";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { keyFlags, ours, readDevVarsFile, readState, runCli, tempDir, useStripeStandIn, type StripeStandIn } from "./helpers/index.js";

const stripe = useStripeStandIn({ clearFailures: true });

const count = (kind: Parameters<StripeStandIn["list"]>[0], project: string) =>
  stripe().list<{ metadata: Stripe.Metadata }>(kind).filter(ours(project)).length;
const args = (name: string) => [name, "--yes", "--no-install", "--no-git", "--domain", `${name}.example.com`, ...keyFlags(stripe())];
const run = (name: string, cwd: string) => runCli(args(name), { cwd, env: { STRIPE_API_BASE: stripe().url } });

describe("a Stripe error midway", () => {
  it("reports what was done, and a rerun completes without duplicates", async () => {
    const cwd = tempDir();
    stripe().fail({ method: "POST", path: "/v1/payment_links", kind: "error", status: 500, message: "Injected outage" });
    const failed = await run("midway", cwd);
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stderr.trim().split("\n")).toEqual([expect.stringMatching(/Stripe 500: Injected outage/)]);
    expect(failed.stdout).toMatch(/Done before stopping:[\s\S]*created Product[\s\S]*created Price/);
    expect(failed.stdout).toMatch(/again to finish/);
    expect(count("product", "midway")).toBe(1);
    expect(count("payment_link", "midway")).toBe(0);
    // What was made is recorded, and .dev.vars is whole (DB_SECRET already there, no link yet).
    expect(readState(join(cwd, "midway")).stripe.test.priceId).toMatch(/^price_/);
    const partial = readDevVarsFile(join(cwd, "midway"));
    expect(partial.DB_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(partial.STRIPE_PAYMENT_LINK).toBe("");

    const rerun = await run("midway", cwd);
    expect(rerun.exitCode, rerun.all).toBe(0);
    expect(rerun.stdout).toMatch(/continuing there/);
    expect([count("product", "midway"), count("price", "midway"), count("payment_link", "midway"), count("webhook_endpoint", "midway")]).toEqual([1, 1, 1, 1]);
    const vars = readDevVarsFile(join(cwd, "midway"));
    expect(vars.DB_SECRET).toBe(partial.DB_SECRET);
    expect(vars.STRIPE_PAYMENT_LINK).toMatch(/^https:\/\/buy\.stripe\.com\//);
  });

  it("a connection lost after Stripe created the object: the rerun finds it instead of creating another", async () => {
    const cwd = tempDir();
    // Every attempt at creating the price is carried out but never answered (the SDK retries with
    // the same Idempotency-Key, so only the first attempt creates).
    stripe().fail({ method: "POST", path: "/v1/prices", kind: "drop-after", times: 10 });
    const failed = await run("dropped", cwd);
    stripe().clearFailures();
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stderr).toMatch(/could not reach the Stripe API/);
    expect(failed.stderr).not.toMatch(/\n\s+at /);
    const attempts = stripe().requests.filter((r) => r.path === "/v1/prices" && r.method === "POST" && r.params.metadata);
    const dropped = attempts.filter((r) => (r.params.metadata as Record<string, string>).stripeflare_project === "dropped");
    expect(dropped.length).toBeGreaterThan(1);
    expect(new Set(dropped.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(count("price", "dropped")).toBe(1);
    expect(readState(join(cwd, "dropped")).stripe.test.priceId).toBeUndefined();

    const rerun = await run("dropped", cwd);
    expect(rerun.exitCode, rerun.all).toBe(0);
    expect(rerun.stdout).toMatch(/reused Price/);
    expect([count("product", "dropped"), count("price", "dropped"), count("payment_link", "dropped"), count("webhook_endpoint", "dropped")]).toEqual([1, 1, 1, 1]);
  });

  it("a webhook endpoint created but its secret never received is replaced on the rerun", async () => {
    const cwd = tempDir();
    stripe().fail({ method: "POST", path: "/v1/webhook_endpoints", kind: "drop-after", times: 10 });
    const failed = await run("lostsecret", cwd);
    stripe().clearFailures();
    expect(failed.exitCode).not.toBe(0);
    expect(count("webhook_endpoint", "lostsecret")).toBe(1);
    const orphan = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("lostsecret"))[0];

    const rerun = await run("lostsecret", cwd);
    expect(rerun.exitCode, rerun.all).toBe(0);
    const endpoints = stripe().list<Stripe.WebhookEndpoint>("webhook_endpoint").filter(ours("lostsecret"));
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0].id).not.toBe(orphan.id);
    expect(readDevVarsFile(join(cwd, "lostsecret")).STRIPE_WEBHOOK_SIGNING_SECRET).toBe(stripe().webhookSecret(endpoints[0].id));
  });

  it("Ctrl-C midway says what was done; the rerun completes without duplicates", async () => {
    const cwd = tempDir();
    stripe().fail({ method: "POST", path: "/v1/payment_links", kind: "hang" });
    const mark = stripe().requests.length;
    const child = runCli(args("interrupted"), { cwd, env: { STRIPE_API_BASE: stripe().url } });
    // Wait until the CLI is stuck in the payment link request, then interrupt it as a terminal would.
    for (let i = 0; i < 200 && !stripe().requests.slice(mark).some((r) => r.path === "/v1/payment_links" && r.method === "POST"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGINT");
    const interrupted = await child;
    stripe().clearFailures();
    expect(interrupted.exitCode).toBe(130);
    expect(interrupted.stdout).toMatch(/Interrupted\.[\s\S]*Done before stopping:[\s\S]*created Price/);
    expect(count("payment_link", "interrupted")).toBe(0);

    const rerun = await run("interrupted", cwd);
    expect(rerun.exitCode, rerun.all).toBe(0);
    expect([count("product", "interrupted"), count("price", "interrupted"), count("payment_link", "interrupted"), count("webhook_endpoint", "interrupted")]).toEqual([1, 1, 1, 1]);
  });

  // Issue 10, first run: a Stripe API that accepts connections and never answers meant up to
  // 92 s of silence (30 s, retried twice) before a message that did not name the host.
  it("a Stripe that never answers: the key check says what it is doing, gives up within seconds, and names the host", async () => {
    const cwd = tempDir();
    stripe().fail({ method: "GET", path: "/v1/products", kind: "hang" });
    const mark = stripe().requests.length;
    const result = await run("silent", cwd);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toContain(`… checking the Stripe key with ${stripe().url}`);
    expect(result.stderr.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`could not reach the Stripe API at ${stripe().url.replace(/[.:/]/g, "\\$&")}: .*run again`))]);
    // One attempt (with its short limit), not three: no retry of the key check.
    expect(stripe().requests.slice(mark).filter((r) => r.path === "/v1/products")).toHaveLength(1);
    expect(count("product", "silent")).toBe(0);
  });
});
