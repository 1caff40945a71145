// Timeline player controls: play/pause, step, back, start/end, scrub, speed; rAF-driven playback.
import { h } from "./dom";

export interface PlayerHost {
  total(): number;
  step(): number;
  seek(step: number): void;
  /** Told when playback starts and stops (a live caption goes quiet while playing: announcing
   *  5 to 120 steps a second is noise). */
  playing?(on: boolean): void;
}

export class Player {
  readonly el: HTMLElement;
  private readonly playBtn: HTMLButtonElement;
  private readonly range: HTMLInputElement;
  private readonly label: HTMLElement;
  private readonly speedSel: HTMLSelectElement;
  private playing = false;
  private raf = 0;
  private lastT = 0;
  private carry = 0;

  constructor(private readonly host: PlayerHost) {
    const btn = (label: string, text: string, on: () => void, extra: Record<string, string> = {}): HTMLButtonElement => {
      const b = h("button", { type: "button", "aria-label": label, title: label, class: "ctl", ...extra }, text);
      b.addEventListener("click", on);
      return b;
    };
    this.playBtn = btn("Play", "▶", () => this.toggle(), { "aria-pressed": "false" });
    this.range = h("input", { type: "range", min: 0, max: 0, value: 0, step: 1, "aria-label": "Timeline position", class: "scrub" });
    this.range.addEventListener("input", () => { this.pause(); this.host.seek(Number(this.range.value)); });
    this.speedSel = h("select", { "aria-label": "Playback speed (steps per second)", class: "speed" });
    for (const v of [1, 2, 5, 10, 30, 60, 120]) this.speedSel.append(h("option", { value: v, text: `${v}/s` }));
    this.speedSel.value = "5";
    this.label = h("span", { class: "step-label", "aria-live": "off" });
    this.el = h("div", { class: "player", role: "group", "aria-label": "Timeline player" },
      btn("Go to start", "|◀", () => { this.pause(); this.host.seek(0); }),
      btn("Step back", "◁", () => { this.pause(); this.host.seek(this.host.step() - 1); }),
      this.playBtn,
      btn("Step forward", "▷", () => { this.pause(); this.host.seek(this.host.step() + 1); }),
      btn("Go to end", "▶|", () => { this.pause(); this.host.seek(this.host.total()); }),
      this.range, this.label, this.speedSel);
  }

  get speed(): number { return Number(this.speedSel.value); }
  set speed(v: number) { this.speedSel.value = String(v); }
  get isPlaying(): boolean { return this.playing; }

  update(): void {
    const total = this.host.total(), step = this.host.step();
    this.range.max = String(total);
    this.range.value = String(step);
    this.range.setAttribute("aria-valuetext", `step ${step} of ${total}`);
    this.label.textContent = `${step} / ${total}`;
    if (this.playing && step >= total) this.pause();
  }

  toggle(): void { if (this.playing) this.pause(); else this.play(); }

  play(): void {
    if (this.host.total() === 0) return;
    if (this.host.step() >= this.host.total()) this.host.seek(0);
    this.playing = true;
    this.playBtn.textContent = "❚❚";
    this.playBtn.setAttribute("aria-label", "Pause");
    this.playBtn.setAttribute("title", "Pause");
    this.playBtn.setAttribute("aria-pressed", "true");
    this.host.playing?.(true);
    this.lastT = performance.now();
    this.carry = 0;
    const tick = (t: number): void => {
      if (!this.playing) return;
      this.carry += ((t - this.lastT) / 1000) * this.speed;
      this.lastT = t;
      const n = Math.floor(this.carry);
      if (n > 0) {
        this.carry -= n;
        this.host.seek(Math.min(this.host.total(), this.host.step() + n));
      }
      if (this.host.step() >= this.host.total()) { this.pause(); return; }
      this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
  }

  pause(): void {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.playBtn.textContent = "▶";
    this.playBtn.setAttribute("aria-label", "Play");
    this.playBtn.setAttribute("title", "Play");
    this.playBtn.setAttribute("aria-pressed", "false");
    this.host.playing?.(false);
  }
}
