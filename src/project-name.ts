// The folder's base name is both the npm package name and the Worker name, so it must satisfy
// both: npm (lowercase, URL-safe, <= 214) and Cloudflare Workers (lowercase letters, digits and
// dashes, no leading/trailing dash, <= 63 so it fits a workers.dev hostname label).
// The Worker rules are the stricter ones, so one check covers both.

const WORKER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function isValidProjectName(name: string): boolean {
  return WORKER_NAME.test(name);
}

/** The closest valid name, or undefined when nothing usable is left ("!!!"). */
export function suggestProjectName(name: string): string | undefined {
  const suggestion = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "") // "café" -> "cafe"
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/g, "");
  return suggestion && isValidProjectName(suggestion) ? suggestion : undefined;
}

export function projectNameProblem(name: string): string | undefined {
  if (isValidProjectName(name)) return undefined;
  const suggestion = suggestProjectName(name);
  const rule = "use lowercase letters, digits and dashes, at most 63 characters, not starting or ending with a dash";
  return `invalid project name "${name}": ${rule}${suggestion ? ` (try "${suggestion}")` : ""}`;
}

/** "https://api.example.com/" -> "api.example.com"; paths, ports and junk are refused. */
export function normalizeDomain(input: string): string {
  let host = input.trim().toLowerCase();
  host = host.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  const label = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
  if (!new RegExp(`^(?:${label}\\.)+[a-z][a-z0-9-]*[a-z0-9]$`).test(host) || host.length > 253) {
    throw new Error(`--domain must be a hostname such as api.example.com, without path or port (got "${input}")`);
  }
  return host;
}
