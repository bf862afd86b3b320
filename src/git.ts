// git init + first commit, skipped (with a reason) when it would surprise: git missing, no
// identity configured, or the folder already inside a repository. Whether .dev.vars (the
// secrets) stays out of git is asked of git itself, never of our own reading of .gitignore.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { childEnvOptions } from "./child-env.js";

export type GitOutcome = { done: true } | { done: false; reason: string; unsafe?: true };

/** The secrets file: never committed, never left tracked. */
export const SECRETS_FILE = ".dev.vars";

async function git(args: string[], cwd: string) {
  return execa("git", args, { cwd, reject: false, stdin: "ignore", ...childEnvOptions() });
}

async function insideRepository(dir: string): Promise<boolean> {
  const inside = await git(["rev-parse", "--is-inside-work-tree"], dir).catch(() => undefined);
  return inside?.exitCode === 0 && inside.stdout.trim() === "true";
}

/**
 * Why .dev.vars in `dir` would reach a git repository, or undefined when it cannot: git tracks
 * it already, or the repository's ignore rules do not ignore it. No repository, or no git:
 * undefined (nothing to commit it to).
 */
export async function secretsFileProblem(dir: string): Promise<string | undefined> {
  if (!(await insideRepository(dir))) return undefined;
  const tracked = await git(["ls-files", "--error-unmatch", "--", SECRETS_FILE], dir);
  if (tracked.exitCode === 0) {
    return `git tracks ${SECRETS_FILE} in this repository, so the secrets written to it would be committed: run \`git rm --cached ${SECRETS_FILE}\` (and remove it from history if it held real keys), then run again`;
  }
  const ignored = await git(["check-ignore", "-q", "--no-index", "--", SECRETS_FILE], dir);
  if (ignored.exitCode !== 0) {
    return `git does not ignore ${SECRETS_FILE} here (check .gitignore and .git/info/exclude for a rule that re-includes it, or one that matches only folders, like "${SECRETS_FILE}/"): add a line "${SECRETS_FILE}" to .gitignore, then run again`;
  }
  return undefined;
}

export async function initRepository(dir: string): Promise<GitOutcome> {
  const version = await git(["--version"], dir).catch(() => undefined);
  if (!version || version.exitCode !== 0) return { done: false, reason: "git is not installed" };
  if (await insideRepository(dir)) return { done: false, reason: "the folder is already inside a git repository" };
  const email = (await git(["config", "user.email"], dir)).stdout.trim() || process.env.GIT_AUTHOR_EMAIL || process.env.EMAIL;
  const name = (await git(["config", "user.name"], dir)).stdout.trim() || process.env.GIT_AUTHOR_NAME;
  if (!email || !name) {
    return { done: false, reason: "git has no user.name/user.email (git config --global user.name …)" };
  }
  const init = await git(["init", "-q"], dir);
  if (init.exitCode !== 0) return { done: false, reason: `git init failed: ${firstLine(init.stderr || init.stdout)}` };
  // The repository is ours until the commit: on any doubt about the secrets it goes again.
  const undo = (reason: string): GitOutcome => {
    rmSync(join(dir, ".git"), { recursive: true, force: true });
    return { done: false, reason, unsafe: true };
  };
  const before = await secretsFileProblem(dir);
  if (before) return undo(before);
  const add = await git(["add", "-A"], dir);
  if (add.exitCode !== 0) return undo(`git add failed: ${firstLine(add.stderr || add.stdout)}`);
  const staged = await git(["diff", "--cached", "--name-only", "-z"], dir);
  if (staged.stdout.split("\0").some((file) => file === SECRETS_FILE || file.endsWith(`/${SECRETS_FILE}`))) {
    return undo(`${SECRETS_FILE} was about to be committed; nothing was committed`);
  }
  const commit = await git(["commit", "-q", "-m", "Initial commit from create-stripeflare"], dir);
  if (commit.exitCode !== 0) return { done: false, reason: `git commit failed: ${firstLine(commit.stderr || commit.stdout)}` };
  return { done: true };
}

const firstLine = (text: string) => text.split("\n")[0];
