// Embed options from URL parameters / data attributes: panes, read-only, start step, autoplay, theme, height, predict.
export type Pane = "code" | "graph" | "inspector" | "timeline";
export const ALL_PANES: readonly Pane[] = ["code", "graph", "inspector", "timeline"];

export interface EmbedOptions {
  readonly: boolean;
  panes: Set<Pane>;
  /** Step to show first: a number, or "end". */
  step: number | "end";
  autoplay: boolean;
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

/** Parses options; unknown or malformed values fall back to defaults (never throw). */
export function parseOptions(p: URLSearchParams): EmbedOptions {
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
  const autoplay = truthy(p.get("autoplay"));
  return {
    readonly,
    panes,
    step: stepNum ?? (stepRaw === "start" ? 0 : autoplay ? 0 : "end"),
    autoplay,
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
