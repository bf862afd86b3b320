// `npm test`: vitest in workerd, with the noise this suite makes on purpose left out.
//
// The fault tests (test/reliability, test/mirror.test.ts) reset Durable Objects mid-call, make the
// aggregate refuse snapshots (or lose its answer), send SQL with a typo, and point STRIPE_API_BASE at a closed port; workerd reports
// each as an "uncaught exception" on its own output, outside any test; on a first run vite warns that the stripe SDK's source
// maps name sources it does not ship; wrangler says where it found the required secrets. None of it is a failure, and a passing run should read as
// one: those lines, recognised by the tests' own markers, are dropped. Everything else passes
// through, in order. Arguments go to `vitest run` (`npm test -- test/webhook.test.ts`).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const EXPECTED = [
  /^uncaught exception; .*(reset by the reliability test|reset while deliveries were queued|aggregate (unavailable|answer lost) \(fault injected\)|near "SELEKT"|Network connection lost\.)/,
  /^exception = rust\/worker\/ffi\.rs:\d+: disconnected: (Connection refused|client error \(SendRequest\))/,
  /^Sourcemap for ".*\/node_modules\/.*" points to missing source files$/,
  // mppx (the agent in test/agent-payments*) names source maps it does not ship.
  /^.*\[vite\] \(ssr\) Failed to load source map for .*\/node_modules\//,
  // wrangler, once per test file, on where it found the secrets wrangler.jsonc requires (the
  // test values vitest.config.ts sets; the bindings are those values whatever it finds).
  /^Using secrets defined in (process\.env|\.dev\.vars)$/,
];
/** Lines that continue a dropped report: its workerd stack, its JavaScript frames. */
const CONTINUATION = /^(stack: \S*workerd|\s+at |Error: (An error occurred while trying to read the map file|ENOENT: no such file or directory, open '.*\.map'))/;

const color = process.stdout.isTTY ? { FORCE_COLOR: "1" } : {};
const vitest = spawn(process.execPath, ["node_modules/vitest/vitest.mjs", "run", ...process.argv.slice(2)], {
  stdio: ["inherit", "pipe", "pipe"],
  env: { ...process.env, PWD: process.cwd(), ...color },
});

for (const [from, to] of [[vitest.stdout, process.stdout], [vitest.stderr, process.stderr]]) {
  let dropping = false;
  createInterface({ input: from, crlfDelay: Infinity }).on("line", (line) => {
    const plain = line.replace(/\x1b\[[0-9;]*m/g, "");
    if (EXPECTED.some((pattern) => pattern.test(plain))) dropping = true;
    else if (!(dropping && CONTINUATION.test(plain))) {
      dropping = false;
      to.write(line + "\n");
    }
  });
}
vitest.on("close", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
