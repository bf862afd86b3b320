// Load the wallet's own identity functions (templates/default/src/stripeflare/identity.ts,
// and verifyWebhook from stripe.ts) into Node, bundled with esbuild, so the crypto
// microbenchmark times the real code, not a copy of it. Without the wallet: no cases.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { root, walletDir } from "./env.mjs";

export async function loadWalletIdentity(secret = "bench-db-secret-0123456789abcdef0123456789abcdef") {
  const source = join(walletDir, "identity.ts");
  if (!existsSync(source)) return { cases: [], note: "wallet identity.ts not present: only reference primitives measured" };
  const { build } = await import(pathToFileURL(join(root, "node_modules/esbuild/lib/main.js")).href);
  const dir = mkdtempSync(join(os.tmpdir(), "stripeflare-bench-identity-"));
  const stripeSource = join(walletDir, "stripe.ts");
  try {
    await build({
      entryPoints: [source, ...(existsSync(stripeSource) ? [stripeSource] : [])],
      outdir: dir,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      format: "esm",
      platform: "neutral",
      logLevel: "error",
    });
    const id = await import(pathToFileURL(join(dir, "identity.mjs")).href);
    const wh = existsSync(stripeSource) ? await import(pathToFileURL(join(dir, "stripe.mjs")).href) : null;
    const minted = await id.mintToken();
    const accountRef = await id.encodeReference(secret, { account: minted.account });
    const visitorRef = await id.encodeReference(secret, { account: minted.account, tokenHash: minted.hash });
    // encodeReference remembers the ids it sealed (a bounded cache, oldest out first). To time
    // the sealing itself, cycle through more accounts than the cache holds, so every call is
    // an account's first in this isolate; the "remembered" rows repeat one account.
    const pool = await Promise.all(Array.from({ length: 8192 }, () => id.mintToken()));
    let next = 0;
    const fresh = () => pool[next++ % pool.length];
    const cases = [
      { name: "wallet: parseToken (SHA-256 of the presented token)", fn: () => id.parseToken(minted.token), n: 5000 },
      { name: "wallet: encodeReference, an account's first (HMAC-SIV + AES-GCM, keys cached)", fn: () => id.encodeReference(secret, { account: fresh().account }), n: 5000 },
      { name: "wallet: encodeReference, remembered (the account's later requests)", fn: () => id.encodeReference(secret, { account: minted.account }), n: 5000 },
      {
        name: "wallet: parseToken + encodeReference (a request's identity work, account's first)",
        fn: async () => {
          const t = await id.parseToken(fresh().token);
          return id.encodeReference(secret, { account: t.account });
        },
        n: 5000,
      },
      {
        name: "wallet: parseToken + encodeReference (a request's identity work, later requests)",
        fn: async () => {
          const t = await id.parseToken(minted.token);
          return id.encodeReference(secret, { account: t.account });
        },
        n: 5000,
      },
      { name: "wallet: mintToken (new visitor)", fn: () => id.mintToken(), n: 5000 },
      { name: "wallet: decodeReference, visitor id (webhook)", fn: () => id.decodeReference(secret, visitorRef), n: 5000 },
      { name: "wallet: decodeReference, account id (webhook)", fn: () => id.decodeReference(secret, accountRef), n: 5000 },
    ];
    if (wh?.verifyWebhook) {
      const { signedEvent, checkoutCompleted, webhookSecret } = await import("./stripe.mjs");
      const { payload, header } = await signedEvent(checkoutCompleted({ clientReferenceId: visitorRef, amount: 500, email: "bench@example.com", paymentIntent: "pi_bench" }));
      const body = new TextEncoder().encode(payload);
      cases.push({ name: "wallet: verifyWebhook (WebCrypto HMAC + JSON.parse)", fn: () => wh.verifyWebhook(body, header, webhookSecret), n: 2000 });
    }
    return { cases, note: `wallet's own identity.ts${wh ? " and stripe.ts" : ""} bundled with esbuild and loaded in Node` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
