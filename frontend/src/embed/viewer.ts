// The embeddable viewer: code, graph, inspector and timeline panes over one trace, with pause annotations and predict mode.
import type { Trace } from "../api/types";
import { buildModel, normalizeTrace, type GraphModel } from "../graph/model";
import { Replay, describeEvent } from "../graph/replay";
import { defaultCollapsed } from "../graph/view";
import { GraphCanvas } from "../view/graphCanvas";
import { Player } from "../view/player";
import { renderInspector } from "../view/inspector";
import { clear, h, ownsKeys } from "../view/dom";
import { explainFromStep, renderErrorPanel, warningMarks } from "../view/panels";
import { CodeView } from "./codeView";
import { parseAnnotations, pauseSteps } from "./annotations";
import { grade, predictQuestions, type Question } from "./predict";
import { DEFAULT_SPEED, type EmbedOptions } from "./options";

export interface ViewerHooks {
  /** Called when the editable code's Run is pressed. */
  onRun?: (source: string) => void;
  /** Called after every render/state change (for auto-sizing). */
  onChange?: () => void;
}

export class Viewer {
  readonly root: HTMLElement;
  readonly code: CodeView;
  readonly canvas: GraphCanvas | null;
  readonly player: Player;
  /** The inspector's pane, and inside it what renderInspector fills. */
  private readonly inspectorPane: HTMLElement;
  private readonly inspectorEl: HTMLElement;
  private readonly inspectorClose: HTMLButtonElement;
  private readonly captionEl: HTMLElement;
  private readonly messageEl: HTMLElement;
  private readonly predictEl: HTMLElement;
  private readonly errorEl: HTMLDetailsElement;
  /** The step from which the error (or the sandbox's outcome) is explained: once it happened. */
  private errorStep = Infinity;
  trace: Trace | null = null;
  model: GraphModel | null = null;
  replay: Replay | null = null;
  private selected: string | null = null;
  private pauses: number[] = [];
  private passedPauses = new Set<number>();
  private questions: Question[] = [];
  private answered = new Set<number>();
  private asking: Question | null = null;
  score = { right: 0, wrong: 0 };

  constructor(parent: HTMLElement, readonly opts: EmbedOptions, private readonly hooks: ViewerHooks = {}, footer?: HTMLElement) {
    const panes = [...opts.panes].join(" ");
    this.root = h("div", { class: "gt-embed", "data-panes": panes, "data-ready": "false", "data-status": "loading" });
    this.code = new CodeView(!opts.readonly, new Set(), () => hooks.onRun?.(this.code.text));
    this.inspectorEl = h("div", { class: "inspector" });
    this.inspectorClose = h("button", { type: "button", class: "btn btn-small gt-inspector-close", text: opts.panes.has("code") ? "Back to the code" : "Close the inspector" });
    this.inspectorClose.addEventListener("click", () => this.setInspecting(false));
    this.inspectorPane = h("aside", { class: "gt-inspector", "aria-label": "Inspector" }, this.inspectorClose, this.inspectorEl);
    this.captionEl = h("p", { class: "gt-caption", "aria-live": "polite" });
    this.messageEl = h("div", { class: "gt-message", role: "status", hidden: true });
    this.predictEl = h("div", { class: "gt-predict", hidden: true, "aria-live": "polite" });
    // Collapsed to one line under the graph unless the widget is tall: the graph stays readable.
    this.errorEl = h("details", { class: "gt-error", hidden: true });
    this.errorEl.addEventListener("toggle", () => this.hooks.onChange?.());
    const graphBox = h("div", { class: "gt-canvas", role: "img", "aria-label": "Autograd graph (click a node to inspect it)" });
    const codePane = h("section", { class: "gt-pane gt-code-pane", "aria-label": "Code" }, this.code.el);
    if (!opts.readonly) {
      const runBtn = h("button", { type: "button", class: "btn primary gt-run", text: "Run ▸" });
      runBtn.addEventListener("click", () => hooks.onRun?.(this.code.text));
      codePane.append(runBtn);
    }
    const graphPane = h("section", { class: "gt-pane gt-graph-pane", "aria-label": "Autograd graph" }, graphBox, this.captionEl);
    const main = h("div", { class: "gt-main" });
    if (opts.panes.has("code")) main.append(codePane);
    if (opts.panes.has("graph")) main.append(graphPane);
    if (opts.panes.has("inspector")) main.append(this.inspectorPane);
    this.player = new Player({
      total: () => this.replay?.total ?? 0, step: () => this.replay?.state.step ?? 0, seek: (n) => this.seek(n),
      // The caption is not announced step by step while playing; once the reader plays, the
      // note that autoplay was held back (reduced motion) has done its job.
      playing: (on) => {
        this.captionEl.setAttribute("aria-live", on ? "off" : "polite");
        if (on && this.root.dataset["message"] === "reduced-motion") this.message(null);
      },
    });
    offerSpeed(this.player, opts.speed);
    const timeline = h("div", { class: "gt-timeline" }, this.player.el);
    if (!opts.panes.has("timeline")) timeline.hidden = true;
    this.root.append(main, this.errorEl, this.predictEl, this.messageEl, timeline);
    if (footer) this.root.append(footer);
    parent.append(this.root);
    // The author's height (embed.css: a minimum on phones, where the graph needs more room).
    this.root.style.setProperty("--gt-height", `${opts.height}px`);
    // The graph pane can be hidden; the canvas still needs a container to lay out in.
    this.canvas = opts.panes.has("graph") ? new GraphCanvas(graphBox, {
      // A narrow widget hides the inspector: a tap on a node then opens it in the code's place
      // (a tap that seemed to do nothing was all a phone reader got).
      onSelect: (id) => { this.selected = id; this.canvas?.select(id); this.refreshInspector(); if (id) this.openInspector(); },
      onJump: (id) => { const it = this.model?.items.get(id); if (it) { this.selected = id; this.seek(it.appearAt); } },
    }) : null;
    this.canvas?.setTheme(opts.theme);
    this.root.addEventListener("keydown", (e) => {
      if (ownsKeys(e.target)) return;
      if (e.key === "ArrowRight") { this.player.pause(); this.seek(this.step + 1); e.preventDefault(); }
      else if (e.key === "ArrowLeft") { this.player.pause(); this.seek(this.step - 1); e.preventDefault(); }
    });
    this.root.tabIndex = 0;
    // A click on the graph focuses the widget, so the arrow keys step it next, as after tabbing
    // to it: Cytoscape blurs whatever had focus on a press, so this is done on the release
    // (listened for on the way down, before Cytoscape's own handlers at its container).
    this.root.addEventListener("pointerup", (e) => { if (graphBox.contains(e.target as Node)) this.root.focus({ preventScroll: true }); }, { capture: true });
  }

  get step(): number { return this.replay?.state.step ?? 0; }

  setSource(source: string): void {
    const ann = parseAnnotations(source);
    this.code.setText(source, ann.hide);
    this.root.dataset["hiddenLines"] = [...ann.hide].sort((a, b) => a - b).join(",");
  }

  /** A clear message in the widget (the code stays visible). `kind` is exposed as data-message;
   *  `more` (e.g. a note for the page's author) goes after the message and any button. */
  message(kind: string | null, text = "", action?: { label: string; run: () => void }, more?: Node): void {
    clear(this.messageEl);
    this.messageEl.hidden = kind == null;
    if (kind == null) { delete this.root.dataset["message"]; return; }
    this.root.dataset["message"] = kind;
    this.messageEl.append(h("span", { text }));
    if (action) {
      const b = h("button", { type: "button", class: "btn", text: action.label });
      b.addEventListener("click", action.run);
      this.messageEl.append(" ", b);
    }
    if (more) this.messageEl.append(more);
    this.hooks.onChange?.();
  }

  async load(raw: Trace, source: string | null): Promise<void> {
    const trace = normalizeTrace(raw);
    this.player.pause();
    this.trace = trace;
    this.model = buildModel(trace);
    this.replay = new Replay(this.model);
    const ann = parseAnnotations(source ?? "");
    this.pauses = pauseSteps(trace.events, ann.pause);
    this.passedPauses.clear();
    this.questions = this.opts.predict ? predictQuestions(this.model) : [];
    this.answered.clear();
    this.asking = null;
    this.predictEl.hidden = true;
    // The lesson of a failing snippet: explained once the timeline reaches the failure, not
    // before (a class stepping through should see it happen first).
    this.errorStep = explainFromStep(trace, this.replay.total);
    // The previous run's explanation goes with it (show() puts this run's back once it is due).
    this.errorEl.dataset["shown"] = "false";
    clear(this.errorEl);
    this.errorEl.hidden = true;
    delete this.errorEl.dataset["tone"];
    this.selected = null;
    this.setInspecting(false);
    this.code.setWarnings(warningMarks(trace));
    const start = this.opts.predict ? 0 : this.opts.step === "end" ? this.replay.total : Math.min(this.opts.step, this.replay.total);
    this.replay.seek(this.replay.total);
    if (this.canvas) await this.canvas.render(this.model, defaultCollapsed(this.model), this.replay.state, null);
    this.root.dataset["status"] = trace.status;
    this.root.dataset["nodes"] = String(trace.nodes.length);
    this.root.dataset["questions"] = String(this.questions.length);
    this.show(start);
    this.root.dataset["ready"] = "true";
    if (this.opts.autoplay) this.player.play();
    else if (this.opts.autoplayHeld) this.message("reduced-motion", "Not playing by itself: your device asks for reduced motion. Press Play ▶ to watch it step by step.");
    this.hooks.onChange?.();
  }

  /** Moves the timeline, stopping at pause annotations (while playing) and unanswered predict questions. */
  seek(target: number): void {
    if (!this.replay || !this.model) return;
    let n = Math.max(0, Math.min(target, this.replay.total));
    const cur = this.replay.state.step;
    if (n > cur) {
      const q = this.questions.find((x) => x.index >= cur && x.index < n && !this.answered.has(x.index));
      if (q) { this.player.pause(); this.show(q.index); this.ask(q); return; }
      if (this.player.isPlaying) {
        const p = this.pauses.find((s) => s > cur && s <= n && !this.passedPauses.has(s));
        if (p !== undefined) { this.passedPauses.add(p); n = p; this.player.pause(); this.root.dataset["paused"] = String(p); }
      }
    }
    this.show(n);
  }

  private show(n: number): void {
    if (!this.replay || !this.model) return;
    const s = this.replay.seek(n);
    this.canvas?.applyState(s);
    const activeItem = s.active ?? (s.activeTensor ? this.model.tensorItem.get(s.activeTensor) ?? null : null);
    if (activeItem && s.step < this.replay.total && this.canvas) this.canvas.follow(this.canvas.view?.rep.get(activeItem) ?? null);
    this.code.setCurrent(s.step > 0 ? s.line : null);
    this.showError(s.step >= this.errorStep);
    this.captionEl.textContent = describeEvent(s.event, this.model);
    this.player.update();
    this.root.dataset["step"] = String(s.step);
    this.root.dataset["total"] = String(this.replay.total);
    this.root.dataset["active"] = s.active ?? "";
    if (!this.player.isPlaying) this.refreshInspector();
  }

  private ask(q: Question): void {
    this.asking = q;
    clear(this.predictEl);
    this.predictEl.hidden = false;
    this.root.dataset["question"] = q.kind;
    delete this.root.dataset["graded"];
    const result = h("p", { class: "gt-result" });
    const buttons = q.choices.map((c) => {
      const b = h("button", { type: "button", class: "btn gt-choice", "data-choice": c.id, text: c.label });
      b.addEventListener("click", () => {
        if (this.asking !== q) return;
        const ok = grade(q, c.id);
        if (ok) this.score.right++; else this.score.wrong++;
        this.asking = null;
        this.answered.add(q.index);
        this.root.dataset["graded"] = ok ? "right" : "wrong";
        for (const other of buttons) other.disabled = true;
        b.classList.add(ok ? "right" : "wrong");
        buttons.find((x) => x.dataset["choice"] === q.answer)?.classList.add("answer");
        result.textContent = `${ok ? "Right!" : "Not quite."} ${q.explain}`;
        this.seek(q.index + 1); // reveal the step
        this.hooks.onChange?.();
      });
      return b;
    });
    this.predictEl.append(h("p", { class: "gt-prompt", text: `Predict: ${q.prompt}` }), h("div", { class: "gt-choices" }, ...buttons), result);
    this.hooks.onChange?.();
  }

  private showError(show: boolean): void {
    const was = this.errorEl.dataset["shown"] === "true";
    if (show === was) return;
    this.errorEl.dataset["shown"] = String(show);
    clear(this.errorEl);
    this.errorEl.hidden = !show;
    if (show && this.trace) {
      const body = h("div", { class: "error-panel" });
      renderErrorPanel(body, this.trace, { showCulprit: () => this.pinCulprit() });
      const title = body.querySelector("h2")?.textContent ?? "What went wrong";
      this.errorEl.append(h("summary", { class: "gt-error-summary", text: title }), body);
      // A bounded trace that ran fine is a notice, not an error.
      this.errorEl.dataset["tone"] = this.trace.error || this.trace.status !== "ok" ? "error" : "notice";
      this.errorEl.open = this.opts.height >= 560;
    }
    this.hooks.onChange?.();
  }

  /** Selects the node or tensor the error is about (the panel's "Show the culprit" button). */
  private pinCulprit(): void {
    const err = this.trace?.error;
    const item = err?.node ?? (err?.tensor ? this.model?.tensorItem.get(err.tensor) : null);
    if (!item || !this.canvas?.view) return;
    const sel = this.selected = this.canvas.view.rep.get(item) ?? item;
    this.canvas.select(sel);
    this.refreshInspector();
    this.revealInspector();
    this.canvas.focus(sel);
    // Again once the panes have their new widths (the canvas resizes on the next frame).
    requestAnimationFrame(() => requestAnimationFrame(() => { if (this.selected === sel) this.canvas?.focus(sel); }));
  }

  /** Brings the inspector, and in it the culprit's evidence (its saved tensors), into view. A
   *  widget narrower than 700 px hides the inspector (embed.css): it then takes the code pane's
   *  place until "Back to the code". */
  private revealInspector(): void {
    if (!this.opts.panes.has("inspector")) return;
    this.openInspector();
    const pane = this.inspectorPane;
    const target = this.inspectorEl.querySelector<HTMLElement>("table.saved");
    if (target) {
      const box = pane.getBoundingClientRect(), t = target.getBoundingClientRect();
      if (t.bottom > box.bottom) pane.scrollTop += Math.min(t.bottom - box.bottom, t.top - box.top);
      else if (t.top < box.top) pane.scrollTop -= box.top - t.top;
    }
    // The widget itself may be taller than the window (a page of its own, or a host page's iframe).
    pane.scrollIntoView({ block: "nearest" });
  }

  /** Shows the inspector where the widget is too narrow to show it beside the graph. */
  private openInspector(): void {
    if (this.opts.panes.has("inspector") && getComputedStyle(this.inspectorPane).display === "none") this.setInspecting(true);
  }

  private setInspecting(on: boolean): void {
    if (on === (this.root.dataset["inspecting"] === "true")) return;
    if (on) this.root.dataset["inspecting"] = "true"; else delete this.root.dataset["inspecting"];
    this.hooks.onChange?.();
  }

  refreshInspector(): void {
    if (!this.opts.panes.has("inspector")) return;
    renderInspector(this.inspectorEl, this.model, this.canvas?.view ?? null, this.replay?.state ?? null, this.selected, {
      jumpToCreation: (id) => { const it = this.model?.items.get(id); if (it) this.seek(it.appearAt); },
      seek: (step) => this.seek(step),
      toggleGroup: () => undefined,
      select: (elId) => { this.selected = this.canvas?.view?.rep.get(elId) ?? elId; this.canvas?.select(this.selected); this.refreshInspector(); },
    });
  }

  /** Selects a node as if clicked (tests, keyboard). */
  selectNode(id: string): void {
    this.selected = this.canvas?.view?.rep.get(id) ?? id;
    this.canvas?.select(this.selected);
    this.refreshInspector();
  }

  /** Node ids drawn and created at the current step. */
  visibleNodes(): string[] {
    if (!this.trace || !this.canvas?.view) return [];
    const shown = new Set(this.canvas.visibleIds());
    return this.trace.nodes.map((n) => n.id).filter((id) => this.canvas!.view!.rep.get(id) === id && shown.has(id));
  }
}

/** Selects `speed` in the player's menu. The widget's menu always offers its default (3/s, which
 * the playground's menu lacks) and, in order among the others, a `speed=` the menu does not list:
 * any value in 1-120 may be asked for (a value missing from the menu would stall playback), and
 * it is kept as asked rather than snapped, so the author's choice is what plays; no standard
 * choice is dropped for it. */
function offerSpeed(player: Player, speed: number): void {
  const menu = player.el.querySelector<HTMLSelectElement>("select.speed");
  for (const v of new Set([DEFAULT_SPEED, speed])) {
    if (!menu || [...menu.options].some((o) => Number(o.value) === v)) continue;
    const after = [...menu.options].find((o) => Number(o.value) > v) ?? null;
    menu.insertBefore(h("option", { value: v, text: `${v}/s` }), after);
  }
  player.speed = speed;
}
