// X-Max-Price: the most a caller will pay for one request, in cents. An agent on a budget sends
// it so a price it did not expect (a declared price that went up, an X-Price the handler set)
// is refused instead of charged: with a declared price above it the handler does not run; an
// X-Price (or ctx.charge) that would take the request's total above it charges nothing, and the
// caller gets 402 with the price instead of the body.

export const MAX_PRICE_HEADER = "X-Max-Price";

/** The cap a request sent (undefined: none), or why the header is not one. */
export function maxPrice(request: Request): number | undefined | { error: string } {
  const header = request.headers.get(MAX_PRICE_HEADER);
  if (header === null) return undefined;
  const value = header.trim();
  if (!/^\d+$/.test(value)) {
    return { error: `${MAX_PRICE_HEADER} must be a whole number of cents, 0 or more (got ${JSON.stringify(header.slice(0, 40))}); nothing was charged` };
  }
  const cap = Number(value);
  if (!Number.isSafeInteger(cap)) return { error: `${MAX_PRICE_HEADER} is too large (at most ${Number.MAX_SAFE_INTEGER}); nothing was charged` };
  return cap;
}

/** Why `price` (on top of `already` charged by this request) is refused, or null when it fits. */
export function overCap(cap: number | undefined, price: number, already = 0): string | null {
  if (cap === undefined || already + price <= cap) return null;
  const total = already ? `${already + price} cents in all (${price} more)` : `${price} cents`;
  return `This request costs ${total}, more than the ${MAX_PRICE_HEADER} of ${cap} you sent; nothing was charged`;
}
