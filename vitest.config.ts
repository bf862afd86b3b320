import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
    // Builds dist/ once so every test runs the CLI exactly as published.
    globalSetup: ["test/helpers/build.global.ts"],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Two shared cores: at most two test files at once.
    maxWorkers: 2,
  },
});
