# seqd — the two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)
ARGS ?=

.PHONY: run test lint unit bench clean venv

$(STAMP): pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --config-settings editable_mode=compat -e '.[dev]' $(foreach p,$(dir $(PLUGINS)),-e ./$(p))
	touch $(STAMP)

venv: $(STAMP)

## Start the daemon in the foreground on the SQLite default, with the example tasks.
run: $(STAMP)
	$(VENV)/bin/seqd --tasks contrib/examples/tasks $(ARGS)

## Lint, type-check, then the whole suite.
test: $(STAMP)
	$(MAKE) lint
	$(PY) -m pytest -n 2 --dist loadgroup -q $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check seqd plugins tests contrib bench
	$(VENV)/bin/ruff format --check seqd plugins tests contrib bench
	$(VENV)/bin/mypy seqd $(dir $(PLUGINS))
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
