// Vitest config for the layout benchmark (run on demand, not part of the unit tests).
import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  test: { environment: "node", include: ["layout.bench-run.ts"], testTimeout: 600_000 },
});
