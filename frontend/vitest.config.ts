// Vitest: pure graph/timeline logic runs in Node with no DOM (enforces the graph <- view split).
import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  test: {
    environment: "node",
    include: ["tests/**/*.test.ts"],
  },
});
