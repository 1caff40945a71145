// Offline viewer (one IIFE inlined into an exported HTML file): reads the trace from a JSON script tag, no network.
import css from "../style.css?inline";
import embedCss from "./embed.css?inline";
import type { Trace } from "../api/types";
import { h } from "../view/dom";
import { inflate } from "./deflate";
import { parseOptions } from "./options";
import { Viewer } from "./viewer";

(globalThis as { __gradtraceNoWorker?: boolean }).__gradtraceNoWorker = true;

/** The inlined payload: JSON, or deflate-raw + base64 for big traces (inflated in the page, no network). */
async function readData(el: HTMLElement): Promise<string> {
  const text = el.textContent ?? "";
  if (el.dataset["encoding"] !== "deflate-raw+base64") return text;
  const bin = atob(text.trim());
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(await inflate(bytes));
}

async function boot(): Promise<void> {
  const style = document.createElement("style");
  // The widget fills the window; where embed.css lets it grow past its height rather than
  // squeeze the graph (phones, touch screens), the window's height is a minimum instead (a fixed
  // height there cut the timeline off under an opened error panel on a phone held sideways).
  style.textContent = css + "\n" + embedCss + "\n.gt-embed { height: calc(100vh - 16px) !important; margin: 8px; }"
    + "\n@media (max-width: 480px), (pointer: coarse) { .gt-embed[data-panes~=\"graph\"] { height: auto !important; min-height: calc(100vh - 16px); } }";
  document.head.append(style);
  const dataEl = document.getElementById("gradtrace-data");
  const root = document.getElementById("embed") ?? document.body.appendChild(h("div", { id: "embed" }));
  if (!dataEl?.textContent) { root.textContent = "This file has no trace data."; return; }
  const data = JSON.parse(await readData(dataEl)) as { source: string; trace: Trace; options?: Record<string, string> };
  const opts = parseOptions(new URLSearchParams({ panes: "code,graph,inspector,timeline", ...(data.options ?? {}) }));
  document.documentElement.dataset["theme"] = opts.theme;
  const footer = h("footer", { class: "gt-footer" }, h("span", { class: "gt-brand", text: "gradtrace (offline export)" }), h("span", { text: `torch ${data.trace.torch_version}` }));
  const viewer = new Viewer(root, opts, {}, footer);
  viewer.setSource(data.source);
  (window as unknown as { __gradtrace: Record<string, unknown> }).__gradtrace = {
    viewer,
    get trace() { return viewer.trace; },
    get player() { return { step: viewer.step, total: viewer.replay?.total ?? 0 }; },
    seek: (n: number) => viewer.seek(n),
    visibleNodes: () => viewer.visibleNodes(),
    selectNode: (id: string) => viewer.selectNode(id),
  };
  void viewer.load(data.trace, data.source);
}

const start = (): void => { void boot().catch((e: unknown) => { document.body.textContent = `gradtrace: this file could not be opened (${String(e)}).`; }); };
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
