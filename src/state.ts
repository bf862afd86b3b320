// .stripeflare.json: what this CLI created for the project, per Stripe mode. It lets a rerun find
// its objects again by id (Stripe search is not read-after-write) and marks a folder as one of
// ours, so a rerun may continue in it without --force. It holds ids, never secrets; the webhook
// secret is represented by a hash only, to tell whether .dev.vars still holds the secret of the
// recorded endpoint.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./dev-vars.js";
import type { StripeMode } from "./keys.js";

export const STATE_FILE = ".stripeflare.json";

export interface StripeRecord {
  productId?: string;
  priceId?: string;
  paymentLinkId?: string;
  paymentLinkUrl?: string;
  webhookEndpointId?: string;
  webhookUrl?: string;
  /** sha256 of the signing secret handed out when webhookEndpointId was created. */
  webhookSecretSha256?: string;
}

export interface ProjectState {
  project: string;
  /**
   * Random per project (`sfp_…`), in every Stripe object's metadata (stripeflare_project_id):
   * two projects of the same name on one Stripe account never touch each other's objects.
   * Absent in files written before it existed: the next run adds it.
   */
  projectId?: string;
  createdBy: string;
  scaffolded: boolean;
  /** The template it was made from (`default`, `mcp`, or a giget source); absent before 0.2. */
  template?: string;
  stripe: Partial<Record<StripeMode, StripeRecord>>;
  /** --domain, --price and --currency of the latest run: a rerun without them keeps them. */
  domain?: string;
  price?: string;
  currency?: string;
  deployedUrl?: string;
}

export function readState(dir: string): ProjectState | undefined {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as ProjectState;
    return { ...parsed, stripe: parsed.stripe ?? {} };
  } catch {
    throw new Error(`${STATE_FILE} in ${dir} is not valid JSON; fix or delete it and run again`);
  }
}

export function writeState(dir: string, state: ProjectState): void {
  writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(state, null, 2) + "\n");
}

export function newProjectId(): string {
  return `sfp_${randomBytes(12).toString("hex")}`;
}

export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}
