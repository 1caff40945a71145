// Main-thread side of the layout worker; falls back to a lazily imported in-page layout.
import type { LayoutInput, LayoutResult } from "../graph/layout";

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (r: LayoutResult) => void; reject: (e: Error) => void }>();

function getWorker(): Worker | null {
  if (worker) return worker;
  try {
    worker = new Worker(new URL("./layout.worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (e: MessageEvent<{ id: number; result?: LayoutResult; error?: string }>) => {
      const p = pending.get(e.data.id);
      if (!p) return;
      pending.delete(e.data.id);
      if (e.data.result) p.resolve(e.data.result);
      else p.reject(new Error(e.data.error ?? "layout failed"));
    };
    worker.onerror = () => { worker = null; for (const [, p] of pending) p.reject(new Error("layout worker crashed")); pending.clear(); };
  } catch {
    worker = null;
  }
  return worker;
}

async function inPage(input: LayoutInput): Promise<LayoutResult> {
  const [{ runLayout }, dagre] = await Promise.all([import("../graph/layout"), import("@dagrejs/dagre")]);
  return runLayout(input, dagre);
}

export async function computeLayout(input: LayoutInput): Promise<LayoutResult> {
  // The offline export (one inlined file, no worker URL to load) lays out in the page.
  if ((globalThis as { __gradtraceNoWorker?: boolean }).__gradtraceNoWorker) return inPage(input);
  const w = getWorker();
  if (!w) return inPage(input);
  try {
    return await new Promise<LayoutResult>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      w.postMessage({ id, input });
    });
  } catch {
    return inPage(input);
  }
}
