// How the bench talks to the wallet as a visitor would: get a token as a new visitor, pay
// through the real webhook (signed by the stripe SDK), read the balance from /me.
import { request } from "./load.mjs";
import { checkoutCompleted, signedEvent } from "./stripe.mjs";

export async function newVisitor(origin) {
  const res = await request(origin, "/me");
  const cookies = [].concat(res.headers["set-cookie"] ?? []);
  const token = cookies.map((c) => c.match(/^access_token=([^;]+)/)?.[1]).find(Boolean);
  if (res.status !== 200 || !token) throw new Error(`GET /me as a new visitor: ${res.status}, no access_token cookie: ${res.body.slice(0, 300)}`);
  const me = JSON.parse(res.body);
  return { token: decodeURIComponent(token), clientReferenceId: me.client_reference_id };
}

export async function me(origin, token) {
  const res = await request(origin, "/me", { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`GET /me: ${res.status} ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body);
}

/** Deliver one checkout.session.completed (or an event given) to /stripe-webhook; returns the timing. */
export async function deliver(origin, event) {
  const { payload, header } = await signedEvent(event);
  const res = await request(origin, "/stripe-webhook", {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": header },
    body: payload,
  });
  if (res.status >= 300) throw new Error(`webhook ${event.id}: ${res.status} ${res.body.slice(0, 300)}`);
  return res.ms;
}

export function paymentEvent(user, amount, stripeStandIn) {
  return checkoutCompleted({
    clientReferenceId: user.clientReferenceId,
    amount,
    email: `bench-${user.index}@example.com`,
    paymentIntent: stripeStandIn.newIntent(),
  });
}
