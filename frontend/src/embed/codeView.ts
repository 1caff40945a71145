// Code pane of the embed: read-only lines with the current-line mark, or a plain textarea with
// line numbers (as in the playground's editor) when editable.
import { h } from "../view/dom";
import { hiddenFolds, sourceLines, stripMarkers } from "./annotations";

export class CodeView {
  readonly el: HTMLElement;
  private source = "";
  private lines: HTMLElement[] = [];
  /** The "⋯ N hidden lines" row standing in for each hidden line that hides code (by line number). */
  private foldOf = new Map<number, HTMLElement>();
  private textarea: HTMLTextAreaElement | null = null;
  /** The editable code's line numbers, kept scrolled with the textarea. */
  private gutter: HTMLElement | null = null;
  private current: number | null = null;

  constructor(private readonly editable: boolean, private hidden: Set<number> = new Set(), onRun?: () => void) {
    // Read-only code scrolls: focusable so keyboard users can scroll it too.
    this.el = h("div", { class: "gt-code", "data-editable": String(editable), tabindex: editable ? null : "0" });
    if (editable) {
      // No wrapping: a number stays beside its line.
      const ta = this.textarea = h("textarea", { class: "gt-textarea", spellcheck: "false", wrap: "off", "aria-label": "Code (editable)" });
      const gutter = this.gutter = h("div", { class: "gt-gutter", "aria-hidden": "true" });
      ta.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); onRun?.(); }
      });
      ta.addEventListener("input", () => this.number());
      ta.addEventListener("scroll", () => { gutter.scrollTop = ta.scrollTop; });
      this.el.append(h("div", { class: "gt-edit" }, gutter, ta));
      this.number();
    }
  }

  get text(): string { return this.textarea ? this.textarea.value : this.source; }

  setText(source: string, hidden: Set<number> = this.hidden): void {
    this.source = source;
    this.hidden = hidden;
    if (this.textarea) { this.textarea.value = source; this.number(); return; }
    const pre = h("pre", { class: "gt-lines", "aria-label": "Code (read-only)" });
    const texts = sourceLines(source.replace(/(\r\n|\r|\n)$/, ""));
    // Real line numbers throughout: a hidden line leaves a gap, never a renumbered snippet.
    this.lines = texts.map((text, i) => {
      const n = i + 1;
      const shown = !this.hidden.has(n);
      // A hidden line, once unfolded, is shown as written (markers and all).
      return h("div", { class: "gt-line", "data-line": n, hidden: !shown },
        h("span", { class: "gt-ln", "aria-hidden": "true", text: String(n) }),
        h("span", { class: "gt-src", text: (shown ? stripMarkers(text) : text) || " " }));
    });
    this.foldOf.clear();
    const rows: HTMLElement[] = [...this.lines];
    // Folds go in from the last, so the earlier rows' indices stay put.
    for (const fold of hiddenFolds(texts, this.hidden).reverse()) {
      const row = this.foldRow(fold.start, fold.end);
      for (let n = fold.start; n <= fold.end; n++) this.foldOf.set(n, row);
      rows.splice(fold.start - 1, 0, row);
    }
    pre.append(...rows);
    this.el.replaceChildren(pre);
    this.setCurrent(this.current);
  }

  /** One small row for lines start..end that the author hid: collapsed by default (hiding setup
   *  code stays pleasant), but it says so and unfolds on a click, since hidden code still runs. */
  private foldRow(start: number, end: number): HTMLElement {
    const count = end - start + 1;
    const what = `${count} hidden line${count === 1 ? "" : "s"}`;
    const span = start === end ? `line ${start}` : `lines ${start}–${end}`;
    const btn = h("button", { type: "button", class: "gt-fold-btn", "aria-expanded": "false", title: `The author hid ${span} from this view; they still run. Show them.`, text: `⋯ ${what}` });
    const row = h("div", { class: "gt-line gt-fold", "data-fold": `${start}-${end}` },
      h("span", { class: "gt-ln", "aria-hidden": "true", text: "" }), btn);
    btn.addEventListener("click", () => {
      const open = btn.getAttribute("aria-expanded") !== "true";
      btn.setAttribute("aria-expanded", String(open));
      btn.textContent = open ? `▾ ${what}` : `⋯ ${what}`;
      btn.title = open ? `Hide ${span} again.` : `The author hid ${span} from this view; they still run. Show them.`;
      for (let n = start; n <= end; n++) {
        const line = this.lines[n - 1];
        if (!line) continue;
        line.hidden = !open; // every line of a fold is hidden or blank
        line.classList.toggle("gt-unfolded", open);
      }
      this.setCurrent(this.current);
    });
    // Blank lines between the hidden ones are folded with them.
    for (let n = start; n <= end; n++) { const line = this.lines[n - 1]; if (line) line.hidden = true; }
    return row;
  }

  /** Numbers the editable code's lines (one text node: cheap on every keystroke). */
  private number(): void {
    if (!this.textarea || !this.gutter) return;
    const n = this.textarea.value.split("\n").length;
    if (this.gutter.dataset["lines"] === String(n)) return;
    this.gutter.dataset["lines"] = String(n);
    this.gutter.textContent = Array.from({ length: n }, (_, i) => i + 1).join("\n");
    this.gutter.scrollTop = this.textarea.scrollTop;
  }

  /** The row that stands for a line: the line, or its fold while folded (a hidden line that
   *  runs or warns is pointed at, not silently skipped). */
  private rowOf(line: number): HTMLElement | undefined {
    const row = this.lines[line - 1];
    return row?.hidden ? this.foldOf.get(line) ?? row : row;
  }

  /** Underlines the lines that warned, with what the warning says as their title. */
  setWarnings(marks: [number, string][]): void {
    for (const row of [...this.lines, ...this.foldOf.values()]) { row.classList.remove("gt-warned"); row.removeAttribute("title"); }
    const said = new Map<number, string[]>();
    for (const [line, text] of marks) said.set(line, [...(said.get(line) ?? []), text]);
    for (const [line, texts] of said) {
      for (const row of new Set([this.lines[line - 1], this.foldOf.get(line)])) {
        if (!row) continue;
        row.classList.add("gt-warned");
        row.title = [...new Set([...(row.title ? [row.title] : []), ...texts])].join("\n");
      }
    }
  }

  setCurrent(line: number | null): void {
    for (const row of this.el.querySelectorAll(".gt-current")) row.classList.remove("gt-current");
    this.current = line;
    const row = line != null ? this.rowOf(line) : undefined;
    if (row) {
      row.classList.add("gt-current");
      const box = this.el;
      if (row.offsetTop < box.scrollTop || row.offsetTop > box.scrollTop + box.clientHeight - 20) box.scrollTop = row.offsetTop - 20;
    }
  }
}
