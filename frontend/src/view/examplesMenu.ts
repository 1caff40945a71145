// The Examples menu: lists the built-in examples and loads the one picked (the last choice wins).
import type { Example } from "../api/types";
import { getExample, listExamples } from "../api/client";
import { h } from "./dom";

/** How long keyboard browsing must rest on an example before it is loaded and run. */
export const KEY_BROWSE_MS = 700;

export interface ExamplesMenuHost {
  /** The example the visitor picked has arrived (a later pick has not replaced it): show and run it. */
  load: (ex: Example) => void;
  /** One line under the menu: the example's description, or why it could not be loaded. */
  describe: (text: string) => void;
}

/**
 * Wires the <select>. Two things the plain "change -> fetch -> run" got wrong:
 * - a slow answer for an earlier pick arriving after a later one replaced the later example
 *   (the menu said B, the editor showed A): each pick is numbered and only the latest loads;
 * - on a closed <select>, every arrow key is a "change", so browsing the list from the
 *   keyboard traced every example on the way. A change that follows a key press waits until
 *   the keys rest (Enter loads at once); picks with the mouse or from the open list load at once.
 */
export class ExamplesMenu {
  private pick = 0;
  private keyed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly sel: HTMLSelectElement, private readonly host: ExamplesMenuHost) {
    sel.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { this.keyed = false; if (this.timer !== undefined) this.choose(0); return; }
      this.keyed = e.key.startsWith("Arrow") || e.key.startsWith("Page") || e.key === "Home" || e.key === "End" || e.key.length === 1;
    });
    sel.addEventListener("pointerdown", () => { this.keyed = false; });
    sel.addEventListener("change", () => {
      const delay = this.keyed ? KEY_BROWSE_MS : 0;
      this.keyed = false;
      // Say what is selected now, while the load waits (the option's title is its description).
      this.host.describe(sel.selectedOptions[0]?.title ?? "");
      this.choose(delay);
    });
  }

  /** Fills the menu; a page opened as ?example=NAME shows that name selected. */
  async fill(opened: string | null): Promise<number> {
    const list = await listExamples();
    for (const ex of list) this.sel.append(h("option", { value: ex.name, title: ex.description, text: ex.title }));
    if (opened && list.some((ex) => ex.name === opened)) this.sel.value = opened;
    return list.length;
  }

  private choose(delay: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const mine = ++this.pick;
    const name = this.sel.value;
    if (!name) return;
    const go = async (): Promise<void> => {
      this.timer = undefined;
      try {
        const ex = await getExample(name);
        if (mine !== this.pick) return; // a later pick won
        this.host.describe(ex.description);
        this.host.load(ex);
      } catch (e) {
        if (mine === this.pick) this.host.describe(`Could not load example: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    if (delay > 0) this.timer = setTimeout(() => void go(), delay);
    else void go();
  }
}
