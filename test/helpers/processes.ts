// Long-running commands of a walkthrough (a dev server, the Stripe stand-in) started the way a
// person types them, and stopped with everything they started.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `command` in a shell of its own process group, until `ready` shows in its output. */
export function startInBackground(command: string, cwd: string, env: NodeJS.ProcessEnv, ready: RegExp, onLog: (chunk: string) => void = () => {}): Promise<ChildProcess> {
  return new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn("sh", ["-c", `exec ${command}`], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${command}: not ready after 2 minutes:\n${seen}`)), 120_000);
    const take = (chunk: Buffer) => {
      seen += chunk;
      onLog(String(chunk));
      if (ready.test(seen)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    child.once("exit", (code) => reject(new Error(`${command}: exited (${code}):\n${seen}`)));
  });
}

/** Stops a background command and everything it started (its process group). */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {}
  };
  signal("SIGTERM");
  const late = setTimeout(() => signal("SIGKILL"), 5_000);
  await exited;
  clearTimeout(late);
}
