export { BIN, NODE_20, NODE_22, ROOT, cleanEnv, cleanupTempDirs, ensureBuilt, findSystemNode, projectEnv, runCli, tempDir, type CliOptions } from "./cli.js";
export { runInTerminal, type Exchange, type PtyResult } from "./pty.js";
export { applyPrintedChange, fileMode, readDevVarsFile, readJson, readState, readWranglerConfig } from "./project.js";
export { startStripeStandIn, type Failure, type RecordedRequest, type StripeStandIn } from "./stripe-stand-in.js";
export { WALLET_SOURCE, workerWebhookEvents } from "./template-source.js";
export { creates, keyFlags, ours, useStripeStandIn } from "./stripe.js";
export { releaseManifest, sha256, writeOldProject } from "./old-project.js";
export { freePort, startInBackground, stopProcess } from "./processes.js";
