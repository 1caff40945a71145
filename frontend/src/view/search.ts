// Node search for the toolbar: what the visitor reads on a node is what "Mul" should find first.
import type { GraphModel } from "../graph/model";
import { displayName } from "../graph/format";
import { searchItems } from "../graph/view";

/**
 * Items matching `query`, best first: shown name equal to it, then starting with it, then
 * containing it (a node's display name, a tensor's variable names), then matching only other
 * fields (module, the op that created the node). Unranked, "Mul" picked an AccumulateGrad:
 * "accuMULate", and its op is the mul that made it.
 */
export function findItems(model: GraphModel, query: string, limit = 200): string[] {
  const q = query.trim().toLowerCase();
  const ranked: string[][] = [[], [], [], []];
  for (const id of searchItems(model, query, Infinity)) {
    const it = model.items.get(id);
    const names = (it?.node ? [displayName(it.node.name)] : it?.tensor?.names ?? []).map((n) => n.toLowerCase());
    const rank = names.includes(q) ? 0 : names.some((n) => n.startsWith(q)) ? 1 : names.some((n) => n.includes(q)) ? 2 : 3;
    ranked[rank]!.push(id);
  }
  return ranked.flat().slice(0, limit);
}
