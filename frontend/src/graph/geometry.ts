// Group-box geometry shared by the layout and the drawing, and a checker of a finished drawing.

/** Room a group box leaves around its members: left, right and bottom. */
export const GROUP_PAD = 8;
/** Room above a group box's members, for its module path label. */
export const GROUP_TOP = 16;

export interface Rect { x1: number; y1: number; x2: number; y2: number }

/** A laid-out node (its centre and size) and the open group it is drawn in, if any. */
export interface PlacedNode { id: string; x: number; y: number; width: number; height: number; parent: string | null }
/** A drawn group box (centre and size, as `groupBoxes` gives them). */
export interface PlacedBox { x: number; y: number; w: number; h: number }

export interface LayoutDefects {
  /** Pairs of group boxes that intersect while neither contains the other's group. */
  groupPairs: [string, string][];
  /** Nodes whose box intersects a group box of a group they are not in. */
  foreignNodes: [string, string][];
  /** Pairs of nodes whose boxes intersect. */
  nodePairs: [string, string][];
}

const rectOfNode = (n: PlacedNode): Rect => ({ x1: n.x - n.width / 2, y1: n.y - n.height / 2, x2: n.x + n.width / 2, y2: n.y + n.height / 2 });
const rectOfBox = (b: PlacedBox): Rect => ({ x1: b.x - b.w / 2, y1: b.y - b.h / 2, x2: b.x + b.w / 2, y2: b.y + b.h / 2 });
// Strictly overlapping: boxes that only touch (or miss by rounding) are not a defect.
const EPS = 0.5;
const meet = (a: Rect, b: Rect): boolean => a.x1 < b.x2 - EPS && b.x1 < a.x2 - EPS && a.y1 < b.y2 - EPS && b.y1 < a.y2 - EPS;

/**
 * What a reader would misread in a drawing: group boxes crossing each other, nodes drawn in a
 * module they are not in, nodes on top of each other. `groupParent` gives each open group's
 * enclosing open group.
 */
export function layoutDefects(nodes: PlacedNode[], boxes: Map<string, PlacedBox>, groupParent: Map<string, string | null>): LayoutDefects {
  return { ...boxDefects(nodes, boxes, groupParent), nodePairs: overlappingNodes(nodes) };
}

/** Group boxes crossing a box of a group not nested with theirs, and nodes inside another group's box. */
export function boxDefects(nodes: PlacedNode[], boxes: Map<string, PlacedBox>, groupParent: Map<string, string | null>): Omit<LayoutDefects, "nodePairs"> {
  const ancestors = (g: string | null): Set<string> => {
    const out = new Set<string>();
    for (let guard = 0; g && guard < 64; guard++) { out.add(g); g = groupParent.get(g) ?? null; }
    return out;
  };
  const groupPairs: [string, string][] = [], foreignNodes: [string, string][] = [];
  // Boxes are few (hundreds at most): each is checked against every box and node.
  const groups = [...boxes].map(([id, b]) => ({ id, r: rectOfBox(b), line: ancestors(id) }));
  groups.forEach((a, i) => {
    for (let j = i + 1; j < groups.length; j++) {
      const b = groups[j]!;
      if (meet(a.r, b.r) && !a.line.has(b.id) && !b.line.has(a.id)) groupPairs.push([a.id, b.id]);
    }
  });
  const lines = new Map<string | null, Set<string>>();
  for (const n of nodes) {
    let line = lines.get(n.parent);
    if (!line) lines.set(n.parent, (line = ancestors(n.parent)));
    const r = rectOfNode(n);
    for (const g of groups) if (meet(r, g.r) && !line.has(g.id)) foreignNodes.push([n.id, g.id]);
  }
  return { groupPairs, foreignNodes };
}

/** Pairs of nodes whose boxes intersect; nodes are only compared within grid cells (20k-node chains). */
export function overlappingNodes(nodes: PlacedNode[]): [string, string][] {
  const CELL = 256;
  const out: [string, string][] = [];
  const grid = new Map<string, number[]>();
  const rects = nodes.map(rectOfNode);
  nodes.forEach((n, i) => {
    const r = rects[i]!;
    for (let cx = Math.floor(r.x1 / CELL); cx <= Math.floor(r.x2 / CELL); cx++) {
      for (let cy = Math.floor(r.y1 / CELL); cy <= Math.floor(r.y2 / CELL); cy++) {
        const key = cx + "," + cy;
        const cell = grid.get(key);
        if (!cell) { grid.set(key, [i]); continue; }
        for (const j of cell) {
          // A pair sharing several cells is reported once: in the first cell both are in.
          if (meet(r, rects[j]!) && firstSharedCell(r, rects[j]!, CELL) === key) out.push([nodes[j]!.id, n.id]);
        }
        cell.push(i);
      }
    }
  });
  return out;
}

function firstSharedCell(a: Rect, b: Rect, cell: number): string {
  return Math.floor(Math.max(a.x1, b.x1) / cell) + "," + Math.floor(Math.max(a.y1, b.y1) / cell);
}
