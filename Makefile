# One command surface for humans and CI. The README gives `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP_PY := $(VENV)/.stamp-python
STAMP_NPM := node_modules/.stamp-npm

.PHONY: run test setup setup-python setup-frontend setup-browser lint typecheck pytest test-frontend bench clean

run: setup
	$(VENV)/bin/gradtrace serve --host 127.0.0.1 --port 8000

test: setup setup-browser lint typecheck pytest test-frontend

setup: setup-python setup-frontend

setup-python: $(STAMP_PY)

# torch is pinned exactly (pyproject.toml); a looser spec would download a CUDA build.
$(STAMP_PY): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

setup-frontend:
	@if [ -f package.json ]; then \
	  if [ ! -f $(STAMP_NPM) ] || [ package-lock.json -nt $(STAMP_NPM) ]; then npm ci --no-audit --no-fund && touch $(STAMP_NPM); fi; \
	  npm run build; \
	fi

# Debian's Chromium drives the browser tests (Playwright's own download does not work here).
setup-browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint:
	$(VENV)/bin/ruff check backend tests bench

typecheck:
	$(VENV)/bin/mypy

pytest:
	$(VENV)/bin/pytest -q

test-frontend:
	@if [ -f package.json ]; then npm test; fi

# Every benchmark, one after the other (never two at once: they measure CPU time on 2 cores).
bench: setup setup-browser
	$(PY) bench/core_bench.py
	$(PY) bench/load_bench.py
	npm run bench

clean:
	rm -rf $(VENV) node_modules backend/gradtrace/static
