// Keyboard model of the graph canvas (focus it with Tab): ↑/↓ follow the edges to an input or a
// consumer, ←/→ (and Home/End) go through the drawn nodes in creation order, Enter or Space opens
// the selection in the inspector, Escape clears it. A polite live region says what got selected,
// only when the keyboard changes the selection (never on a timeline step).

/** The drawn nodes at this step, in creation order, and the data-flow edges between them. */
export interface NavGraph {
  order: string[];
  inputs: Map<string, string[]>;
  consumers: Map<string, string[]>;
}

/** The node a key moves the selection to (null: the key does not move it).
 * `start` is where a first key press lands (the step's node); `from` the node the previous move
 * left, so ↑ then ↓ comes back the same way in a graph with several consumers. */
export function nextNode(g: NavGraph, current: string | null, key: string, start: string | null = null, from: string | null = null): string | null {
  if (!g.order.length) return null;
  const at = current === null ? -1 : g.order.indexOf(current);
  if (key === "Home") return g.order[0]!;
  if (key === "End") return g.order[g.order.length - 1]!;
  if (at < 0) return start !== null && g.order.includes(start) ? start : g.order[g.order.length - 1]!;
  const along = (ids: string[] | undefined): string | null => {
    if (!ids?.length) return null;
    return from !== null && ids.includes(from) ? from : ids[0]!;
  };
  switch (key) {
    case "ArrowLeft": return g.order[Math.max(0, at - 1)]!;
    case "ArrowRight": return g.order[Math.min(g.order.length - 1, at + 1)]!;
    case "ArrowUp": return along(g.inputs.get(current!));
    case "ArrowDown": return along(g.consumers.get(current!));
    default: return null;
  }
}

/** "MulBackward0 (node 3 of 7, 2 inputs, 1 consumer)": what a screen reader hears on a move. */
export function describeNode(g: NavGraph, id: string, label: string): string {
  const n = (k: number, one: string, many: string): string => `${k} ${k === 1 ? one : many}`;
  const ins = g.inputs.get(id)?.length ?? 0, outs = g.consumers.get(id)?.length ?? 0;
  return `${label} (node ${g.order.indexOf(id) + 1} of ${g.order.length}, ${n(ins, "input", "inputs")}, ${n(outs, "consumer", "consumers")})`;
}

export interface GraphKeysHost {
  /** The graph as drawn now (see NavGraph). */
  nav(): NavGraph;
  /** The drawn element's label, as one line. */
  label(id: string): string;
  selected(): string | null;
  /** Where the first key press lands: the current step's node, if drawn. */
  start(): string | null;
  select(id: string | null): void;
  /** Show the selection in the inspector (and move focus there). */
  open(): void;
}

const MOVES = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End"]);

/** Makes `container` a focusable, keyboard-operable graph; `live` is its aria-live region. */
export function attachGraphKeys(container: HTMLElement, live: HTMLElement, host: GraphKeysHost): void {
  container.tabIndex = 0;
  let from: string | null = null;
  container.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target !== container) return;
    const cur = host.selected();
    if (MOVES.has(e.key)) {
      e.preventDefault();
      const g = host.nav();
      if (!g.order.length) return;
      const next = nextNode(g, cur !== null && g.order.includes(cur) ? cur : null, e.key, host.start(), from);
      if (next === null) { live.textContent = `${host.label(cur!)} has no ${e.key === "ArrowUp" ? "inputs" : "consumers"} drawn.`; return; }
      if (next === cur) return;
      from = cur;
      host.select(next);
      live.textContent = describeNode(g, next, host.label(next));
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      if (cur !== null) host.open();
    } else if (e.key === "Escape" && cur !== null) {
      e.preventDefault();
      from = null;
      host.select(null);
      live.textContent = "Selection cleared.";
    }
  });
}
