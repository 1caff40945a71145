// Live progress of a run (events, nodes, the line executing), shown at most once a frame and
// never after the run has finished: a frame queued by the last event must not put "Running…"
// back over the final status.

export interface ProgressEvent { kind: string; line?: number | null }

export class RunProgress {
  seen = 0;
  nodes = 0;
  lastLine: number | null = null;
  private pending = false;
  private finished = false;

  /** `show` gets the status text and the line to mark; `schedule` defers it (a frame). */
  constructor(
    private readonly show: (text: string, line: number | null) => void,
    private readonly schedule: (cb: () => void) => void = (cb) => { requestAnimationFrame(() => cb()); },
  ) {}

  event(ev: ProgressEvent): void {
    if (this.finished) return;
    this.seen++;
    if (ev.kind === "node") this.nodes++;
    if (ev.line != null) this.lastLine = ev.line;
    if (this.pending) return;
    this.pending = true;
    this.schedule(() => {
      this.pending = false;
      if (!this.finished) this.show(this.text(), this.lastLine);
    });
  }

  /** The run is over (done, failed or replaced): updates still queued do nothing. */
  finish(): void { this.finished = true; }

  get done(): boolean { return this.finished; }

  text(): string {
    return `Running… ${this.seen} event${this.seen === 1 ? "" : "s"}, ${this.nodes} node${this.nodes === 1 ? "" : "s"}${this.lastLine != null ? `, line ${this.lastLine}` : ""}`;
  }
}
