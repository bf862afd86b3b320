// CPU time of the identity and crypto path, per request, in Node's WebCrypto (the same
// primitives workerd exposes as crypto.subtle; workerd freezes its clocks while code runs,
// so the microbenchmark runs in Node). Compared side by side, interleaved:
//   - the original Stripeflare's per-request work: PBKDF2-SHA256 with 100,000 iterations
//     to derive the AES key from DB_SECRET, then AES-GCM to encrypt the token into the
//     client_reference_id;
//   - what a request costs when the key is derived once per isolate (HMAC / AES-GCM with a
//     cached key), and the wallet's own identity functions when they can be loaded;
//   - webhook signature verification: the stripe SDK's constructEventAsync against a
//     hand-written WebCrypto HMAC check of the same header.
import { createRequire } from "node:module";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { template } from "../lib/env.mjs";
import { round } from "../lib/stats.mjs";
import { checkoutCompleted, signedEvent, webhookSecret } from "../lib/stripe.mjs";
import { loadWalletIdentity } from "../lib/wallet-identity.mjs";

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();
const SECRET = "bench-db-secret-0123456789abcdef0123456789abcdef";
const TOKEN = "tok_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6";

/** Time `fn` n times, sequentially awaited: CPU (user+system) and wall microseconds per call. */
async function measure(fn, n) {
  for (let i = 0; i < Math.min(20, n); i++) await fn(i); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / n, wallUs: (wall * 1000) / n };
}

async function originalPath(secret, token) {
  // Key stretching on every request, as the original does.
  const material = await subtle.importKey("raw", enc.encode(secret), "PBKDF2", false, ["deriveKey"]);
  const key = await subtle.deriveKey(
    { name: "PBKDF2", salt: enc.encode("stripeflare-salt"), iterations: 100_000, hash: "SHA-256" },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt"],
  );
  const iv = crypto.getRandomValues(new Uint8Array(12));
  return subtle.encrypt({ name: "AES-GCM", iv }, key, enc.encode(token));
}

let hmacKey;
async function hmacPath(secret, token) {
  hmacKey ??= await subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return subtle.sign("HMAC", hmacKey, enc.encode(token));
}

let aesKey;
async function cachedAesPath(secret, token) {
  aesKey ??= await subtle
    .importKey("raw", enc.encode(secret), "HKDF", false, ["deriveKey"])
    .then((m) => subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: enc.encode("crid") }, m, { name: "AES-GCM", length: 256 }, false, ["encrypt"]));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  return subtle.encrypt({ name: "AES-GCM", iv }, aesKey, enc.encode(token));
}

async function sha256Path(_secret, token) {
  return subtle.digest("SHA-256", enc.encode(token));
}

export async function cryptoBench({ rounds = Number(process.env.BENCH_CRYPTO_ROUNDS ?? 3) } = {}) {
  const require = createRequire(join(template, "package.json"));
  const Stripe = require("stripe");
  const stripe = new (Stripe.default ?? Stripe)("sk_test_bench");
  const cryptoProvider = Stripe.createSubtleCryptoProvider?.() ?? (Stripe.default ?? Stripe).createSubtleCryptoProvider();
  const event = checkoutCompleted({ clientReferenceId: "bench-crid", amount: 500, email: "bench@example.com", paymentIntent: "pi_bench" });
  const { payload, header } = await signedEvent(event);

  const wallet = await loadWalletIdentity();

  const cases = [
    { name: "original: PBKDF2 100k + AES-GCM (every request)", fn: () => originalPath(SECRET, TOKEN), n: 20 },
    { name: "HMAC-SHA256, key imported once per isolate", fn: () => hmacPath(SECRET, TOKEN), n: 5000 },
    { name: "AES-GCM, HKDF key derived once per isolate", fn: () => cachedAesPath(SECRET, TOKEN), n: 5000 },
    { name: "SHA-256 of the token (hash at rest)", fn: () => sha256Path(SECRET, TOKEN), n: 5000 },
    ...wallet.cases,
    {
      name: "webhook verify: stripe SDK constructEventAsync",
      fn: () => stripe.webhooks.constructEventAsync(payload, header, webhookSecret, 300, cryptoProvider),
      n: 2000,
    },
    { name: "webhook verify: hand-written WebCrypto HMAC", fn: () => verifyByHand(payload, header, webhookSecret), n: 2000 },
  ];

  const samples = Object.fromEntries(cases.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of r % 2 ? [...cases].reverse() : cases) samples[c.name].push(await measure(c.fn, c.n));
  }
  const best = (name) => Math.min(...samples[name].map((s) => s.cpuUs));
  const base = best(cases[0].name);
  const rows = cases.map((c) => ({
    path: c.name,
    "calls per round": c.n,
    "CPU µs/call (best of rounds)": round(best(c.name), 1),
    "wall µs/call (median)": round(samples[c.name].map((s) => s.wallUs).sort((a, b) => a - b)[Math.floor(rounds / 2)], 1),
    "original ÷ this": round(base / best(c.name), 0),
  }));
  return { rounds, walletIdentity: wallet.note, runtime: `Node ${process.version} WebCrypto`, rows };
}

async function verifyByHand(payload, header, secret) {
  const parts = Object.fromEntries(header.split(",").map((kv) => kv.split("=")));
  const key = await subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const sig = Uint8Array.from(parts.v1.match(/../g).map((h) => parseInt(h, 16)));
  const ok = await subtle.verify("HMAC", key, sig, enc.encode(`${parts.t}.${payload}`));
  if (!ok || Math.abs(Date.now() / 1000 - Number(parts.t)) > 300) throw new Error("bad signature");
  return JSON.parse(payload);
}
