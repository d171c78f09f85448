# seqd — the two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)
LOCK := requirements/dev.lock
DIST ?= dist
ARGS ?=

.PHONY: run test lint unit bench clean venv lock dist

# uv installs from the lock in a few seconds; it is itself pinned in the lock.
$(STAMP): pyproject.toml $(PLUGINS) $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $$(grep -E '^uv==' $(LOCK))
	$(VENV)/bin/uv pip install --quiet --python $(PY) --config-setting editable_mode=compat -r $(LOCK)
	touch $(STAMP)

venv: $(STAMP)

## Start the daemon in the foreground on the SQLite default, with the example tasks.
run: $(STAMP)
	$(VENV)/bin/seqd --tasks contrib/examples/tasks $(ARGS)

## Lint, type-check, then the whole suite.
test: $(STAMP)
	sh tests/system-deps.sh zsh=zsh fish=fish chromium=chromium
	$(MAKE) lint
	$(PY) -m pytest -n 2 --dist loadgroup -q $(ARGS)

# mypy runs once per plugin: each plugin's tests/conftest.py is module `conftest` to it.
lint: $(STAMP)
	$(VENV)/bin/ruff check seqd plugins tests contrib bench
	$(VENV)/bin/ruff format --check seqd plugins tests contrib bench
	$(VENV)/bin/mypy seqd
	$(foreach p,$(dir $(PLUGINS)),$(VENV)/bin/mypy $(p) &&) true
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP)
	$(PY) -m bench.run

## Re-pin the development environment (requirements/dev.lock) after changing a dependency
## in any pyproject.toml; commit the new lock. `make lock ARGS=--upgrade` moves every pin.
lock: $(STAMP)
	$(VENV)/bin/uv pip compile --quiet --python-version 3.11 --universal --no-header \
		$(ARGS) -o $(LOCK) requirements/dev.in

## Build the wheels of seqd and of every plugin in plugins/ into dist/ (or DIST=...).
dist: $(STAMP)
	rm -rf $(DIST)
	$(VENV)/bin/uv build --quiet --wheel --out-dir $(DIST) .
	$(foreach p,$(dir $(PLUGINS)),$(VENV)/bin/uv build --quiet --wheel --out-dir $(DIST) $(p) &&) true

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
