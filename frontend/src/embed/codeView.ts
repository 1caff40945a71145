// Code pane of the embed: read-only lines with the current-line mark, or a plain textarea with
// line numbers (as in the playground's editor) when editable.
import { h } from "../view/dom";
import { stripMarkers } from "./annotations";

export class CodeView {
  readonly el: HTMLElement;
  private source = "";
  private lines: HTMLElement[] = [];
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
    this.lines = source.replace(/\n$/, "").split("\n").map((text, i) => {
      const n = i + 1;
      const row = h("div", { class: "gt-line", "data-line": n, hidden: this.hidden.has(n) },
        h("span", { class: "gt-ln", "aria-hidden": "true", text: String(n) }),
        h("span", { class: "gt-src", text: stripMarkers(text) || " " }));
      return row;
    });
    pre.append(...this.lines);
    this.el.replaceChildren(pre);
    this.setCurrent(this.current);
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

  /** Underlines the lines that warned, with what the warning says as their title. */
  setWarnings(marks: [number, string][]): void {
    for (const row of this.lines) { row.classList.remove("gt-warned"); row.removeAttribute("title"); }
    const said = new Map<number, string[]>();
    for (const [line, text] of marks) said.set(line, [...(said.get(line) ?? []), text]);
    for (const [line, texts] of said) {
      const row = this.lines[line - 1];
      if (!row) continue;
      row.classList.add("gt-warned");
      row.title = [...new Set(texts)].join("\n");
    }
  }

  setCurrent(line: number | null): void {
    if (this.current != null) this.lines[this.current - 1]?.classList.remove("gt-current");
    this.current = line;
    const row = line != null ? this.lines[line - 1] : undefined;
    if (row) {
      row.classList.add("gt-current");
      const box = this.el;
      if (row.offsetTop < box.scrollTop || row.offsetTop > box.scrollTop + box.clientHeight - 20) box.scrollTop = row.offsetTop - 20;
    }
  }
}
