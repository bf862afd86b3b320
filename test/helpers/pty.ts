// Driving the CLI through a real pseudo-terminal: util-linux `script` gives the process a TTY on
// stdin and stdout, so prompts runs exactly as for a person. Each answer is typed once its
// question has appeared on the screen.
import { execa } from "execa";
import { BIN, cleanEnv, ensureBuilt, NODE_22 } from "./cli.js";

export interface Exchange {
  /** Text that must be on screen before typing. */
  expect: RegExp;
  /** Keys to type; "\r" is Enter, "\x03" is Ctrl-C. */
  type: string;
}

export interface PtyResult {
  exitCode: number | undefined;
  /** Everything the terminal showed (ANSI codes included). */
  screen: string;
  /** How many exchanges were answered. */
  answered: number;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

export async function runInTerminal(
  args: string[],
  exchanges: Exchange[],
  options: { cwd: string; env?: Record<string, string>; timeout?: number },
): Promise<PtyResult> {
  ensureBuilt();
  const command = [NODE_22, BIN, ...args].map(quote).join(" ");
  const child = execa("script", ["-qfec", command, "/dev/null"], {
    cwd: options.cwd,
    env: cleanEnv(options.env?.HOME ?? options.cwd, { TERM: "xterm-256color", ...options.env }),
    extendEnv: false,
    reject: false,
    stdin: "pipe",
    timeout: options.timeout ?? 30_000,
  });
  let screen = "";
  let pending = "";
  let answered = 0;
  child.stdout!.on("data", (chunk: Buffer) => {
    screen += chunk.toString();
    pending += chunk.toString();
    const next = exchanges[answered];
    if (next && next.expect.test(pending)) {
      answered++;
      pending = "";
      // A short pause lets prompts finish drawing and enter raw mode before the keys arrive.
      setTimeout(() => child.stdin!.write(next.type), 80);
    }
  });
  const result = await child;
  return { exitCode: result.exitCode, screen, answered };
}
