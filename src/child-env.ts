// What the processes we start (the package manager, its install scripts, git, wrangler) may
// see of our environment: everything but the Stripe values. A template's install script runs
// other people's code, and the user's Stripe key is no business of git or wrangler either
// (wrangler gets the secrets it uploads on stdin, nothing else).
export function childEnv(extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !/^STRIPE_/i.test(key)) out[key] = value;
  }
  return { ...out, ...extra };
}

/** execa options that replace (not extend) the child's environment with childEnv(). */
export function childEnvOptions(extra: Record<string, string> = {}) {
  return { env: childEnv(extra), extendEnv: false } as const;
}
