// /embed page: loads ?example=, ?trace= or #code= into the Viewer; messages (never a blank box); sizing via postMessage.
import "../style.css";
import "./embed.css";
import type { Trace } from "../api/types";
import { ApiError, createTrace, getExample, isRetryable } from "../api/client";
import { byId, h } from "../view/dom";
import { decodeCode, encodeCode, fragmentParams } from "./codec";
import { parseOptions } from "./options";
import { Viewer } from "./viewer";
import { cacheGet, cachePut } from "./cache";

const params = new URLSearchParams(location.search);
const frag = fragmentParams(location.hash);
for (const [k, v] of frag) if (k !== "code" && !params.has(k)) params.set(k, v);
const opts = parseOptions(params);
document.documentElement.dataset["theme"] = opts.theme;
const wid = params.get("wid") ?? "";
// The host page's origin, as told by embed.js: the only window we ever post to (we never read the parent).
const host = params.get("host");

const openLink = h("a", { class: "gt-open", href: "/", target: "_blank", rel: "noopener noreferrer", text: "Open in playground ↗" });
const footer = h("footer", { class: "gt-footer" }, h("span", { class: "gt-brand", text: "gradtrace" }), openLink);
let currentId: string | null = null;
// The link carries the current step too (read at click time, so it is always the step on screen).
openLink.addEventListener("click", () => {
  const url = new URL(openLink.href, location.href);
  url.searchParams.set("step", String(viewer.step));
  openLink.href = url.toString();
});

function post(type: string): void {
  // Only when embed.js asked (it passes host=): a plain iframe has nobody listening.
  if (parent === window || !host) return;
  // The body's own height (it is height: auto), not the document's scrollHeight: inside the
  // iframe that is never less than the iframe itself, so the frame could grow but never shrink.
  const msg = { type, wid, height: Math.ceil(document.body.getBoundingClientRect().height) };
  // A file:// host page has the opaque origin "null", which postMessage cannot target: only then "*" (height only).
  try { parent.postMessage(msg, host === "null" ? "*" : host); } catch { /* bad origin string */ }
}

const viewer = new Viewer(byId("embed"), opts, { onRun: (src) => void runEdited(src), onChange: () => post("gradtrace:size") }, footer);

function errText(e: unknown): string {
  return e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e);
}

async function traceSource(source: string): Promise<void> {
  viewer.setSource(source);
  viewer.message("loading", "Tracing the snippet…");
  const slow = setTimeout(() => viewer.message("slow", "The gradtrace service is slow to answer; still waiting…"), 8000);
  try {
    const res = await createTrace(source);
    currentId = res.id;
    cachePut(source, res.id, res.trace);
    viewer.message(null);
    await viewer.load(res.trace, source);
  } catch (e) {
    const cached = cacheGet(source);
    const retry = { label: "Retry", run: () => void traceSource(viewer.code.text) };
    if (cached) {
      await viewer.load(cached.trace, source);
      viewer.message("cached", `The gradtrace service is unreachable (${errText(e)}). Showing the last trace saved for this code.`, retry);
    } else {
      viewer.message("unreachable", `The gradtrace service is unreachable or failed (${errText(e)}). The code is shown; try again later.`, retry);
    }
  } finally {
    clearTimeout(slow);
    post("gradtrace:ready");
  }
}

/** Run in an editable widget: from now on the playground link carries the code that was run
 * (the step it adds is that trace's), not the code the widget was given. */
async function runEdited(source: string): Promise<void> {
  openLink.href = `/#code=${await encodeCode(source)}`;
  await traceSource(source);
}

async function start(): Promise<void> {
  const code = frag.get("code");
  const traceId = params.get("trace");
  const example = params.get("example");
  try {
    if (code) {
      const source = await decodeCode(code);
      openLink.href = `/#code=${await encodeCode(source)}`;
      await traceSource(source);
    } else if (traceId) {
      openLink.href = `/t/${encodeURIComponent(traceId)}`;
      const res = await fetch(`/embed/data/${encodeURIComponent(traceId)}`);
      if (res.status === 404) throw new Error(`No trace with id ${traceId} is stored (a mistyped id, or a trace not opened for a long time and removed).`);
      if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, `HTTP ${res.status}`);
      const data = (await res.json()) as { id: string; source: string; trace: Trace };
      currentId = data.id;
      viewer.setSource(data.source);
      await viewer.load(data.trace, data.source);
      post("gradtrace:ready");
    } else if (example) {
      openLink.href = `/?example=${encodeURIComponent(example)}`;
      const ex = await getExample(example);
      await traceSource(ex.source);
    } else {
      viewer.message("no-source", "Nothing to show: use /embed?example=NAME, /embed?trace=ID or /embed#code=…");
      post("gradtrace:ready");
    }
  } catch (e) {
    if (e instanceof ApiError && e.code === "example_not_found" && example !== null) {
      unknownExample(example, e.detail);
      post("gradtrace:ready");
      return;
    }
    // Down or failing (not a bad link): the same load can be tried again.
    const retry = isRetryable(e) ? { label: "Retry", run: () => { viewer.message("loading", "Loading…"); void start(); } } : undefined;
    viewer.message("unreachable", `This widget could not load: ${errText(e)}`, retry);
    post("gradtrace:ready");
  }
}

/** A mistyped example name: said plainly to the learner (the service's own message names an API
 *  endpoint), with the valid names folded away for the page's author, who can fix the link. */
function unknownExample(name: string, detail: unknown): void {
  const known = (detail as { known?: unknown } | null)?.known;
  const names = Array.isArray(known) ? known.filter((n): n is string => typeof n === "string") : [];
  const forAuthor = h("details", { class: "gt-author-note" },
    h("summary", { text: "For the page's author" }),
    h("p", { text: names.length
      ? `Use one of these names in data-example="…" (or ?example=…): ${names.join(", ")}.`
      : "The names of the built-in examples are listed in the playground's Examples menu." }));
  viewer.message("no-example", `There is no built-in example called "${name}".`, undefined, forAuthor);
}

declare global {
  interface Window { __gradtrace: Record<string, unknown> }
}
window.__gradtrace = {
  viewer,
  get cy() { return viewer.canvas?.cy ?? null; },
  get trace() { return viewer.trace; },
  get traceId() { return currentId; },
  get player() { return { step: viewer.step, total: viewer.replay?.total ?? 0, playing: viewer.player.isPlaying, speed: viewer.player.speed }; },
  seek: (n: number) => viewer.seek(n),
  visibleNodes: () => viewer.visibleNodes(),
  selectNode: (id: string) => viewer.selectNode(id),
};
new ResizeObserver(() => post("gradtrace:size")).observe(document.body);
void start();
