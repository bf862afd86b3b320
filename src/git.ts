// git init + first commit, skipped (with a reason) when it would surprise: git missing, no
// identity configured, or the folder already inside a repository.
import { execa } from "execa";

export type GitOutcome = { done: true } | { done: false; reason: string };

async function git(args: string[], cwd: string) {
  return execa("git", args, { cwd, reject: false, stdin: "ignore" });
}

export async function initRepository(dir: string): Promise<GitOutcome> {
  const version = await git(["--version"], dir).catch(() => undefined);
  if (!version || version.exitCode !== 0) return { done: false, reason: "git is not installed" };
  const inside = await git(["rev-parse", "--is-inside-work-tree"], dir);
  if (inside.exitCode === 0 && inside.stdout.trim() === "true") {
    return { done: false, reason: "the folder is already inside a git repository" };
  }
  const email = (await git(["config", "user.email"], dir)).stdout.trim() || process.env.GIT_AUTHOR_EMAIL || process.env.EMAIL;
  const name = (await git(["config", "user.name"], dir)).stdout.trim() || process.env.GIT_AUTHOR_NAME;
  if (!email || !name) {
    return { done: false, reason: "git has no user.name/user.email (git config --global user.name …)" };
  }
  for (const args of [["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "Initial commit from create-stripeflare"]]) {
    const result = await git(args, dir);
    if (result.exitCode !== 0) {
      return { done: false, reason: `git ${args[0]} failed: ${(result.stderr || result.stdout).split("\n")[0]}` };
    }
  }
  return { done: true };
}
