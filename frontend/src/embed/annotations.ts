// `# gradtrace: pause` / `# gradtrace: hide` comments: which lines to hide and where autoplay stops.
import type { TraceEvent } from "../api/types";

export interface Annotations {
  /** 1-based lines hidden from the code view (setup lines, and the annotation-only comment lines). */
  hide: Set<number>;
  /** 1-based code lines before which autoplay pauses. */
  pause: Set<number>;
}

const MARK = /#\s*gradtrace:\s*(pause|hide)\b/i;
const META = /^#\s*(title|description|tags):/;
/** A line that is nothing but a marker comment: hiding it hides no code. */
const MARK_ONLY = /^\s*#\s*gradtrace:\s*(pause|hide)\s*$/i;

/** The source's lines as Python numbers them: a lone `\r` ends a line too (a browser would draw
 *  it as a space, so code after it would look like part of the line's comment). */
export function sourceLines(source: string): string[] {
  return source.split(/\r\n|\r|\n/);
}

/** A marker on a code line applies to that line; on a comment-only line, to the next code line. */
export function parseAnnotations(source: string): Annotations {
  const lines = sourceLines(source);
  const hide = new Set<number>();
  const pause = new Set<number>();
  let pending: ("pause" | "hide")[] = [];
  let header = true; // the built-in examples start with `# title:` / `# description:` / `# tags:` lines
  lines.forEach((text, i) => {
    const n = i + 1;
    if (header && META.test(text)) { hide.add(n); return; }
    header = false;
    const m = MARK.exec(text);
    const commentOnly = /^\s*#/.test(text);
    if (m && commentOnly) {
      pending.push(m[1]!.toLowerCase() as "pause" | "hide");
      hide.add(n); // the marker itself is not part of the lesson
      return;
    }
    if (!text.trim()) return;
    const kinds = [...pending, ...(m ? [m[1]!.toLowerCase() as "pause" | "hide"] : [])];
    pending = [];
    for (const k of kinds) (k === "hide" ? hide : pause).add(n);
  });
  return { hide, pause };
}

/** Steps (1-based, after applying that many events) at which autoplay stops: just before the first event of each pause line. */
export function pauseSteps(events: readonly TraceEvent[], pauseLines: Set<number>): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  events.forEach((ev, i) => {
    if (ev.line != null && pauseLines.has(ev.line) && !seen.has(ev.line)) {
      seen.add(ev.line);
      out.push(i); // state after i events = just before this line runs
    }
  });
  return out.sort((a, b) => a - b);
}

/** The line without a marker comment that ends it (what learners see is unchanged otherwise).
 *  Only a marker at the very end is stripped: text after it may be code (the `#` can be inside
 *  a string), and nothing that runs may be cut from the view. */
export function stripMarkers(line: string): string {
  return line.replace(/\s*#\s*gradtrace:\s*(pause|hide)\s*$/i, "");
}

/** A run of hidden lines shown as one "⋯ N hidden lines" row (1-based, inclusive). */
export interface Fold { start: number; end: number }

/**
 * The hidden lines the code view must mark (a reader must see that code is left out, and be
 * able to look at it: the hidden code runs, and could forge what the trace shows). A run of
 * hidden lines, with any blank lines between them, is one fold. Runs that hide no code (the
 * examples' `# title:` header, `# gradtrace: pause` lines) are left out without a mark.
 */
export function hiddenFolds(lines: readonly string[], hide: ReadonlySet<number>): Fold[] {
  let header = 0; // the leading `# title:` lines (comments before any code)
  while (header < lines.length && META.test(lines[header]!)) header++;
  const inert = (n: number): boolean => n <= header || MARK_ONLY.test(lines[n - 1] ?? "");
  const folds: Fold[] = [];
  let cur: (Fold & { code: boolean }) | null = null;
  const close = (): void => { if (cur?.code) folds.push({ start: cur.start, end: cur.end }); cur = null; };
  for (let n = 1; n <= lines.length; n++) {
    if (hide.has(n)) {
      if (!cur) cur = { start: n, end: n, code: false };
      cur.end = n;
      cur.code ||= !inert(n);
    } else if (!lines[n - 1]!.trim() && cur) {
      continue; // a blank line may sit inside a fold; it joins it only if more hidden lines follow
    } else close();
  }
  close();
  return folds;
}
