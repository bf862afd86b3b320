// Amounts as people read them, in the wallet's currency. Shared by the pages, `npm run pay` and
// every template built on the wallet.

/**
 * An amount in the currency's smallest unit as people read it: 499 usd → `$4.99`, 500 jpy →
 * `¥500`, -3 eur → `-€0.03`. A code Intl does not know (a typo in CURRENCY) still shows the
 * amount, in the smallest unit and named: `499 (smallest unit of xyz)`.
 */
export function formatMoney(amount: number, currency: string): string {
  let format: Intl.NumberFormat;
  try {
    format = new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() });
  } catch {
    return `${amount} (smallest unit of ${currency || "the wallet's currency"})`;
  }
  return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}
