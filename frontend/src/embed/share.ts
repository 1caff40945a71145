// Share panel of the playground: the permanent /t/ID link plus copy-paste iframe and embed.js snippets (all shown as text).
import { clear, h } from "../view/dom";
import { encodeCode } from "./codec";

export interface ShareInfo { id: string; source: string; origin: string }

const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The snippets offered by the Share button (pure, for tests). */
export function shareSnippets(info: ShareInfo, codeFragment: string): { link: string; iframe: string; script: string; codeLink: string } {
  const { id, source, origin } = info;
  return {
    link: `${origin}/t/${id}`,
    iframe: `<iframe src="${origin}/embed?trace=${id}" width="600" height="430" style="border:0" title="gradtrace: autograd graph" loading="lazy"></iframe>`,
    script: `<script src="${origin}/embed.js" defer></script>\n<pre data-gradtrace data-readonly>${escapeHtml(source.replace(/\n$/, ""))}</pre>`,
    codeLink: `${origin}/embed#code=${codeFragment}`,
  };
}

export async function renderShare(panel: HTMLElement, info: ShareInfo, onClose?: () => void): Promise<void> {
  const s = shareSnippets(info, await encodeCode(info.source));
  clear(panel);
  panel.hidden = false;
  // Each Copy button is named for what it copies (four buttons all called "Copy" say nothing
  // to a screen reader), and says "Copied" only once the browser has taken it.
  const field = (label: string, what: string, key: string, value: string, rows: number): HTMLElement => {
    const ta = h("textarea", { readonly: true, rows, class: "share-field", "data-share": key, "aria-label": label });
    ta.value = value;
    const copy = h("button", { type: "button", class: "btn", text: "Copy", "aria-label": `Copy ${what}`, "data-copy": key });
    copy.addEventListener("click", () => {
      ta.select();
      const done = (ok: boolean): void => {
        copy.textContent = ok ? "Copied" : "Copy failed: press Ctrl+C";
        copy.setAttribute("aria-label", ok ? `Copied ${what}` : `Copying ${what} failed: it is selected, press Ctrl+C`);
        copy.dataset["copied"] = String(ok);
      };
      if (!navigator.clipboard?.writeText) { done(false); return; }
      navigator.clipboard.writeText(value).then(() => done(true), () => done(false));
    });
    return h("div", { class: "share-row" }, h("h3", { text: label }), ta, copy);
  };
  const close = h("button", { type: "button", class: "btn", text: "Close" });
  close.addEventListener("click", () => { if (onClose) onClose(); else panel.hidden = true; });
  const link = h("a", { href: s.link, target: "_blank", rel: "noopener", "data-share": "link", text: s.link });
  panel.append(
    h("h2", { text: "Share" }),
    h("p", { class: "share-link" }, "Permanent link: ", link),
    field("Link", "the link", "link-text", s.link, 1),
    field("Embed (iframe)", "the iframe snippet", "iframe", s.iframe, 3),
    field("Embed (script, for course pages)", "the script snippet", "script", s.script, 5),
    field("Link with the code inside (nothing stored)", "the link with the code", "code-link", s.codeLink, 2),
    close,
  );
}
