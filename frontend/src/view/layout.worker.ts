// Web Worker: runs dagre (or the layered fallback) off the main thread so the page stays responsive.
import * as dagre from "@dagrejs/dagre";
import { runLayout, type LayoutInput } from "../graph/layout";

self.onmessage = (e: MessageEvent<{ id: number; input: LayoutInput }>) => {
  const { id, input } = e.data;
  try {
    (self as unknown as Worker).postMessage({ id, result: runLayout(input, dagre) });
  } catch (err) {
    (self as unknown as Worker).postMessage({ id, error: String(err) });
  }
};
