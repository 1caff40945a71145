// Tiny DOM helpers. Text only ever goes in through textContent: user text is never parsed as HTML.
type Attrs = Record<string, string | number | boolean | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null | undefined | false)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "text") el.textContent = String(v);
    else if (k === "class") el.className = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c == null || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
}

export function clear(el: Element): void {
  el.replaceChildren();
}

export function download(name: string, data: Blob | string, type = "application/octet-stream"): void {
  const blob = typeof data === "string" ? new Blob([data], { type }) : data;
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * True when a key pressed on `target` belongs to it, so page-wide shortcuts (arrows step, Space
 * plays) must leave it alone: text fields and the code editor, controls that act on Space or
 * Enter (buttons, links, a <details>' <summary>), widgets with keys of their own (the graph,
 * role=application), and regions that scroll with the arrows.
 */
export function ownsKeys(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target === document.body || target === document.documentElement) return false;
  if (target.isContentEditable || target.closest(".cm-editor")) return true;
  if (/^(INPUT|SELECT|TEXTAREA|BUTTON|SUMMARY|A|DETAILS)$/.test(target.tagName)) return true;
  const role = target.getAttribute("role");
  if (role && /^(application|button|link|checkbox|switch|slider|tab|menuitem|option|textbox|combobox|listbox|spinbutton)$/.test(role)) return true;
  // A region made focusable so the keyboard can scroll it (the Output pane, a widget's code):
  // arrows are for scrolling there, whether or not it overflows right now.
  if (target.hasAttribute("tabindex") && target.tabIndex >= 0) {
    const st = getComputedStyle(target);
    if ([st.overflowX, st.overflowY].some((o) => o === "auto" || o === "scroll")) return true;
  }
  return false;
}
