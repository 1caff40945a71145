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

/** A marker on a code line applies to that line; on a comment-only line, to the next code line. */
export function parseAnnotations(source: string): Annotations {
  const lines = source.split("\n");
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

/** The source without the marker comments' text (what learners see in the code view is unchanged otherwise). */
export function stripMarkers(line: string): string {
  return line.replace(/\s*#\s*gradtrace:\s*(pause|hide)\b.*$/i, "");
}
