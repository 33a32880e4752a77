# reelay — the two set-up commands are `make dev` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: dev test lint bench install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

install-test: $(TEST_STAMP)

## make dev: install into .venv and run the whole embedded stack (prints the URL)
dev: $(STAMP)
	$(BIN)/reelay dev

## make test: install test dependencies and run the whole suite
test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make lint: ruff and mypy --strict, as configured in pyproject.toml
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make bench: the benchmarks under bench/, each printing ratios against a reference
bench: $(TEST_STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
