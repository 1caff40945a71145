// Second build: the offline viewer (one IIFE, everything inlined) and embed.js (classic script), both at fixed names.
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";
import { BUILD_TARGET } from "./browsers.ts";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig(({ mode }) => {
  const loader = mode === "loader";
  return {
    root: here,
    base: "./",
    publicDir: false,
    build: {
      outDir: loader ? "../backend/gradtrace/static" : "../backend/gradtrace/static/export",
      emptyOutDir: false,
      target: BUILD_TARGET,
      assetsInlineLimit: 100_000_000,
      chunkSizeWarningLimit: 2000,
      lib: loader
        ? { entry: "src/embed/loader.ts", formats: ["iife"], name: "gradtraceEmbed", fileName: () => "embed.js" }
        : { entry: "src/embed/export.ts", formats: ["iife"], name: "gradtraceExport", fileName: () => "viewer.js" },
    },
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
  };
});
