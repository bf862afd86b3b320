#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/ by scripts/build.mjs (npm run build, which
// `npm install` runs in a clone). From a clone before that, say so in one line.
let main;
try {
  ({ main } = await import("../dist/index.js"));
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist")) throw error;
  console.error("create-stripeflare is not built yet: run `npm install` in this folder first (it builds dist/), then run this again.");
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
