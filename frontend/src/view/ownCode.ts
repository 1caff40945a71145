// The visitor's own code in localStorage: saved as they type, kept aside when a link brings other code.

/**
 * Opening a share link (or an example, from a link or the menu, or a #code= link) shows that code in the editor. What the
 * visitor had been writing must not be lost to it:
 * - code a link brought is not saved over theirs until they edit it (a plain visit to the
 *   playground then shows their own code again);
 * - their code is also copied aside, so once they have edited the linked code (now saved as
 *   theirs) "Restore my code" still brings the earlier one back.
 * Storage can be blocked (cookies off): every access is guarded and then does nothing.
 */
export class OwnCode {
  /** False while the editor shows code a link brought and nobody has edited it. */
  private saving = true;

  constructor(private readonly key: string, private readonly asideKey: string) {}

  /** The code saved by the last visit, if any. */
  load(): string | null {
    return read(this.key);
  }

  /** The editor's text changed: save it, unless it is a link's code the visitor has not touched. */
  changed(text: string, byUser: boolean): void {
    if (byUser) this.saving = true;
    if (this.saving) write(this.key, text);
  }

  /** A link is about to put `incoming` in the editor. Returns whether own code was kept aside. */
  linkOpened(incoming: string): boolean {
    this.saving = false;
    const own = read(this.key);
    if (own == null || own === incoming) return false;
    write(this.asideKey, own);
    return true;
  }

  /** The code kept aside, when it differs from what the editor shows. */
  aside(shown: string): string | null {
    const kept = read(this.asideKey);
    return kept != null && kept !== shown ? kept : null;
  }

  /** "Dismiss": the visitor does not want the kept code back. */
  forget(): void {
    remove(this.asideKey);
  }

  /** "Restore my code" was used: the kept code is the saved code again, nothing stays aside. */
  restored(text: string): void {
    this.saving = true;
    write(this.key, text);
    remove(this.asideKey);
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
