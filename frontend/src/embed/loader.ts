// embed.js: turns <pre data-gradtrace> / <code data-gradtrace> blocks into lazy, auto-sized iframes (postMessage for sizing only).
import { encodeCode } from "./codec";
import { optionsFromDataset } from "./options";

(() => {
  const me = document.currentScript as HTMLScriptElement | null;
  const service = new URL(me?.src || "/embed.js", location.href);
  const origin = service.origin;
  const frames = new Map<Window, { iframe: HTMLIFrameElement; block: HTMLElement; ready: boolean }>();
  const READY_TIMEOUT_MS = Number(me?.dataset["timeout"]) || 20000; // data-timeout on the script tag (ms)
  const MIN_H = 160, MAX_H = 2400;

  function fallback(block: HTMLElement, iframe: HTMLIFrameElement | null, why: string): void {
    iframe?.remove();
    block.hidden = false;
    if (block.previousElementSibling?.classList.contains("gradtrace-fallback")) return;
    const note = document.createElement("p");
    note.className = "gradtrace-fallback";
    note.setAttribute("role", "status");
    note.style.cssText = "font: 13px system-ui, sans-serif; margin: 4px 0; padding: 4px 8px; border-left: 3px solid #dc2626; background: #fee2e2; color: #7f1d1d;";
    note.textContent = why;
    block.before(note);
  }

  async function mount(block: HTMLElement, index: number): Promise<void> {
    const ds = { ...block.dataset };
    delete ds["gradtrace"];
    const params = optionsFromDataset(ds);
    params.set("wid", `gt${index}`);
    params.set("host", location.origin);
    const src = new URL("/embed", origin);
    src.search = params.toString();
    if (!params.has("example") && !params.has("trace")) src.hash = `code=${await encodeCode(block.textContent ?? "")}`;
    const iframe = document.createElement("iframe");
    iframe.src = src.toString();
    iframe.title = "gradtrace: autograd graph of this code";
    iframe.className = "gradtrace-frame";
    iframe.setAttribute("referrerpolicy", "no-referrer");
    iframe.setAttribute("sandbox", "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox");
    iframe.setAttribute("data-wid", `gt${index}`);
    const height = Number(params.get("height")) || 400;
    iframe.style.cssText = `display: block; width: 100%; border: 0; height: ${height + 30}px;`;
    block.after(iframe);
    block.hidden = true; // the widget shows the code itself; the block comes back if the widget fails
    const win = iframe.contentWindow;
    if (win) frames.set(win, { iframe, block, ready: false });
    const timer = setTimeout(() => {
      const f = win ? frames.get(win) : undefined;
      if (f && !f.ready) fallback(block, iframe, "The gradtrace widget could not load (the service is unreachable or slow). The code is shown as plain text.");
    }, READY_TIMEOUT_MS);
    iframe.addEventListener("error", () => { clearTimeout(timer); fallback(block, iframe, "The gradtrace widget could not load. The code is shown as plain text."); });
  }

  window.addEventListener("message", (e: MessageEvent) => {
    if (e.origin !== origin || !e.source) return; // only our own iframes, nobody else
    const f = frames.get(e.source as Window);
    if (!f) return;
    const d = e.data as { type?: unknown; height?: unknown } | null;
    if (!d || typeof d !== "object") return;
    if (d.type === "gradtrace:ready") { f.ready = true; f.iframe.dataset["ready"] = "true"; }
    if ((d.type === "gradtrace:size" || d.type === "gradtrace:ready") && typeof d.height === "number" && Number.isFinite(d.height)) {
      f.iframe.style.height = `${Math.min(MAX_H, Math.max(MIN_H, Math.round(d.height)))}px`;
    }
  });

  function start(): void {
    const blocks = [...document.querySelectorAll<HTMLElement>("pre[data-gradtrace], code[data-gradtrace]")]
      .filter((b) => !(b.tagName === "CODE" && b.closest("pre[data-gradtrace]")) && !b.dataset["gradtraceMounted"]);
    blocks.forEach((block, i) => {
      block.dataset["gradtraceMounted"] = "1";
      const go = (): void => { void mount(block, i).catch(() => fallback(block, null, "The gradtrace widget could not start in this browser.")); };
      if (!("IntersectionObserver" in window)) { go(); return; }
      const io = new IntersectionObserver((entries) => {
        if (entries.some((en) => en.isIntersecting)) { io.disconnect(); go(); }
      }, { rootMargin: "200px" });
      io.observe(block);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
