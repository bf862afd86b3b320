// Worker tests run inside workerd (real Durable Objects with SQLite) through
// @cloudflare/vitest-plugin, using wrangler.jsonc. The Stripe API the Worker reads is
// scripts/stripe-local.ts, started on the Node side by test/global-setup.ts.
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Test values only; real ones live in .dev.vars / Worker secrets.
const TEST_SECRETS = {
  DB_SECRET: "test-db-secret-0123456789abcdef0123456789",
  STRIPE_SECRET: "sk_test_stripeflare_local",
  STRIPE_PUBLISHABLE_KEY: "pk_test_stripeflare_local",
  STRIPE_WEBHOOK_SIGNING_SECRET: "whsec_test_stripeflare_local",
  STRIPE_PAYMENT_LINK: "https://buy.stripe.com/test_stripeflare",
};
// wrangler.jsonc lists these under secrets.required, and wrangler warns once per test file when
// it finds them in neither .dev.vars nor the environment (a fresh clone has no .dev.vars): the
// values it would find are the ones the bindings below set anyway.
for (const [name, value] of Object.entries(TEST_SECRETS)) process.env[name] ??= value;

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.jsonc" },
      miniflare: {
        bindings: {
          ...TEST_SECRETS,
          STRIPE_API_BASE: inject<string>("stripeLocalUrl"),
          // test/reliability/fuzz.test.ts: more runs, or replay a failing seed it printed.
          FUZZ_RUNS: process.env.FUZZ_RUNS ?? "",
          FUZZ_SEED: process.env.FUZZ_SEED ?? "",
        },
      },
    })),
  ],
  test: {
    globalSetup: ["./test/global-setup.ts"],
    // Wallet tests live in test/; the example app keeps its own tests next to it in src/.
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 30_000,
    // The wallet logs every decision; show those logs only for failing tests.
    silent: "passed-only",
  },
});
