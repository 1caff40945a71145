"""`python -m gradtrace` is the `gradtrace` command."""

from gradtrace.cli import main

raise SystemExit(main())
