#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/ by scripts/build.mjs (npm run build).
import { main } from "../dist/index.js";

process.exitCode = await main(process.argv.slice(2));
