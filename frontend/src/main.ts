// Wires the playground together: editor -> API -> model -> graph + player + panels; exposes __gradtrace.
import "./style.css";
import "./embed/share.css";
import type { Trace } from "./api/types";
import { ApiError, getDot, getExample, getTrace, listExamples, streamTrace } from "./api/client";
import { buildModel, normalizeTrace, type GraphModel } from "./graph/model";
import { Replay, describeEvent, type ReplayState } from "./graph/replay";
import { defaultCollapsed, groupsToOpen, searchItems } from "./graph/view";
import { LEGEND, type Theme } from "./graph/styles";
import { CodeEditor } from "./view/editor";
import { GraphCanvas } from "./view/graphCanvas";
import { Player } from "./view/player";
import { renderInspector } from "./view/inspector";
import { renderConsole, renderErrorPanel, warningMarks } from "./view/panels";
import { byId, download, h } from "./view/dom";
import { syntheticTrace } from "./graph/synthetic";
import { renderShare } from "./embed/share";
import { decodeCode, encodeCode, fragmentParams } from "./embed/codec";
import { createTrace } from "./api/client";

const CODE_KEY = "gradtrace.code";
const THEME_KEY = "gradtrace.theme";
const DEFAULT_CODE = `import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
y = x * w
loss = y.sum()
loss.backward()
print(x.grad, w.grad)
`;

const app = byId("app");
const statusEl = byId("status");
const captionEl = byId("caption");

interface Session {
  trace: Trace;
  id: string | null;
  model: GraphModel;
  replay: Replay;
  collapsed: Set<string>;
}
let session: Session | null = null;
let selected: string | null = null;
let runSeq = 0;
let lastRenderMs = 0;
let runsDone = 0;
// The code of the last two different runs, for "Diff vs previous" (/diff?a=previous&b=last).
let previousSource: string | null = null;
let lastSource: string | null = null;

function setStatus(status: string, text: string): void {
  app.dataset["status"] = status;
  statusEl.textContent = text;
}

/** localStorage, where the browser lets us have it: with cookies blocked (Safari, Firefox) even
 * reading `window.localStorage` throws, and the playground must still start. */
function stored(key: string): string | null {
  try { return localStorage.getItem(key); } catch { return null; }
}

// ---- editor --------------------------------------------------------------------------------
const editor = new CodeEditor({
  parent: byId("editor"),
  doc: stored(CODE_KEY) ?? DEFAULT_CODE,
  onRun: () => void run(),
  onChange: (text) => { try { localStorage.setItem(CODE_KEY, text); } catch { /* storage full or disabled */ } },
  onLineClick: (line) => {
    if (!session) return;
    const i = session.model.firstEventOfLine.get(line);
    if (i !== undefined) seek(i + 1);
  },
});

// ---- graph ---------------------------------------------------------------------------------
const canvas = new GraphCanvas(byId("graph"), {
  onSelect: (id) => { selected = id; canvas.select(id); refreshInspector(); },
  onJump: (id) => {
    if (!session) return;
    if (id.startsWith("G:")) { void toggleGroup(id.slice(2)); return; }
    const item = session.model.items.get(id);
    if (item) { selected = id; seek(item.appearAt); }
  },
});

// ---- player --------------------------------------------------------------------------------
const player = new Player({
  total: () => session?.replay.total ?? 0,
  step: () => session?.replay.state.step ?? 0,
  seek: (n) => seek(n),
});
byId("player").append(player.el);

function seek(step: number): void {
  if (!session) return;
  const s = session.replay.seek(step);
  showState(s);
}

function showState(s: ReplayState): void {
  if (!session) return;
  canvas.applyState(s);
  // Keep the step's node in view while playing/stepping through a graph bigger than the screen.
  const activeItem = s.active ?? (s.activeTensor ? session.model.tensorItem.get(s.activeTensor) ?? null : null);
  if (activeItem && s.step < session.replay.total) canvas.follow(canvas.view?.rep.get(activeItem) ?? null);
  editor.setMarks({ current: s.step > 0 ? s.line : null });
  captionEl.textContent = describeEvent(s.event, session.model);
  player.update();
  app.dataset["step"] = String(s.step);
  app.dataset["total"] = String(session.replay.total);
  app.dataset["active"] = s.active ?? "";
  app.dataset["line"] = s.line != null && s.step > 0 ? String(s.line) : "";
  if (!player.isPlaying) refreshInspector();
}

function refreshInspector(): void {
  renderInspector(byId("inspector"), session?.model ?? null, canvas.view, session?.replay.state ?? null, selected, {
    jumpToCreation: (itemId) => { const it = session?.model.items.get(itemId); if (it) seek(it.appearAt); },
    toggleGroup: (key) => void toggleGroup(key),
    select: (elId) => { selected = session?.model && canvas.view ? canvas.view.rep.get(elId) ?? elId : elId; canvas.select(selected); canvas.focus(selected); refreshInspector(); },
  });
}

// ---- loading a trace -----------------------------------------------------------------------
async function loadTrace(raw: Trace, id: string | null): Promise<number> {
  const t0 = performance.now();
  const trace = normalizeTrace(raw);
  player.pause();
  const model = buildModel(trace);
  const replay = new Replay(model);
  const collapsed = defaultCollapsed(model);
  replay.seek(replay.total);
  session = { trace, id, model, replay, collapsed };
  selected = null;
  await canvas.render(model, collapsed, replay.state, focusItemFor(model));
  editor.setMarks({
    noGrad: [...model.noGradLines], detach: [...model.detachLines], warnings: warningMarks(trace),
    error: trace.error?.line ?? null, related: trace.error?.related_line ?? null, current: null,
  }, false);
  renderErrorPanel(byId("error-panel"), trace, { showCulprit });
  renderConsole(byId("console"), trace, null, { showWarning });
  showState(replay.state);
  if (trace.error && (trace.error.node || trace.error.tensor)) pinCulprit();
  lastRenderMs = performance.now() - t0;
  app.dataset["ready"] = "true";
  app.dataset["traceStatus"] = trace.status;
  app.dataset["nodes"] = String(trace.nodes.length);
  (window.__gradtrace as { renderMs: number }).renderMs = lastRenderMs;
  return lastRenderMs;
}

/** What a big graph's first view centres on: the culprit, else the output backward started from. */
function focusItemFor(model: GraphModel): string | null {
  const err = model.trace.error;
  if (err?.node) return err.node;
  if (err?.tensor) return model.tensorItem.get(err.tensor) ?? null;
  const passes = model.trace.backward_passes;
  const root = passes.length ? passes[passes.length - 1]!.roots?.[0] : null;
  if (root) return model.tensorItem.get(root) ?? null;
  const last = model.trace.nodes[model.trace.nodes.length - 1];
  return last?.id ?? null;
}

function pinCulprit(): void {
  if (!session || !canvas.view) return;
  const err = session.trace.error;
  const item = err?.node ?? (err?.tensor ? session.model.tensorItem.get(err.tensor) : null);
  if (!item) return;
  const rep = canvas.view.rep.get(item) ?? item;
  selected = rep;
  canvas.select(rep);
  canvas.focus(rep);
  app.dataset["culprit"] = item;
  refreshInspector();
}

/** Show a warning's node or tensor: at the warning's step, or where the item exists (a node of
 *  an earlier training iteration has made way for the next one's by the end). */
function showWarning(index: number): void {
  if (!session) return;
  const ev = session.trace.events[index];
  const itemId = ev?.node ?? (ev?.tensor ? session.model.tensorItem.get(ev.tensor) ?? null : null);
  const item = itemId ? session.model.items.get(itemId) : undefined;
  if (!item) return;
  const step = index + 1;
  seek(step >= item.appearAt && step < item.goneAt ? step : item.appearAt);
  selected = canvas.view?.rep.get(item.id) ?? item.id;
  canvas.select(selected);
  canvas.focus(selected);
  refreshInspector();
}

function showCulprit(): void {
  if (!session) return;
  const errIdx = session.trace.events.findIndex((e) => e.kind === "error");
  seek(errIdx >= 0 ? errIdx + 1 : session.replay.total);
  pinCulprit();
}

async function run(): Promise<void> {
  const source = editor.text;
  const mine = ++runSeq;
  player.pause();
  setStatus("running", "Running…");
  app.dataset["ready"] = "false";
  try {
    // Live progress while the sandbox runs: event count and the line being executed.
    let seen = 0, nodes = 0, pending = false, lastLine: number | null = null;
    const res = await streamTrace(source, {
      onEvent: (ev) => {
        if (mine !== runSeq) return;
        seen++;
        if (ev.kind === "node") nodes++;
        if (ev.line != null) lastLine = ev.line;
        if (pending) return;
        pending = true;
        requestAnimationFrame(() => {
          pending = false;
          if (mine !== runSeq) return;
          statusEl.textContent = `Running… ${seen} events, ${nodes} nodes${lastLine != null ? `, line ${lastLine}` : ""}`;
          editor.setMarks({ current: lastLine }, true);
        });
      },
    });
    if (mine !== runSeq) return;
    await loadTrace(res.trace, res.id);
    if (lastSource !== null && lastSource !== source) previousSource = lastSource;
    lastSource = source;
    const st = res.trace.status;
    app.dataset["runs"] = String(++runsDone);
    setStatus(st, st === "ok" ? `Traced: ${res.trace.nodes.length} nodes, ${res.trace.events.length} steps` : st === "error" ? `Snippet raised ${res.trace.error?.type ?? "an error"}` : `Stopped: ${st}`);
  } catch (e) {
    if (mine !== runSeq) return;
    const msg = e instanceof ApiError ? `${e.message}${e.code ? ` (${e.code})` : ""}` : String(e);
    setStatus("api-error", msg);
    renderErrorPanel(byId("error-panel"), null, { showCulprit });
    const panel = byId("error-panel");
    panel.hidden = false;
    panel.append(h("div", { class: "outcome", role: "alert", "data-outcome": "api-error" }, h("h2", { text: "The service could not trace this" }), h("p", { text: msg })));
    app.dataset["ready"] = "true";
    app.dataset["runs"] = String(++runsDone);
  }
}

// ---- groups and search ---------------------------------------------------------------------
let renders = 0;
async function rerender(): Promise<void> {
  if (!session) return;
  await canvas.render(session.model, session.collapsed, session.replay.state, selected?.startsWith("G:") ? null : selected);
  if (selected?.startsWith("G:")) canvas.focus(selected);
  app.dataset["renders"] = String(++renders);
  showState(session.replay.state);
  if (selected && canvas.view && !canvas.view.els.has(selected)) selected = null;
  if (selected) canvas.select(selected);
  refreshInspector();
}

async function toggleGroup(key: string): Promise<void> {
  if (!session) return;
  const c = session.collapsed;
  if (c.has(key)) {
    c.delete(key);
    // Open one level: its subgroups start collapsed so a big module does not flood the view.
    const g = session.model.groups.get(key);
    if (g && g.size > 300) for (const ch of g.children) c.add(ch);
  } else c.add(key);
  selected = "G:" + key;
  await rerender();
  app.dataset["collapsed"] = [...c].sort().join(",");
}

byId("collapse-all").addEventListener("click", () => { if (session) { session.collapsed = new Set(session.model.rootGroups); void rerender(); } });
byId("expand-all").addEventListener("click", () => { if (session) { session.collapsed = new Set(); void rerender(); } });

const search = byId<HTMLInputElement>("search");
search.addEventListener("keydown", async (e) => {
  if (e.key !== "Enter" || !session) return;
  const hits = searchItems(session.model, search.value);
  if (!hits.length) { canvas.setSearch([]); setStatus(app.dataset["status"] ?? "ok", `No node matches "${search.value}"`); return; }
  const first = hits[0]!;
  const toOpen = groupsToOpen(session.model, first).filter((g) => session!.collapsed.has(g));
  if (toOpen.length) { for (const g of toOpen) session.collapsed.delete(g); await rerender(); }
  const reps = [...new Set(hits.map((id) => canvas.view!.rep.get(id) ?? id))];
  canvas.setSearch(reps);
  selected = canvas.view!.rep.get(first) ?? first;
  canvas.select(selected);
  canvas.focus(selected);
  refreshInspector();
  statusEl.textContent = `${hits.length} match${hits.length === 1 ? "" : "es"}`;
});

// ---- toolbar, exports, theme ---------------------------------------------------------------
byId("run").addEventListener("click", () => void run());
byId("fit").addEventListener("click", () => canvas.fit());
byId("zoom-in").addEventListener("click", () => canvas.zoomBy(1.25));
byId("zoom-out").addEventListener("click", () => canvas.zoomBy(0.8));
byId("export-png").addEventListener("click", () => download("gradtrace.png", canvas.png()));
byId("export-svg").addEventListener("click", () => download("gradtrace.svg", canvas.svg(), "image/svg+xml"));
byId("export-json").addEventListener("click", () => { if (session) download("gradtrace-trace.json", JSON.stringify(session.trace, null, 2), "application/json"); });
byId("export-dot").addEventListener("click", async () => {
  if (!session?.id) { statusEl.textContent = "DOT export needs a trace stored by the service (run the snippet first)."; return; }
  try { download("gradtrace.dot", await getDot(session.id), "text/vnd.graphviz"); } catch (e) { statusEl.textContent = String(e instanceof Error ? e.message : e); }
});

// Share: a permanent /t/ID link (the run already stored the trace) and embed snippets.
byId("share").addEventListener("click", async () => {
  try {
    let id = session?.id ?? null;
    const source = editor.text;
    if (!id) { const r = await createTrace(source); id = r.id; if (!session) await loadTrace(r.trace, r.id); else session.id = r.id; }
    await renderShare(byId("share-panel"), { id, source, origin: location.origin });
    app.dataset["shared"] = id;
  } catch (e) { statusEl.textContent = `Share failed: ${e instanceof Error ? e.message : String(e)}`; }
});
byId("diff-prev").addEventListener("click", async () => {
  if (previousSource === null || lastSource === null) { statusEl.textContent = "Run two different snippets, then compare them."; return; }
  const url = `/diff?a=${await encodeCode(previousSource)}&b=${await encodeCode(lastSource)}`;
  app.dataset["diffUrl"] = url;
  window.open(url, "_blank", "noopener");
});
// Export HTML: one self-contained file (viewer + trace inlined) rendered by the server from the stored trace.
byId("export-html").addEventListener("click", () => {
  if (!session?.id) { statusEl.textContent = "HTML export needs a trace stored by the service (run the snippet first)."; return; }
  const a = h("a", { href: `/t/${session.id}/lesson.html`, download: `gradtrace-${session.id.slice(0, 12)}.html` });
  document.body.append(a);
  a.click();
  a.remove();
});

const arrowsBtn = byId("arrows");
arrowsBtn.addEventListener("click", () => {
  const next = canvas.getArrows() === "dataflow" ? "autograd" : "dataflow";
  canvas.setArrows(next);
  arrowsBtn.textContent = next === "dataflow" ? "Arrows: data flow" : "Arrows: autograd";
  arrowsBtn.setAttribute("aria-pressed", String(next === "autograd"));
});

const themeBtn = byId("theme");
function applyTheme(t: Theme): void {
  document.documentElement.dataset["theme"] = t;
  canvas.setTheme(t);
  editor.setDark(t === "dark");
  themeBtn.textContent = t === "dark" ? "Light theme" : "Dark theme";
  themeBtn.setAttribute("aria-pressed", String(t === "dark"));
  try { localStorage.setItem(THEME_KEY, t); } catch { /* ignore */ }
}
themeBtn.addEventListener("click", () => applyTheme(document.documentElement.dataset["theme"] === "dark" ? "light" : "dark"));
applyTheme((stored(THEME_KEY) as Theme | null) ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));

const legend = byId("legend");
for (const row of LEGEND) legend.append(h("li", {}, h("span", { class: `swatch sw-${row.cls}`, "aria-hidden": "true" }), row.label));

// Keyboard: arrows step, space plays, when focus is not in a text field or the editor.
document.addEventListener("keydown", (e) => {
  const t = e.target as HTMLElement | null;
  if (t && (t.closest(".cm-editor") || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(t.tagName))) return;
  if (e.key === "ArrowRight") { player.pause(); seek((session?.replay.state.step ?? 0) + 1); e.preventDefault(); }
  else if (e.key === "ArrowLeft") { player.pause(); seek((session?.replay.state.step ?? 0) - 1); e.preventDefault(); }
  else if (e.key === " ") { player.toggle(); e.preventDefault(); }
});

// ---- examples ------------------------------------------------------------------------------
const examplesSel = byId<HTMLSelectElement>("examples");
const exampleDesc = byId("example-desc");
async function loadExamples(): Promise<void> {
  try {
    const list = await listExamples();
    for (const ex of list) examplesSel.append(h("option", { value: ex.name, title: ex.description, text: ex.title }));
    // Opened as ?example=NAME (a link from a course page): the menu names what is shown.
    const opened = new URLSearchParams(location.search).get("example");
    if (opened && list.some((ex) => ex.name === opened)) examplesSel.value = opened;
    app.dataset["examples"] = String(list.length);
  } catch (e) {
    exampleDesc.textContent = `Examples unavailable: ${e instanceof Error ? e.message : String(e)}`;
  }
}
examplesSel.addEventListener("change", async () => {
  const name = examplesSel.value;
  if (!name) return;
  try {
    const ex = await getExample(name);
    exampleDesc.textContent = ex.description;
    editor.setText(ex.source);
    await run();
  } catch (e) {
    exampleDesc.textContent = `Could not load example: ${e instanceof Error ? e.message : String(e)}`;
  }
});

// ---- test and benchmark hooks --------------------------------------------------------------
declare global {
  interface Window { __gradtrace: Record<string, unknown> }
}
window.__gradtrace = {
  get cy() { return canvas.cy; },
  get trace() { return session?.trace ?? null; },
  get traceId() { return session?.id ?? null; },
  get model() { return session?.model ?? null; },
  get view() { return canvas.view; },
  get layout() { return canvas.lastLayout; },
  get restyled() { return canvas.lastRestyled; },
  get editorLine() { return editor.currentLine; },
  get selected() { return selected; },
  get editorText() { return editor.text; },
  get player() {
    const s = session?.replay.state;
    return { step: s?.step ?? 0, total: session?.replay.total ?? 0, active: s?.active ?? null, activeTensor: s?.activeTensor ?? null, line: s && s.step > 0 ? s.line : null, playing: player.isPlaying, order: s ? [...s.order] : [] };
  },
  renderMs: 0,
  seek: (n: number) => seek(n),
  play: (speed?: number) => { if (speed) player.speed = speed; player.play(); },
  pause: () => player.pause(),
  /** Trace node ids whose element is drawn now (grad_fn nodes, not hidden in a collapsed group). */
  visibleNodes: () => {
    if (!session || !canvas.view) return [];
    const shown = new Set(canvas.visibleIds());
    return session.trace.nodes.map((n) => n.id).filter((id) => canvas.view!.rep.get(id) === id && shown.has(id));
  },
  loadTrace: (trace: Trace, id: string | null = null) => loadTrace(trace, id),
  toggleGroup: (key: string) => toggleGroup(key),
  setEditorText: (text: string) => editor.setText(text),
  /** Benchmark hooks: synthetic traces and expanding every group. */
  synthetic: (n: number, modules = true) => syntheticTrace(n, { modules }),
  expandAll: async () => { if (session) { session.collapsed = new Set(); await rerender(); } },
};

// ---- start ---------------------------------------------------------------------------------
void loadExamples();
const params = new URLSearchParams(location.search);
// /t/ID share links and ?trace=ID; #code=... (compressed, from embeds); ?example=NAME.
const traceParam = params.get("trace") ?? /^\/t\/([0-9a-f]+)\/?$/.exec(location.pathname)?.[1] ?? null;
const codeParam = fragmentParams(location.hash).get("code");
const exampleParam = params.get("example");
// ?step=N (from an embed's "Open in playground" link): show that step once the first trace is loaded.
const stepParam = params.get("step");
const applyStep = (): void => { if (stepParam != null && /^\d+$/.test(stepParam)) seek(Number(stepParam)); };
if (codeParam) {
  decodeCode(codeParam).then((src) => { editor.setText(src); return run(); }).then(applyStep).catch((e: unknown) => setStatus("api-error", String(e instanceof Error ? e.message : e)));
} else if (exampleParam) {
  getExample(exampleParam).then((ex) => { exampleDesc.textContent = ex.description; editor.setText(ex.source); return run(); }).then(applyStep).catch((e: unknown) => setStatus("api-error", String(e instanceof Error ? e.message : e)));
} else if (traceParam) {
  getTrace(traceParam).then((r) => loadTrace(r.trace, r.id)).then(applyStep).catch((e: unknown) => setStatus("api-error", String(e instanceof Error ? e.message : e)));
} else if (params.get("autorun") !== "0" && params.get("bench") == null) {
  void run();
}
renderConsole(byId("console"), null, null);
refreshInspector();
