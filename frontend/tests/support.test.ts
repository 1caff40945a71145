// The pages' browser floor (browsers.ts, README): what the build cannot lower stays out of the source.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BUILD_TARGET } from "../browsers";

const SRC = new URL("../src/", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.ts$/.test(name) ? [path] : [];
  });
}

// Syntax and APIs newer than the floor that esbuild passes through unchanged. (Built-ins newer
// than ES2022, such as Array.prototype.findLast, are already type errors: tsconfig's lib.)
const TOO_NEW: [RegExp, string][] = [
  [/\(\?<[=!]/, "regex lookbehind (Safari 16.4): a parse error there, which blanks the whole page"],
  [/\.showModal\(|<dialog/, "<dialog> (Firefox 98)"],
  [/\.checkVisibility\(/, "Element.checkVisibility (Chrome 105, Safari 17.4)"],
  [/randomUUID/, "crypto.randomUUID (Firefox 95)"],
  [/AbortSignal\.(timeout|any)/, "AbortSignal.timeout / any (Safari 16, Chrome 103)"],
  [/Intl\.Segmenter/, "Intl.Segmenter (Firefox 125)"],
  [/showPopover|popover=/, "popover (Safari 17, Firefox 125)"],
];

describe("browser support", () => {
  it("builds for the browsers the README names", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8").replace(/\s+/g, " ");
    const named: Record<string, string> = { chrome: "Chrome and Edge", edge: "Chrome and Edge", firefox: "Firefox", safari: "Safari" };
    for (const target of BUILD_TARGET.filter((t) => !t.startsWith("es"))) {
      const [, browser, version] = /^([a-z]+)([\d.]+)$/.exec(target)!;
      expect(readme).toContain(`${named[browser!]} ${version}+`);
    }
  });
  const files = sources(SRC);
  it("finds the sources", () => expect(files.length).toBeGreaterThan(20));
  for (const [pattern, why] of TOO_NEW) {
    it(`uses no ${why}`, () => {
      const hits = files.filter((f) => pattern.test(readFileSync(f, "utf8"))).map((f) => f.slice(SRC.length));
      expect(hits).toEqual([]);
    });
  }
});
