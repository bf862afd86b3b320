// The floor alone (no wallet): lets the harness be checked, and the platform measured,
// without the wallet being built.
import { BareWallet } from "./bare";
import { benchRouter } from "./router";

export { BareWallet };
export default { fetch: benchRouter() };
