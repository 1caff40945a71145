// CodeMirror 6 editor: Python, Mod-Enter runs, replay/error/grad-mode line marks, gutter click = jump.
import { Compartment, EditorState, StateEffect, StateField, RangeSetBuilder, Transaction, type Extension } from "@codemirror/state";
import { oneDarkTheme } from "@codemirror/theme-one-dark";
import { tags as t } from "@lezer/highlight";
import { Decoration, EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, type DecorationSet } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { bracketMatching, defaultHighlightStyle, HighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";

export interface LineMarks {
  current: number | null;
  error: number | null;
  related: number | null;
  noGrad: number[];
  detach: number[];
  /** Lines that raised a warning (or a gradtrace note), with what it says (shown on hover). */
  warnings: [number, string][];
}

const setMarks = StateEffect.define<LineMarks>();
const EMPTY: LineMarks = { current: null, error: null, related: null, noGrad: [], detach: [], warnings: [] };

const marksField = StateField.define<{ marks: LineMarks; deco: DecorationSet }>({
  create: () => ({ marks: EMPTY, deco: Decoration.none }),
  update(value, tr) {
    let marks = value.marks;
    for (const e of tr.effects) if (e.is(setMarks)) marks = e.value;
    // Edits invalidate the marks (they belong to the code that was run).
    if (tr.docChanged) marks = EMPTY;
    if (marks === value.marks && !tr.docChanged) return value;
    return { marks, deco: buildDeco(tr.state, marks) };
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.deco),
});

function buildDeco(state: EditorState, m: LineMarks): DecorationSet {
  const classes = new Map<number, string[]>();
  const add = (line: number | null, cls: string): void => {
    if (line == null || line < 1 || line > state.doc.lines) return;
    const l = classes.get(line) ?? [];
    l.push(cls);
    classes.set(line, l);
  };
  const titles = new Map<number, string[]>();
  for (const [l, title] of m.warnings) {
    if (!titles.has(l)) add(l, "cm-warning-line");
    titles.set(l, [...(titles.get(l) ?? []), title]);
  }
  for (const l of m.noGrad) add(l, "cm-nograd-line");
  for (const l of m.detach) add(l, "cm-detach-line");
  add(m.related, "cm-related-line");
  add(m.error, "cm-error-line");
  add(m.current, "cm-current-line");
  const b = new RangeSetBuilder<Decoration>();
  for (const line of [...classes.keys()].sort((a, c) => a - c)) {
    const from = state.doc.line(line).from;
    const attributes: Record<string, string> = { "data-line": String(line) };
    const said = titles.get(line);
    if (said) attributes["title"] = [...new Set(said)].join("\n");
    b.add(from, from, Decoration.line({ class: classes.get(line)!.join(" "), attributes }));
  }
  return b.finish();
}

export interface EditorOptions {
  parent: HTMLElement;
  doc: string;
  onRun: () => void;
  /** `byUser`: typed, pasted, undone... by the visitor (not set by the page, e.g. a link's code). */
  onChange: (text: string, byUser: boolean) => void;
  onLineClick: (line: number) => void;
  /** Id of the element that tells keyboard users how Tab behaves (aria-describedby). */
  hintId?: string;
}

/** Keyboard focus arriving in the editor: Tab leaves again until a key other than Tab is
 *  pressed (CodeMirror's temporary tab-focus mode), so tabbing through the page never edits the
 *  code. A click in the code, or typing, makes Tab indent; Escape then Tab leaves from there. */
const ARRIVAL_TAB_FOCUS_MS = 24 * 3600 * 1000;

// One Dark's colours, lightened where they fell under 4.5:1 contrast (WCAG AA) on the dark
// background and on the line marks (current line, detach, related).
const darkHighlight = HighlightStyle.define([
  { tag: t.keyword, color: "#d291e6" },
  { tag: [t.name, t.deleted, t.character, t.propertyName, t.macroName], color: "#ef8891" },
  { tag: [t.function(t.variableName), t.labelName], color: "#61afef" },
  { tag: [t.color, t.constant(t.name), t.standard(t.name)], color: "#e0a875" },
  { tag: [t.definition(t.name), t.separator], color: "#abb2bf" },
  { tag: [t.typeName, t.className, t.number, t.changed, t.annotation, t.modifier, t.self, t.namespace], color: "#e5c07b" },
  { tag: [t.operator, t.operatorKeyword, t.url, t.escape, t.regexp, t.link, t.special(t.string)], color: "#56b6c2" },
  { tag: [t.meta, t.comment], color: "#a0aab8" },
  { tag: t.strong, fontWeight: "bold" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strikethrough, textDecoration: "line-through" },
  { tag: t.link, textDecoration: "underline" },
  { tag: t.heading, fontWeight: "bold", color: "#ef8891" },
  { tag: [t.atom, t.bool, t.special(t.variableName)], color: "#e0a875" },
  { tag: [t.processingInstruction, t.string, t.inserted], color: "#98c379" },
  { tag: t.invalid, color: "#ffffff" },
]);
const darkTheme: Extension = [oneDarkTheme, syntaxHighlighting(darkHighlight)];

export class CodeEditor {
  readonly view: EditorView;
  private marks: LineMarks = EMPTY;
  /** Swappable theme: the default highlight colours are unreadable on the dark background. */
  private readonly theme = new Compartment();

  constructor(opts: EditorOptions) {
    const runKeys = keymap.of([{ key: "Mod-Enter", preventDefault: true, run: () => { opts.onRun(); return true; } }]);
    const extensions: Extension[] = [
      lineNumbers({
        domEventHandlers: {
          mousedown: (view, block) => {
            opts.onLineClick(view.state.doc.lineAt(block.from).number);
            return true;
          },
        },
      }),
      history(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      highlightActiveLine(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      this.theme.of([]),
      python(),
      runKeys,
      keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
      marksField,
      // tabindex: focusable as it is (contenteditable), said explicitly so checkers see the
      // scrolling region has keyboard access.
      EditorView.contentAttributes.of({ "aria-label": "Python code editor (Ctrl+Enter runs)", tabindex: "0", ...(opts.hintId ? { "aria-describedby": opts.hintId } : {}) }),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        this.marks = EMPTY;
        // CodeMirror tags the visitor's own edits with a user event; setText() sets none.
        opts.onChange(u.state.doc.toString(), u.transactions.some((tr) => tr.annotation(Transaction.userEvent) != null));
      }),
    ];
    this.view = new EditorView({ parent: opts.parent, state: EditorState.create({ doc: opts.doc, extensions }) });
    // Tab and focus: see ARRIVAL_TAB_FOCUS_MS. A pointer press decides that the focus it brings
    // is for editing.
    let pressed = 0;
    const content = this.view.contentDOM;
    this.view.dom.addEventListener("pointerdown", () => { pressed = Date.now(); this.view.setTabFocusMode(false); });
    content.addEventListener("focus", () => { if (Date.now() - pressed > 1000) this.view.setTabFocusMode(ARRIVAL_TAB_FOCUS_MS); });
  }

  setDark(dark: boolean): void {
    this.view.dispatch({ effects: this.theme.reconfigure(dark ? darkTheme : []) });
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  setText(text: string): void {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
  }

  setMarks(m: Partial<LineMarks>, scroll = true): void {
    const next = { ...this.marks, ...m };
    const same = next.current === this.marks.current && next.error === this.marks.error && next.related === this.marks.related && next.noGrad === this.marks.noGrad && next.detach === this.marks.detach && next.warnings === this.marks.warnings;
    if (same) return;
    this.marks = next;
    const effects: StateEffect<unknown>[] = [setMarks.of(next)];
    const line = next.current ?? next.error;
    if (scroll && line != null && line >= 1 && line <= this.view.state.doc.lines) {
      effects.push(EditorView.scrollIntoView(this.view.state.doc.line(line).from, { y: "nearest" }));
    }
    this.view.dispatch({ effects });
  }

  clearMarks(): void {
    this.marks = EMPTY;
    this.view.dispatch({ effects: setMarks.of(EMPTY) });
  }

  /** The line currently marked as "current" (for tests). */
  get currentLine(): number | null {
    return this.marks.current;
  }
}
