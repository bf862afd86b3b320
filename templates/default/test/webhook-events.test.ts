// The webhook events the wallet handles are listed where people set up Stripe: the template
// README and the Deploy button's description of STRIPE_WEBHOOK_SIGNING_SECRET. They must not
// drift from WEBHOOK_EVENTS (what the CLI subscribes the endpoint to).
import { describe, expect, it } from "vitest";
import { WEBHOOK_EVENTS } from "../src/stripeflare";
import packageJson from "../package.json?raw";
import readme from "../README.md?raw";

describe("WEBHOOK_EVENTS in the docs", () => {
  it("are the six events checkout, refunds and disputes need", () => {
    expect([...WEBHOOK_EVENTS].sort()).toEqual([
      "charge.dispute.closed",
      "charge.dispute.created",
      "charge.refund.updated",
      "charge.refunded",
      "checkout.session.async_payment_succeeded",
      "checkout.session.completed",
    ]);
  });

  it("are each named in the README and in the signing secret's description", () => {
    const description: string = JSON.parse(packageJson).cloudflare.bindings.STRIPE_WEBHOOK_SIGNING_SECRET.description;
    for (const event of WEBHOOK_EVENTS) {
      expect(description, event).toContain(event);
      expect(readme, event).toContain(`\`${event}\``);
    }
  });
});
