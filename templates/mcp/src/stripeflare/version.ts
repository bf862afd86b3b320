// The wallet's version: what `create-stripeflare upgrade` reads to tell which fixes a copy has.
// Bump it with an entry in CHANGELOG.md (a test checks that the two agree), and record the
// version being replaced first: `node scripts/wallet-history.mjs <old version> <its commit>`.
export const WALLET_VERSION = "1.2.0";
