// Wires the playground together: editor -> API -> model -> graph + player + panels; exposes __gradtrace.
import "./style.css";
import "./embed/share.css";
import type { Trace } from "./api/types";
import { ApiError, getDot, getExample, isRetryable, streamTrace } from "./api/client";
import { getSharedTrace, type SharedTrace } from "./api/sharedTrace";
import { buildModel, normalizeTrace, type GraphModel } from "./graph/model";
import { Replay, describeEvent, type ReplayState } from "./graph/replay";
import { defaultCollapsed, groupsToOpen } from "./graph/view";
import { findItems } from "./view/search";
import { LEGEND, palette, type Theme } from "./graph/styles";
import { CodeEditor } from "./view/editor";
import { GraphCanvas } from "./view/graphCanvas";
import { attachGraphKeys } from "./view/graphKeys";
import { Player } from "./view/player";
import { renderInspector } from "./view/inspector";
import { explainFromStep, renderConsole, renderErrorPanel, renderPendingError, warningMarks } from "./view/panels";
import { byId, download, h, ownsKeys } from "./view/dom";
import { syntheticTrace } from "./graph/synthetic";
import { renderShare } from "./embed/share";
import { decodeCode, encodeCode, fragmentParams } from "./embed/codec";
import { OwnCode } from "./view/ownCode";
import { ExamplesMenu } from "./view/examplesMenu";
import { RunProgress } from "./view/runProgress";

const CODE_KEY = "gradtrace.code";
/** The visitor's code, copied aside when a link put other code in the editor (see OwnCode). */
const ASIDE_KEY = "gradtrace.code.aside";
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
  /** The code the trace was made from (null: not known, e.g. a trace loaded by a test hook). */
  source: string | null;
  model: GraphModel;
  replay: Replay;
  collapsed: Set<string>;
  /** The step from which the failure is explained and its culprit pinned (0: always). */
  explainAt: number;
}
/** Whether the error panel now shows the explanation (null: not drawn yet for this trace). */
let explained: boolean | null = null;
let session: Session | null = null;
let selected: string | null = null;
let runSeq = 0;
let lastRenderMs = 0;
let runsDone = 0;
// The code of the last two different runs, for "Diff vs previous" (/diff?a=previous&b=last).
let previousSource: string | null = null;
let lastSource: string | null = null;
/** Why the last run gave no trace (the service refused it, or could not be reached), null if it gave one. */
let lastRunError: string | null = null;

// The status line is cut with an ellipsis when long (style.css): its tooltip has all of it.
new MutationObserver(() => { statusEl.title = statusEl.textContent ?? ""; }).observe(statusEl, { childList: true, characterData: true, subtree: true });

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
const ownCode = new OwnCode(CODE_KEY, ASIDE_KEY);
const editor = new CodeEditor({
  parent: byId("editor"),
  doc: ownCode.load() ?? DEFAULT_CODE,
  onRun: () => void run(),
  onChange: (text, byUser) => { ownCode.changed(text, byUser); refreshTraceNote(); refreshShareNote(); },
  hintId: "editor-hint",
  onLineClick: (line) => {
    if (!session) return;
    const i = session.model.firstEventOfLine.get(line);
    if (i !== undefined) seek(i + 1);
  },
});

// CodeMirror's key to switch Tab between indenting and moving focus is Shift+Alt+M on a Mac.
if (/Mac|iPhone|iPad/.test(navigator.platform)) byId("editor-hint-toggle").textContent = "Shift+Alt+M";

// ---- graph ---------------------------------------------------------------------------------
const canvas = new GraphCanvas(byId("graph"), {
  onSelect: (id) => { selected = id; canvas.select(id); refreshInspector(); offerInspector(); },
  onJump: (id) => {
    if (!session) return;
    if (id.startsWith("G:")) { void toggleGroup(id.slice(2)); return; }
    const item = session.model.items.get(id);
    if (item) { selected = id; seek(item.appearAt); }
  },
});

// Keyboard model of the graph (view/graphKeys.ts; the hint under the timeline says it). The
// graph takes focus only by Tab, not on a click: after a click ←/→ still step the timeline.
const graphEl = byId("graph");
attachGraphKeys(graphEl, byId("graph-live"), {
  nav: () => canvas.navGraph(),
  label: (id) => canvas.labelOf(id),
  selected: () => selected,
  start: () => stepRep(),
  select: (id) => { selected = id; canvas.select(id); if (id) canvas.focus(id); refreshInspector(); },
  open: () => {
    inspectorFromGraph = true;
    inspectorEl.scrollIntoView({ block: "nearest" });
    inspectorEl.focus({ preventScroll: true });
  },
});
// Tab is what a keyboard user presses first (the graph takes focus by Tab only), and no phone's
// on-screen keyboard has it: from then on the keyboard hints show on a touch device too (style.css).
document.addEventListener("keydown", (e) => { if (e.key === "Tab") app.dataset["keyboard"] = "true"; }, { capture: true });
/** The drawn element of the current step's node or tensor (null: none). */
function stepRep(): string | null {
  const s = session?.replay.state;
  const item = s ? s.active ?? (s.activeTensor ? session!.model.tensorItem.get(s.activeTensor) ?? null : null) : null;
  return item ? canvas.view?.rep.get(item) ?? item : null;
}
/** The inspector was opened from the graph by Enter: Escape there goes back to the graph. */
let inspectorFromGraph = false;

// ---- player --------------------------------------------------------------------------------
const player = new Player({
  total: () => session?.replay.total ?? 0,
  step: () => session?.replay.state.step ?? 0,
  seek: (n) => seek(n),
  playing: (on) => captionEl.setAttribute("aria-live", on ? "off" : "polite"),
});
byId("player").append(player.el);

function seek(step: number): void {
  if (!session) return;
  const s = session.replay.seek(step);
  showState(s);
}

function showState(s: ReplayState): void {
  if (!session) return;
  clearSearchStatus();
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
  showExplanation(s.step >= session.explainAt);
  if (!player.isPlaying) refreshInspector();
}

/** The error panel at this step: the explanation and the pinned culprit from the failing step
 *  on, before it only that (and where) the run fails. */
function showExplanation(due: boolean): void {
  if (!session || due === explained) return;
  explained = due;
  const panel = byId("error-panel");
  app.dataset["explained"] = String(due);
  if (due) {
    renderErrorPanel(panel, session.trace, { showCulprit });
    if (selected === null) pinCulprit(false);
  } else {
    renderPendingError(panel, session.trace, session.explainAt, showCulprit);
    const rep = culpritRep();
    if (rep && selected === rep) { selected = null; canvas.select(null); }
    delete app.dataset["culprit"];
  }
}

function refreshInspector(): void {
  renderInspector(byId("inspector"), session?.model ?? null, canvas.view, session?.replay.state ?? null, selected, {
    jumpToCreation: (itemId) => { const it = session?.model.items.get(itemId); if (it) seek(it.appearAt); },
    seek: (step) => seek(step),
    toggleGroup: (key) => void toggleGroup(key),
    select: (elId) => { selected = session?.model && canvas.view ? canvas.view.rep.get(elId) ?? elId : elId; canvas.select(selected); canvas.focus(selected); refreshInspector(); },
  });
}

// The inspector sits below the graph on a phone, out of sight: a tap on a node must not look
// like nothing happened, so a button offers the way down to it (and goes once it is in view).
const inspectorEl = byId("inspector");
const inspectorJump = byId<HTMLButtonElement>("inspector-jump");
function offerInspector(): void {
  const r = inspectorEl.getBoundingClientRect();
  const outOfSight = r.top >= window.innerHeight || r.bottom <= 0;
  inspectorJump.hidden = !selected || !outOfSight;
  if (!inspectorJump.hidden) inspectorJump.textContent = `Show the inspector: ${inspectorEl.querySelector("h3")?.textContent ?? "selection"} ↓`;
}
inspectorJump.addEventListener("click", () => {
  inspectorJump.hidden = true;
  inspectorEl.scrollIntoView({ block: "start" });
  inspectorEl.focus({ preventScroll: true });
});
new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) inspectorJump.hidden = true; }).observe(inspectorEl);
inspectorEl.addEventListener("keydown", (e) => {
  if (e.key !== "Escape" || !inspectorFromGraph) return;
  inspectorFromGraph = false;
  e.preventDefault();
  graphEl.focus();
});

// ---- loading a trace -----------------------------------------------------------------------
async function loadTrace(raw: Trace, id: string | null, source: string | null = null): Promise<number> {
  const t0 = performance.now();
  const trace = normalizeTrace(raw);
  player.pause();
  const model = buildModel(trace);
  const replay = new Replay(model);
  const collapsed = defaultCollapsed(model);
  replay.seek(replay.total);
  // A snippet's error is explained once the timeline reaches it (as in the widgets); other
  // outcomes (a timeout, a bounded trace) say from the start why the graph is partial.
  const explainAt = trace.error ? explainFromStep(trace, replay.total) : 0;
  session = { trace, id, source, model, replay, collapsed, explainAt };
  selected = null;
  explained = null;
  delete app.dataset["culprit"];
  await canvas.render(model, collapsed, replay.state, focusItemFor(model));
  editor.setMarks({
    noGrad: [...model.noGradLines], detach: [...model.detachLines], warnings: warningMarks(trace),
    error: trace.error?.line ?? null, related: trace.error?.related_line ?? null, current: null,
  }, false);
  renderConsole(byId("console"), trace, null, { showWarning });
  showState(replay.state);
  lastRenderMs = performance.now() - t0;
  app.dataset["ready"] = "true";
  app.dataset["traceStatus"] = trace.status;
  app.dataset["nodes"] = String(trace.nodes.length);
  (window.__gradtrace as { renderMs: number }).renderMs = lastRenderMs;
  lastRunError = null;
  refreshTraceNote();
  return lastRenderMs;
}

/** One line for the status: what the trace on screen is. */
function summary(trace: Trace): string {
  const st = trace.status;
  return st === "ok" ? `Traced: ${trace.nodes.length} nodes, ${trace.events.length} steps` : st === "error" ? `Snippet raised ${trace.error?.type ?? "an error"}` : `Stopped: ${st}`;
}

// Everything shown next to the editor (graph, output, timeline, error) belongs to one trace; when
// the editor's code is not that trace's, say so rather than let them pass for each other.
const traceNote = byId("trace-note");
function refreshTraceNote(): void {
  const stale = !!session && session.source !== null && session.source !== editor.text;
  app.dataset["stale"] = String(stale);
  const text = !stale ? ""
    : lastRunError !== null ? "This code was not traced (see the message): the graph, output and timeline still show the previous code."
    : "The code was edited since this run: the graph, output and timeline show the code as it ran. Run ▸ traces the new code.";
  if (traceNote.textContent !== text) traceNote.textContent = text;
  traceNote.hidden = !stale;
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

/** The drawn element of the node or tensor the error is about (null: none). */
function culpritRep(): string | null {
  if (!session || !canvas.view) return null;
  const err = session.trace.error;
  const item = err?.node ?? (err?.tensor ? session.model.tensorItem.get(err.tensor) : null);
  return item ? canvas.view.rep.get(item) ?? item : null;
}

function pinCulprit(focus = true): void {
  if (!session || !canvas.view) return;
  const err = session.trace.error;
  const item = err?.node ?? (err?.tensor ? session.model.tensorItem.get(err.tensor) : null);
  const rep = culpritRep();
  if (!item || !rep) return;
  selected = rep;
  canvas.select(rep);
  if (focus) canvas.focus(rep);
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
  if (stacked()) {
    // A phone or narrow window stacks the panes: the button sits far below the graph, which
    // must come into view for the culprit to be seen; the inspector is offered from there.
    graphEl.scrollIntoView({ block: "center" });
    offerInspector();
  } else {
    revealInspector();
  }
}

/** The panes are stacked (style.css, narrow screens): the details column is under the graph. */
function stacked(): boolean {
  const side = inspectorEl.closest<HTMLElement>(".side");
  return !!side && side.getBoundingClientRect().top >= graphEl.getBoundingClientRect().bottom;
}

/** Scrolls the side column (never the page) to the inspector: below a long explanation, the
 *  culprit's evidence (its STALE saved tensor) sat out of sight in that column. */
function revealInspector(): void {
  const side = inspectorEl.closest<HTMLElement>(".side");
  if (!side || side.scrollHeight <= side.clientHeight) return;
  const target = inspectorEl.querySelector<HTMLElement>("table.saved") ?? inspectorEl;
  const box = side.getBoundingClientRect(), t = target.getBoundingClientRect();
  if (t.top >= box.top && t.bottom <= box.bottom) return;
  side.scrollTop += inspectorEl.getBoundingClientRect().top - box.top;
}

/** Traces the editor's code (or `source`: a Retry of a failed run's code) and shows it. True
 *  when this run's trace is now on screen. */
async function run(source = editor.text): Promise<boolean> {
  const mine = ++runSeq;
  player.pause();
  setStatus("running", "Running…");
  app.dataset["ready"] = "false";
  // Live progress while the sandbox runs: event count and the line being executed; finished
  // (so a frame still queued is a no-op) before the run's own status is set.
  const progress = new RunProgress((text, line) => {
    if (mine !== runSeq) return;
    statusEl.textContent = text;
    editor.setMarks({ current: line }, true);
  });
  try {
    const res = await streamTrace(source, {
      onEvent: (ev) => { if (mine === runSeq) progress.event(ev); else progress.finish(); },
    });
    progress.finish();
    if (mine !== runSeq) return false;
    await loadTrace(res.trace, res.id, source);
    if (lastSource !== null && lastSource !== source) previousSource = lastSource;
    lastSource = source;
    app.dataset["runs"] = String(++runsDone);
    setStatus(res.trace.status, summary(res.trace));
    return true;
  } catch (e) {
    progress.finish();
    if (mine !== runSeq) return false;
    const msg = e instanceof ApiError ? `${e.message}${e.code ? ` (${e.code})` : ""}` : String(e);
    lastRunError = msg;
    setStatus("api-error", msg);
    renderErrorPanel(byId("error-panel"), null, { showCulprit });
    showServiceError(msg, isRetryable(e) ? () => void run(source) : null,
      session ? "The graph, output and timeline still show the previous run." : null);
    refreshTraceNote();
    app.dataset["ready"] = "true";
    app.dataset["runs"] = String(++runsDone);
    return false;
  }
}

/** The service refused a request, or could not be reached or failed (then with a Retry button
 *  that sends the same request again). */
function showServiceError(msg: string, retry: (() => void) | null, note: string | null = null): void {
  const panel = byId("error-panel");
  panel.hidden = false;
  const again = retry ? h("button", { type: "button", class: "btn", text: "Retry" }) : null;
  again?.addEventListener("click", () => { again.disabled = true; retry!(); });
  panel.append(h("div", { class: "outcome", role: "alert", "data-outcome": retry ? "unavailable" : "api-error" },
    h("h2", { text: retry ? "The gradtrace service is unavailable" : "The service could not trace this" }), h("p", { text: msg }),
    note ? h("p", { text: note }) : null,
    retry ? h("p", { text: "It may be restarting or busy: Retry sends the same request again." }) : null, again));
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
  const hits = findItems(session.model, search.value);
  if (!hits.length) { canvas.setSearch([]); searchStatus(`No node matches "${search.value}"`); return; }
  const first = hits[0]!;
  const toOpen = groupsToOpen(session.model, first).filter((g) => session!.collapsed.has(g));
  if (toOpen.length) { for (const g of toOpen) session.collapsed.delete(g); await rerender(); }
  const reps = [...new Set(hits.map((id) => canvas.view!.rep.get(id) ?? id))];
  canvas.setSearch(reps);
  selected = canvas.view!.rep.get(first) ?? first;
  canvas.select(selected);
  canvas.focus(selected);
  refreshInspector();
  offerInspector();
  searchStatus(`${hits.length} match${hits.length === 1 ? "" : "es"}`);
});

/** The status a search's message replaced: put back once the step or trace changes, when the
 *  count no longer describes what is shown. */
let beforeSearch: { shown: string; was: string } | null = null;
function searchStatus(text: string): void {
  const now = statusEl.textContent ?? "";
  const was = beforeSearch && beforeSearch.shown === now ? beforeSearch.was : now;
  statusEl.textContent = text;
  beforeSearch = { shown: text, was };
}
function clearSearchStatus(): void {
  if (beforeSearch && statusEl.textContent === beforeSearch.shown) statusEl.textContent = beforeSearch.was;
  beforeSearch = null;
}

// ---- toolbar, exports, theme ---------------------------------------------------------------
byId("run").addEventListener("click", () => void run());
// Fit on a graph too big to read whole shows the selection's (or the step's) neighbourhood and
// says so; the status goes back once the step changes.
byId("fit").addEventListener("click", () => {
  if (canvas.fit(selected ?? stepRep()) === "around") {
    searchStatus(`Too big to read whole (${canvas.visibleIds().length} nodes drawn): Fit shows ${selected ? "the selection" : "this step"} and its neighbours. Zoom out (−) for the outline.`);
  }
});
byId("zoom-in").addEventListener("click", () => canvas.zoomBy(1.25));
byId("zoom-out").addEventListener("click", () => canvas.zoomBy(0.8));
/** Every export is of the trace on screen: without one, each says so (none does nothing). */
function noTraceFor(what: string, stored: boolean): boolean {
  if (stored ? session?.id : session) return false;
  statusEl.textContent = `${what} export needs a trace${stored ? " stored by the service" : ""} (run the snippet first).`;
  return true;
}
// The Export menu closes once an item is chosen, on a click elsewhere and on Escape.
const exportMenu = document.querySelector<HTMLDetailsElement>("details.export")!;
exportMenu.querySelector(".menu")!.addEventListener("click", (e) => { if ((e.target as HTMLElement).closest("button")) exportMenu.open = false; });
document.addEventListener("click", (e) => { if (exportMenu.open && !exportMenu.contains(e.target as Node)) exportMenu.open = false; });
byId("export-png").addEventListener("click", () => { if (!noTraceFor("PNG", false)) download("gradtrace.png", canvas.png()); });
byId("export-svg").addEventListener("click", () => { if (!noTraceFor("SVG", false)) download("gradtrace.svg", canvas.svg(), "image/svg+xml"); });
byId("export-json").addEventListener("click", () => { if (!noTraceFor("JSON", false) && session) download("gradtrace-trace.json", JSON.stringify(session.trace, null, 2), "application/json"); });
byId("export-dot").addEventListener("click", async () => {
  if (noTraceFor("DOT", true) || !session?.id) return;
  try { download("gradtrace.dot", await getDot(session.id), "text/vnd.graphviz"); } catch (e) { statusEl.textContent = String(e instanceof Error ? e.message : e); }
});

// Share: a permanent /t/ID link (the run already stored the trace) and embed snippets. Every
// snippet in the panel is the editor's code and its trace: when the trace on screen was made
// from other code (edited since, a refused run, or no run yet), the code is traced first.
const sharePanel = byId("share-panel");
let sharedSource: string | null = null;
byId("share").addEventListener("click", async () => {
  if (!session?.id || session.source !== editor.text) {
    if (!(await run())) {
      sharePanel.hidden = true;
      statusEl.textContent = `Share failed: ${lastRunError ?? "a newer run replaced this one"}`;
      return;
    }
  }
  const shown = session;
  if (!shown?.id || shown.source === null) return;
  try {
    await renderShare(sharePanel, { id: shown.id, source: shown.source, origin: location.origin }, closeShare);
  } catch (e) {
    statusEl.textContent = `Share failed: ${e instanceof Error ? e.message : String(e)}`;
    return;
  }
  sharedSource = shown.source;
  app.dataset["shared"] = shown.id;
  statusEl.textContent = `Shared: trace ${shown.id.slice(0, 12)} (link and snippets in the Share panel)`;
  // On a phone the panel opens far below the toolbar: bring it into view, focus on it.
  sharePanel.scrollIntoView({ block: "start" });
  sharePanel.focus({ preventScroll: true });
});
/** Closes the Share panel; focus goes back to the Share button, not left on a hidden element. */
function closeShare(): void {
  const hadFocus = sharePanel.contains(document.activeElement);
  sharePanel.hidden = true;
  if (hadFocus || document.activeElement === document.body) byId("share").focus();
}
/** The panel stays open while the code is edited: say that it shares the code as it was. */
function refreshShareNote(): void {
  const stale = !sharePanel.hidden && sharedSource !== null && sharedSource !== editor.text;
  const note = sharePanel.querySelector(".share-stale");
  if (stale && !note) {
    sharePanel.querySelector("h2")?.after(h("p", { class: "trace-note share-stale", text: "The code has changed since: these snippets share the code as it was. Share again to share the new code." }));
  } else if (!stale && note) note.remove();
}
byId("diff-prev").addEventListener("click", async () => {
  if (previousSource === null || lastSource === null) { statusEl.textContent = "Run two different snippets, then compare them."; return; }
  const url = `/diff?a=${await encodeCode(previousSource)}&b=${await encodeCode(lastSource)}`;
  app.dataset["diffUrl"] = url;
  window.open(url, "_blank", "noopener");
});
// Export HTML: one self-contained file (viewer + trace inlined) rendered by the server from the stored trace.
byId("export-html").addEventListener("click", () => {
  if (noTraceFor("HTML", true) || !session?.id) return;
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
  // The legend's swatches are painted in the graph's colours for this theme.
  for (const [k, v] of Object.entries(palette(t))) document.documentElement.style.setProperty(`--g-${k}`, v);
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

// Keyboard: Escape closes the Export menu and the Share panel (focus back on what opened them);
// arrows step and Space plays, unless focus is on something the key belongs to (a text field,
// the editor, a button, a summary, a region that scrolls).
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") {
    if (exportMenu.open) {
      const hadFocus = exportMenu.contains(document.activeElement);
      exportMenu.open = false;
      if (hadFocus) exportMenu.querySelector("summary")?.focus();
      e.preventDefault();
    } else if (!sharePanel.hidden && !e.defaultPrevented && !(e.target instanceof HTMLElement && e.target.closest(".cm-editor"))) {
      closeShare();
      e.preventDefault();
    }
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey || ownsKeys(e.target)) return;
  if (e.key === "ArrowRight") { player.pause(); seek((session?.replay.state.step ?? 0) + 1); e.preventDefault(); }
  else if (e.key === "ArrowLeft") { player.pause(); seek((session?.replay.state.step ?? 0) - 1); e.preventDefault(); }
  else if (e.key === " ") { player.toggle(); e.preventDefault(); }
});

// ---- examples ------------------------------------------------------------------------------
const exampleDesc = byId("example-desc");
const examplesMenu = new ExamplesMenu(byId<HTMLSelectElement>("examples"), {
  // Like an ?example= link: the visitor's draft is kept aside and offered back, not saved over.
  load: (ex) => { showLinkedCode(ex.source, "this example's code"); void run(); },
  describe: (text) => { exampleDesc.textContent = text; },
});

// ---- the visitor's own code ------------------------------------------------------------------
const ownNote = byId("own-code");
/** Dismiss on a link's page only hides the offer (the visitor's code is still theirs, saved);
 *  on a plain visit it forgets the copy, which would otherwise be offered on every visit. */
let dismissForgets = false;
function offerOwnCode(text: string | null, forgetOnDismiss = false): void {
  ownNote.hidden = text === null;
  byId("own-code-text").textContent = text ?? "";
  dismissForgets = forgetOnDismiss;
}
byId("restore-code").addEventListener("click", () => {
  const kept = ownCode.restore(editor.text);
  offerOwnCode(null);
  if (kept === null) return;
  editor.setText(kept);
  statusEl.textContent = "Your own code is back in the editor.";
  // Another draft (the code just replaced, or an earlier one) is still kept: offer it too.
  if (ownCode.aside(kept) !== null) offerOwnCode("Your other kept code can come back too.");
});
byId("forget-code").addEventListener("click", () => { if (dismissForgets) ownCode.forget(); offerOwnCode(null); });

/** Shows code a link brought, keeping the visitor's own (saved, and offered back). */
function showLinkedCode(source: string, what: string): void {
  const kept = ownCode.linkOpened(source);
  editor.setText(source);
  offerOwnCode(kept ? `The editor shows ${what}; your own code is kept.` : null);
}

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
  loadTrace: (trace: Trace, id: string | null = null, source: string | null = null) => loadTrace(trace, id, source),
  toggleGroup: (key: string) => toggleGroup(key),
  setEditorText: (text: string) => editor.setText(text),
  /** Benchmark hooks: synthetic traces and expanding every group. */
  synthetic: (n: number, modules = true) => syntheticTrace(n, { modules }),
  expandAll: async () => { if (session) { session.collapsed = new Set(); await rerender(); } },
};

// ---- start ---------------------------------------------------------------------------------
const params = new URLSearchParams(location.search);
// Opened as ?example=NAME (a link from a course page): the menu names what is shown.
examplesMenu.fill(params.get("example"))
  .then((n) => { app.dataset["examples"] = String(n); })
  .catch((e: unknown) => { exampleDesc.textContent = `Examples unavailable: ${e instanceof Error ? e.message : String(e)}`; });
// /t/ID share links and ?trace=ID; #code=... (compressed, from embeds); ?example=NAME.
const sharePath = /^\/t\/([^/]+)\/?$/.exec(location.pathname)?.[1];
const traceParam = params.get("trace") ?? (sharePath !== undefined ? decodePath(sharePath) : null);
const codeParam = fragmentParams(location.hash).get("code");
const exampleParam = params.get("example");
/** A link's `step=N` (a whole number), else null. */
function stepFrom(value: string | null): number | null {
  return value != null && /^\d+$/.test(value) ? Number(value) : null;
}
// ?step=N (an embed's "Open in playground" link, /t/ID?step=N) or #code=…&step=N: show that
// step once the first trace is loaded.
const stepParam = stepFrom(params.get("step") ?? fragmentParams(location.hash).get("step"));
const applyStep = (): void => { if (stepParam !== null) seek(stepParam); };
/** A link's first load failed; one the service could not answer offers to start again. */
const failed = (e: unknown): void => {
  const msg = String(e instanceof Error ? e.message : e);
  setStatus("api-error", msg);
  if (!isRetryable(e)) return;
  renderErrorPanel(byId("error-panel"), null, { showCulprit });
  showServiceError(msg, () => { setStatus("running", "Retrying…"); byId("error-panel").hidden = true; start(); });
};

function decodePath(segment: string): string {
  try { return decodeURIComponent(segment); } catch { return segment; }
}

/** A share link: the trace, and in the editor the code it was made from. */
async function openShared(id: string): Promise<void> {
  let shared: SharedTrace;
  try {
    shared = await getSharedTrace(id);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    // The editor keeps the visitor's own code; nothing runs.
    setStatus("not-found", `No trace with the id ${id}`);
    const panel = byId("error-panel");
    panel.hidden = false;
    panel.replaceChildren(h("div", { class: "outcome", role: "alert", "data-outcome": "not-found" },
      h("h2", { text: "Trace not found" }),
      h("p", { text: `No trace with this id is stored here: “${id}”. Check the link (a trace nobody opened for a long time may have been removed to keep storage bounded); the editor shows your own code, and Run ▸ traces it.` })));
    app.dataset["ready"] = "true";
    return;
  }
  showLinkedCode(shared.source, "the shared trace's code");
  await loadTrace(shared.trace, shared.id, shared.source);
  lastSource = shared.source;
  setStatus(shared.trace.status, `Shared trace ${shared.id.slice(0, 12)} · ${summary(shared.trace)}`);
  applyStep();
}

// A #code= link opened in a tab already showing the playground changes only the hash (no new
// page load): load its code as on arrival, the visitor's draft kept the same way. Its step=
// moves the timeline there, once the code ran; a hash that changes only the step (or has only
// one) just moves the timeline.
/** The #code= value last put in the editor from a link. */
let linkedCode = codeParam;
window.addEventListener("hashchange", () => {
  const frag = fragmentParams(location.hash);
  const code = frag.get("code"), step = stepFrom(frag.get("step"));
  const showStep = (): void => { if (step !== null) { player.pause(); seek(step); } };
  if (code && code !== linkedCode) {
    linkedCode = code;
    decodeCode(code).then((src) => { showLinkedCode(src, "the code from the link"); return run(); }).then((ok) => { if (ok) showStep(); }).catch(failed);
  } else showStep();
});

/** What the page's address asks for: a link's code, example or shared trace (a plain visit runs the editor's code). */
function start(): void {
  if (codeParam) {
    decodeCode(codeParam).then((src) => { showLinkedCode(src, "the code from the link"); return run(); }).then(applyStep).catch(failed);
  } else if (exampleParam) {
    getExample(exampleParam).then((ex) => { exampleDesc.textContent = ex.description; showLinkedCode(ex.source, "this example's code"); return run(); }).then(applyStep)
      // A mistyped link: said plainly (the service's message names an API endpoint); the menu is right there.
      .catch((e: unknown) => e instanceof ApiError && e.code === "example_not_found"
        ? setStatus("api-error", `There is no built-in example called "${exampleParam}". Pick one from the Examples menu.`)
        : failed(e));
  } else if (traceParam) {
    openShared(traceParam).catch(failed);
  }
}
if (codeParam || exampleParam || traceParam) {
  start();
} else {
  // A plain visit after editing a link's code: the code from before is still offered back.
  if (ownCode.aside(editor.text) !== null) offerOwnCode("Your code from before you opened a link is kept.", true);
  if (params.get("autorun") !== "0" && params.get("bench") == null) void run();
}
renderConsole(byId("console"), null, null);
refreshInspector();
