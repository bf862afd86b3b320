// Start and stop `wrangler dev` (real workerd, real SQLite Durable Objects) on a free
// localhost port, with a fresh persistence folder so every run starts from empty databases.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { sleep, toolEnv, wranglerBin } from "./env.mjs";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startWrangler({ onError, config, vars = {}, label = "wrangler", readyPath = "/__bench/ping", timeoutMs = 90_000 }) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const persist = mkdtempSync(join(os.tmpdir(), "stripeflare-bench-state-"));
  const args = [
    "dev",
    "-c", config,
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--inspector-port", String(inspectorPort),
    "--persist-to", persist,
    "--log-level", "warn",
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  // wrangler dev turns on local observability by default (X_LOCAL_OBSERVABILITY): a trace
  // collector in the same workerd writes every span (each Durable Object call, storage and SQL
  // operation) into a SQLite store, which measured as more than half of workerd's CPU per
  // request here. The platform does not bill that to the request, and it charges most the side
  // with the most spans, so the bench turns it off (X_LOCAL_OBSERVABILITY=true brings it back).
  const env = toolEnv({ X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false" });
  const child = spawn(wranglerBin, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const keep = (chunk) => {
    output += chunk;
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  child.on("exit", (code) => (exited = code));

  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (exited !== null) onError?.();
    if (exited !== null) throw new Error(`${label}: wrangler dev exited (${exited}) before it was ready:\n${output.slice(-4000)}`);
    if (Date.now() > deadline) {
      stop();
      onError?.();
      throw new Error(`${label}: wrangler dev not ready after ${timeoutMs} ms:\n${output.slice(-4000)}`);
    }
    try {
      const res = await fetch(origin + readyPath);
      if (res.ok) break;
    } catch {}
    await sleep(250);
  }

  function stop() {
    if (exited === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
    }
  }
  async function close() {
    stop();
    for (let i = 0; i < 40 && exited === null; i++) await sleep(100);
    if (exited === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
    rmSync(persist, { recursive: true, force: true });
  }
  process.once("exit", stop);
  return { origin, port, close, output: () => output, pid: child.pid };
}
