"""The `gradtrace` command: trace a file in-process, list examples, print schemas, serve the API.

Exit codes: 0 = traced (also when the snippet itself raised: that is a result), 2 = bad usage
(the message says what to do), 1 = internal fault. Errors go to stderr; results to stdout or -o.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAULT, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: exit 2 with this message."""


def _write(text: str, out: str | None) -> None:
    if out is None or out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {out}: {exc.strerror or exc}. Choose a writable path for -o."
        ) from exc


def _whole_above_0(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0 (e.g. 5000)")
    return value


def _seconds_above_0(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0 (e.g. 10 or 2.5)")
    return value


def _read_source(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"no such file: {path}. Give the path of a Python file, or - to read stdin."
        ) from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory. Give the path of a Python file.") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text. Save the snippet as UTF-8.") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}.") from None


def _ensure_big_stack() -> None:
    """Re-exec once with a 1 GiB stack: freeing graphs of ~50k+ nodes recurses deeply in C++
    and overflows the default 8 MiB main-thread stack (facts.md). The main thread's stack size
    is fixed at exec time, hence the re-exec (a worker thread would break `signal` in snippets)."""
    import resource

    want = 1 << 30
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft == resource.RLIM_INFINITY or soft >= want or os.environ.get("GRADTRACE_STACK_RAISED"):
        return
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target <= soft:
        return
    try:
        resource.setrlimit(resource.RLIMIT_STACK, (target, hard))
    except (ValueError, OSError):
        return
    os.environ["GRADTRACE_STACK_RAISED"] = "1"
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "gradtrace", *sys.argv[1:]])


def cmd_trace(args: argparse.Namespace) -> int:
    if args.big_stack:
        _ensure_big_stack()
    source = _read_source(args.file)
    viewer_js: str | None = None
    if args.format == "html":  # fail before the (slow) trace if the viewer bundle is missing
        from gradtrace.core.export_html import ViewerNotBuilt, load_viewer

        try:
            viewer_js = load_viewer()
        except ViewerNotBuilt as exc:
            raise UsageError(str(exc)) from None
    from gradtrace.core.tracer import trace_source  # imports torch: only this command needs it

    options: dict[str, Any] = {}
    if args.max_nodes is not None:
        options["max_nodes"] = args.max_nodes
    if args.timeout is not None:
        options["soft_timeout"] = args.timeout
    trace = trace_source(source, **options)
    if args.format == "dot":
        from gradtrace.core.export import to_dot

        text = to_dot(trace)
    elif args.format == "html":
        from gradtrace.core.export_html import render_html

        title = "gradtrace: " + ("stdin" if args.file == "-" else Path(args.file).name)
        text = render_html(trace, source, title=title, viewer_js=viewer_js)
    else:
        text = trace.to_json(indent=2 if args.indent else None)
    if not text.endswith("\n"):
        text += "\n"
    _write(text, args.output)
    if args.output not in (None, "-"):
        status = trace.status
        print(
            f"traced {args.file}: status {status}, {len(trace.nodes)} nodes -> {args.output}", file=sys.stderr
        )
    return EXIT_OK


def cmd_examples(args: argparse.Namespace) -> int:
    from gradtrace.core.examples import get_example, list_examples

    if args.name:
        try:
            example = get_example(args.name)
        except KeyError as exc:
            raise UsageError(str(exc.args[0]) if exc.args else f"no example {args.name!r}") from None
        _write(example.source if example.source.endswith("\n") else example.source + "\n", args.output)
        return EXIT_OK
    examples = list_examples()
    if args.json:
        rows = [{"name": e.name, "title": e.title, "description": e.description, "tags": list(e.tags)} for e in examples]
        _write(json.dumps(rows, indent=2) + "\n", args.output)
        return EXIT_OK
    width = max((len(e.name) for e in examples), default=0)
    lines = [f"{e.name:<{width}}  {e.title}" for e in examples]
    lines.append("")
    lines.append(
        "Print one with: gradtrace examples NAME   (trace it: gradtrace examples NAME | gradtrace trace -)"
    )
    _write("\n".join(lines) + "\n", args.output)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from gradtrace.core.model import trace_json_schema

    _write(json.dumps(trace_json_schema(), indent=2) + "\n", args.output)
    return EXIT_OK


def cmd_openapi(args: argparse.Namespace) -> int:
    from gradtrace.api.openapi import openapi_document

    _write(json.dumps(openapi_document(), indent=2) + "\n", args.output)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from gradtrace.api.app import create_app
    from gradtrace.settings import Settings, invalid_settings_message, unknown_variables

    overrides: dict[str, Any] = {}
    for key in ("host", "port", "data_dir"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    if args.allow_weaker_sandbox:
        overrides["allow_weaker_sandbox"] = True
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise UsageError(invalid_settings_message(exc)) from None
    for message in unknown_variables(os.environ):
        print(f"gradtrace: warning: {message}; it is ignored.", file=sys.stderr)
    app = create_app(settings)
    print(
        f"gradtrace: serving on http://{settings.host}:{settings.port} (data in {settings.data_dir})",
        file=sys.stderr,
    )
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, proxy_headers=False)
    except SystemExit as exc:  # uvicorn exits 3 when start-up failed (e.g. the sandbox refused to start)
        if exc.code not in (None, 0):
            print("gradtrace: the server could not start (see the log above for why).", file=sys.stderr)
            return EXIT_FAULT
    return EXIT_OK


def _settings_epilog() -> str:
    """Every setting, its default and what it does, from the settings models themselves."""
    from gradtrace.settings import reference

    lines = ["settings (environment variables; flags above win over them):"]
    for variable, default, description in reference():
        lines.append(f"  {variable} (default {default})")
        lines += textwrap.wrap(description, 88, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """A parser whose epilog is made only when help is printed: the settings table imports
    the settings models (~0.25 s), which no other use of the command needs."""

    def __init__(self, *args: Any, epilog_factory: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epilog_factory = epilog_factory

    def format_help(self) -> str:
        if self.epilog_factory is not None:
            self.epilog = self.epilog_factory()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradtrace",
        description="See PyTorch autograd: trace a snippet's grad_fn graph, forward and backward.",
        epilog="Exit codes: 0 traced (also when the snippet raised), 2 bad usage, 1 internal fault.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("trace", help="trace a Python file in this process (your own machine: no sandbox)")
    p.add_argument("file", metavar="FILE", help="Python file to trace, or - to read stdin")
    p.add_argument(
        "--format",
        choices=("json", "dot", "html"),
        default="json",
        help="json (default), dot (Graphviz) or html (one self-contained offline viewer file)",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    p.add_argument("--indent", action="store_true", help="pretty-print the JSON")
    p.add_argument(
        "--max-nodes", type=_whole_above_0, metavar="N", help="graph nodes kept before eliding (default 20000)"
    )
    p.add_argument(
        "--timeout",
        type=_seconds_above_0,
        metavar="SECONDS",
        help="stop the snippet after this much wall-clock time and keep the trace so far "
        "(status timeout; default: no limit, as under python)",
    )
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("examples", help="list the built-in examples, or print one's source")
    p.add_argument("name", nargs="?", metavar="NAME", help="example to print")
    p.add_argument("--json", action="store_true", help="list as JSON")
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    p.set_defaults(func=cmd_examples)

    p = sub.add_parser("schema", help="print the trace document's JSON Schema")
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("openapi", help="print the REST API's OpenAPI document (no server started)")
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    p.set_defaults(func=cmd_openapi)

    p = sub.add_parser(
        "serve",
        help="serve the API and playground (settings: GRADTRACE_* environment variables)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog_factory=_settings_epilog,
    )
    p.add_argument("--host", help="interface to bind (default 127.0.0.1, or GRADTRACE_HOST)")
    p.add_argument("--port", type=int, help="port (default 8000, or GRADTRACE_PORT)")
    p.add_argument(
        "--data-dir", help="directory for the trace database (default ./data, or GRADTRACE_DATA_DIR)"
    )
    p.add_argument(
        "--allow-weaker-sandbox",
        action="store_true",
        help="start even if an isolation layer is unavailable (documented weaker mode)",
    )
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with argparse's message on bad usage
    # Only a real command line may re-exec itself (never a caller that passed argv, e.g. tests).
    args.big_stack = argv is None
    if args.command is None:
        parser.print_help(sys.stderr)
        print("\ngradtrace: error: choose a command, e.g. `gradtrace trace FILE`", file=sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
        return code
    except UsageError as exc:
        print(f"gradtrace: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gradtrace: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # e.g. `gradtrace schema | head`: not a fault
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:  # the last line of defence: a short message, no traceback
        print(f"gradtrace: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("Please report it with the snippet that caused it.", file=sys.stderr)
        return EXIT_FAULT


if __name__ == "__main__":
    raise SystemExit(main())
