// Embed options from URL parameters / data attributes: panes, read-only, start step, autoplay, theme, height, predict.
export type Pane = "code" | "graph" | "inspector" | "timeline";
export const ALL_PANES: readonly Pane[] = ["code", "graph", "inspector", "timeline"];

export interface EmbedOptions {
  readonly: boolean;
  panes: Set<Pane>;
  /** Step to show first: a number, or "end". */
  step: number | "end";
  /** Play once loaded: `autoplay` asked for, and the reader's device does not ask for reduced motion. */
  autoplay: boolean;
  /** `autoplay` asked for but not started: the device asks for reduced motion (the viewer says so). */
  autoplayHeld: boolean;
  theme: "light" | "dark";
  height: number;
  predict: boolean;
  /** Playback speed in steps per second. */
  speed: number;
}

/** Playback speed (steps per second): the default, and the range `speed=` may ask for (docs/embedding.md). */
export const DEFAULT_SPEED = 3;
const MIN_SPEED = 1, MAX_SPEED = 120;

const truthy = (v: string | null): boolean => v !== null && !/^(0|false|no|off)$/i.test(v);

/** Whether the reader's device asks for reduced motion (`prefers-reduced-motion: reduce`); false
 *  where there is no `matchMedia` (Node, in the unit tests). */
export function prefersReducedMotion(): boolean {
  return typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
}

/** Parses options; unknown or malformed values fall back to defaults (never throw). Under reduced
 *  motion `autoplay` does not start playback by itself: the widget opens at the step asked for,
 *  else at the end (not at 0, where a still graph would be empty), with Play ready. */
export function parseOptions(p: URLSearchParams, reducedMotion = prefersReducedMotion()): EmbedOptions {
  const panes = new Set<Pane>();
  const rawPanes = p.get("panes");
  if (rawPanes) for (const s of rawPanes.split(/[\s,]+/)) if ((ALL_PANES as readonly string[]).includes(s)) panes.add(s as Pane);
  if (panes.size === 0) for (const s of ALL_PANES) panes.add(s);
  const stepRaw = p.get("step");
  const stepNum = stepRaw != null && /^\d+$/.test(stepRaw) ? Number(stepRaw) : null;
  const heightRaw = Number(p.get("height"));
  const speedRaw = Number(p.get("speed"));
  const editable = p.has("editable") ? truthy(p.get("editable")) : false;
  const readonly = p.has("readonly") ? truthy(p.get("readonly")) : !editable;
  const autoplayAsked = truthy(p.get("autoplay"));
  const autoplay = autoplayAsked && !reducedMotion;
  return {
    readonly,
    panes,
    step: stepNum ?? (stepRaw === "start" ? 0 : autoplay ? 0 : "end"),
    autoplay,
    autoplayHeld: autoplayAsked && reducedMotion,
    theme: p.get("theme") === "dark" ? "dark" : "light",
    height: Number.isFinite(heightRaw) && heightRaw >= 200 && heightRaw <= 2000 ? Math.round(heightRaw) : 400,
    predict: truthy(p.get("predict")),
    speed: Number.isFinite(speedRaw) && speedRaw >= MIN_SPEED && speedRaw <= MAX_SPEED ? speedRaw : DEFAULT_SPEED,
  };
}

/** Data attributes of a `<pre data-gradtrace>` block -> URL parameters for the iframe (only known keys). */
export const OPTION_KEYS = ["readonly", "editable", "panes", "step", "autoplay", "theme", "height", "predict", "speed", "example", "trace"] as const;

export function optionsFromDataset(ds: Record<string, string | undefined>): URLSearchParams {
  const p = new URLSearchParams();
  for (const k of OPTION_KEYS) {
    const v = ds[k];
    if (v !== undefined) p.set(k, v === "" ? "1" : v);
  }
  return p;
}
