// Vite build: the playground bundle goes to backend/gradtrace/static, which FastAPI serves at "/".
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";
import { BUILD_TARGET } from "./browsers.ts";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  // Absolute asset URLs: the same index.html can then be served at nested routes (/t/ID, /embed).
  base: "/",
  build: {
    outDir: "../backend/gradtrace/static",
    emptyOutDir: true,
    target: BUILD_TARGET,
    chunkSizeWarningLimit: 1200,
    // Pages: the playground, the embeddable widget (/embed) and the diff view (/diff).
    rollupOptions: {
      input: { main: `${here}index.html`, embed: `${here}embed.html`, diff: `${here}diff.html` },
    },
  },
  worker: { format: "es" },
  server: {
    // `npm run dev` proxies the API to a `gradtrace serve` on :8000.
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
});
