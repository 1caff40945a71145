// The visitor's own code in localStorage: saved as they type, kept aside when a link brings other code.

/**
 * Opening a share link (or an example, from a link or the menu, or a #code= link) shows that code in the editor. What the
 * visitor had been writing must not be lost to it:
 * - code a link brought is not saved over theirs until they edit it (a plain visit to the
 *   playground then shows their own code again);
 * - their code is also copied aside, so once they have edited the linked code (now saved as
 *   theirs) "Restore my code" still brings the earlier one back.
 * Several drafts can be aside (edit one example, pick another: both the first draft and the
 * edited example are kept), most recent first, up to MAX_KEPT; restoring one puts the code it
 * replaces aside in its place, so no restore loses anything either.
 * Storage can be blocked (cookies off): every access is guarded and then does nothing.
 */
export const MAX_KEPT = 5;

export class OwnCode {
  /** False while the editor shows code a link brought and nobody has edited it. */
  private saving = true;
  private readonly listKey: string;

  /** `asideKey` held one kept draft in earlier versions; it is read once and moved into the list. */
  constructor(private readonly key: string, private readonly asideKey: string) {
    this.listKey = `${asideKey}.list`;
  }

  /** The code saved by the last visit, if any. */
  load(): string | null {
    return read(this.key);
  }

  /** The editor's text changed: save it, unless it is a link's code the visitor has not touched. */
  changed(text: string, byUser: boolean): void {
    if (byUser) this.saving = true;
    if (this.saving) write(this.key, text);
  }

  /** A link is about to put `incoming` in the editor. Returns whether own code is kept aside. */
  linkOpened(incoming: string): boolean {
    this.saving = false;
    const own = read(this.key);
    if (own != null && own !== incoming) this.keep(own);
    return this.aside(incoming) !== null;
  }

  /** The most recent kept code that differs from what the editor shows. */
  aside(shown: string): string | null {
    return this.kept().find((text) => text !== shown) ?? null;
  }

  /** "Dismiss": the visitor does not want the kept code back. */
  forget(): void {
    remove(this.listKey);
    remove(this.asideKey);
  }

  /** "Restore my code" while the editor shows `shown`: returns the kept code to show instead,
   *  now the saved code; the code it replaces as the saved one (an edited example) goes aside
   *  instead of being lost. Called before the editor changes (its change saves the new text). */
  restore(shown: string): string | null {
    const text = this.aside(shown);
    if (text === null) return null;
    const before = read(this.key);
    this.saving = true;
    write(this.key, text);
    this.store(this.kept().filter((kept) => kept !== text));
    if (before != null && before !== text) this.keep(before);
    return text;
  }

  /** Kept drafts, most recent first. */
  kept(): string[] {
    const legacy = read(this.asideKey);
    let list: string[] = [];
    try {
      const parsed: unknown = JSON.parse(read(this.listKey) ?? "[]");
      if (Array.isArray(parsed)) list = parsed.filter((x): x is string => typeof x === "string");
    } catch { /* a damaged entry: start again */ }
    if (legacy != null) {
      list = [legacy, ...list.filter((x) => x !== legacy)];
      remove(this.asideKey);
      this.store(list);
    }
    return list;
  }

  private keep(text: string): void {
    this.store([text, ...this.kept().filter((x) => x !== text)]);
  }

  private store(list: string[]): void {
    if (list.length === 0) remove(this.listKey);
    else write(this.listKey, JSON.stringify(list.slice(0, MAX_KEPT)));
  }
}

function read(key: string): string | null {
  try { return localStorage.getItem(key); } catch { return null; }
}

function write(key: string, value: string): void {
  try { localStorage.setItem(key, value); } catch { /* storage full or disabled */ }
}

function remove(key: string): void {
  try { localStorage.removeItem(key); } catch { /* storage disabled */ }
}
