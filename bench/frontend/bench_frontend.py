"""Playground benchmark in headless Chromium: trace JSON in hand -> laid-out interactive graph, and
frame rate while stepping, for synthetic traces of 100 .. 20k nodes (and a real transformer trace).

Usage: .venv/bin/python bench/frontend/bench_frontend.py [--runs 3] [--sizes 100,500,1000,5000,20000]
       [--real trace.json ...]   (trace JSON files, e.g. from `gradtrace trace FILE`)
Needs the built bundle (`npm run build`) and /usr/bin/chromium. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "backend" / "gradtrace" / "static"
REAL = ROOT / "frontend" / "tests" / "fixtures" / "transformer_encoder.json"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

LOAD_JS = """async ([n, real]) => {
  const g = window.__gradtrace;
  const text = real ?? JSON.stringify(g.synthetic(n));
  const t0 = performance.now();
  const trace = JSON.parse(text);            // trace JSON in hand -> ...
  await g.loadTrace(trace);                  // model, replay, collapse, worker layout, cytoscape
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));  // painted
  const ms = performance.now() - t0;
  return { ms, items: g.model.items.size, nodes: trace.nodes.length, events: trace.events.length,
           drawn: g.cy.nodes().length, engine: g.layout.engine, layoutMs: g.layout.ms };
}"""

FPS_JS = """async ([seconds, speed]) => {
  const g = window.__gradtrace;
  g.pause();
  g.seek(0);
  const frames = [];
  let last = performance.now();
  const startStep = g.player.step;
  let stop = false;
  const loop = (t) => { frames.push(t - last); last = t; if (!stop) requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
  const t0 = performance.now();
  g.play(speed);
  await new Promise(r => setTimeout(r, seconds * 1000));
  stop = true;
  g.pause();
  const elapsed = (performance.now() - t0) / 1000;
  const steps = g.player.step - startStep;
  frames.shift();
  frames.sort((a, b) => a - b);
  const p95 = frames[Math.floor(frames.length * 0.95)] ?? 0;
  return { fps: frames.length / elapsed, stepsPerS: steps / elapsed, p95 };
}"""


def serve_static() -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(STATIC))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def measure(
    page: Page, n: int, real: str | None, runs: int, fps_seconds: float, expand: bool
) -> dict[str, Any]:
    loads, fps, rate, p95 = [], [], [], []
    info: dict[str, Any] = {}
    for _ in range(runs):
        info = page.evaluate(LOAD_JS, [n, real])
        loads.append(info["ms"])
        if expand:
            page.evaluate("() => window.__gradtrace.expandAll()")
            info["drawn"] = page.evaluate("() => window.__gradtrace.cy.nodes().length")
        r = page.evaluate(FPS_JS, [fps_seconds, 60])
        fps.append(r["fps"])
        rate.append(r["stepsPerS"])
        p95.append(r["p95"])
    return {
        **info,
        "load_ms": statistics.median(loads),
        "fps": statistics.median(fps),
        "steps_per_s": statistics.median(rate),
        "p95_frame_ms": statistics.median(p95),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="100,500,1000,5000,20000")
    ap.add_argument("--fps-seconds", type=float, default=3.0)
    ap.add_argument("--real", nargs="*", default=[], help="extra real trace JSON files")
    args = ap.parse_args()
    if not (STATIC / "index.html").exists():
        raise SystemExit("build the bundle first: npm run build")
    srv, url = serve_static()
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/?autorun=0&bench=1")
        page.wait_for_function("window.__gradtrace !== undefined")
        cases: list[tuple[str, int, str | None, bool]] = []
        for n in [int(s) for s in args.sizes.split(",") if s]:
            cases.append((f"synthetic {n}", n, None, False))
            if n == 1000:
                cases.append(("synthetic 1000 expanded", n, None, True))
        if REAL.exists():
            cases.append(("transformer_encoder (real)", 0, REAL.read_text(), False))
        for path in args.real:
            text = Path(path).read_text()
            # Accept both a bare trace and the API's {"id", "trace"} envelope.
            doc = json.loads(text)
            if "trace" in doc and "nodes" not in doc:
                text = json.dumps(doc["trace"])
            cases.append((f"{Path(path).stem} (real)", 0, text, False))
        for label, n, real, expand in cases:
            r = measure(page, n, real, args.runs, args.fps_seconds, expand)
            rows.append((label, r))
            print(f"  done {label}: {r['load_ms']:.0f} ms", flush=True)
        browser.close()
    srv.shutdown()
    head = f"{'case':30} {'grad_fn':>7} {'items':>6} {'drawn':>6} {'events':>7} {'layout':>8} {'load ms':>8} {'fps@60/s':>9} {'steps/s':>8} {'p95 ms':>7}"
    print()
    print(
        f"Playground render benchmark (headless Chromium, median of {args.runs} runs; load = JSON.parse -> painted)"
    )
    print(head)
    print("-" * len(head))
    for label, r in rows:
        print(
            f"{label:30} {r['nodes']:>7} {r['items']:>6} {r['drawn']:>6} {r['events']:>7} {r['engine']:>8} {r['load_ms']:>8.0f} {r['fps']:>9.1f} {r['steps_per_s']:>8.1f} {r['p95_frame_ms']:>7.1f}"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "frontend.json").write_text(json.dumps({label: r for label, r in rows}, default=str, indent=1))


if __name__ == "__main__":
    main()
